//! Logins for proxies that ask for a user name and password: typed once, kept in the
//! keychain under a service of their own ([`PROXY_LOGINS_SERVICE`]), one entry per proxy
//! (`host:port`), never in a file. Every network client of the app finds them through
//! [`SavedLogins`].

use std::borrow::Cow;

use hubsetup_net::{ProxyLogin, SavedLogins};
use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

use crate::{Keychain, OsKeychain, VaultError, APP_ID};

/// The keychain service the proxy logins are filed under, beside the vault's own.
pub fn proxy_logins_service() -> String {
    format!("{APP_ID}.proxy")
}

/// The logins saved for proxies, in a [`Keychain`].
#[derive(Debug)]
pub struct ProxyLogins<K> {
    keychain: K,
}

/// What one keychain entry holds; borrowed when written, so the password is not copied.
#[derive(Serialize, Deserialize)]
struct Stored<'a> {
    user: Cow<'a, str>,
    password: Cow<'a, str>,
}

impl ProxyLogins<OsKeychain> {
    /// The logins in the operating system's credential store.
    pub fn open() -> Result<Self, VaultError> {
        Ok(ProxyLogins::new(OsKeychain::open(&proxy_logins_service())?))
    }
}

impl<K: Keychain> ProxyLogins<K> {
    pub fn new(keychain: K) -> Self {
        ProxyLogins { keychain }
    }

    /// Keeps `login` for the proxy at `authority`, replacing the one kept before.
    pub fn save(&self, authority: &str, login: &ProxyLogin) -> Result<(), VaultError> {
        let stored = Stored {
            user: Cow::Borrowed(&login.user),
            password: Cow::Borrowed(&login.password),
        };
        let secret = Zeroizing::new(serde_json::to_string(&stored).expect("two strings"));
        self.keychain.store(&authority.to_ascii_lowercase(), &secret)
    }

    /// The login kept for the proxy at `authority`; an entry changed outside the app into
    /// something unreadable counts as none.
    pub fn load(&self, authority: &str) -> Result<Option<ProxyLogin>, VaultError> {
        let Some(secret) = self.keychain.load(&authority.to_ascii_lowercase())? else {
            return Ok(None);
        };
        Ok(serde_json::from_str::<Stored>(&secret)
            .ok()
            .map(|stored| ProxyLogin {
                user: stored.user.into_owned(),
                password: Zeroizing::new(stored.password.into_owned()),
            }))
    }

    /// Removes the login kept for `authority`; whether there was one.
    pub fn forget(&self, authority: &str) -> Result<bool, VaultError> {
        let had = self.load(authority)?.is_some();
        self.keychain.delete(&authority.to_ascii_lowercase())?;
        Ok(had)
    }

    /// The proxies (`host:port`) with a login kept, sorted.
    pub fn proxies(&self) -> Result<Vec<String>, VaultError> {
        let mut proxies = self.keychain.accounts()?;
        proxies.sort();
        Ok(proxies)
    }
}

/// A keychain that cannot be reached gives no login: the proxy then asks, and its refusal
/// says what to do.
impl<K: Keychain + Send + Sync> SavedLogins for ProxyLogins<K> {
    fn login_for(&self, authority: &str) -> Option<ProxyLogin> {
        self.load(authority).ok().flatten()
    }
}
