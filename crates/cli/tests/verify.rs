//! `hubsetup verify` against a sandbox, as support staff run it.

mod common;

use common::{assert_key_hidden, assert_no_key, hubsetup, text};
use hubsetup_sandbox::{Sandbox, SandboxConfig};

const HUB: &str = "contoso-plant-hub";
const DEVICE: &str = "io.microshare.contact.unpacked.event";

/// A sandbox and the file that tells `hubsetup` how to reach it.
fn sandbox() -> (Sandbox, tempfile::TempDir) {
    let sandbox = Sandbox::start(SandboxConfig::default()).unwrap();
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("sandbox.json"),
        serde_json::to_string(&sandbox.cloud()).unwrap(),
    )
    .unwrap();
    (sandbox, dir)
}

#[test]
fn a_working_string_passes_with_a_stage_list() {
    let (sandbox, dir) = sandbox();
    let cs = sandbox.device_connection_string(HUB, DEVICE).unwrap();
    let description = dir.path().join("sandbox.json");
    let output = hubsetup(
        &["verify"],
        &cs.expose(),
        &[("HUBSETUP_SANDBOX", &description)],
    );
    assert_eq!(output.status.code(), Some(0), "{}", text(&output.stderr));
    let stdout = text(&output.stdout);
    assert!(
        stdout.starts_with(&format!("Testing {}\n", cs.masked())),
        "{stdout}"
    );
    for label in [
        "✓ DNS lookup",
        "✓ TCP connect",
        "✓ TLS handshake",
        "✓ SAS token",
        "✓ Send test message",
        "– Message landed",
    ] {
        assert!(stdout.contains(label), "{label} missing in {stdout}");
    }
    assert!(
        stdout.contains(
            "accepted by the hub; sign in or paste a service connection string to see it arrive"
        ),
        "{stdout}"
    );
    assert!(
        stdout.contains("Accepted: the hub took the test message over HTTPS ("),
        "{stdout}"
    );
    for protocol in [
        "✓ HTTPS                    443",
        "✓ MQTT                    8883",
        "✓ MQTT over WebSockets     443",
        "✓ AMQP                    5671",
        "✓ AMQP over WebSockets     443",
    ] {
        assert!(stdout.contains(protocol), "{protocol} missing in {stdout}");
    }
    assert!(stdout.contains("What to tell the partner:\n  Every protocol tested works from this network (HTTPS, MQTT, MQTT over WebSockets, AMQP, AMQP over WebSockets).\n"), "{stdout}");
    assert_eq!(
        sandbox.messages(HUB, DEVICE).len(),
        5,
        "one message per protocol, by default all five"
    );
    let key = cs.key().unwrap().expose_base64();
    assert!(!stdout.contains(key.as_str()));
    assert_no_key(&output);

    let json = hubsetup(
        &[
            "verify",
            "--json",
            "--sandbox",
            description.to_str().unwrap(),
        ],
        &cs.expose(),
        &[],
    );
    let report: serde_json::Value = serde_json::from_slice(&json.stdout).unwrap();
    assert_eq!(report["accepted"], true);
    assert_eq!(report["stages"].as_array().unwrap().len(), 6);
    assert!(!text(&json.stdout).contains(key.as_str()));
}

