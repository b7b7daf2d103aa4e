//! `hubsetup verify`: the live connection test for one string, or for a whole file of them.

use std::collections::BTreeMap;
use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::time::{Duration, Instant};

use futures::StreamExt;
use hubsetup_core::connection_string::{describe_all, ConnectionString};
use hubsetup_events::EventHubAddress;
use hubsetup_livetest::{Entry, Options, Protocol, ReadBack, Report, StageStatus, Verifier};
use hubsetup_net::Network;
use serde_json::json;
use zeroize::Zeroizing;

use crate::cloud_args::CloudArgs;
use crate::runtime::Load;
use crate::{input, CliError};

/// The environment variable holding the Event Hub-compatible connection string that reads the
/// test message back.
const READ_BACK_ENV: &str = "HUBSETUP_EVENTS_CONNECTION_STRING";

/// Send a real test message with a connection string and diagnose every stage.
///
/// With HUBSETUP_EVENTS_CONNECTION_STRING set to the hub's Event Hub-compatible connection
/// string, the message is also read back, confirming it landed.
///
/// The message goes over every protocol devices use at once (HTTPS, MQTT, MQTT over
/// WebSockets, AMQP, AMQP over WebSockets), and the result says which work from this network
/// and what to tell the partner.
///
/// Exit code 0 only when the hub accepted the message (for --file: every message): over every
/// protocol named with --protocol, or, without it, over HTTPS, the other protocols then being
/// a survey of this network.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The connection string; if omitted, read from stdin or HUBSETUP_CONNECTION_STRING.
    connection_string: Option<String>,
    /// Test every string in FILE (one per line; blank lines and lines starting with # are skipped).
    #[arg(long, value_name = "FILE", conflicts_with = "connection_string")]
    file: Option<PathBuf>,
    /// How many strings of --file to test at once.
    #[arg(long, default_value_t = 8, value_parser = clap::value_parser!(u16).range(1..=256))]
    concurrency: u16,
    /// The device to send as, for a policy connection string without DeviceId.
    #[arg(long)]
    device_id: Option<String>,
    /// Print JSON (for --file: one JSON object per line, then a summary line).
    #[arg(long)]
    json: bool,
    /// The protocols to send with, comma-separated: https, mqtt, mqtt-ws, amqp, amqp-ws, or
    /// all. The first one's stages are shown in full. Default: all for one string, https for
    /// --file.
    #[arg(long, value_name = "LIST", value_parser = parse_protocols)]
    protocol: Option<ProtocolList>,
    /// Also check cloud-to-device over MQTT: read the device twin, write a reported property,
    /// and (with HUBSETUP_EVENTS_CONNECTION_STRING holding a key with ServiceConnect) call a
    /// direct method that the test answers. Standard and Free tiers only.
    #[arg(long, conflicts_with = "file")]
    round_trip: bool,
    /// The consumer group to read the test message back with, when HUBSETUP_EVENTS_CONNECTION_STRING
    /// holds the hub's Event Hub-compatible connection string. Use one of your own: $Default
    /// may be read by the hub's other readers.
    #[arg(long, default_value = hubsetup_events::DEFAULT_CONSUMER_GROUP)]
    consumer_group: String,
    #[command(flatten)]
    cloud: CloudArgs,
}

/// The protocols of `--protocol`, in the order given.
#[derive(Debug, Clone)]
struct ProtocolList(Vec<Protocol>);

fn parse_protocols(text: &str) -> Result<ProtocolList, String> {
    Protocol::parse_list(text).map(ProtocolList)
}

pub fn run(args: Args) -> Result<(), CliError> {
    let network = args.cloud.network()?;
    let runtime = crate::runtime::start(match args.file {
        Some(_) => Load::Heavy,
        None => Load::Light,
    })?;
    let protocols = args
        .protocol
        .clone()
        .map(|list| list.0)
        .unwrap_or_else(|| match args.file {
            Some(_) => vec![Protocol::Https],
            None => Protocol::ALL.to_vec(),
        });
    if args.round_trip
        && !protocols
            .iter()
            .any(|p| matches!(p, Protocol::Mqtt | Protocol::MqttWs))
    {
        return Err(CliError::BadInput(
            "--round-trip checks cloud-to-device over MQTT: add mqtt or mqtt-ws to --protocol."
                .into(),
        ));
    }
    let options = Options {
        device_id: args.device_id.clone(),
        protocols,
        round_trip: args.round_trip,
        read_back: runtime.block_on(read_back(&network, &args.consumer_group))?,
        ..Options::default()
    };
    let verifier = Verifier::new(network, options);
    match &args.file {
        Some(path) => runtime.block_on(verify_file(&verifier, path, &args)),
        None => {
            let text = input::connection_string(args.connection_string.as_deref())?;
            let cs = ConnectionString::parse(&text)
                .map_err(|errors| CliError::BadInput(describe_all(&errors)))?;
            let report = runtime.block_on(verifier.verify(&cs));
            if args.json {
                println!(
                    "{}",
                    serde_json::to_string_pretty(&report).unwrap_or_default()
                );
            } else {
                print!("{}", render(&report));
            }
            outcome(&report, args.protocol.is_some())
        }
    }
}

