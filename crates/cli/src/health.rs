//! `hubsetup health`: is the data still arriving? A signed-in hub's health at a glance (see
//! `hubsetup-health`): verdicts first, then messages per hour as a sparkline, the quota, each
//! data stream's last activity and, where the hub routes to storage, the routing.

use std::time::SystemTime;

use hubsetup_health::{read_health, sparkline, Health, HealthError, Level};

use crate::cloud_args::CloudArgs;
use crate::format::local_time_of;
use crate::login::{cli_error, progress_printer, session, SignInArgs};
use crate::runtime::Load;
use crate::CliError;

/// Show whether a hub's data is still arriving: each device's last activity, messages per hour
/// over the last 24 hours (Azure Monitor), the day's quota, routing to storage, and what it
/// means in plain words.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The hub's name.
    #[arg(long)]
    hub: String,
    /// The subscription the hub is in.
    #[arg(long)]
    subscription: String,
    #[command(flatten)]
    sign_in: SignInArgs,
    #[command(flatten)]
    cloud: CloudArgs,
    /// The health as one JSON object.
    #[arg(long)]
    json: bool,
}

pub fn run(args: Args) -> Result<(), CliError> {
    crate::runtime::start(Load::Light)?.block_on(async {
        let azure = session(&args.sign_in, &args.cloud, &progress_printer()).await?;
        let hub = azure
            .find_hub(&args.subscription, &args.hub)
            .await
            .map_err(cli_error)?;
        let health = read_health(&azure, &hub, SystemTime::now())
            .await
            .map_err(|e| match e {
                HealthError::Azure(e) => cli_error(e),
                other => CliError::Failure(other.to_string()),
            })?;
        if args.json {
            let json =
                serde_json::to_string(&health).map_err(|e| CliError::Failure(e.to_string()))?;
            println!("{json}");
        } else {
            print!("{}", render(&health));
        }
        Ok(())
    })
}

/// The health as the terminal shows it.
fn render(health: &Health) -> String {
    let mut text = String::new();
    for verdict in &health.verdicts {
        let mark = match verdict.level {
            Level::Bad => "✗",
            Level::Warn => "!",
            Level::Good => "✓",
        };
        text.push_str(&format!("{mark} {}\n", verdict.text));
    }
    let sent: Vec<u64> = health.hourly.iter().map(|h| h.sent).collect();
    let peak = sent.iter().copied().max().unwrap_or(0);
    text.push_str(&format!(
        "\n{} ({}), read at {}\n",
        health.hub,
        health.tier,
        local_time_of(&health.read_at)
    ));
    text.push_str(&format!(
        "  Messages per hour, last 24 h: {}  (peak {}/h, {} in all)\n",
        sparkline(&sent),
        hubsetup_locale::count(peak),
        hubsetup_locale::count(sent.iter().sum())
    ));
    text.push_str(&format!(
        "  Today: {} of {} messages; {} device{} connected now\n",
        hubsetup_locale::count(health.messages_today),
        hubsetup_locale::count(health.daily_quota),
        hubsetup_locale::count(health.connected_devices),
        if health.connected_devices == 1 {
            ""
        } else {
            "s"
        }
    ));
    text.push_str("  Devices (data streams):\n");
    for stream in &health.streams {
        let state = match (stream.enabled, stream.connected) {
            (false, _) => "disabled",
            (true, true) => "connected",
            (true, false) => "not connected",
        };
        text.push_str(&format!(
            "    {}  {state}, last activity {}\n",
            stream.device_id,
            stream
                .last_activity
                .as_deref()
                .map_or_else(|| "never".to_owned(), local_time_of)
        ));
    }
    if let Some(routing) = &health.routing {
        text.push_str(&format!(
            "  Routing, last 24 h: {} delivered to storage, {} dropped, {} orphaned, {} incompatible\n",
            hubsetup_locale::count(routing.delivered_to_storage),
            hubsetup_locale::count(routing.dropped),
            hubsetup_locale::count(routing.orphaned),
            hubsetup_locale::count(routing.invalid)
        ));
        for endpoint in &routing.endpoints {
            text.push_str(&format!("    {}  {}\n", endpoint.name, endpoint.status));
        }
    }
    text
}
