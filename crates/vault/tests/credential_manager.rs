//! The vault against Windows Credential Manager: Wine's when `cargo xtask test` runs the
//! Windows build under Wine, the real one on the release workflow's Windows runner.
//!
//! Each test files its entries under a service name of its own and removes them when done.
#![cfg(windows)]

use hubsetup_core::ConnectionString;
use hubsetup_vault::{Keychain, OsKeychain, Vault, KEYCHAIN_NAME};

const KEY: &str = "+XLy+MVZ+aTeOnVzN2kLeB16O+kSxmz6g3rS6fAf6rw=";
const DEVICE: &str = "HostName=your-hub.azure-devices.net;DeviceId=io.microshare.contact.unpacked.event;SharedAccessKey=+XLy+MVZ+aTeOnVzN2kLeB16O+kSxmz6g3rS6fAf6rw=";
const DEVICE_NAME: &str = "your-hub.azure-devices.net/devices/io.microshare.contact.unpacked.event";
const POLICY_AT: &str = "HostName=your-hub.azure-devices.net;DeviceId=gateway@plant-3;SharedAccessKey=AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";

/// A service name no other run has used: under Wine process IDs repeat from run to run, and a
/// run that stopped half-way leaves its entries in the prefix's Credential Manager.
fn service(test: &str) -> String {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    format!("io.hubsetup.test.{test}.{}.{now}", std::process::id())
}

/// Tests that write take turns: Wine keeps Credential Manager in its registry, where deleting
/// one credential while another thread writes one can fail with "key marked for deletion"
/// (Windows error 1018). Real Windows has no such race; the tests are short.
static WRITERS: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn one_writer() -> std::sync::MutexGuard<'static, ()> {
    WRITERS.lock().unwrap_or_else(|e| e.into_inner())
}

fn cs(text: &str) -> ConnectionString {
    ConnectionString::parse(text).unwrap()
}

#[test]
fn the_store_is_credential_manager() {
    assert_eq!(KEYCHAIN_NAME, "Windows Credential Manager");
}

#[test]
fn save_list_load_rename_delete_in_credential_manager() {
    let _turn = one_writer();
    let service = service("lifecycle");
    let config = tempfile::tempdir().unwrap();
    let vault = Vault::new(OsKeychain::open(&service).unwrap(), config.path());
    vault.save(&cs(DEVICE), Some("Plant 3"), false).unwrap();
    vault.save(&cs(POLICY_AT), None, false).unwrap();

    // A second connection to the store, as another run of the app would make, finds both
    // under their names; a device ID with '@' survives the store's `account@service` names.
    let outside = OsKeychain::open(&service).unwrap();
    let mut accounts = outside.accounts().unwrap();
    accounts.sort();
    assert_eq!(
        accounts,
        [
            "your-hub.azure-devices.net/devices/gateway@plant-3",
            DEVICE_NAME
        ]
    );
    let stored = outside.load(DEVICE_NAME).unwrap().unwrap();
    assert!(
        stored.as_str() == DEVICE,
        "the credential holds exactly the string"
    );

    vault.rename("Plant 3", "Plant 3 gateway").unwrap();
    let (entry, loaded) = vault.load("Plant 3 gateway").unwrap();
    assert_eq!(entry.name(), DEVICE_NAME);
    assert!(loaded.expose() == cs(DEVICE).expose());

    vault.delete("Plant 3 gateway").unwrap();
    vault
        .delete("your-hub.azure-devices.net/devices/gateway@plant-3")
        .unwrap();
    assert!(
        outside.load(DEVICE_NAME).unwrap().is_none(),
        "gone from the store"
    );
    assert!(outside.accounts().unwrap().is_empty());
    assert!(vault.list().unwrap().entries.is_empty());
    for file in std::fs::read_dir(config.path()).unwrap() {
        let content = std::fs::read_to_string(file.unwrap().path()).unwrap();
        assert!(
            !content.contains(KEY) && !content.contains(&KEY[..20]),
            "a key in a file"
        );
    }
}

#[test]
fn a_proxy_login_is_kept_in_credential_manager() {
    let _turn = one_writer();
    use hubsetup_net::{ProxyLogin, SavedLogins};
    use hubsetup_vault::ProxyLogins;
    let service = service("proxy-login");
    let login = ProxyLogin {
        user: "CONTOSO\\alice".into(),
        password: zeroize::Zeroizing::new("p@ss:wörd".into()),
    };
    ProxyLogins::new(OsKeychain::open(&service).unwrap())
        .save("proxy.corp:3128", &login)
        .unwrap();
    let next_run = ProxyLogins::new(OsKeychain::open(&service).unwrap());
    assert_eq!(next_run.login_for("proxy.corp:3128"), Some(login));
    assert_eq!(next_run.proxies().unwrap(), ["proxy.corp:3128"]);
    assert!(next_run.forget("proxy.corp:3128").unwrap());
    assert_eq!(next_run.login_for("proxy.corp:3128"), None);
}
