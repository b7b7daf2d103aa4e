//! The vault's logic against an in-memory keychain: naming, labels, the index and its repair,
//! and errors. The real Secret Service is tested in `tests/secret_service.rs`.

use std::cell::{Cell, RefCell};
use std::collections::BTreeMap;
use std::rc::Rc;
use std::time::{Duration, UNIX_EPOCH};

use zeroize::Zeroizing;

use super::*;

const KEY: &str = "+XLy+MVZ+aTeOnVzN2kLeB16O+kSxmz6g3rS6fAf6rw=";
const OTHER_KEY: &str = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";
const DEVICE: &str = "HostName=your-hub.azure-devices.net;DeviceId=io.microshare.contact.unpacked.event;SharedAccessKey=+XLy+MVZ+aTeOnVzN2kLeB16O+kSxmz6g3rS6fAf6rw=";
const DEVICE_NAME: &str = "your-hub.azure-devices.net/devices/io.microshare.contact.unpacked.event";
const POLICY: &str = "HostName=your-hub.azure-devices.net;SharedAccessKeyName=wizard-policy;SharedAccessKey=AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";
const POLICY_NAME: &str = "your-hub.azure-devices.net/policies/wizard-policy";

/// A keychain in memory that tests can also change behind the vault's back, or lock.
#[derive(Default)]
struct MemoryKeychain {
    secrets: RefCell<BTreeMap<String, Zeroizing<String>>>,
    locked: Cell<bool>,
}

impl fmt::Debug for MemoryKeychain {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list()
            .entries(self.secrets.borrow().keys())
            .finish()
    }
}

impl MemoryKeychain {
    fn check_unlocked(&self) -> Result<(), VaultError> {
        match self.locked.get() {
            true => Err(VaultError::KeychainLocked {
                detail: "locked in a test".into(),
            }),
            false => Ok(()),
        }
    }
}

impl Keychain for Rc<MemoryKeychain> {
    fn store(&self, account: &str, secret: &str) -> Result<(), VaultError> {
        self.check_unlocked()?;
        self.secrets
            .borrow_mut()
            .insert(account.to_owned(), Zeroizing::new(secret.to_owned()));
        Ok(())
    }

    fn load(&self, account: &str) -> Result<Option<Zeroizing<String>>, VaultError> {
        self.check_unlocked()?;
        Ok(self.secrets.borrow().get(account).cloned())
    }

    fn delete(&self, account: &str) -> Result<(), VaultError> {
        self.check_unlocked()?;
        self.secrets.borrow_mut().remove(account);
        Ok(())
    }

    fn accounts(&self) -> Result<Vec<String>, VaultError> {
        self.check_unlocked()?;
        Ok(self.secrets.borrow().keys().cloned().collect())
    }
}

struct Fixture {
    keychain: Rc<MemoryKeychain>,
    vault: Vault<Rc<MemoryKeychain>>,
    dir: tempfile::TempDir,
}

fn fixture() -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let keychain = Rc::new(MemoryKeychain::default());
    let vault = Vault::new(keychain.clone(), dir.path());
    Fixture {
        keychain,
        vault,
        dir,
    }
}

fn cs(text: &str) -> ConnectionString {
    ConnectionString::parse(text).unwrap()
}

fn labels(listing: &Listing) -> Vec<&str> {
    listing.entries.iter().map(|e| e.label.as_str()).collect()
}

#[test]
fn saved_strings_are_listed_and_loaded_by_name_or_label() {
    let f = fixture();
    let before = SystemTime::now();
    let device = f.vault.save(&cs(DEVICE), None, false).unwrap();
    assert_eq!(device.label, DEVICE_NAME, "the name is the default label");
    assert_eq!(device.identity.host, "your-hub.azure-devices.net");
    assert_eq!(
        device.identity.device_id.as_deref(),
        Some("io.microshare.contact.unpacked.event")
    );
    assert!(device.created.unwrap() >= before - Duration::from_secs(1));
    assert_eq!(device.last_verified, None);
    f.vault
        .save(&cs(POLICY), Some("  Wizard policy  "), false)
        .unwrap();

    let listing = f.vault.list().unwrap();
    assert_eq!(labels(&listing), ["Wizard policy", DEVICE_NAME]);
    assert_eq!(listing.repairs, []);
    assert_eq!(
        f.keychain.secrets.borrow()[DEVICE_NAME].as_str(),
        DEVICE,
        "the keychain holds exactly the canonical string"
    );

    let (entry, loaded) = f.vault.load(DEVICE_NAME).unwrap();
    assert_eq!(entry, device);
    assert_eq!(loaded.expose(), cs(DEVICE).expose());
    let (entry, loaded) = f.vault.load("Wizard policy").unwrap();
    assert_eq!(entry.name(), POLICY_NAME);
    assert_eq!(loaded.policy_name(), Some("wizard-policy"));
}

