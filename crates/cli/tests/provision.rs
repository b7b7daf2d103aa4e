//! `hubsetup login` and `hubsetup provision` as a user runs them, against an in-process
//! sandbox: outputs, exit codes, files for the records, and no key on screen unless asked.

mod common;

use std::path::{Path, PathBuf};
use std::time::Duration;

use common::{hubsetup, text};
use hubsetup_sandbox::{Sandbox, SandboxConfig};

const PRODUCTION: &str = "11111111-1111-4111-8111-111111111111";

fn sandbox() -> (Sandbox, tempfile::TempDir, PathBuf) {
    let sandbox = Sandbox::start(SandboxConfig {
        hub_provisioning_time: Duration::from_millis(300),
        retry_after_secs: 1,
        device_code_pending_polls: 0,
        device_code_interval_secs: 0,
        ..SandboxConfig::default()
    })
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let description = dir.path().join("sandbox.json");
    std::fs::write(
        &description,
        serde_json::to_string(&sandbox.cloud()).unwrap(),
    )
    .unwrap();
    (sandbox, dir, description)
}

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

/// A folder whose only program is an `az` running `script` (a shell script: the Azure CLI
/// reuse on Windows, `az.cmd`, is tested in hubsetup-provision's sign-in tests).
#[cfg(unix)]
fn path_with_az(dir: &Path, script: &str) -> PathBuf {
    use std::os::unix::fs::PermissionsExt;
    let bin = dir.join("bin");
    std::fs::create_dir_all(&bin).unwrap();
    let az = bin.join("az");
    std::fs::write(&az, format!("#!/bin/sh\n{script}\n")).unwrap();
    std::fs::set_permissions(&az, std::fs::Permissions::from_mode(0o755)).unwrap();
    bin
}

/// An ARM token from the sandbox, as `az account get-access-token` prints it.
#[cfg(unix)]
fn az_token_json(sandbox: &Sandbox) -> String {
    let network = hubsetup_net::Network::new(&sandbox.cloud(), None).unwrap();
    let http = network.http_client().unwrap();
    let login = format!(
        "https://login.{}/organizations/oauth2/v2.0",
        sandbox.config().suffix
    );
    let scope = format!("https://management.{}/.default", sandbox.config().suffix);
    let client_id = "04b07795-8ddb-461a-bbee-02f9e1bf7b46";
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    let token = runtime.block_on(async {
        let code: serde_json::Value = http
            .post(format!("{login}/devicecode"))
            .form(&[("client_id", client_id), ("scope", &scope)])
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let tokens: serde_json::Value = http
            .post(format!("{login}/token"))
            .form(&[
                ("client_id", client_id),
                ("grant_type", "urn:ietf:params:oauth:grant-type:device_code"),
                ("device_code", code["device_code"].as_str().unwrap()),
            ])
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        tokens["access_token"].as_str().unwrap().to_owned()
    });
    let expires = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
        + 3600;
    format!(r#"{{"accessToken":"{token}","expires_on":{expires},"tokenType":"Bearer"}}"#)
}

#[cfg(unix)]
#[test]
fn login_reuses_the_azure_cli_found_first_on_the_path() {
    let (sandbox, dir, description) = sandbox();
    std::fs::write(dir.path().join("token.json"), az_token_json(&sandbox)).unwrap();
    let bin = path_with_az(
        dir.path(),
        &format!("/bin/cat '{}'", dir.path().join("token.json").display()),
    );
    let sandbox_arg = description.to_str().unwrap();
    // Asked for: on its own, `login` signs in to a sandbox with a device code.
    let output = hubsetup(
        &["login", "--method", "cli", "--sandbox", sandbox_arg],
        "",
        &[("PATH", &bin)],
    );
    assert_eq!(output.status.code(), Some(0), "{}", text(&output.stderr));
    let stdout = text(&output.stdout);
    assert!(
        stdout.starts_with(
            "Signed in to Sandbox (no Azure account needed) with the Azure CLI's sign-in.\n"
        ),
        "{stdout}"
    );
    assert!(
        stdout.contains(&format!("  {PRODUCTION}  Contoso Production [Enabled]\n")),
        "{stdout}"
    );
    assert!(stdout.contains("  44444444-4444-4444-8444-444444444444  Contoso Legacy (disabled) [Disabled]  (read-only)\n"));

    let signed_out = path_with_az(
        &dir.path().join("out"),
        "echo \"ERROR: Please run 'az login' to setup account.\" >&2; exit 1",
    );
    let output = hubsetup(
        &["login", "--sandbox", sandbox_arg, "--method", "cli"],
        "",
        &[("PATH", &signed_out)],
    );
    assert_eq!(output.status.code(), Some(1));
    assert_eq!(
        text(&output.stderr),
        "error: The Azure CLI is not signed in (it says: Please run 'az login' to setup account). \
         Run `az login` and try again, or sign in with the browser or a device code instead.\n"
    );

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
