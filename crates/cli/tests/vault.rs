//! `hubsetup vault` against the real Secret Service, and its errors when there is none or it is
//! locked.
//!
//! Tests marked as needing the Secret Service run under `cargo xtask test`, which starts
//! gnome-keyring unlocked in a private `dbus-run-session` and sets
//! `HUBSETUP_TEST_SECRET_SERVICE=1`; without it they fail and say so. They share the app's
//! keychain service, so each uses its own device ID and config folder and removes its entries.
#![cfg(target_os = "linux")]

mod common;

use std::path::Path;
use std::process::{Command, Output};

use common::{assert_no_key, assert_no_key_in_files, device_string, hubsetup, text, KEY};
use hubsetup_testsupport::GpgHome;

const SERVICE: &str = "io.hubsetup.iot-hub-setup";

fn require_secret_service() {
    assert!(
        std::env::var_os("HUBSETUP_TEST_SECRET_SERVICE").is_some(),
        "This test needs an unlocked Secret Service on a private D-Bus session. Run `cargo xtask \
         test`, which starts gnome-keyring under dbus-run-session for it."
    );
}

/// One test's device in the keychain, with its own config folder; removed on drop.
struct Device {
    id: String,
    config: tempfile::TempDir,
}

impl Device {
    fn new(test: &str) -> Device {
        require_secret_service();
        Device {
            id: format!("cli-{test}-{}", std::process::id()),
            config: tempfile::tempdir().unwrap(),
        }
    }

    fn name(&self) -> String {
        format!("your-hub.azure-devices.net/devices/{}", self.id)
    }

    fn string(&self) -> String {
        device_string(&self.id)
    }

    fn hubsetup(&self, args: &[&str], stdin: &str) -> Output {
        hubsetup(args, stdin, &[("HUBSETUP_CONFIG_DIR", self.config.path())])
    }

    fn lookup(&self) -> Option<String> {
        let output = secret_tool(&["lookup", "service", SERVICE, "username", &self.name()]);
        output.status.success().then(|| text(&output.stdout))
    }
}

impl Drop for Device {
    fn drop(&mut self) {
        secret_tool(&["clear", "service", SERVICE, "username", &self.name()]);
    }
}

fn secret_tool(args: &[&str]) -> Output {
    Command::new("secret-tool")
        .args(args)
        .output()
        .expect("secret-tool (Debian package libsecret-tools) is installed")
}

fn assert_succeeded(output: &Output) {
    assert_eq!(output.status.code(), Some(0), "{}", text(&output.stderr));
}

#[test]
fn save_list_show_rename_delete() {
    let device = Device::new("lifecycle");
    let name = device.name();

    let saved = device.hubsetup(&["vault", "save", "--label", "Plant 3"], &device.string());
    assert_succeeded(&saved);
    assert_eq!(
        text(&saved.stdout),
        format!("Saved 'Plant 3' ({name}) in the Secret Service keyring.\n")
    );
    assert_eq!(device.lookup(), Some(device.string()));

    let list = device.hubsetup(&["vault", "list"], "");
    assert_succeeded(&list);
    let listed = text(&list.stdout);
    let line = listed
        .lines()
        .find(|l| l.starts_with("Plant 3 "))
        .unwrap_or_else(|| panic!("{listed}"));
    assert!(
        line.ends_with(&format!("  never{}{name}", " ".repeat(21))),
        "{line}"
    );

    let masked = device.hubsetup(&["vault", "show", "Plant 3"], "");
    assert_succeeded(&masked);
    let shown = text(&masked.stdout);
    let lines: Vec<&str> = shown.lines().collect();
    assert_eq!(lines[0], "Label:     Plant 3");
    assert_eq!(lines[1], format!("Name:      {name}"));
    assert!(
        lines[2].starts_with("Saved:     ") && lines[2].contains(", 20"),
        "{shown}"
    );
    assert_eq!(lines[3], "Verified:  never");
    assert_eq!(
        lines[4],
        format!(
            "String:    HostName=your-hub.azure-devices.net;DeviceId={};SharedAccessKey=****…6rw=",
            device.id
        )
    );

    let revealed = device.hubsetup(&["vault", "show", &name, "--reveal"], "");
    assert_succeeded(&revealed);
    assert!(text(&revealed.stdout).ends_with(&format!("String:    {}\n", device.string())));

    let renamed = device.hubsetup(&["vault", "rename", "Plant 3", "Plant 3 gateway"], "");
    assert_succeeded(&renamed);
    assert_eq!(
        text(&renamed.stdout),
        "Renamed 'Plant 3' to 'Plant 3 gateway'.\n"
    );

    let deleted = device.hubsetup(&["vault", "delete", &name], "");
    assert_succeeded(&deleted);
    assert_eq!(
        text(&deleted.stdout),
        format!("Deleted 'Plant 3 gateway' ({name}) from the Secret Service keyring.\n")
    );
    assert_eq!(device.lookup(), None);

    let gone = device.hubsetup(&["vault", "show", "Plant 3 gateway"], "");
    assert_eq!(gone.status.code(), Some(2));
    assert_eq!(
        text(&gone.stderr),
        "error: No connection string called 'Plant 3 gateway' is in the vault. Check the \
         spelling against the vault's list; an entry can be called by its label or by its full \
         name.\n"
    );

    for output in [&saved, &list, &masked, &renamed, &deleted, &gone] {
        assert_no_key(output);
    }
    assert_no_key_in_files(device.config.path());
}

