//! `hubsetup watch`: a hub's messages as they arrive, read from its Event Hub-compatible
//! endpoint as Azure's own tools read them.

use std::collections::BTreeMap;
use std::io::{BufWriter, IsTerminal, Write};
use std::time::SystemTime;

use hubsetup_events::{
    rfc3339, watch, BodyView, Event, EventHubAddress, StartAt, WatchUpdate, DEFAULT_CONSUMER_GROUP,
};

use hubsetup_provision::{Azure, HubInfo, OWN_CONSUMER_GROUP};

use crate::cloud_args::CloudArgs;
use crate::login::{cli_error, progress_printer, session, SignInArgs};
use crate::runtime::Load;
use crate::{input, prompt, CliError};

/// Stream a hub's device-to-cloud messages as they arrive; Ctrl-C stops.
///
/// Give the Event Hub-compatible connection string from the hub's "Built-in endpoints" page
/// (Endpoint=sb://…;EntityPath=…) or the hub's own connection string of a policy with
/// ServiceConnect (the hub then names its endpoint), or sign in with --hub and
/// --subscription: the endpoint and a key then come from Azure, and the app offers a consumer
/// group of its own.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The Event Hub-compatible or the hub's service connection string; if omitted (and no
    /// --hub), read from stdin or HUBSETUP_CONNECTION_STRING.
    connection_string: Option<String>,
    /// Sign in to Azure and read this hub.
    #[arg(long, requires = "subscription", conflicts_with = "connection_string")]
    hub: Option<String>,
    /// The subscription the hub is in (with --hub).
    #[arg(long, requires = "hub")]
    subscription: Option<String>,
    #[command(flatten)]
    sign_in: SignInArgs,
    /// With --hub: create IoT Hub Setup's own consumer group (hubsetup-watch) without asking.
    #[arg(long, requires = "hub", conflicts_with = "consumer_group")]
    create_consumer_group: bool,
    /// With --hub: delete IoT Hub Setup's own consumer group from the hub, then stop.
    #[arg(long, requires = "hub", conflicts_with = "create_consumer_group")]
    delete_consumer_group: bool,
    /// Read with this consumer group. Default: with --hub, IoT Hub Setup's own (after asking);
    /// else $Default, which can disturb the hub's other readers (Stream Analytics, Functions).
    #[arg(long)]
    consumer_group: Option<String>,
    /// Only messages from this device.
    #[arg(long)]
    device: Option<String>,
    /// Where to start: now, start (everything the hub still holds), a duration back (5m, 2h)
    /// or a time (2026-12-02T09:30:00Z).
    #[arg(long, default_value = "now")]
    since: String,
    /// One JSON object per line: body, properties, system properties, enqueued time,
    /// partition, sequence number.
    #[arg(long)]
    json: bool,
    /// Stop after this many messages.
    #[arg(long)]
    count: Option<u64>,
    #[command(flatten)]
    cloud: CloudArgs,
}

/// What to read and with which consumer group.
struct Access {
    address: EventHubAddress,
    group: String,
}

/// The endpoint and consumer group from a connection string, or from Azure when signed in.
async fn access(args: &Args) -> Result<Option<Access>, CliError> {
    let (Some(hub_name), Some(subscription)) = (&args.hub, &args.subscription) else {
        let text = input::connection_string(args.connection_string.as_deref())?;
        let address = EventHubAddress::resolve(&args.cloud.network()?, &text)
            .await
            .map_err(|e| match e.is_network() {
                true => CliError::Failure(e.to_string()),
                false => CliError::BadInput(e.to_string()),
            })?;
        let group = args
            .consumer_group
            .clone()
            .unwrap_or_else(|| DEFAULT_CONSUMER_GROUP.to_owned());
        return Ok(Some(Access { address, group }));
    };
    let azure = session(&args.sign_in, &args.cloud, &progress_printer()).await?;
    let hub = azure
        .find_hub(subscription, hub_name)
        .await
        .map_err(cli_error)?;
    if args.delete_consumer_group {
        azure
            .delete_consumer_group(&hub, OWN_CONSUMER_GROUP)
            .await
            .map_err(cli_error)?;
        eprintln!(
            "Deleted the consumer group {OWN_CONSUMER_GROUP} from hub {}.",
            hub.name
        );
        return Ok(None);
    }
    let address = azure.event_hub_address(&hub).await.map_err(cli_error)?;
    let group = match &args.consumer_group {
        Some(group) => group.clone(),
        None => own_group(&azure, &hub, args.create_consumer_group).await?,
    };
    Ok(Some(Access { address, group }))
}

/// IoT Hub Setup's own consumer group: used if the hub has it, else created when agreed;
/// `$Default` (with a note) when not.
async fn own_group(azure: &Azure, hub: &HubInfo, agreed: bool) -> Result<String, CliError> {
    if azure
        .has_consumer_group(hub, OWN_CONSUMER_GROUP)
        .await
        .map_err(cli_error)?
    {
        return Ok(OWN_CONSUMER_GROUP.to_owned());
    }
    let question = format!(
        "Create the consumer group {OWN_CONSUMER_GROUP} on hub {} so that reading does not disturb its other readers?",
        hub.name
    );
    let create = agreed || (prompt::interactive() && prompt::confirm(&question, true)?);
    if !create {
        return Ok(DEFAULT_CONSUMER_GROUP.to_owned());
    }
    azure
        .create_consumer_group(hub, OWN_CONSUMER_GROUP)
        .await
        .map_err(cli_error)?;
    eprintln!(
        "Created the consumer group {OWN_CONSUMER_GROUP} on hub {}. It stays for next time; `hubsetup watch --hub {} --subscription {} --delete-consumer-group` removes it.",
        hub.name, hub.name, hub.subscription_id
    );
    Ok(OWN_CONSUMER_GROUP.to_owned())
}

