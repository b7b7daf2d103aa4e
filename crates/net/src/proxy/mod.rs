//! Proxy settings as corporate networks set them: `HTTPS_PROXY` (or `https_proxy`,
//! `ALL_PROXY`) and `NO_PROXY` (comma-separated hosts, `.domain` suffixes, `*`); without
//! them, the operating system's: on Windows the user's Internet Options (what the browser and
//! most Windows programs use, set by group policy on managed machines), including an
//! automatic-configuration (PAC) script, else the machine's WinHTTP proxy; on macOS the
//! system's network proxies.
//!
//! A proxy that asks for a user name and password gets the ones saved for it
//! ([`SavedLogins`], the keychain in the apps) unless its URL carries its own.

#[cfg(target_os = "macos")]
mod macos;
mod script;
#[cfg(windows)]
mod windows;

use std::fmt;
use std::sync::Arc;

use url::Url;
use zeroize::Zeroizing;

use crate::NetError;
use script::AutoConfig;
pub use script::ScriptError;

/// A proxy to tunnel HTTPS through with `CONNECT`.
#[derive(Clone, PartialEq, Eq)]
pub struct ProxyTarget {
    pub url: Url,
}

impl ProxyTarget {
    /// `host:port` of the proxy itself.
    pub fn authority(&self) -> String {
        format!(
            "{}:{}",
            self.url.host_str().unwrap_or_default(),
            self.url.port_or_known_default().unwrap_or(8080)
        )
    }

    /// Whether a user name (and password) goes with every request to this proxy.
    pub fn has_login(&self) -> bool {
        !self.url.username().is_empty()
    }

    /// The `user:password` of its URL, decoded (a URL must percent-encode `@` and `:`).
    pub fn login(&self) -> Option<ProxyLogin> {
        let decode = |text: &str| {
            percent_encoding::percent_decode_str(text)
                .decode_utf8_lossy()
                .into_owned()
        };
        self.has_login().then(|| ProxyLogin {
            user: decode(self.url.username()),
            password: Zeroizing::new(decode(self.url.password().unwrap_or_default())),
        })
    }

    /// This proxy, with `login` sent to it.
    pub fn with_login(mut self, login: &ProxyLogin) -> ProxyTarget {
        // Only fails for URLs that cannot have a login, which a proxy URL always can. The
        // URL percent-encodes what a login may not hold as it is (`@`, `:`).
        let _ = self.url.set_username(&login.user);
        let _ = self.url.set_password(Some(&login.password));
        self
    }
}

/// Never shows the password, which a proxy URL may carry.
impl fmt::Debug for ProxyTarget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ProxyTarget")
            .field("proxy", &self.authority())
            .field("login", &self.has_login())
            .finish()
    }
}

/// A user name and password for a proxy that asks for them (Basic authentication).
#[derive(Clone, PartialEq, Eq)]
pub struct ProxyLogin {
    pub user: String,
    pub password: Zeroizing<String>,
}

impl fmt::Debug for ProxyLogin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ProxyLogin")
            .field("user", &self.user)
            .finish_non_exhaustive()
    }
}

/// Where the user names and passwords given for proxies are kept (the keychain, in the apps).
pub trait SavedLogins: Send + Sync {
    /// The login saved for the proxy at `authority` (`host:port`), if any.
    fn login_for(&self, authority: &str) -> Option<ProxyLogin>;
}

#[derive(Clone, Default)]
pub struct ProxySettings {
    pub https: Option<ProxyTarget>,
    pub no_proxy: Vec<String>,
    /// Asked first, for each host; `https` and `no_proxy` serve when it cannot answer.
    script: Option<AutoConfig>,
    logins: Option<Arc<dyn SavedLogins>>,
    /// Where the settings were found, for people: `HTTPS_PROXY`, `Internet Options`.
    origin: Option<&'static str>,
}