/// Where the test message is read back from: the Event Hub-compatible connection string, or
/// the hub's service connection string, in [`READ_BACK_ENV`] (never an argument, which would
/// leave the key in the shell's history).
async fn read_back(network: &Network, consumer_group: &str) -> Result<Option<ReadBack>, CliError> {
    let Ok(text) = std::env::var(READ_BACK_ENV).map(Zeroizing::new) else {
        return Ok(None);
    };
    let address = EventHubAddress::resolve(network, &text)
        .await
        .map_err(|e| match e.is_network() {
            true => CliError::Failure(format!("{READ_BACK_ENV}: {e}")),
            false => CliError::BadInput(format!("{READ_BACK_ENV}: {e}")),
        })?;
    crate::watch::note_if_shared_group(consumer_group, "reading the test message back");
    Ok(Some(ReadBack {
        address,
        consumer_group: consumer_group.to_owned(),
    }))
}

/// The exit code: the first protocol must pass, and every protocol when they were `named`;
/// a protocol this network cannot try by design (an own port behind a proxy) counts for
/// neither, so long as another could be tried.
fn outcome(report: &Report, named: bool) -> Result<(), CliError> {
    let tried: Vec<_> = report.protocols.iter().filter(|p| p.tried).collect();
    let failed = tried.iter().filter(|p| !p.accepted).count();
    let first_not_tried = report.protocols.first().is_some_and(|p| !p.tried);
    match &report.failure {
        Some(d) if d.kind == "unusable" => Err(CliError::BadInput(d.summary.clone())),
        Some(_) if first_not_tried && named && !tried.is_empty() => {
            matrix_outcome(failed, tried.len())
        }
        Some(_) => Err(CliError::Failure(
            "the hub did not accept the test message (see above).".into(),
        )),
        None if named => matrix_outcome(failed, tried.len()),
        None => Ok(()),
    }
}

fn matrix_outcome(failed: usize, tried: usize) -> Result<(), CliError> {
    if failed == 0 {
        return Ok(());
    }
    Err(CliError::Failure(format!(
        "{failed} of the {tried} protocols that could be tried did not get the test message through from this network (see above)."
    )))
}

fn mark(status: StageStatus) -> &'static str {
    match status {
        StageStatus::Passed => "✓",
        StageStatus::Failed => "✗",
        StageStatus::Reused => "↺",
        StageStatus::NotChecked => "–",
    }
}

/// The report as a stage list with timings, then the verdict with cause and fix.
fn render(report: &Report) -> String {
    let mut out = format!("Testing {}\n", report.subject);
    for stage in &report.stages {
        out.push_str(&format!(
            "  {} {:<20} {:>8.1} ms  {}\n",
            mark(stage.status),
            stage.stage.label(),
            stage.millis,
            stage.detail
        ));
    }
    match &report.failure {
        None => out.push_str(&format!(
            "Accepted: the hub took the test message over {} ({:.1} ms in all).\n",
            report.protocol.label(),
            report.total_millis
        )),
        Some(diagnosis) => {
            out.push_str(&format!("Failed: {}\n", diagnosis.summary));
            out.push_str(&format!("  Likely cause: {}\n", diagnosis.cause));
            out.push_str(&format!("  What to do:   {}\n", diagnosis.fix));
        }
    }
    if report.protocols.len() > 1 {
        out.push_str(&render_matrix(report));
    }
    out
}

/// Which protocols work from this network, with their timings, and what to tell the partner.
fn render_matrix(report: &Report) -> String {
    let mut out = String::from("Protocols from this network:\n");
    for result in &report.protocols {
        let (mark, words) = match &result.failure {
            None => ("✓", "works".to_owned()),
            Some(d) if !result.tried => (
                "–",
                format!("not tried behind a proxy: {} {}", d.summary, d.fix),
            ),
            Some(d) => ("✗", format!("{} {}", d.summary, d.fix)),
        };
        out.push_str(&format!(
            "  {mark} {:<22} {:>5} {:>8.1} ms  {words}\n",
            result.label, result.port, result.total_millis
        ));
    }
    if !report.advice.is_empty() {
        out.push_str("What to tell the partner:\n");
        for line in &report.advice {
            out.push_str(&format!("  {line}\n"));
        }
    }
    out
}

