//! The `hubsetup` binary as a user runs it: inputs, outputs, exit codes, and no leaked key.

mod common;

use std::path::Path;
use std::process::Output;

use common::{assert_no_key, text, KEY};

const DEVICE: &str = "HostName=your-hub.azure-devices.net;DeviceId=io.microshare.contact.unpacked.event;SharedAccessKey=+XLy+MVZ+aTeOnVzN2kLeB16O+kSxmz6g3rS6fAf6rw=";

/// `hubsetup` with `stdin` piped in and the connection string, if any, in its environment.
fn hubsetup(args: &[&str], stdin: Option<&str>, connection_string: Option<&str>) -> Output {
    // The environment takes OS strings, and a `Path` is one.
    let env: Vec<(&str, &Path)> = connection_string
        .map(|value| ("HUBSETUP_CONNECTION_STRING", Path::new(value)))
        .into_iter()
        .collect();
    common::hubsetup(args, stdin.unwrap_or(""), &env)
}

#[test]
fn check_reads_stdin_env_and_argument_alike() {
    for output in [
        hubsetup(&["check"], Some(&format!("\"{DEVICE}\"\n")), None),
        hubsetup(&["check"], None, Some(DEVICE)),
        hubsetup(&["check", DEVICE], None, None),
        hubsetup(&["check", "-"], Some(DEVICE), None),
    ] {
        assert_eq!(output.status.code(), Some(0), "{}", text(&output.stderr));
        assert_eq!(
            text(&output.stdout),
            "Valid connection string: device key\n  \
             HostName         your-hub.azure-devices.net\n  \
             DeviceId         io.microshare.contact.unpacked.event\n  \
             SharedAccessKey  ****…6rw=\n  \
             (hub)            your-hub\n  \
             (token scope)    your-hub.azure-devices.net/devices/io.microshare.contact.unpacked.event\n"
        );
        assert_no_key(&output);
    }
}

#[test]
fn check_reports_every_problem_and_exits_2() {
    let broken = "HostName=my_hub.azure-devices.net;DevicId=d1;SharedAccessKey=abc$";
    let output = hubsetup(&["check"], Some(broken), None);
    assert_eq!(output.status.code(), Some(2));
    let stdout = text(&output.stdout);
    assert!(
        stdout.starts_with("Not a usable connection string: 3 problems\n"),
        "{stdout}"
    );
    assert!(
        stdout.contains("  ✗ The hub name contains '_' at position 3"),
        "{stdout}"
    );
    assert!(
        stdout.contains("  ✗ The SharedAccessKey is not valid base64"),
        "{stdout}"
    );
    assert!(
        stdout.contains("  ✗ The string has neither a DeviceId nor a SharedAccessKeyName"),
        "{stdout}"
    );
    assert!(stdout.contains("  ! The field 'DevicId' (part 2) is not part of an IoT Hub connection string and is ignored. Did you mean DeviceId?"), "{stdout}");
    assert_eq!(
        text(&output.stderr),
        "error: the connection string has 3 problems.\n"
    );
    assert!(!stdout.contains("abc$"), "the key text must not be echoed");
}

#[test]
fn check_json_is_machine_readable_and_masked() {
    let output = hubsetup(&["check", "--json"], Some(DEVICE), None);
    assert_eq!(output.status.code(), Some(0));
    let json: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(json["valid"], true);
    assert_eq!(json["kind"], "device key");
    assert_eq!(json["hub"], "your-hub");
    assert_eq!(json["device_id"], "io.microshare.contact.unpacked.event");
    assert_eq!(
        json["masked"],
        "HostName=your-hub.azure-devices.net;DeviceId=io.microshare.contact.unpacked.event;SharedAccessKey=****…6rw="
    );
    assert_eq!(json["fields"][2]["value"], "****…6rw=");
    assert_no_key(&output);

    let empty = hubsetup(&["check", "--json"], Some("  "), None);
    assert_eq!(empty.status.code(), Some(2));
    let json: serde_json::Value = serde_json::from_slice(&empty.stdout).unwrap();
    assert_eq!(json["valid"], false);
    assert_eq!(
        json["errors"][0],
        "The connection string is empty. Paste the device's Primary Connection String from the Azure portal (IoT Hub → Devices → your device)."
    );
}

#[test]
fn sas_token_matches_the_reference_vector() {
    let output = hubsetup(&["sas-token", "--expiry", "1700000000"], Some(DEVICE), None);
    assert_eq!(output.status.code(), Some(0), "{}", text(&output.stderr));
    assert_eq!(
        text(&output.stdout),
        "SharedAccessSignature sr=your-hub.azure-devices.net%2Fdevices%2Fio.microshare.contact.unpacked.event&sig=4fuehFOqy12Az4qz%2BAO7i5nyH63rDKDTvDXuXY4SB4w%3D&se=1700000000\n"
    );
    let policy = format!("HostName=your-hub.azure-devices.net;SharedAccessKeyName=wizard-policy;SharedAccessKey={KEY}");
    let output = hubsetup(
        &["sas-token", "--expiry", "1700000000", "-c", &policy],
        None,
        None,
    );
    assert_eq!(
        text(&output.stdout),
        "SharedAccessSignature sr=your-hub.azure-devices.net&sig=jV%2BwSCY%2BRVojhmxdzxGNuYXrKoQdw5Eg%2BpmhZiB4mAs%3D&se=1700000000&skn=wizard-policy\n"
    );
}

#[test]
fn sas_token_duration_and_resource() {
    let before = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let output = hubsetup(
        &[
            "sas-token",
            "--duration",
            "60",
            "--resource",
            "your-hub.azure-devices.net/devices/other",
        ],
        None,
        Some(DEVICE),
    );
    assert_eq!(output.status.code(), Some(0), "{}", text(&output.stderr));
    let token = text(&output.stdout);
    assert!(
        token.starts_with(
            "SharedAccessSignature sr=your-hub.azure-devices.net%2Fdevices%2Fother&sig="
        ),
        "{token}"
    );
    let se: u64 = token.trim().rsplit("se=").next().unwrap().parse().unwrap();
    assert!(
        (before + 60..=before + 70).contains(&se),
        "se={se}, now={before}"
    );
}

#[test]
fn sas_token_refuses_bad_input_with_exit_2() {
    let x509 = hubsetup(
        &["sas-token"],
        Some("HostName=h1b.azure-devices.net;DeviceId=d;x509=true"),
        None,
    );
    assert_eq!(x509.status.code(), Some(2));
    assert!(text(&x509.stderr)
        .starts_with("error: This string authenticates with an X.509 certificate"));
    let both = hubsetup(
        &["sas-token", "--duration", "5", "--expiry", "5"],
        Some(DEVICE),
        None,
    );
    assert_eq!(
        both.status.code(),
        Some(2),
        "clap reports conflicting flags as bad input"
    );
    let overflow = hubsetup(
        &["sas-token", "--duration", &u64::MAX.to_string()],
        Some(DEVICE),
        None,
    );
    assert_eq!(overflow.status.code(), Some(2));
    assert_eq!(
        text(&overflow.stderr),
        format!("error: --duration {} is too far in the future.\n", u64::MAX)
    );
}