#[test]
fn protocols_are_chosen_and_a_blocked_port_fails_the_run_with_what_to_tell_the_partner() {
    let (sandbox, dir) = sandbox();
    let cs = sandbox.device_connection_string(HUB, DEVICE).unwrap();
    let description = dir.path().join("sandbox.json");
    let env = [("HUBSETUP_SANDBOX", description.as_path())];
    let chosen = hubsetup(
        &["verify", "--protocol", "amqp-ws,mqtt", "--json"],
        &cs.expose(),
        &env,
    );
    assert_eq!(chosen.status.code(), Some(0), "{}", text(&chosen.stderr));
    let report: serde_json::Value = serde_json::from_slice(&chosen.stdout).unwrap();
    assert_eq!(report["protocol"], "amqp-ws");
    let protocols: Vec<_> = report["protocols"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            (
                p["protocol"].as_str().unwrap(),
                p["accepted"].as_bool().unwrap(),
            )
        })
        .collect();
    assert_eq!(protocols, [("amqp-ws", true), ("mqtt", true)]);
    assert_eq!(report["stages"][3]["stage"], "web_socket");

    let round_trip = hubsetup(
        &["verify", "--protocol", "mqtt-ws,https", "--round-trip"],
        &cs.expose(),
        &env,
    );
    assert_eq!(
        round_trip.status.code(),
        Some(0),
        "{}",
        text(&round_trip.stderr)
    );
    let stdout = text(&round_trip.stdout);
    assert!(stdout.contains("✓ Device twin"), "{stdout}");
    assert!(stdout.contains("– Direct method"), "{stdout}");
    let no_mqtt = hubsetup(
        &["verify", "--protocol", "amqp", "--round-trip"],
        &cs.expose(),
        &env,
    );
    assert_eq!(no_mqtt.status.code(), Some(2));
    assert_eq!(
        text(&no_mqtt.stderr),
        "error: --round-trip checks cloud-to-device over MQTT: add mqtt or mqtt-ws to --protocol.\n"
    );

    let wrong = hubsetup(&["verify", "--protocol", "mqtt,coap"], &cs.expose(), &env);
    assert_eq!(wrong.status.code(), Some(2));
    assert!(text(&wrong.stderr).contains("invalid value 'mqtt,coap' for '--protocol <LIST>': 'coap' is not a protocol the live test knows: use https, mqtt, mqtt-ws, amqp, amqp-ws or all."), "{}", text(&wrong.stderr));

    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let mut cloud = sandbox.cloud();
    cloud.loopback_ports.insert(8883, closed.port());
    let blocking = dir.path().join("blocking.json");
    std::fs::write(&blocking, serde_json::to_string(&cloud).unwrap()).unwrap();
    let blocked = hubsetup(
        &["verify", "--protocol", "all"],
        &cs.expose(),
        &[("HUBSETUP_SANDBOX", blocking.as_path())],
    );
    assert_eq!(
        blocked.status.code(),
        Some(1),
        "every protocol named must pass"
    );
    let stdout = text(&blocked.stdout);
    assert!(
        stdout.contains("Accepted: the hub took the test message over HTTPS ("),
        "{stdout}"
    );
    assert!(
        stdout.contains("  ✗ MQTT                    8883"),
        "{stdout}"
    );
    assert!(stdout.contains(&format!("The connection to {closed} was refused. Ask the network administrator to allow outgoing MQTT (port 8883) to *.azure-devices.net, or set the client's transport to MQTT_WS, which uses port 443.")), "{stdout}");
    assert!(stdout.contains("What to tell the partner:\n  MQTT on 8883 is blocked from this network; MQTT over WebSockets on 443 works: set the client's transport to MQTT_WS.\n"), "{stdout}");
    assert_eq!(
        text(&blocked.stderr),
        "error: 1 of the 5 protocols that could be tried did not get the test message through from this network (see above).\n"
    );
    assert_no_key(&blocked);
    let surveyed = hubsetup(
        &["verify"],
        &cs.expose(),
        &[("HUBSETUP_SANDBOX", blocking.as_path())],
    );
    assert_eq!(
        surveyed.status.code(),
        Some(0),
        "without --protocol the string passes over HTTPS and the rest is a survey"
    );
    assert!(text(&surveyed.stdout).contains("What to tell the partner:\n  MQTT on 8883 is blocked"));
}

#[test]
fn a_failing_string_exits_1_with_cause_and_fix() {
    let (sandbox, dir) = sandbox();
    let wrong = format!("HostName={};DeviceId={DEVICE};SharedAccessKey=c29tZSBvdGhlciBrZXkgb2YgMzIgYnl0ZXMhISEhISE=", sandbox.hub_host(HUB));
    let output = hubsetup(
        &["verify"],
        &wrong,
        &[("HUBSETUP_SANDBOX", &dir.path().join("sandbox.json"))],
    );
    assert_eq!(output.status.code(), Some(1));
    let stdout = text(&output.stdout);
    assert!(stdout.contains("  ✗ Send test message"), "{stdout}");
    assert!(
        stdout
            .contains("Failed: The hub refused the credentials (401 IotHubUnauthorizedAccess).\n"),
        "{stdout}"
    );
    assert!(stdout.contains(&format!("  What to do:   Copy the Primary Connection String again from IoT Hub → Devices → {DEVICE}, then test again.\n")));
    assert_eq!(
        text(&output.stderr),
        "error: the hub did not accept the test message (see above).\n"
    );
    assert!(
        !stdout.contains("c29tZSBvdGhlciBrZXk"),
        "the key is never echoed"
    );

    let x509 = format!(
        "HostName={};DeviceId={DEVICE};x509=true",
        sandbox.hub_host(HUB)
    );
    let unusable = hubsetup(
        &["verify"],
        &x509,
        &[("HUBSETUP_SANDBOX", &dir.path().join("sandbox.json"))],
    );
    assert_eq!(
        unusable.status.code(),
        Some(2),
        "an unusable string is bad input"
    );
    assert!(text(&unusable.stdout)
        .contains("Failed: This string authenticates with an X.509 certificate (x509=true)"));
}