impl PartialEq for ProxySettings {
    fn eq(&self, other: &ProxySettings) -> bool {
        self.https == other.https && self.no_proxy == other.no_proxy && self.script == other.script
    }
}

impl Eq for ProxySettings {}

impl fmt::Debug for ProxySettings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ProxySettings")
            .field("https", &self.https)
            .field("no_proxy", &self.no_proxy)
            .field("script", &self.script)
            .field("saved_logins", &self.logins.is_some())
            .field("origin", &self.origin)
            .finish()
    }
}

impl ProxySettings {
    pub fn none() -> ProxySettings {
        ProxySettings::default()
    }

    /// The environment's proxy, else the operating system's.
    pub fn from_system() -> Result<ProxySettings, NetError> {
        let env = ProxySettings::from_env()?;
        if env.https.is_some() {
            return Ok(env.found_in("HTTPS_PROXY"));
        }
        #[cfg(windows)]
        if let Some(settings) = windows::system_settings()? {
            return Ok(settings);
        }
        #[cfg(target_os = "macos")]
        if let Some(settings) = macos::system_settings()? {
            return Ok(settings);
        }
        Ok(env)
    }

    /// Internet Options' `ProxyServer` (`host:port`, or per protocol `http=h:p;https=h:p`:
    /// then HTTPS uses the `https=` one, and goes direct without one) and `ProxyOverride`
    /// (`;`-separated, `*.domain` wildcards, `<local>` for names without a dot).
    pub fn from_internet_options(server: &str, overrides: &str) -> Result<ProxySettings, NetError> {
        let no_proxy = overrides.replace(';', ",");
        ProxySettings::parse(https_entry(server), Some(&no_proxy))
    }

    /// Settings that ask the automatic-configuration (PAC) script at `script_url` which proxy
    /// serves each host, and fall back to these settings where the script cannot answer.
    pub fn with_script(mut self, script_url: &str) -> ProxySettings {
        self.script = Some(AutoConfig::new(script_url));
        self
    }

    /// The automatic-configuration script asked first, if any.
    pub fn script_url(&self) -> Option<&str> {
        self.script.as_ref().map(AutoConfig::url)
    }

    /// Logins for proxies that ask for one, used where the proxy's URL carries none.
    pub fn with_saved_logins(mut self, logins: Arc<dyn SavedLogins>) -> ProxySettings {
        self.logins = Some(logins);
        self
    }

    /// Where the settings were found, for people (`HTTPS_PROXY`, `Internet Options`).
    pub fn origin(&self) -> Option<&'static str> {
        self.origin
    }

    pub(crate) fn found_in(mut self, origin: &'static str) -> ProxySettings {
        self.origin = Some(origin);
        self
    }

    /// Whether any host may go through a proxy.
    pub fn any(&self) -> bool {
        self.https.is_some() || self.script.is_some()
    }

    pub fn from_env() -> Result<ProxySettings, NetError> {
        let var = |names: &[&str]| {
            names
                .iter()
                .find_map(|n| std::env::var(n).ok().filter(|v| !v.trim().is_empty()))
        };
        ProxySettings::parse(
            var(&["HTTPS_PROXY", "https_proxy", "ALL_PROXY", "all_proxy"]).as_deref(),
            var(&["NO_PROXY", "no_proxy"]).as_deref(),
        )
    }

    pub fn parse(
        https_proxy: Option<&str>,
        no_proxy: Option<&str>,
    ) -> Result<ProxySettings, NetError> {
        let https = https_proxy.map(proxy_target).transpose()?;
        let no_proxy = no_proxy
            .unwrap_or_default()
            .split(',')
            .map(|s| s.trim().trim_start_matches("*.").to_ascii_lowercase())
            .filter(|s| !s.is_empty())
            .collect();
        Ok(ProxySettings {
            https,
            no_proxy,
            ..ProxySettings::default()
        })
    }

    /// The proxy for `host`: the script's answer, else the configured proxy unless `NO_PROXY`
    /// exempts the host; with the login saved for it when its URL has none.
    pub fn for_host(&self, host: &str) -> Option<ProxyTarget> {
        let host = host.to_ascii_lowercase();
        let scripted = self.script.as_ref().and_then(|s| s.proxy_for(&host).ok());
        let target = match scripted {
            Some(answer) => answer,
            None if self.exempts(&host) => None,
            None => self.https.clone(),
        }?;
        let saved = (!target.has_login())
            .then(|| self.logins.as_ref()?.login_for(&target.authority()))
            .flatten();
        Some(match saved {
            Some(login) => target.with_login(&login),
            None => target,
        })
    }

    /// Why the automatic-configuration script gave no answer for `host`, if it did not.
    pub fn script_failure(&self, host: &str) -> Option<ScriptError> {
        self.script
            .as_ref()?
            .proxy_for(&host.to_ascii_lowercase())
            .err()
    }

    fn exempts(&self, host: &str) -> bool {
        self.no_proxy.iter().any(|entry| {
            entry == "*" || (entry == LOCAL && !host.contains('.')) || {
                let domain = entry.trim_start_matches('.');
                host == domain || host.ends_with(&format!(".{domain}"))
            }
        })
    }
}