#[test]
fn labels_can_be_changed_but_stay_unique_short_and_free_of_secrets() {
    let f = fixture();
    f.vault.save(&cs(DEVICE), Some("Plant 3"), false).unwrap();
    f.vault.save(&cs(POLICY), None, false).unwrap();

    let renamed = f.vault.rename("Plant 3", "Plant 3 gateway").unwrap();
    assert_eq!(renamed.label, "Plant 3 gateway");
    assert_eq!(
        f.vault.load("Plant 3 gateway").unwrap().0.name(),
        DEVICE_NAME
    );
    assert_eq!(
        f.vault
            .rename(DEVICE_NAME, " Plant 3 gateway ")
            .unwrap()
            .label,
        "Plant 3 gateway",
        "keeping one's own label is fine"
    );

    for taken in ["Plant 3 gateway", DEVICE_NAME] {
        let error = f.vault.rename(POLICY_NAME, taken).unwrap_err();
        assert_eq!(
            error.to_string(),
            format!("The label '{taken}' is already used by {DEVICE_NAME}. Choose another label.")
        );
    }
    for bad in ["", "   ", "two\nlines", &"x".repeat(LABEL_MAX_CHARS + 1)] {
        let error = f.vault.rename(POLICY_NAME, bad).unwrap_err();
        assert_eq!(
            error.to_string(),
            "A label must be 1 to 64 characters on one line. Choose a short description such as \
             'Plant 3 gateway'."
        );
    }
    assert!(f.vault.rename(POLICY_NAME, &"é".repeat(64)).is_ok());
    let pasted = f
        .vault
        .rename(POLICY_NAME, "sharedaccesskey=abc")
        .unwrap_err();
    assert!(matches!(pasted, VaultError::LabelLooksSecret));
    let error = f
        .vault
        .save(&cs(&DEVICE.replace("event", "other")), Some(DEVICE), false)
        .unwrap_err();
    assert_eq!(
        error.to_string(),
        "A label must not contain the connection string or its key: labels are kept in a plain \
         file. Choose a short description such as 'Plant 3 gateway'."
    );
}

#[test]
fn saving_a_stored_name_again_needs_replace_and_keeps_the_label() {
    let f = fixture();
    f.vault.save(&cs(DEVICE), Some("Plant 3"), false).unwrap();
    f.vault
        .record_verified("Plant 3", UNIX_EPOCH + Duration::from_secs(1_700_000_000))
        .unwrap();
    let rekeyed = DEVICE.replace(KEY, OTHER_KEY);

    let error = f.vault.save(&cs(&rekeyed), None, false).unwrap_err();
    assert_eq!(
        error.to_string(),
        format!(
            "A connection string for {DEVICE_NAME} is already in the vault, labelled 'Plant 3'. \
             Delete it first, or save again and choose to replace it."
        )
    );
    assert_eq!(f.keychain.secrets.borrow()[DEVICE_NAME].as_str(), DEVICE);

    let replaced = f.vault.save(&cs(&rekeyed), None, true).unwrap();
    assert_eq!(replaced.label, "Plant 3");
    assert_eq!(replaced.last_verified, None, "the new key is not verified");
    assert_eq!(f.keychain.secrets.borrow()[DEVICE_NAME].as_str(), rekeyed);
    assert_eq!(f.vault.list().unwrap().entries.len(), 1);
}

