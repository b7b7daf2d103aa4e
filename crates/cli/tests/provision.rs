//! `hubsetup login` and `hubsetup provision` as a user runs them, against an in-process
//! sandbox: outputs, exit codes, files for the records, and no key on screen unless asked.

mod common;

use std::path::Path;

use common::{fast_sandbox as sandbox, hubsetup, text};

const PRODUCTION: &str = "11111111-1111-4111-8111-111111111111";

/// Fails if the key of any of `strings` shows in the command's output.
fn assert_no_keys(output: &std::process::Output, strings: &[hubsetup_core::ConnectionString]) {
    let printed = format!("{}{}", text(&output.stdout), text(&output.stderr));
    for cs in strings {
        let key = cs.key().unwrap().expose_base64();
        assert!(!printed.contains(&key[..12]), "a key was printed");
    }
}

#[test]
fn provision_creates_a_hub_and_prints_its_summary_without_secrets() {
    let (sandbox, dir, description) = sandbox();
    let (az, template) = (
        dir.path().join("commands.sh"),
        dir.path().join("template.json"),
    );
    let config: &Path = dir.path();
    let args = [
        "provision",
        "--sandbox",
        description.to_str().unwrap(),
        "--method",
        "device-code",
        "--subscription",
        PRODUCTION,
        "--hub",
        "cli-hub-1",
        "--resource-group",
        "contoso-iot",
        "--region",
        "westeurope",
        "--device",
        "meter.1",
        "--device",
        "meter.2",
        "--policy",
        "--json",
        "--az-commands",
        az.to_str().unwrap(),
        "--arm-template",
        template.to_str().unwrap(),
    ];
    let output = hubsetup(&args, "", &[("HUBSETUP_CONFIG_DIR", config)]);
    assert_eq!(output.status.code(), Some(0), "{}", text(&output.stderr));
    let strings = [
        sandbox
            .device_connection_string("cli-hub-1", "meter.1")
            .unwrap(),
        sandbox
            .device_connection_string("cli-hub-1", "meter.2")
            .unwrap(),
        sandbox
            .policy_connection_string("cli-hub-1", "partner-registry")
            .unwrap(),
    ];
    assert_no_keys(&output, &strings);
    let result: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    let summary = &result["summary"];
    assert_eq!(summary["planned"], false);
    assert_eq!(
        summary["hub"]["id"],
        format!("/subscriptions/{PRODUCTION}/resourceGroups/contoso-iot/providers/Microsoft.Devices/IotHubs/cli-hub-1")
    );
    assert_eq!(summary["hub"]["tier"], "S1");
    assert_eq!(summary["devices"][1]["device_id"], "meter.2");
    assert_eq!(
        summary["policy"]["rights"],
        "RegistryRead, RegistryWrite, DeviceConnect"
    );
    assert!(result.get("connection_strings").is_none());
    let stderr = text(&output.stderr);
    assert!(
        stderr.contains(
            "Asking Azure to create hub cli-hub-1 (this usually takes a minute or two) …\n"
        ),
        "{stderr}"
    );
    assert!(stderr.contains("Hub cli-hub-1 is ready.\n"), "{stderr}");

    let commands = std::fs::read_to_string(&az).unwrap();
    assert!(commands.contains("\naz iot hub create --name cli-hub-1 --resource-group contoso-iot --location westeurope --sku S1 --unit 1\n"));
    assert!(commands.contains("\naz iot hub device-identity create --hub-name cli-hub-1 --resource-group contoso-iot --device-id meter.1\n"));
    let template: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&template).unwrap()).unwrap();
    assert_eq!(
        template["resources"][0]["type"],
        "Microsoft.Devices/IotHubs"
    );
    let files = format!("{commands}{template}");
    for cs in &strings {
        assert!(
            !files.contains(&cs.key().unwrap().expose_base64()[..12]),
            "a key was written"
        );
    }

    // Reusing the hub and a device gives the same string, in clear text only when asked.
    let reuse = [
        "provision",
        "--sandbox",
        description.to_str().unwrap(),
        "--method",
        "device-code",
        "--subscription",
        PRODUCTION,
        "--existing-hub",
        "cli-hub-1",
        "--device",
        "meter.1",
    ];
    let masked = hubsetup(&reuse, "", &[("HUBSETUP_CONFIG_DIR", config)]);
    assert_eq!(masked.status.code(), Some(0), "{}", text(&masked.stderr));
    assert_no_keys(&masked, &strings);
    assert!(text(&masked.stdout).contains("  Device          meter.1 (reused)\n"));
    assert!(text(&masked.stdout).contains(&format!("  device meter.1  {}\n", strings[0].masked())));
    let revealed = hubsetup(
        &[&reuse[..], &["--reveal"]].concat(),
        "",
        &[("HUBSETUP_CONFIG_DIR", config)],
    );
    let shown = text(&revealed.stdout).contains(&format!(
        "  device meter.1  {}\n",
        strings[0].expose().as_str()
    ));
    assert!(shown, "--reveal prints the unchanged string");
}