pub fn run(args: Args) -> Result<(), CliError> {
    let start = parse_since(&args.since)?;
    crate::runtime::start(Load::Heavy)?.block_on(async {
        let Some(Access { address, group }) = access(&args).await? else {
            return Ok(());
        };
        note_if_shared_group(&group, "reading");
        let network = args.cloud.network()?;
        let entity = address.entity.clone();
        let mut updates = watch(network, address, group.clone(), start);
        let mut out = BufWriter::new(std::io::stdout().lock());
        let interactive = std::io::stdout().is_terminal();
        let mut seen: BTreeMap<String, u64> = BTreeMap::new();
        let mut shown = 0u64;
        let mut connections = 0u32;
        let interrupted = tokio::signal::ctrl_c();
        tokio::pin!(interrupted);
        let outcome = loop {
            if args.count.is_some_and(|count| shown >= count) {
                break Ok(());
            }
            let next = tokio::select! {
                // Polled first, and kept across messages: its listener is in place before
                // anything is printed, so a Ctrl-C between two messages is not lost.
                biased;
                _ = &mut interrupted => break Ok(()),
                next = updates.recv() => next,
            };
            let event = match next {
                Some(WatchUpdate::Event(event)) => event,
                Some(WatchUpdate::Connected { transport }) => {
                    if !args.json {
                        let again = if connections > 0 { " again" } else { "" };
                        eprintln!("Watching {entity} (consumer group {group}) over {transport}{again}; Ctrl-C stops.");
                    }
                    connections += 1;
                    continue;
                }
                Some(WatchUpdate::Reconnecting { reason, attempt, delay }) => {
                    eprintln!(
                        "note: {reason} Reconnecting in {:.1} s (try {attempt}); messages in between are read then, none twice.",
                        delay.as_secs_f64()
                    );
                    continue;
                }
                Some(WatchUpdate::Ended(error)) => break Err(CliError::Failure(error.to_string())),
                None => break Ok(()),
            };
            if args
                .device
                .as_ref()
                .is_some_and(|d| event.device_id.as_ref() != Some(d))
            {
                continue;
            }
            shown += 1;
            *seen
                .entry(event.device_id.clone().unwrap_or_default())
                .or_default() += 1;
            let line = if args.json {
                event.to_json().to_string()
            } else {
                render(&event)
            };
            if writeln!(out, "{line}").is_err() {
                break Ok(());
            }
            // Flush when nothing else is waiting, so a pipe gets whole batches and a person
            // sees each message at once.
            if interactive || updates.is_empty() {
                let _ = out.flush();
            }
        };
        let _ = out.flush();
        drop(out);
        drop(updates);
        if !args.json {
            eprintln!("{}", summary(shown, &seen));
        }
        outcome
    })
}

/// Says, for `$Default`, that the hub's other readers may share it; `doing` is what is done on
/// it ("reading").
pub fn note_if_shared_group(group: &str, doing: &str) {
    if group == DEFAULT_CONSUMER_GROUP {
        eprintln!("note: {doing} on the $Default consumer group, which the hub's other readers may use too; pass --consumer-group with a group of your own to leave them undisturbed.");
    }
}

/// Reads `--since`.
fn parse_since(text: &str) -> Result<StartAt, CliError> {
    match text.trim() {
        "now" | "latest" => Ok(StartAt::Latest),
        "start" | "beginning" => Ok(StartAt::Beginning),
        other => humantime::parse_duration(other)
            .map(|back| StartAt::Time(SystemTime::now() - back))
            .or_else(|_| humantime::parse_rfc3339_weak(other).map(StartAt::Time))
            .map_err(|_| {
                CliError::BadInput(format!(
                    "--since {other} is not a start: use now, start, a duration back such as 5m or 2h, or a time such as 2026-12-02T09:30:00Z."
                ))
            }),
    }
}

/// One message for people: when, which device, where, its properties and body.
fn render(event: &Event) -> String {
    let body = match event.body_view() {
        BodyView::Json(json) => json.to_string(),
        BodyView::Text(text) => text,
        BodyView::Base64(b64) => format!("(binary, base64) {b64}"),
    };
    let properties = event
        .properties
        .iter()
        .map(|(k, v)| format!(" {k}={v}"))
        .collect::<String>();
    format!(
        "{}  {}  partition {} #{}{properties}\n  {body}",
        rfc3339(event.enqueued_ms),
        event.device_id.as_deref().unwrap_or("(unknown device)"),
        event.partition,
        event.sequence_number,
    )
}

fn summary(shown: u64, seen: &BTreeMap<String, u64>) -> String {
    let devices = seen.len();
    format!(
        "{shown} message{} from {devices} device{}.",
        if shown == 1 { "" } else { "s" },
        if devices == 1 { "" } else { "s" }
    )
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn since_takes_now_start_durations_and_times() {
        assert_eq!(parse_since("now").unwrap(), StartAt::Latest);
        assert_eq!(parse_since("start").unwrap(), StartAt::Beginning);
        let StartAt::Time(five_minutes_ago) = parse_since("5m").unwrap() else {
            panic!("a duration is a time back");
        };
        let back = SystemTime::now().duration_since(five_minutes_ago).unwrap();
        assert!(back >= Duration::from_secs(299) && back < Duration::from_secs(330));
        assert!(matches!(
            parse_since("2026-12-02T09:30:00Z").unwrap(),
            StartAt::Time(_)
        ));
        let error = parse_since("yesterday-ish").unwrap_err().to_string();
        assert!(error.contains("use now, start, a duration back"), "{error}");
    }
}
