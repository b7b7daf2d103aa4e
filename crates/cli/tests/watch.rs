//! `hubsetup watch` against a sandbox: what a device sent, read back from the hub's Event
//! Hub-compatible endpoint, and the refusals people meet.

mod common;

use common::{assert_key_hidden, fast_sandbox, hubsetup, text};

const HUB: &str = "contoso-plant-hub";
const DEVICE: &str = "io.microshare.contact.unpacked.event";
use hubsetup_sandbox::state::SUBSCRIPTION_PRODUCTION as PRODUCTION;

#[test]
fn watch_prints_what_the_device_sent_as_json_lines() {
    let (sandbox, _dir, description) = fast_sandbox();
    let device = sandbox.device_connection_string(HUB, DEVICE).unwrap();
    for _ in 0..2 {
        let sent = hubsetup(
            &["verify"],
            &device.expose(),
            &[("HUBSETUP_SANDBOX", &description)],
        );
        assert_eq!(sent.status.code(), Some(0), "{}", text(&sent.stderr));
    }
    let service = sandbox.event_hub_connection_string(HUB, "service").unwrap();
    let output = hubsetup(
        &[
            "watch",
            "--since",
            "start",
            "--count",
            "2",
            "--json",
            "--consumer-group",
            "stream-analytics-prod",
        ],
        &service,
        &[("HUBSETUP_SANDBOX", &description)],
    );
    assert_eq!(output.status.code(), Some(0), "{}", text(&output.stderr));
    let lines: Vec<serde_json::Value> = text(&output.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 2);
    for line in &lines {
        assert_eq!(line["device_id"], DEVICE);
        assert_eq!(line["body_encoding"], "json");
        assert!(line["body"].is_object(), "{line}");
        assert!(line["enqueued_time"].as_str().unwrap().ends_with('Z'));
        assert!(line["system_properties"]["message-id"]
            .as_str()
            .unwrap()
            .starts_with("hubsetup-test-"));
    }
    assert_eq!(
        lines[1]["sequence_number"].as_i64().unwrap(),
        lines[0]["sequence_number"].as_i64().unwrap() + 1
    );
    assert_key_hidden(&output, &service);
}

#[test]
fn a_device_string_cannot_watch_and_is_told_what_to_ask_for() {
    let (sandbox, _dir, description) = fast_sandbox();
    let device = sandbox.device_connection_string(HUB, DEVICE).unwrap();
    let output = hubsetup(
        &["watch"],
        &device.expose(),
        &[("HUBSETUP_SANDBOX", &description)],
    );
    assert_eq!(output.status.code(), Some(2));
    assert_eq!(
        text(&output.stderr),
        "error: A device connection string can send messages but not read them. Ask the hub's owner for the Event Hub-compatible connection string of a policy with the ServiceConnect right (the hub's \"service\" policy, on its \"Built-in endpoints\" page), or sign in.\n"
    );
    assert_key_hidden(&output, &device.expose());
}

#[test]
fn a_missing_consumer_group_ends_the_watch_with_its_name() {
    let (sandbox, _dir, description) = fast_sandbox();
    let service = sandbox.event_hub_connection_string(HUB, "service").unwrap();
    let output = hubsetup(
        &["watch", "--consumer-group", "hubsetup-watch"],
        &service,
        &[("HUBSETUP_SANDBOX", &description)],
    );
    assert_eq!(output.status.code(), Some(1));
    assert!(
        text(&output.stderr).ends_with("error: The consumer group \"hubsetup-watch\" does not exist on this hub. Create it (in the portal under \"Built-in endpoints\", or let the app create one), or name one that exists.\n"),
        "{}",
        text(&output.stderr)
    );
}

#[cfg(unix)]
#[test]
fn ctrl_c_ends_a_watch_cleanly_with_a_summary() {
    use std::io::{BufRead, BufReader};
    use std::process::{Command, Stdio};

    let (sandbox, _dir, description) = fast_sandbox();
    let service = sandbox.event_hub_connection_string(HUB, "service").unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_hubsetup"))
        .args(["watch", "--consumer-group", "stream-analytics-prod"])
        .env("HUBSETUP_SANDBOX", &description)
        .env("HUBSETUP_CONNECTION_STRING", &service)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stderr = BufReader::new(child.stderr.take().unwrap());
    let mut first = String::new();
    stderr.read_line(&mut first).unwrap();
    assert!(first.starts_with("Watching contoso-plant-hub"), "{first}");
    let interrupted = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(interrupted.success());
    let status = child.wait().unwrap();
    let mut rest = String::new();
    std::io::Read::read_to_string(&mut stderr, &mut rest).unwrap();
    assert_eq!(status.code(), Some(0), "{rest}");
    assert_eq!(rest, "0 messages from 0 devices.\n");
}