#[test]
fn verification_dates_are_kept() {
    let f = fixture();
    f.vault.save(&cs(DEVICE), None, false).unwrap();
    let when = UNIX_EPOCH + Duration::from_secs(1_700_000_000);
    assert_eq!(
        f.vault
            .record_verified(DEVICE_NAME, when)
            .unwrap()
            .last_verified,
        Some(when)
    );
    assert_eq!(f.vault.list().unwrap().entries[0].last_verified, Some(when));
}

#[test]
fn delete_removes_the_secret_and_the_entry() {
    let f = fixture();
    f.vault.save(&cs(DEVICE), Some("Plant 3"), false).unwrap();
    f.vault.save(&cs(POLICY), None, false).unwrap();
    assert_eq!(f.vault.delete("Plant 3").unwrap().name(), DEVICE_NAME);
    assert_eq!(labels(&f.vault.list().unwrap()), [POLICY_NAME]);
    assert_eq!(
        f.keychain.secrets.borrow().keys().collect::<Vec<_>>(),
        [POLICY_NAME]
    );
    let error = f.vault.delete("Plant 3").unwrap_err();
    assert_eq!(
        error.to_string(),
        "No connection string called 'Plant 3' is in the vault. Check the spelling against the \
         vault's list; an entry can be called by its label or by its full name."
    );
}

#[test]
fn entries_found_only_in_the_keychain_are_listed_again() {
    let f = fixture();
    f.vault
        .save(&cs(POLICY), Some("Wizard policy"), false)
        .unwrap();
    f.keychain.store(DEVICE_NAME, DEVICE).unwrap();
    f.keychain.store("not made by this app", "x").unwrap();

    let listing = f.vault.list().unwrap();
    assert_eq!(labels(&listing), ["Wizard policy", DEVICE_NAME]);
    assert_eq!(
        listing.repairs,
        [Repair::Restored {
            name: DEVICE_NAME.into()
        }]
    );
    assert_eq!(
        listing.repairs[0].to_string(),
        format!(
            "'{DEVICE_NAME}' is in the {KEYCHAIN_NAME} but was missing from the vault's list; it \
             is listed again."
        )
    );
    assert_eq!(listing.entries[1].created, None);
    assert_eq!(
        f.vault.list().unwrap().repairs,
        [],
        "the repair was written to the index"
    );
    assert_eq!(
        f.vault.load(DEVICE_NAME).unwrap().1.expose(),
        cs(DEVICE).expose()
    );
}

#[test]
fn entries_gone_from_the_keychain_are_dropped_and_reported() {
    let f = fixture();
    f.vault.save(&cs(DEVICE), Some("Plant 3"), false).unwrap();
    f.vault.save(&cs(POLICY), None, false).unwrap();
    f.keychain.secrets.borrow_mut().remove(DEVICE_NAME);

    let error = f.vault.load("Plant 3").unwrap_err();
    assert_eq!(
        error.to_string(),
        format!(
            "'Plant 3' was removed from the {KEYCHAIN_NAME} outside IoT Hub Setup, so its \
             connection string is gone; it has been taken off the vault's list. Save the string \
             again if you still have it."
        )
    );
    assert_eq!(labels(&f.vault.list().unwrap()), [POLICY_NAME]);

    f.keychain.secrets.borrow_mut().remove(POLICY_NAME);
    let listing = f.vault.list().unwrap();
    assert_eq!(
        listing.repairs,
        [Repair::Dropped {
            name: POLICY_NAME.into(),
            label: POLICY_NAME.into()
        }]
    );
    assert_eq!(
        listing.repairs[0].to_string(),
        format!(
            "'{POLICY_NAME}' is no longer in the {KEYCHAIN_NAME} (it was removed outside IoT \
             Hub Setup); it was taken off the vault's list."
        )
    );
}

#[test]
fn an_unreadable_index_is_rebuilt_from_the_keychain() {
    let f = fixture();
    f.vault.save(&cs(DEVICE), Some("Plant 3"), false).unwrap();
    std::fs::write(f.vault.index_path(), "{ not json").unwrap();
    let listing = f.vault.list().unwrap();
    assert_eq!(
        listing.repairs,
        [
            Repair::Rebuilt,
            Repair::Restored {
                name: DEVICE_NAME.into()
            }
        ]
    );
    assert_eq!(labels(&listing), [DEVICE_NAME]);
    assert_eq!(f.vault.list().unwrap().repairs, []);
}

