//! The vault: connection strings kept in the operating system's credential store.
//!
//! Each string is one keychain entry under the service [`APP_ID`], named after what it speaks
//! for (`{host}/devices/{device}` or `{host}/policies/{policy}`, see [`Identity`]); the secret
//! lives only there. A small index in the app's config folder ([`index`]) holds what a list
//! needs without unlocking anything: the user's label, host, device or policy, when the string
//! was saved and last verified. The keychain is the truth: every operation first lists it and
//! repairs the index where the two disagree.
//!
//! There is no fallback: without a usable keychain every operation fails with an error that
//! says what to start or unlock, and nothing secret is ever written to a file.
//!
//! - [`keychain`]: the [`Keychain`] trait and the OS credential store behind it.
//! - [`index`]: the index file and the names of entries.
//! - [`proxy_logins`]: user names and passwords for proxies, in the same credential store.

pub mod index;
pub mod keychain;
pub mod proxy_logins;

use std::fmt;
use std::io;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use hubsetup_core::ConnectionString;

pub use index::{Entry, Identity};
pub use keychain::{Keychain, OsKeychain, KEYCHAIN_NAME};
pub use proxy_logins::{
    proxy_logins_service, with_kept_proxy_logins, ProxyLogins, ProxySignInError,
};

/// The app's identifier: the keychain service of its entries and the name of its folders.
pub use hubsetup_platform::paths::{APP_ID, CONFIG_DIR_ENV};

/// Labels are short names for a list, not notes.
pub const LABEL_MAX_CHARS: usize = 64;

/// Every way a vault operation can fail. Messages say what happened and what to do; none
/// contains a secret.
#[derive(Debug, thiserror::Error)]
pub enum VaultError {
    #[error("{} (Details: {detail}.)", keychain::UNAVAILABLE)]
    KeychainUnavailable { detail: String },
    #[error("{} (Details: {detail}.)", keychain::LOCKED)]
    KeychainLocked { detail: String },
    #[error(
        "The {KEYCHAIN_NAME} reported an error: {detail}. Try again; if it keeps happening, \
         sign out and in again."
    )]
    KeychainFailed { detail: String },
    #[error(
        "No connection string called '{name}' is in the vault. Check the spelling against the \
         vault's list; an entry can be called by its label or by its full name."
    )]
    NotFound { name: String },
    #[error(
        "'{name}' was removed from the {KEYCHAIN_NAME} outside IoT Hub Setup, so its connection \
         string is gone; it has been taken off the vault's list. Save the string again if you \
         still have it."
    )]
    Vanished { name: String },
    #[error(
        "The {KEYCHAIN_NAME} entry '{name}' does not hold a valid connection string for that \
         name; it was probably changed outside IoT Hub Setup. Delete it and save the string \
         again."
    )]
    StoredStringInvalid { name: String },
    #[error(
        "A connection string for {name} is already in the vault, labelled '{label}'. Delete it \
         first, or save again and choose to replace it."
    )]
    AlreadyStored { name: String, label: String },
    #[error("The label '{label}' is already used by {name}. Choose another label.")]
    LabelTaken { label: String, name: String },
    #[error(
        "A label must be 1 to {LABEL_MAX_CHARS} characters on one line. Choose a short \
         description such as 'Plant 3 gateway'."
    )]
    InvalidLabel,
    #[error(
        "A label must not contain the connection string or its key: labels are kept in a plain \
         file. Choose a short description such as 'Plant 3 gateway'."
    )]
    LabelLooksSecret,
    #[error(
        "This system has no standard folder for app settings, so the vault has nowhere to keep \
         its list. Set {CONFIG_DIR_ENV} to a folder only you can write to."
    )]
    NoConfigDir,
    #[error(
        "Could not {action} the vault's list {}: {source}. Check that you may write to that \
         folder, or set {CONFIG_DIR_ENV} to another one.",
        .path.display()
    )]
    Index {
        action: &'static str,
        path: PathBuf,
        source: io::Error,
    },
}

/// Where the index lives: [`CONFIG_DIR_ENV`] if set, else the system's settings folder for
/// [`APP_ID`] (see [`hubsetup_platform::paths`]).
pub fn config_dir() -> Result<PathBuf, VaultError> {
    hubsetup_platform::paths::config_dir().ok_or(VaultError::NoConfigDir)
}

