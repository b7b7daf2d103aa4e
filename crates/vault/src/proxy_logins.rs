//! Logins for proxies that ask for a user name and password: typed once, kept in the
//! keychain under a service of their own ([`PROXY_LOGINS_SERVICE`]), one entry per proxy
//! (`host:port`), never in a file. Every network client of the app finds them through
//! [`SavedLogins`].

use std::borrow::Cow;
use std::sync::Arc;

use hubsetup_net::{offers_basic, Network, ProxyLogin, ProxyTarget, SavedLogins, TunnelError};
use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

use crate::{Keychain, OsKeychain, VaultError, APP_ID};

/// The keychain service the proxy logins are filed under, beside the vault's own.
pub fn proxy_logins_service() -> String {
    format!("{APP_ID}.proxy")
}

/// Why a login typed for a proxy was not kept.
#[derive(Debug, thiserror::Error)]
pub enum ProxySignInError {
    #[error(
        "The proxy {proxy} takes only your Windows sign-in ({schemes}), not a user name and \
         password; nothing was saved. Ask the network administrator to let Azure through \
         without sign-in, or for a proxy account with a password (Basic)."
    )]
    WindowsSignInOnly { proxy: String, schemes: String },
    #[error(
        "The proxy {proxy} refused that user name and password; nothing was saved. Check them \
         (the user name is often written DOMAIN\\user) and try again."
    )]
    Refused { proxy: String },
    /// The login got no answer about itself: the proxy could not be reached, or stopped the
    /// tunnel for another reason.
    #[error("{}; nothing was saved. {}", reason.summary(), reason.fix())]
    NoTunnel { reason: TunnelError },
    #[error(transparent)]
    Keychain(#[from] VaultError),
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
        self.keychain
            .store(&authority.to_ascii_lowercase(), &secret)
    }

    /// Checks `login` with `proxy` (a tunnel through it to `host`) and keeps it once the proxy
    /// lets it through; nothing is kept otherwise.
    pub async fn sign_in(
        &self,
        proxy: &ProxyTarget,
        login: &ProxyLogin,
        host: &str,
    ) -> Result<(), ProxySignInError> {
        let authority = proxy.authority();
        let tried = proxy.clone().with_login(login);
        match hubsetup_net::try_proxy(&tried, host).await {
            Ok(()) => Ok(self.save(&authority, login)?),
            Err(TunnelError::NeedsLogin { schemes, .. }) if !offers_basic(&schemes) => {
                Err(ProxySignInError::WindowsSignInOnly {
                    proxy: authority,
                    schemes: schemes.join(", "),
                })
            }
            Err(TunnelError::NeedsLogin { .. }) => {
                Err(ProxySignInError::Refused { proxy: authority })
            }
            Err(reason) => Err(ProxySignInError::NoTunnel { reason }),
        }
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

/// `network`, with the logins kept in the operating system's credential store for the proxies
/// it goes through. Without proxies the store is not opened; a store that cannot be reached
/// gives no login, and a proxy that asks for one then says so.
pub fn with_kept_proxy_logins(network: Network) -> Network {
    if !network.proxy_settings().any() {
        return network;
    }
    match ProxyLogins::open() {
        Ok(logins) => network.with_saved_proxy_logins(Arc::new(logins)),
        Err(_) => network,
    }
}

/// A keychain that cannot be reached gives no login: the proxy then asks, and its refusal
/// says what to do.
impl<K: Keychain + Send + Sync> SavedLogins for ProxyLogins<K> {
    fn login_for(&self, authority: &str) -> Option<ProxyLogin> {
        self.load(authority).ok().flatten()
    }
}
