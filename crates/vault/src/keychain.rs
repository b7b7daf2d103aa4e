//! Where the secrets live: the [`Keychain`] trait, and [`OsKeychain`], the operating system's
//! credential store through keyring-core: Secret Service on Linux and the BSDs, Keychain on
//! macOS, Credential Manager on Windows. The store is chosen at compile time per target.
//!
//! The vault's logic sees only the trait, so it is tested against an in-memory keychain as well
//! as the real Secret Service.

use std::collections::HashMap;
use std::sync::Arc;

use keyring_core::{CredentialStore, Entry as KeyringEntry, Error as KeyringError};
use zeroize::{Zeroize, Zeroizing};

use crate::VaultError;

/// A store of secrets, each under an account name.
pub trait Keychain {
    /// Stores `secret` for `account`, replacing any secret stored for it before.
    fn store(&self, account: &str, secret: &str) -> Result<(), VaultError>;
    /// The secret stored for `account`, or `None` if there is none.
    fn load(&self, account: &str) -> Result<Option<Zeroizing<String>>, VaultError>;
    /// Removes the secret stored for `account`; removing one that is not there succeeds.
    fn delete(&self, account: &str) -> Result<(), VaultError>;
    /// Every account that has a secret stored.
    fn accounts(&self) -> Result<Vec<String>, VaultError>;
}

/// What the credential store is called on this system, for messages.
pub const KEYCHAIN_NAME: &str = platform::KEYCHAIN_NAME;
/// What to do when the store cannot be reached, or refuses access, on this system.
pub(crate) use platform::{LOCKED, UNAVAILABLE};

/// The operating system's credential store, holding the entries of one service.
#[derive(Debug)]
pub struct OsKeychain {
    store: Arc<CredentialStore>,
    service: String,
}

impl OsKeychain {
    /// Connects to the credential store; entries are filed under `service` (the app uses
    /// [`crate::APP_ID`]; tests use their own to stay apart).
    pub fn open(service: &str) -> Result<OsKeychain, VaultError> {
        let store = platform::open().map_err(|e| VaultError::KeychainUnavailable {
            detail: match e {
                // The platform's own words, without keyring-core's "Platform failure: ".
                KeyringError::PlatformFailure(inner) => inner.to_string(),
                other => other.to_string(),
            },
        })?;
        Ok(OsKeychain {
            store,
            service: service.to_owned(),
        })
    }

    fn entry(&self, account: &str) -> Result<KeyringEntry, VaultError> {
        // Shown in the store's own UI where it has labels (Seahorse, KeePassXC).
        let label = format!("IoT Hub Setup: {account}");
        let modifiers: HashMap<&str, &str> = platform::LABEL_MODIFIER
            .map(|key| (key, label.as_str()))
            .into_iter()
            .collect();
        self.store
            .build(&self.service, account, Some(&modifiers))
            .map_err(failure)
    }
}

impl Keychain for OsKeychain {
    fn store(&self, account: &str, secret: &str) -> Result<(), VaultError> {
        self.entry(account)?.set_password(secret).map_err(failure)
    }

    fn load(&self, account: &str) -> Result<Option<Zeroizing<String>>, VaultError> {
        match self.entry(account)?.get_password() {
            Ok(secret) => Ok(Some(Zeroizing::new(secret))),
            Err(KeyringError::NoEntry) => Ok(None),
            Err(KeyringError::BadEncoding(mut bytes)) => {
                bytes.zeroize();
                Err(VaultError::StoredStringInvalid {
                    name: account.to_owned(),
                })
            }
            Err(e) => Err(failure(e)),
        }
    }

    fn delete(&self, account: &str) -> Result<(), VaultError> {
        match self.entry(account)?.delete_credential() {
            Ok(()) | Err(KeyringError::NoEntry) => Ok(()),
            Err(e) => Err(failure(e)),
        }
    }

    fn accounts(&self) -> Result<Vec<String>, VaultError> {
        let (key, value) = platform::search_spec(&self.service);
        let found = self
            .store
            .search(&HashMap::from([(key, value.as_str())]))
            .map_err(failure)?;
        Ok(found
            .iter()
            .filter_map(KeyringEntry::get_specifiers)
            .filter(|(service, _)| *service == self.service)
            .map(|(_, account)| account)
            .collect())
    }
}