/// The vault's entries, with what was repaired to get them.
#[derive(Debug)]
pub struct Listing {
    /// Sorted by label.
    pub entries: Vec<Entry>,
    pub repairs: Vec<Repair>,
}

/// A disagreement between the index and the keychain, and how it was settled.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Repair {
    /// In the keychain but not in the index: listed again, with its name as label.
    Restored { name: String },
    /// In the index but gone from the keychain: taken off the list.
    Dropped { name: String, label: String },
    /// The index could not be read and was rebuilt from the keychain.
    Rebuilt,
}

impl fmt::Display for Repair {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Repair::Restored { name } => write!(
                f,
                "'{name}' is in the {KEYCHAIN_NAME} but was missing from the vault's list; it \
                 is listed again."
            ),
            Repair::Dropped { label, .. } => write!(
                f,
                "'{label}' is no longer in the {KEYCHAIN_NAME} (it was removed outside IoT Hub \
                 Setup); it was taken off the vault's list."
            ),
            Repair::Rebuilt => write!(
                f,
                "The vault's list could not be read, so it was rebuilt from the \
                 {KEYCHAIN_NAME}; earlier labels and dates are lost."
            ),
        }
    }
}

/// Connection strings in a [`Keychain`], listed through the index in a config folder.
#[derive(Debug)]
pub struct Vault<K> {
    keychain: K,
    index_path: PathBuf,
}

impl Vault<OsKeychain> {
    /// The vault in the operating system's credential store, indexed in [`config_dir`].
    pub fn open() -> Result<Self, VaultError> {
        Ok(Vault::new(OsKeychain::open(APP_ID)?, &config_dir()?))
    }
}

impl<K: Keychain> Vault<K> {
    /// A vault over `keychain` whose index lives in `config_dir`.
    pub fn new(keychain: K, config_dir: &Path) -> Self {
        Vault {
            keychain,
            index_path: config_dir.join(index::INDEX_FILE),
        }
    }

    pub fn index_path(&self) -> &Path {
        &self.index_path
    }

    /// Every stored string's non-secret facts, after settling any disagreement between the
    /// index and the keychain in the keychain's favour.
    pub fn list(&self) -> Result<Listing, VaultError> {
        let indexed = index::read(&self.index_path)?;
        let accounts = self.keychain.accounts()?;
        let mut repairs = Vec::new();
        if indexed.is_none() {
            repairs.push(Repair::Rebuilt);
        }
        let mut entries = indexed.unwrap_or_default();
        entries.retain(|entry| {
            let name = entry.name();
            let in_keychain = accounts.contains(&name);
            if !in_keychain {
                repairs.push(Repair::Dropped {
                    label: entry.label.clone(),
                    name,
                });
            }
            in_keychain
        });
        for account in accounts {
            // Entries of this service with names the app would not make are left alone.
            let Some(identity) = Identity::from_name(&account) else {
                continue;
            };
            if entries.iter().all(|entry| entry.identity != identity) {
                repairs.push(Repair::Restored {
                    name: account.clone(),
                });
                entries.push(Entry {
                    label: account,
                    identity,
                    created: None,
                    last_verified: None,
                });
            }
        }
        if !repairs.is_empty() {
            index::write(&self.index_path, &entries)?;
        }
        entries.sort_by_cached_key(|entry| entry.label.to_lowercase());
        Ok(Listing { entries, repairs })
    }

    /// Stores `cs` under its name with `label` (default: the name). A string already stored
    /// under the same name is replaced only when `replace` is set; its label is kept unless a
    /// new one is given.
    pub fn save(
        &self,
        cs: &ConnectionString,
        label: Option<&str>,
        replace: bool,
    ) -> Result<Entry, VaultError> {
        let identity = Identity::of(cs);
        let name = identity.name();
        let mut entries = self.list()?.entries;
        let existing = entries.iter().position(|entry| entry.name() == name);
        if let (Some(at), false) = (existing, replace) {
            return Err(VaultError::AlreadyStored {
                name,
                label: entries[at].label.clone(),
            });
        }
        let label = match (label, existing) {
            (Some(label), _) => check_label(label, &name, &entries)?,
            (None, Some(at)) => entries[at].label.clone(),
            (None, None) => name.clone(),
        };
        // Keychain first: if the index write then fails, the next list restores the entry.
        self.keychain.store(&name, &cs.expose())?;
        let entry = Entry {
            label,
            identity,
            created: Some(now_to_the_second()),
            last_verified: None,
        };
        match existing {
            Some(at) => entries[at] = entry.clone(),
            None => entries.push(entry.clone()),
        }
        index::write(&self.index_path, &entries)?;
        Ok(entry)
    }