/// The strings of a file with where each came from; unusable lines carry their problems.
fn read_entries(path: &PathBuf) -> Result<Vec<Entry<usize>>, CliError> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| CliError::BadInput(format!("Could not read {}: {e}.", path.display())))?;
    Ok(text
        .lines()
        .enumerate()
        .filter(|(_, line)| !line.trim().is_empty() && !line.trim_start().starts_with('#'))
        .map(|(index, line)| {
            let parsed = ConnectionString::parse(line).map_err(|errors| {
                errors
                    .iter()
                    .map(ToString::to_string)
                    .collect::<Vec<_>>()
                    .join(" ")
            });
            (index + 1, parsed)
        })
        .collect())
}

async fn verify_file(verifier: &Verifier, path: &PathBuf, args: &Args) -> Result<(), CliError> {
    let entries = read_entries(path)?;
    let total = entries.len();
    let started = Instant::now();
    let progress = !args.json && std::io::stderr().is_terminal();
    let mut done = 0usize;
    let mut per_hub: BTreeMap<String, (usize, usize)> = BTreeMap::new();
    let mut causes: BTreeMap<&'static str, usize> = BTreeMap::new();
    let mut stream = std::pin::pin!(verifier.verify_all(entries, usize::from(args.concurrency)));
    let stdout = std::io::stdout();
    while let Some((line, report)) = stream.next().await {
        done += 1;
        let hub = report
            .host
            .clone()
            .unwrap_or_else(|| "(unreadable)".to_owned());
        let tally = per_hub.entry(hub).or_default();
        tally.0 += 1;
        if report.accepted {
            tally.1 += 1;
        }
        if let Some(d) = &report.failure {
            *causes.entry(d.kind).or_default() += 1;
        }
        let mut out = stdout.lock();
        if progress {
            eprint!("\r\x1b[K");
        }
        if args.json {
            let mut value = serde_json::to_value(&report).unwrap_or_default();
            value["line"] = json!(line);
            let _ = writeln!(out, "{value}");
        } else {
            let who = format!(
                "{}/{}",
                report.host.as_deref().unwrap_or("-"),
                report.device_id.as_deref().unwrap_or("-")
            );
            match &report.failure {
                None => {
                    let _ = writeln!(out, "✓ line {line:<5} {who}  {:.1} ms", report.total_millis);
                }
                Some(d) => {
                    let _ = writeln!(out, "✗ line {line:<5} {who}  {} {}", d.summary, d.fix);
                }
            }
        }
        drop(out);
        if progress {
            let width = 30;
            let filled = done * width / total.max(1);
            eprint!(
                "\r[{}{}] {done}/{total}",
                "#".repeat(filled),
                " ".repeat(width - filled)
            );
            let _ = std::io::stderr().flush();
        }
    }
    if progress {
        eprintln!();
    }
    let elapsed = started.elapsed();
    let accepted: usize = per_hub.values().map(|t| t.1).sum();
    print_summary(args.json, total, accepted, elapsed, &per_hub, &causes);
    if accepted == total {
        Ok(())
    } else {
        Err(CliError::Failure(format!(
            "{} of {total} strings failed the live test.",
            total - accepted
        )))
    }
}

fn print_summary(
    json_lines: bool,
    total: usize,
    accepted: usize,
    elapsed: Duration,
    per_hub: &BTreeMap<String, (usize, usize)>,
    causes: &BTreeMap<&'static str, usize>,
) {
    let rate = total as f64 / elapsed.as_secs_f64().max(1e-9);
    if json_lines {
        let hubs: Vec<_> = per_hub
            .iter()
            .map(|(hub, (tested, ok))| json!({ "hub": hub, "tested": tested, "accepted": ok, "failed": tested - ok }))
            .collect();
        println!(
            "{}",
            json!({ "summary": { "tested": total, "accepted": accepted, "failed": total - accepted,
                "seconds": elapsed.as_secs_f64(), "per_second": rate, "hubs": hubs, "failures": causes } })
        );
        return;
    }
    println!();
    println!(
        "{accepted} of {total} accepted, {} failed ({:.2} s, {rate:.0} strings/s)",
        total - accepted,
        elapsed.as_secs_f64()
    );
    let width = per_hub.keys().map(String::len).max().unwrap_or(3).max(3);
    println!(
        "  {:<width$}  {:>7}  {:>8}  {:>6}",
        "hub", "tested", "accepted", "failed"
    );
    for (hub, (tested, ok)) in per_hub {
        println!("  {hub:<width$}  {tested:>7}  {ok:>8}  {:>6}", tested - ok);
    }
    if !causes.is_empty() {
        println!("Failures by cause:");
        for (kind, count) in causes {
            println!("  {kind:<24} {count}");
        }
    }
}