/// The seeded device's string, after `hubsetup verify` has sent one message with it.
fn send_once(
    sandbox: &hubsetup_sandbox::Sandbox,
    description: &std::path::Path,
) -> hubsetup_core::ConnectionString {
    let device = sandbox.device_connection_string(HUB, DEVICE).unwrap();
    let sent = hubsetup(
        &["verify"],
        &device.expose(),
        &[("HUBSETUP_SANDBOX", description)],
    );
    assert_eq!(sent.status.code(), Some(0), "{}", text(&sent.stderr));
    device
}

fn groups(sandbox: &hubsetup_sandbox::Sandbox) -> Vec<String> {
    sandbox.with_state(|s| s.hubs[HUB].consumer_groups.clone())
}

#[test]
fn signed_in_watch_finds_the_endpoint_and_creates_its_own_consumer_group_when_told() {
    let (sandbox, _dir, description) = fast_sandbox();
    let device = send_once(&sandbox, &description);
    let signed_in = [
        "watch",
        "--hub",
        HUB,
        "--subscription",
        PRODUCTION,
        "--method",
        "device-code",
    ];
    let watch = |extra: &[&str]| {
        let args: Vec<&str> = signed_in.iter().chain(extra).copied().collect();
        hubsetup(&args, "", &[("HUBSETUP_SANDBOX", &description)])
    };
    let output = watch(&[
        "--create-consumer-group",
        "--since",
        "start",
        "--count",
        "1",
        "--json",
    ]);
    assert_eq!(output.status.code(), Some(0), "{}", text(&output.stderr));
    let line: serde_json::Value = serde_json::from_str(text(&output.stdout).trim()).unwrap();
    assert_eq!(line["device_id"], DEVICE);
    let stderr = text(&output.stderr);
    assert!(
        stderr.contains(&format!("Created the consumer group hubsetup-watch on hub {HUB}. It stays for next time; `hubsetup watch --hub {HUB} --subscription {PRODUCTION} --delete-consumer-group` removes it.")),
        "{stderr}"
    );
    assert!(!stderr.contains("$Default"), "{stderr}");
    assert_eq!(
        groups(&sandbox),
        ["$Default", "stream-analytics-prod", "hubsetup-watch"]
    );

    // Next time the group is there and used without asking or creating.
    let again = watch(&["--since", "start", "--count", "1", "--json"]);
    assert_eq!(again.status.code(), Some(0), "{}", text(&again.stderr));
    assert!(!text(&again.stderr).contains("Created"));

    let deleted = watch(&["--delete-consumer-group"]);
    assert_eq!(deleted.status.code(), Some(0), "{}", text(&deleted.stderr));
    assert!(text(&deleted.stderr).contains(&format!(
        "Deleted the consumer group hubsetup-watch from hub {HUB}."
    )));
    assert_eq!(groups(&sandbox), ["$Default", "stream-analytics-prod"]);

    // Without a terminal and without --create-consumer-group, nothing is created: $Default
    // is read, with the note.
    let shared = watch(&["--since", "start", "--count", "1", "--json"]);
    assert_eq!(shared.status.code(), Some(0), "{}", text(&shared.stderr));
    assert!(text(&shared.stderr).contains("note: reading on the $Default consumer group"));
    assert_eq!(groups(&sandbox), ["$Default", "stream-analytics-prod"]);
    for output in [&output, &again, &shared] {
        assert_key_hidden(output, &device.expose());
    }
}

#[test]
fn the_hubs_service_string_is_followed_to_its_endpoint() {
    let (sandbox, _dir, description) = fast_sandbox();
    send_once(&sandbox, &description);
    let service = sandbox.policy_connection_string(HUB, "service").unwrap();
    let output = hubsetup(
        &["watch", "--since", "start", "--count", "1", "--json"],
        &service.expose(),
        &[("HUBSETUP_SANDBOX", &description)],
    );
    assert_eq!(output.status.code(), Some(0), "{}", text(&output.stderr));
    let line: serde_json::Value = serde_json::from_str(text(&output.stdout).trim()).unwrap();
    assert_eq!(line["device_id"], DEVICE);
    assert_key_hidden(&output, &service.expose());

    let device_policy = sandbox.policy_connection_string(HUB, "device").unwrap();
    let refused = hubsetup(
        &["watch"],
        &device_policy.expose(),
        &[("HUBSETUP_SANDBOX", &description)],
    );
    assert_eq!(refused.status.code(), Some(2));
    assert!(text(&refused.stderr).contains("The hub refused the connection string of the policy \"device\": its key is wrong, or the policy may not read (it lacks the ServiceConnect right)."), "{}", text(&refused.stderr));
    assert_key_hidden(&refused, &device_policy.expose());
}