/// The HTTPS proxy of a Windows proxy list: `host:port`, or per protocol `http=h:p;https=h:p`
/// (then the `https=` one, or none: HTTPS goes direct), or a PAC answer's `h:p; h2:p` (the
/// first).
fn https_entry(list: &str) -> Option<&str> {
    if list.contains('=') {
        list.split(';').find_map(|part| {
            let (protocol, address) = part.split_once('=')?;
            protocol
                .trim()
                .eq_ignore_ascii_case("https")
                .then(|| address.trim())
        })
    } else {
        list.split([';', ' '])
            .map(str::trim)
            .find(|s| !s.is_empty())
    }
}

fn proxy_target(text: &str) -> Result<ProxyTarget, NetError> {
    let with_scheme = if text.contains("://") {
        text.to_owned()
    } else {
        format!("http://{text}")
    };
    let url = Url::parse(&with_scheme).map_err(|_| NetError::InvalidProxy(redacted(text)))?;
    if url.host_str().is_none() {
        return Err(NetError::InvalidProxy(redacted(text)));
    }
    Ok(ProxyTarget { url })
}

/// A proxy address as typed, without the password it may carry (`user:***@host`).
fn redacted(text: &str) -> String {
    let login_start = text.find("://").map_or(0, |i| i + 3);
    match (text.rfind('@'), text[login_start..].find(':')) {
        (Some(at), Some(colon)) if login_start + colon < at => {
            format!("{}***{}", &text[..=login_start + colon], &text[at..])
        }
        _ => text.to_owned(),
    }
}