#[test]
fn saving_the_same_device_again_needs_replace() {
    let device = Device::new("replace");
    let name = device.name();
    assert_succeeded(&device.hubsetup(&["vault", "save"], &device.string()));
    let again = device.hubsetup(&["vault", "save"], &device.string());
    assert_eq!(again.status.code(), Some(2));
    assert_eq!(
        text(&again.stderr),
        format!(
            "error: A connection string for {name} is already in the vault, labelled '{name}'. \
             Delete it first, or save again and choose to replace it.\n"
        )
    );
    let replaced = device.hubsetup(&["vault", "save", "--replace"], &device.string());
    assert_succeeded(&replaced);
    assert_eq!(
        text(&replaced.stdout),
        format!("Saved '{name}' in the Secret Service keyring.\n")
    );
}

#[test]
fn export_from_the_vault_opens_with_gpg() {
    let device = Device::new("export");
    assert_succeeded(&device.hubsetup(&["vault", "save", "--label", "To send"], &device.string()));
    let sam = GpgHome::new();
    let (_, key) = sam.contact("Sam Support <sam@partner.example>");
    let out = tempfile::tempdir().unwrap();
    let file = out.path().join("for-sam.asc");
    let exported = device.hubsetup(
        &[
            "export",
            "--from-vault",
            "To send",
            "--to",
            key.to_str().unwrap(),
            "--out",
            file.to_str().unwrap(),
        ],
        "",
    );
    assert_succeeded(&exported);
    assert_no_key(&exported);
    assert_eq!(text(&sam.decrypt(&file)), format!("{}\n", device.string()));
    assert_no_key_in_files(out.path());
}

/// The message every vault command gives without a Secret Service.
const NO_SECRET_SERVICE: &str = "error: No Secret Service is running, so there is nowhere safe \
    to keep connection strings (IoT Hub Setup never writes them to a plain file). Start \
    gnome-keyring-daemon or KeePassXC's Secret Service integration, or unlock your login \
    keyring, then try again. Without a desktop session, run IoT Hub Setup inside \
    `dbus-run-session` after `gnome-keyring-daemon --unlock`.";

#[test]
fn without_a_session_bus_nothing_is_stored_and_the_error_says_what_to_start() {
    let config = tempfile::tempdir().unwrap();
    let no_bus = Path::new("unix:path=/nonexistent/bus");
    let output = hubsetup(
        &["vault", "save"],
        &device_string("dev1"),
        &[
            ("DBUS_SESSION_BUS_ADDRESS", no_bus),
            ("HUBSETUP_CONFIG_DIR", config.path()),
        ],
    );
    assert_eq!(output.status.code(), Some(1));
    assert_eq!(
        text(&output.stderr),
        format!(
            "{NO_SECRET_SERVICE} (Details: zbus error: Failed to connect to address \
             `unix:path=/nonexistent/bus`: No such file or directory (os error 2).)\n"
        )
    );
    assert_eq!(
        std::fs::read_dir(config.path()).unwrap().count(),
        0,
        "no plaintext fallback, not even an index"
    );
}