    /// The entry called `wanted` (its name or label) and its connection string.
    pub fn load(&self, wanted: &str) -> Result<(Entry, ConnectionString), VaultError> {
        let listing = self.list()?;
        let entry = listing.entries[find(&listing, wanted)?].clone();
        let name = entry.name();
        let Some(secret) = self.keychain.load(&name)? else {
            // Removed since the listing above; listing again takes it off the index.
            self.list()?;
            return Err(VaultError::Vanished {
                name: wanted.to_owned(),
            });
        };
        match ConnectionString::parse(&secret) {
            Ok(cs) if Identity::of(&cs) == entry.identity => Ok((entry, cs)),
            _ => Err(VaultError::StoredStringInvalid { name }),
        }
    }

    /// Gives the entry called `wanted` a new label.
    pub fn rename(&self, wanted: &str, label: &str) -> Result<Entry, VaultError> {
        self.change(wanted, |entry, entries| {
            Ok(Entry {
                label: check_label(label, &entry.name(), entries)?,
                ..entry.clone()
            })
        })
    }

    /// Notes that the entry called `wanted` connected successfully at `when`.
    pub fn record_verified(&self, wanted: &str, when: SystemTime) -> Result<Entry, VaultError> {
        self.change(wanted, |entry, _| {
            Ok(Entry {
                last_verified: Some(when),
                ..entry.clone()
            })
        })
    }

    /// Removes the entry called `wanted` from the keychain and the index.
    pub fn delete(&self, wanted: &str) -> Result<Entry, VaultError> {
        let mut listing = self.list()?;
        let entry = listing.entries.remove(find(&listing, wanted)?);
        self.keychain.delete(&entry.name())?;
        index::write(&self.index_path, &listing.entries)?;
        Ok(entry)
    }

    /// Replaces the entry called `wanted` with `change(entry, all entries)` in the index.
    fn change(
        &self,
        wanted: &str,
        change: impl FnOnce(&Entry, &[Entry]) -> Result<Entry, VaultError>,
    ) -> Result<Entry, VaultError> {
        let mut listing = self.list()?;
        let at = find(&listing, wanted)?;
        let changed = change(&listing.entries[at], &listing.entries)?;
        listing.entries[at] = changed.clone();
        index::write(&self.index_path, &listing.entries)?;
        Ok(changed)
    }
}

/// The current time as the index keeps it, so a saved entry equals the listed one.
fn now_to_the_second() -> SystemTime {
    let since_epoch = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    UNIX_EPOCH + Duration::from_secs(since_epoch.as_secs())
}

/// The position of the entry whose name, else label, is `wanted`.
fn find(listing: &Listing, wanted: &str) -> Result<usize, VaultError> {
    let entries = &listing.entries;
    entries
        .iter()
        .position(|entry| entry.name() == wanted)
        .or_else(|| entries.iter().position(|entry| entry.label == wanted))
        .ok_or_else(|| {
            let name = wanted.to_owned();
            let dropped_now = listing.repairs.iter().any(|repair| {
                matches!(repair, Repair::Dropped { name, label } if name == wanted || label == wanted)
            });
            if dropped_now {
                VaultError::Vanished { name }
            } else {
                VaultError::NotFound { name }
            }
        })
}

/// The trimmed label if it is acceptable for the entry named `own_name`: short, one line, no
/// secret in it, and not the label or name of another entry (either may be used to call one).
fn check_label(label: &str, own_name: &str, entries: &[Entry]) -> Result<String, VaultError> {
    let label = label.trim();
    let other = entries
        .iter()
        .find(|entry| entry.name() != own_name && (entry.label == label || entry.name() == label));
    if let Some(other) = other {
        return Err(VaultError::LabelTaken {
            label: label.to_owned(),
            name: other.name(),
        });
    }
    if label.to_ascii_lowercase().contains("sharedaccess") {
        return Err(VaultError::LabelLooksSecret);
    }
    let length = label.chars().count();
    if length == 0 || length > LABEL_MAX_CHARS || label.chars().any(char::is_control) {
        return Err(VaultError::InvalidLabel);
    }
    Ok(label.to_owned())
}

#[cfg(test)]
mod tests;