#[test]
fn a_file_of_strings_gives_a_line_per_string_and_a_summary() {
    let (sandbox, dir) = sandbox();
    let good = sandbox.device_connection_string(HUB, DEVICE).unwrap();
    let ghost = format!(
        "HostName={};DeviceId=ghost;SharedAccessKey=c29tZSBvdGhlciBrZXkgb2YgMzIgYnl0ZXMhISEhISE=",
        sandbox.hub_host(HUB)
    );
    let list = dir.path().join("strings.txt");
    std::fs::write(
        &list,
        format!(
            "# partner fleet\n{}\n\n{ghost}\nHostName=broken\n{}\n",
            good.expose().as_str(),
            good.expose().as_str()
        ),
    )
    .unwrap();
    let description = dir.path().join("sandbox.json");
    let output = hubsetup(
        &[
            "verify",
            "--file",
            list.to_str().unwrap(),
            "--concurrency",
            "2",
        ],
        "",
        &[("HUBSETUP_SANDBOX", &description)],
    );
    assert_eq!(output.status.code(), Some(1));
    let stdout = text(&output.stdout);
    let results: Vec<&str> = stdout
        .lines()
        .filter(|l| l.starts_with('✓') || l.starts_with('✗'))
        .collect();
    assert_eq!(results.len(), 4, "{stdout}");
    assert_eq!(results.iter().filter(|l| l.starts_with('✓')).count(), 2);
    assert!(
        stdout
            .contains("✗ line 5     -/-  HostName 'broken' is only a name, not a full host name."),
        "{stdout}"
    );
    assert!(stdout.contains("2 of 4 accepted, 2 failed ("), "{stdout}");
    assert!(
        stdout.contains(
            "Failures by cause:\n  device_not_found         1\n  unusable                 1\n"
        ),
        "{stdout}"
    );
    assert_no_key(&output);
    assert!(!stdout.contains(good.key().unwrap().expose_base64().as_str()));

    let json = hubsetup(
        &["verify", "--file", list.to_str().unwrap(), "--json"],
        "",
        &[("HUBSETUP_SANDBOX", &description)],
    );
    let lines: Vec<serde_json::Value> = text(&json.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 5);
    assert_eq!(lines[4]["summary"]["tested"], 4);
    assert_eq!(lines[4]["summary"]["accepted"], 2);
    let mut numbers: Vec<u64> = lines[..4]
        .iter()
        .map(|l| l["line"].as_u64().unwrap())
        .collect();
    numbers.sort();
    assert_eq!(numbers, [2, 4, 5, 6]);
}

#[test]
fn with_the_event_hub_string_the_message_is_read_back() {
    let (sandbox, dir) = sandbox();
    let cs = sandbox.device_connection_string(HUB, DEVICE).unwrap();
    let description = dir.path().join("sandbox.json");
    let events = sandbox.event_hub_connection_string(HUB, "service").unwrap();
    let output = hubsetup(
        &["verify", "--consumer-group", "stream-analytics-prod"],
        &cs.expose(),
        &[
            ("HUBSETUP_SANDBOX", &description),
            (
                "HUBSETUP_EVENTS_CONNECTION_STRING",
                std::path::Path::new(&events),
            ),
        ],
    );
    assert_eq!(output.status.code(), Some(0), "{}", text(&output.stderr));
    let stdout = text(&output.stdout);
    assert!(
        stdout.contains("✓ Message landed") && stdout.contains("read back from partition "),
        "{stdout}"
    );
    assert_key_hidden(&output, &events);
    assert_key_hidden(&output, &cs.expose());
}