/// Sorts keyring errors into the vault's. Only `Display` texts of platform errors are kept:
/// keyring-core's `Debug` output can carry secret bytes.
fn failure(error: KeyringError) -> VaultError {
    match error {
        KeyringError::NoStorageAccess(e) => VaultError::KeychainLocked {
            detail: e.to_string(),
        },
        KeyringError::PlatformFailure(e) => VaultError::KeychainFailed {
            detail: e.to_string(),
        },
        KeyringError::Ambiguous(entries) => VaultError::KeychainFailed {
            detail: format!(
                "{} items in it have the same name; remove the extra ones in its own app",
                entries.len()
            ),
        },
        KeyringError::BadEncoding(mut bytes) | KeyringError::BadDataFormat(mut bytes, _) => {
            bytes.zeroize();
            VaultError::KeychainFailed {
                detail: "an item holds data IoT Hub Setup cannot read".to_owned(),
            }
        }
        other => VaultError::KeychainFailed {
            detail: other.to_string(),
        },
    }
}

#[cfg(all(
    unix,
    not(any(target_os = "macos", target_os = "ios", target_os = "android"))
))]
mod platform {
    use super::*;

    pub const KEYCHAIN_NAME: &str = "Secret Service keyring";
    pub const LABEL_MODIFIER: Option<&str> = Some("label");
    pub const UNAVAILABLE: &str = "No Secret Service is running, so there is nowhere safe to \
        keep connection strings (IoT Hub Setup never writes them to a plain file). Start \
        gnome-keyring-daemon or KeePassXC's Secret Service integration, or unlock your login \
        keyring, then try again. Without a desktop session, run IoT Hub Setup inside \
        `dbus-run-session` after `gnome-keyring-daemon --unlock`.";
    pub const LOCKED: &str = "The Secret Service refused access: your login keyring is locked, \
        or there is no default keyring to keep it in. Unlock the keyring (for example in \
        Passwords and Keys) or create one, then try again.";

    pub fn open() -> keyring_core::Result<Arc<CredentialStore>> {
        Ok(zbus_secret_service_keyring_store::Store::new()?)
    }

    pub fn search_spec(service: &str) -> (&'static str, String) {
        ("service", service.to_owned())
    }
}

#[cfg(target_os = "macos")]
mod platform {
    use super::*;

    pub const KEYCHAIN_NAME: &str = "macOS Keychain";
    pub const LABEL_MODIFIER: Option<&str> = None;
    pub const UNAVAILABLE: &str = "The macOS Keychain could not be opened, so there is nowhere \
        safe to keep connection strings (IoT Hub Setup never writes them to a plain file). Open \
        Keychain Access, check that your login keychain exists and is unlocked, then try again.";
    pub const LOCKED: &str = "The macOS Keychain refused access: your login keychain is locked, \
        or access was denied. Unlock it in Keychain Access and allow IoT Hub Setup when asked, \
        then try again.";

    pub fn open() -> keyring_core::Result<Arc<CredentialStore>> {
        Ok(apple_native_keyring_store::keychain::Store::new()?)
    }

    pub fn search_spec(service: &str) -> (&'static str, String) {
        ("service", service.to_owned())
    }
}

#[cfg(windows)]
mod platform {
    use super::*;

    pub const KEYCHAIN_NAME: &str = "Windows Credential Manager";
    pub const LABEL_MODIFIER: Option<&str> = None;
    pub const UNAVAILABLE: &str = "Windows Credential Manager could not be reached, so there is \
        nowhere safe to keep connection strings (IoT Hub Setup never writes them to a plain \
        file). Sign in to Windows with your own account (not a temporary profile), then try \
        again.";
    pub const LOCKED: &str = "Windows Credential Manager refused access. Sign in to Windows \
        with your own account, then try again.";

    /// Credentials are named `{account}@{service}`. The service has no '@', so the store's
    /// search, which splits names at the last divider, gives back the account intact even when
    /// a device ID contains '@'.
    pub fn open() -> keyring_core::Result<Arc<CredentialStore>> {
        Ok(windows_native_keyring_store::Store::new_with_configuration(
            &HashMap::from([("divider", "@")]),
        )?)
    }

    /// The service is letters, digits, '-' and '.'; only the dots need escaping in the regex.
    pub fn search_spec(service: &str) -> (&'static str, String) {
        ("pattern", format!("@{}$", service.replace('.', r"\.")))
    }
}

#[cfg(not(any(
    all(
        unix,
        not(any(target_os = "macos", target_os = "ios", target_os = "android"))
    ),
    target_os = "macos",
    windows
)))]
compile_error!(
    "IoT Hub Setup's vault needs Secret Service, the macOS Keychain or Windows Credential Manager"
);
