//! The vault against the real Secret Service (gnome-keyring), checked from the outside with
//! `secret-tool`.
//!
//! `cargo xtask test` runs the tests inside a private `dbus-run-session` with gnome-keyring
//! unlocked and sets `HUBSETUP_TEST_SECRET_SERVICE=1`. Without that variable these tests fail
//! on purpose: a keychain test that passes without a keychain proves nothing, and the
//! developer's own login keyring is no place for test entries. Each test files its entries
//! under its own service name, so tests run in parallel without seeing each other.
#![cfg(target_os = "linux")]

use std::io::Write;
use std::path::Path;
use std::process::{Command, Output, Stdio};

use hubsetup_core::ConnectionString;
use hubsetup_net::{ProxyLogin, SavedLogins};
use hubsetup_vault::{OsKeychain, ProxyLogins, Repair, Vault, VaultError};
use zeroize::Zeroizing;

const KEY: &str = "+XLy+MVZ+aTeOnVzN2kLeB16O+kSxmz6g3rS6fAf6rw=";
const DEVICE: &str = "HostName=your-hub.azure-devices.net;DeviceId=io.microshare.contact.unpacked.event;SharedAccessKey=+XLy+MVZ+aTeOnVzN2kLeB16O+kSxmz6g3rS6fAf6rw=";
const DEVICE_NAME: &str = "your-hub.azure-devices.net/devices/io.microshare.contact.unpacked.event";
const NEW_KEY: &str = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";

/// A vault in the real Secret Service under a service name of its own, removed on drop.
struct RealVault {
    vault: Vault<OsKeychain>,
    service: String,
    config: tempfile::TempDir,
}

impl RealVault {
    fn new(test: &str) -> RealVault {
        assert!(
            std::env::var_os("HUBSETUP_TEST_SECRET_SERVICE").is_some(),
            "This test needs an unlocked Secret Service on a private D-Bus session. Run `cargo \
             xtask test`, which starts gnome-keyring under dbus-run-session for it."
        );
        let service = format!("io.hubsetup.test.{test}.{}", std::process::id());
        let config = tempfile::tempdir().unwrap();
        let keychain = OsKeychain::open(&service).expect("the Secret Service is reachable");
        RealVault {
            vault: Vault::new(keychain, config.path()),
            service,
            config,
        }
    }

    fn secret_tool(&self, args: &[&str], stdin: &str) -> Output {
        let mut child = Command::new("secret-tool")
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("secret-tool (Debian package libsecret-tools) is installed");
        child
            .stdin
            .take()
            .unwrap()
            .write_all(stdin.as_bytes())
            .unwrap();
        child.wait_with_output().unwrap()
    }

    /// What `secret-tool lookup` finds for `account`: exactly the stored bytes.
    fn lookup(&self, account: &str) -> Option<String> {
        let output = self.secret_tool(
            &["lookup", "service", &self.service, "username", account],
            "",
        );
        output
            .status
            .success()
            .then(|| String::from_utf8(output.stdout).unwrap())
    }
}

impl Drop for RealVault {
    fn drop(&mut self) {
        self.secret_tool(&["clear", "service", &self.service], "");
    }
}

fn cs(text: &str) -> ConnectionString {
    ConnectionString::parse(text).unwrap()
}

fn assert_no_secret_in_files(dir: &Path) {
    for file in std::fs::read_dir(dir).unwrap() {
        let content = std::fs::read(file.unwrap().path()).unwrap();
        let content = String::from_utf8_lossy(&content);
        for secret in [KEY, &KEY[..20], NEW_KEY, &NEW_KEY[..20]] {
            assert!(!content.contains(secret), "secret in a file: {content}");
        }
    }
}