/// Internet Options' bypass entry for every name without a dot (intranet hosts).
const LOCAL: &str = "<local>";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn internet_options_are_read_as_windows_means_them() {
        let settings =
            ProxySettings::from_internet_options("proxy.corp:8080", "<local>;*.internal.corp;10.*")
                .unwrap();
        assert_eq!(
            settings.https.as_ref().unwrap().authority(),
            "proxy.corp:8080"
        );
        assert_eq!(
            settings.for_host("intranet"),
            None,
            "<local>: a name without a dot"
        );
        assert_eq!(settings.for_host("a.internal.corp"), None);
        assert!(settings.for_host("management.azure.com").is_some());
        let per_protocol =
            ProxySettings::from_internet_options("http=web:80;https=secure:3128;ftp=f:21", "")
                .unwrap();
        assert_eq!(per_protocol.https.unwrap().authority(), "secure:3128");
        let http_only = ProxySettings::from_internet_options("http=web:80", "").unwrap();
        assert_eq!(
            http_only.https, None,
            "HTTPS goes direct without an https= proxy"
        );
    }

    #[test]
    fn no_proxy_exempts_hosts_and_domains() {
        let settings = ProxySettings::parse(
            Some("proxy.corp:3128"),
            Some("localhost, .internal.corp,*.azure-devices.net"),
        )
        .unwrap();
        let proxy = settings.https.as_ref().unwrap();
        assert_eq!(proxy.authority(), "proxy.corp:3128");
        assert_eq!(settings.for_host("hub.azure-devices.net"), None);
        assert_eq!(settings.for_host("a.internal.corp"), None);
        assert_eq!(settings.for_host("localhost"), None);
        assert_eq!(
            settings.for_host("management.azure.com"),
            Some(proxy.clone())
        );
        assert_eq!(
            ProxySettings::parse(Some("http://p:1"), Some("*"))
                .unwrap()
                .for_host("x.y"),
            None
        );
    }

    #[test]
    fn a_bad_proxy_is_reported() {
        let error = ProxySettings::parse(Some("http://"), None).unwrap_err();
        assert_eq!(error.to_string(), "The proxy address 'http://' is not a valid URL; set HTTPS_PROXY like http://proxy.example:8080.");
        let with_password = ProxySettings::parse(Some("http://alice:s3cret@"), None).unwrap_err();
        assert_eq!(
            with_password.to_string(),
            "The proxy address 'http://alice:***@' is not a valid URL; set HTTPS_PROXY like http://proxy.example:8080.",
            "the password is not repeated"
        );
    }

    struct Keychain(&'static str, &'static str);

    impl SavedLogins for Keychain {
        fn login_for(&self, authority: &str) -> Option<ProxyLogin> {
            (authority == "proxy.corp:3128").then(|| ProxyLogin {
                user: self.0.to_owned(),
                password: Zeroizing::new(self.1.to_owned()),
            })
        }
    }

    #[test]
    fn a_saved_login_goes_to_its_proxy_unless_the_url_has_one() {
        let saved = Arc::new(Keychain("CONTOSO\\alice", "p@ss:word"));
        let settings = ProxySettings::parse(Some("proxy.corp:3128"), None)
            .unwrap()
            .with_saved_logins(saved.clone());
        let target = settings.for_host("management.azure.com").unwrap();
        let login = target.login().unwrap();
        assert_eq!(login.user, "CONTOSO\\alice");
        assert_eq!(
            *login.password, "p@ss:word",
            "read back as saved, though a URL encodes it"
        );
        let own = ProxySettings::parse(Some("http://bob:pw@proxy.corp:3128"), None)
            .unwrap()
            .with_saved_logins(saved.clone());
        assert_eq!(own.for_host("x.y").unwrap().login().unwrap().user, "bob");
        let other = ProxySettings::parse(Some("other.corp:8080"), None)
            .unwrap()
            .with_saved_logins(saved);
        assert_eq!(other.for_host("x.y").unwrap().login(), None);
    }

    #[test]
    fn a_proxy_is_shown_without_its_password() {
        let settings = ProxySettings::parse(Some("http://alice:s3cret@proxy.corp:3128"), None)
            .unwrap()
            .with_script("http://wpad.corp/proxy.pac");
        let shown = format!(
            "{settings:?} {:?}",
            settings.https.as_ref().unwrap().login()
        );
        assert!(!shown.contains("s3cret"), "{shown}");
        assert!(shown.contains("proxy.corp:3128"), "{shown}");
    }

    #[test]
    fn proxy_lists_give_their_https_proxy() {
        assert_eq!(
            https_entry("proxy.corp:8080; backup.corp:8080"),
            Some("proxy.corp:8080")
        );
        assert_eq!(
            https_entry("http=web:80;https=secure:3128"),
            Some("secure:3128")
        );
        assert_eq!(https_entry("http=web:80"), None);
        assert_eq!(https_entry(""), None);
    }
}