#[test]
fn a_keychain_item_changed_outside_the_app_is_refused() {
    let f = fixture();
    f.vault.save(&cs(DEVICE), None, false).unwrap();
    let other_device = DEVICE.replace("unpacked", "packed");
    for tampered in ["garbage", other_device.as_str()] {
        f.keychain.store(DEVICE_NAME, tampered).unwrap();
        let error = f.vault.load(DEVICE_NAME).unwrap_err();
        assert_eq!(
            error.to_string(),
            format!(
                "The {KEYCHAIN_NAME} entry '{DEVICE_NAME}' does not hold a valid connection \
                 string for that name; it was probably changed outside IoT Hub Setup. Delete it \
                 and save the string again."
            )
        );
    }
}

#[test]
fn keychain_errors_leave_the_index_alone() {
    let f = fixture();
    f.keychain.locked.set(true);
    let error = f.vault.save(&cs(DEVICE), None, false).unwrap_err();
    assert_eq!(
        error.to_string(),
        format!("{} (Details: locked in a test.)", keychain::LOCKED)
    );
    assert!(!f.vault.index_path().exists());
}

#[test]
fn an_unwritable_config_folder_is_reported_with_its_path() {
    let f = fixture();
    let blocker = f.dir.path().join("a-file");
    std::fs::write(&blocker, "").unwrap();
    let vault = Vault::new(f.keychain.clone(), &blocker);
    let error = vault.save(&cs(DEVICE), None, false).unwrap_err();
    let text = error.to_string();
    // Unix refuses to read through a file; Windows says the list is not there, and then
    // refuses to make a folder where the file is.
    let action = if cfg!(windows) {
        "create the folder of"
    } else {
        "read"
    };
    let expected = format!(
        "Could not {action} the vault's list {}: ",
        blocker.join(index::INDEX_FILE).display()
    );
    assert!(text.starts_with(&expected), "{text}");
    assert!(
        text.ends_with(
            "Check that you may write to that folder, or set HUBSETUP_CONFIG_DIR to another one."
        ),
        "{text}"
    );
}

#[test]
fn no_secret_reaches_the_index_folder_or_any_message() {
    let f = fixture();
    let mut messages = Vec::new();
    f.vault.save(&cs(DEVICE), Some("Plant 3"), false).unwrap();
    f.vault.save(&cs(POLICY), None, false).unwrap();
    f.vault.rename(POLICY_NAME, "Wizard").unwrap();
    let (entry, _) = f.vault.load("Plant 3").unwrap();
    messages.push(format!("{entry:?} {:?}", f.vault));
    messages.push(format!("{:?}", f.vault.list().unwrap()));
    messages.push(
        f.vault
            .save(&cs(DEVICE), None, false)
            .unwrap_err()
            .to_string(),
    );
    f.keychain
        .store(DEVICE_NAME, &DEVICE.replace("unpacked", "packed"))
        .unwrap();
    let tampered = f.vault.load("Plant 3").unwrap_err();
    messages.push(format!("{tampered} {tampered:?}"));
    f.vault.delete("Wizard").unwrap();

    let secrets = [KEY, OTHER_KEY, &KEY[..20], &OTHER_KEY[..20]];
    for message in &messages {
        for secret in secrets {
            assert!(!message.contains(secret), "secret in: {message}");
        }
    }
    let mut files = 0;
    for file in std::fs::read_dir(f.dir.path()).unwrap() {
        let content = std::fs::read(file.unwrap().path()).unwrap();
        let content = String::from_utf8_lossy(&content);
        for secret in secrets {
            assert!(!content.contains(secret), "secret in a file: {content}");
        }
        files += 1;
    }
    assert_eq!(files, 1, "only the index is written");
}

#[cfg(unix)]
#[test]
fn only_the_user_can_read_the_index() {
    use std::os::unix::fs::PermissionsExt;
    let f = fixture();
    f.vault.save(&cs(DEVICE), None, false).unwrap();
    let mode = std::fs::metadata(f.vault.index_path())
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600);
}