#[test]
fn a_plan_creates_nothing() {
    let (sandbox, dir, description) = sandbox();
    let args = [
        "provision",
        "--sandbox",
        description.to_str().unwrap(),
        "--method",
        "device-code",
        "--subscription",
        PRODUCTION,
        "--hub",
        "planned-hub",
        "--resource-group",
        "new-group",
        "--create-resource-group",
        "--region",
        "North Europe",
        "--tier",
        "b1",
        "--units",
        "3",
        "--plan",
    ];
    let output = hubsetup(&args, "", &[("HUBSETUP_CONFIG_DIR", dir.path())]);
    assert_eq!(output.status.code(), Some(0), "{}", text(&output.stderr));
    let stdout = text(&output.stdout);
    assert!(
        stdout.starts_with("Plan for sandbox (nothing has been created or changed):\n"),
        "{stdout}"
    );
    assert!(
        stdout.contains("  Resource group  new-group (to be created)\n"),
        "{stdout}"
    );
    assert!(
        stdout
            .contains("  IoT hub         planned-hub, B1 × 3 units, northeurope (to be created)\n"),
        "{stdout}"
    );
    assert!(
        stdout.contains("  Device          io.microshare.contact.unpacked.event (to be created)\n"),
        "{stdout}"
    );
    assert!(sandbox.with_state(|s| !s.hubs.contains_key("planned-hub")));
    assert!(sandbox.with_state(|s| s.subscription(PRODUCTION).unwrap().resource_groups.len() == 1));
}

#[test]
fn choices_missing_without_a_terminal_are_refused_before_signing_in() {
    let dir = tempfile::tempdir().unwrap();
    let output = hubsetup(
        &["provision", "--hub", "plant-hub"],
        "",
        &[("HUBSETUP_CONFIG_DIR", dir.path())],
    );
    assert_eq!(output.status.code(), Some(2));
    assert_eq!(
        text(&output.stderr),
        "error: Without a terminal to ask on, these choices must be given: --subscription ID (list \
         them with `hubsetup login`); --resource-group NAME; --region (e.g. westeurope).\n"
    );
    let output = hubsetup(&["provision", "--tier", "S3", "--units", "11"], "", &[]);
    assert_eq!(output.status.code(), Some(2));
    assert_eq!(
        text(&output.stderr),
        "error: S3 allows 1 to 10 units; 11 were asked for. Choose a number in that range, or a \
         bigger tier for more messages per unit.\n"
    );
}

/// `--method cli` without the Azure CLI. Reusing a real `az login`, and a signed-out one, is
/// tested with the real Azure CLI in tests/python/test_azure_cli.py.
#[test]
fn login_without_the_azure_cli_says_to_install_it() {
    let (_sandbox, dir, description) = sandbox();
    let sandbox_arg = description.to_str().unwrap();
    let empty = dir.path().join("empty");
    std::fs::create_dir_all(&empty).unwrap();
    let output = hubsetup(
        &["login", "--sandbox", sandbox_arg, "--method", "cli"],
        "",
        &[("PATH", &empty)],
    );
    assert_eq!(output.status.code(), Some(1));
    assert_eq!(
        text(&output.stderr),
        "error: The Azure CLI (az) is not installed or not on the PATH, so its sign-in cannot be \
         reused. Install it and run `az login`, or sign in with the browser or a device code instead.\n"
    );
}