#[test]
fn the_keyring_item_holds_exactly_the_string() {
    let real = RealVault::new("exact");
    let pasted = format!(
        "  \"{}\"\n",
        DEVICE.replace("SharedAccessKey", "sharedaccesskey")
    );
    real.vault.save(&cs(&pasted), None, false).unwrap();

    assert_eq!(real.lookup(DEVICE_NAME).as_deref(), Some(DEVICE));
    let search = real.secret_tool(&["search", "--all", "service", &real.service], "");
    let stdout = String::from_utf8(search.stdout).unwrap();
    let stderr = String::from_utf8(search.stderr).unwrap();
    assert_eq!(stdout.matches("secret = ").count(), 1, "{stdout}");
    assert!(
        stdout.contains(&format!("label = IoT Hub Setup: {DEVICE_NAME}\n")),
        "{stdout}"
    );
    assert!(stdout.contains(&format!("secret = {DEVICE}\n")), "{stdout}");
    assert!(
        stderr.contains(&format!("attribute.username = {DEVICE_NAME}\n")),
        "{stderr}"
    );

    let rekeyed = DEVICE.replace(KEY, NEW_KEY);
    real.vault.save(&cs(&rekeyed), None, true).unwrap();
    assert_eq!(
        real.lookup(DEVICE_NAME).as_deref(),
        Some(rekeyed.as_str()),
        "replacing updates the one item"
    );
    let search = real.secret_tool(&["search", "--all", "service", &real.service], "");
    assert_eq!(
        String::from_utf8(search.stdout)
            .unwrap()
            .matches("secret = ")
            .count(),
        1
    );
    assert_no_secret_in_files(real.config.path());
}

#[test]
fn list_load_rename_delete_against_the_keyring() {
    let real = RealVault::new("lifecycle");
    real.vault
        .save(&cs(DEVICE), Some("Plant 3"), false)
        .unwrap();
    let listing = real.vault.list().unwrap();
    assert_eq!(listing.entries.len(), 1);
    assert_eq!(listing.entries[0].name(), DEVICE_NAME);
    assert_eq!(listing.repairs, []);

    real.vault.rename("Plant 3", "Plant 3 gateway").unwrap();
    let (entry, loaded) = real.vault.load("Plant 3 gateway").unwrap();
    assert_eq!(entry.name(), DEVICE_NAME);
    assert_eq!(loaded.expose(), cs(DEVICE).expose());

    real.vault.delete("Plant 3 gateway").unwrap();
    assert_eq!(real.lookup(DEVICE_NAME), None, "the keyring item is gone");
    assert!(real.vault.list().unwrap().entries.is_empty());
    assert_no_secret_in_files(real.config.path());
}

#[test]
fn changes_made_with_other_tools_are_repaired() {
    let real = RealVault::new("repair");
    let stored = real.secret_tool(
        &[
            "store",
            "--label",
            "added by hand",
            "service",
            &real.service,
            "username",
            DEVICE_NAME,
        ],
        DEVICE,
    );
    assert!(stored.status.success(), "{stored:?}");

    let listing = real.vault.list().unwrap();
    assert_eq!(
        listing.repairs,
        [Repair::Restored {
            name: DEVICE_NAME.into()
        }]
    );
    assert_eq!(
        real.vault.load(DEVICE_NAME).unwrap().1.expose(),
        cs(DEVICE).expose()
    );

    let cleared = real.secret_tool(
        &["clear", "service", &real.service, "username", DEVICE_NAME],
        "",
    );
    assert!(cleared.status.success(), "{cleared:?}");
    let error = real.vault.load(DEVICE_NAME).unwrap_err();
    assert!(matches!(error, VaultError::Vanished { .. }), "{error}");
    assert!(real.vault.list().unwrap().entries.is_empty());
}

/// A proxy login typed once is kept in the keyring (nowhere else) and found by the next run.
#[test]
fn a_proxy_login_is_kept_in_the_keyring() {
    let real = RealVault::new("proxy-login");
    let logins = ProxyLogins::new(OsKeychain::open(&real.service).unwrap());
    let login = ProxyLogin {
        user: "CONTOSO\\alice".into(),
        password: Zeroizing::new("p@ss:wörd".into()),
    };
    assert_eq!(logins.load("proxy.corp:3128").unwrap(), None);
    logins.save("Proxy.Corp:3128", &login).unwrap();

    let next_run = ProxyLogins::new(OsKeychain::open(&real.service).unwrap());
    assert_eq!(
        next_run.load("proxy.corp:3128").unwrap(),
        Some(login.clone())
    );
    assert_eq!(next_run.login_for("proxy.corp:3128"), Some(login));
    assert_eq!(next_run.login_for("other.corp:3128"), None);
    assert_eq!(next_run.proxies().unwrap(), ["proxy.corp:3128"]);
    let stored = real.lookup("proxy.corp:3128").unwrap();
    assert!(stored.contains("p@ss:wörd"), "the keyring holds it");
    assert_no_secret_in_files(real.config.path());

    assert!(next_run.forget("proxy.corp:3128").unwrap());
    assert!(!next_run.forget("proxy.corp:3128").unwrap(), "already gone");
    assert_eq!(real.lookup("proxy.corp:3128"), None);
}