#[test]
fn a_session_bus_without_a_secret_service_is_a_clear_error() {
    require_secret_service();
    // A session bus that can start no services, as on a server without a desktop.
    let bare_bus = tempfile::tempdir().unwrap();
    let config_file = bare_bus.path().join("session.conf");
    std::fs::write(
        &config_file,
        format!(
            "<busconfig><type>session</type><listen>unix:tmpdir={}</listen>\
             <policy context=\"default\"><allow send_destination=\"*\"/>\
             <allow receive_sender=\"*\"/><allow own=\"*\"/></policy></busconfig>",
            bare_bus.path().display()
        ),
    )
    .unwrap();
    let config = tempfile::tempdir().unwrap();
    let output = Command::new("dbus-run-session")
        .arg("--config-file")
        .arg(&config_file)
        .args(["--", env!("CARGO_BIN_EXE_hubsetup"), "vault", "list"])
        .env("HUBSETUP_CONFIG_DIR", config.path())
        .output()
        .expect("dbus-run-session (Debian package dbus) runs");
    assert_eq!(output.status.code(), Some(1));
    let error = text(&output.stderr)
        .lines()
        .find(|l| l.starts_with("error: "))
        .map(str::to_owned);
    assert_eq!(
        error,
        Some(format!(
            "{NO_SECRET_SERVICE} (Details: zbus error: org.freedesktop.DBus.Error.ServiceUnknown: \
             The name org.freedesktop.secrets was not provided by any .service files.)"
        ))
    );
}

/// Runs `script` in a fresh D-Bus session whose keyrings live in `data_home`; `$HUBSETUP` is
/// the binary; `keyring_ready` waits until the daemon the script started answers on the bus.
/// Returns the output of the last command.
fn in_session(data_home: &Path, config: &Path, script: &str) -> Output {
    Command::new("dbus-run-session")
        .args(["--", "sh", "-c", &format!("{KEYRING_READY}\n{script}")])
        .env("XDG_DATA_HOME", data_home)
        .env("HUBSETUP", env!("CARGO_BIN_EXE_hubsetup"))
        .env("HUBSETUP_CONFIG_DIR", config)
        .env("CONNECTION_STRING", device_string("dev1"))
        .output()
        .expect("dbus-run-session (Debian package dbus) runs")
}

/// `gnome-keyring-daemon --start` or `--unlock` can return before its daemon holds the
/// Secret Service's bus name; a request in between makes D-Bus start a second daemon, which
/// may find the first one's keyring half written.
const KEYRING_READY: &str = "keyring_ready() { for _ in $(seq 100); do \
    dbus-send --session --print-reply --dest=org.freedesktop.DBus /org/freedesktop/DBus \
    org.freedesktop.DBus.NameHasOwner string:org.freedesktop.secrets 2>/dev/null \
    | grep -q 'boolean true' && return; sleep 0.05; done; }";

#[test]
fn a_locked_keyring_is_reported_with_what_to_unlock() {
    require_secret_service();
    let data_home = tempfile::tempdir().unwrap();
    let config = tempfile::tempdir().unwrap();
    let locked = "The Secret Service refused access: your login keyring is locked, or there is \
        no default keyring to keep it in. Unlock the keyring (for example in Passwords and Keys) \
        or create one, then try again.";

    // A daemon with no keyring yet has nowhere to save until one is created and unlocked. Its
    // own folder: a daemon may still write there as its session ends.
    let fresh_home = tempfile::tempdir().unwrap();
    let fresh = in_session(
        fresh_home.path(),
        config.path(),
        "gnome-keyring-daemon --start --components=secrets >/dev/null; keyring_ready; \
         echo \"$CONNECTION_STRING\" | \"$HUBSETUP\" vault save",
    );
    assert_eq!(fresh.status.code(), Some(1));
    assert_eq!(
        text(&fresh.stderr)
            .lines()
            .find(|l| l.starts_with("error: "))
            .unwrap(),
        format!("error: {locked} (Details: SS error: result not returned from SS API.)")
    );

    // A keyring made and filled in one session is locked in the next.
    let filled = in_session(
        data_home.path(),
        config.path(),
        "echo -n password | gnome-keyring-daemon --unlock --components=secrets >/dev/null; \
         keyring_ready; echo \"$CONNECTION_STRING\" | \"$HUBSETUP\" vault save",
    );
    assert_eq!(filled.status.code(), Some(0), "{}", text(&filled.stderr));
    let later = in_session(
        data_home.path(),
        config.path(),
        "gnome-keyring-daemon --start --components=secrets >/dev/null; keyring_ready; \
         \"$HUBSETUP\" vault list",
    );
    assert_eq!(later.status.code(), Some(1));
    assert_eq!(
        text(&later.stderr)
            .lines()
            .find(|l| l.starts_with("error: "))
            .unwrap(),
        format!("error: {locked} (Details: SS error: prompt dismissed.)")
    );
    assert!(!text(&later.stderr).contains(&KEY[..12]));
}
