//! `hubsetup watch`: a hub's messages as they arrive, read from its Event Hub-compatible
//! endpoint as Azure's own tools read them.

use std::collections::BTreeMap;
use std::io::{BufWriter, IsTerminal, Write};
use std::time::SystemTime;

use hubsetup_events::{rfc3339, BodyView, Event, EventHubAddress, Reader, StartAt};

use crate::cloud_args::CloudArgs;
use crate::login::runtime;
use crate::{input, CliError};

/// Stream a hub's device-to-cloud messages as they arrive; Ctrl-C stops.
///
/// The connection string is the Event Hub-compatible one from the hub's "Built-in endpoints"
/// page (Endpoint=sb://…;EntityPath=…) of a policy with ServiceConnect.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The Event Hub-compatible connection string; if omitted, read from stdin or
    /// HUBSETUP_CONNECTION_STRING.
    connection_string: Option<String>,
    /// Read with this consumer group. Use one of your own: reading on $Default can disturb
    /// the hub's other readers (Stream Analytics, Functions).
    #[arg(long, default_value = "$Default")]
    consumer_group: String,
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

pub fn run(args: Args) -> Result<(), CliError> {
    let start = parse_since(&args.since)?;
    let text = input::connection_string(args.connection_string.as_deref())?;
    let address = EventHubAddress::parse(&text).map_err(|e| CliError::BadInput(e.to_string()))?;
    drop(text);
    note_if_shared_group(&args.consumer_group, "reading");
    let network = args.cloud.network()?;
    runtime()?.block_on(async {
        let mut reader = Reader::open(&network, &address, &args.consumer_group)
            .await
            .map_err(|e| CliError::Failure(e.to_string()))?;
        let mut events = reader
            .receive(start)
            .await
            .map_err(|e| CliError::Failure(e.to_string()))?;
        if !args.json {
            eprintln!(
                "Watching {} (consumer group {}); Ctrl-C stops.",
                address.entity, args.consumer_group
            );
        }
        let mut out = BufWriter::new(std::io::stdout().lock());
        let interactive = std::io::stdout().is_terminal();
        let mut seen: BTreeMap<String, u64> = BTreeMap::new();
        let mut shown = 0u64;
        let outcome = loop {
            if args.count.is_some_and(|count| shown >= count) {
                break Ok(());
            }
            let next = tokio::select! {
                next = events.recv() => next,
                _ = tokio::signal::ctrl_c() => break Ok(()),
            };
            let event = match next {
                Some(Ok(event)) => event,
                Some(Err(error)) => break Err(CliError::Failure(error.to_string())),
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
            if interactive || events.is_empty() {
                let _ = out.flush();
            }
        };
        let _ = out.flush();
        drop(out);
        drop(events);
        reader.close().await;
        if !args.json {
            eprintln!("{}", summary(shown, &seen));
        }
        outcome
    })
}

/// Says, for `$Default`, that the hub's other readers may share it; `doing` is what is done on
/// it ("reading").
pub fn note_if_shared_group(group: &str, doing: &str) {
    if group == "$Default" {
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
