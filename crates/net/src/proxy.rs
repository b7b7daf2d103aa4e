//! Proxy settings as corporate networks set them: `HTTPS_PROXY` (or `https_proxy`,
//! `ALL_PROXY`) and `NO_PROXY` (comma-separated hosts, `.domain` suffixes, `*`); without
//! them, on Windows, the user's Internet Options (what the browser and most Windows programs
//! use), which group policy sets on managed machines.

use url::Url;

use crate::NetError;

/// A proxy to tunnel HTTPS through with `CONNECT`.
#[derive(Debug, Clone, PartialEq, Eq)]
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
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ProxySettings {
    pub https: Option<ProxyTarget>,
    pub no_proxy: Vec<String>,
}

impl ProxySettings {
    pub fn none() -> ProxySettings {
        ProxySettings::default()
    }

    /// The environment's proxy, else the operating system's (Windows: Internet Options).
    pub fn from_system() -> Result<ProxySettings, NetError> {
        let env = ProxySettings::from_env()?;
        if env.https.is_some() {
            return Ok(env);
        }
        #[cfg(windows)]
        if let Some(options) = internet_options(INTERNET_SETTINGS)? {
            return Ok(options);
        }
        Ok(env)
    }

    /// Internet Options' `ProxyServer` (`host:port`, or per protocol `http=h:p;https=h:p`:
    /// then HTTPS uses the `https=` one, and goes direct without one) and `ProxyOverride`
    /// (`;`-separated, `*.domain` wildcards, `<local>` for names without a dot).
    pub fn from_internet_options(server: &str, overrides: &str) -> Result<ProxySettings, NetError> {
        let per_protocol = server.contains('=');
        let https = if per_protocol {
            server.split(';').find_map(|part| {
                let (protocol, address) = part.split_once('=')?;
                protocol
                    .trim()
                    .eq_ignore_ascii_case("https")
                    .then(|| address.trim())
            })
        } else {
            Some(server.trim()).filter(|s| !s.is_empty())
        };
        let no_proxy = overrides.replace(';', ",");
        ProxySettings::parse(https, Some(&no_proxy))
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
        let https = match https_proxy {
            None => None,
            Some(text) => {
                let with_scheme = if text.contains("://") {
                    text.to_owned()
                } else {
                    format!("http://{text}")
                };
                let url = Url::parse(&with_scheme)
                    .map_err(|_| NetError::InvalidProxy(text.to_owned()))?;
                if url.host_str().is_none() {
                    return Err(NetError::InvalidProxy(text.to_owned()));
                }
                Some(ProxyTarget { url })
            }
        };
        let no_proxy = no_proxy
            .unwrap_or_default()
            .split(',')
            .map(|s| s.trim().trim_start_matches("*.").to_ascii_lowercase())
            .filter(|s| !s.is_empty())
            .collect();
        Ok(ProxySettings { https, no_proxy })
    }

    /// The proxy for `host`, unless `NO_PROXY` exempts it.
    pub fn for_host(&self, host: &str) -> Option<&ProxyTarget> {
        let host = host.to_ascii_lowercase();
        let exempt = self.no_proxy.iter().any(|entry| {
            entry == "*" || (entry == LOCAL && !host.contains('.')) || {
                let domain = entry.trim_start_matches('.');
                host == domain || host.ends_with(&format!(".{domain}"))
            }
        });
        if exempt {
            None
        } else {
            self.https.as_ref()
        }
    }
}

/// Internet Options' bypass entry for every name without a dot (intranet hosts).
const LOCAL: &str = "<local>";

/// Where Windows keeps the user's Internet Options.
#[cfg(windows)]
const INTERNET_SETTINGS: &str = r"Software\Microsoft\Windows\CurrentVersion\Internet Settings";

/// The proxy of the Internet Options under `key` (in `HKEY_CURRENT_USER`), when one is on.
#[cfg(windows)]
fn internet_options(key: &str) -> Result<Option<ProxySettings>, NetError> {
    use winreg::enums::HKEY_CURRENT_USER;
    let Ok(settings) = winreg::RegKey::predef(HKEY_CURRENT_USER).open_subkey(key) else {
        return Ok(None);
    };
    let enabled: u32 = settings.get_value("ProxyEnable").unwrap_or(0);
    let server: String = settings.get_value("ProxyServer").unwrap_or_default();
    if enabled == 0 || server.trim().is_empty() {
        return Ok(None);
    }
    let overrides: String = settings.get_value("ProxyOverride").unwrap_or_default();
    ProxySettings::from_internet_options(&server, &overrides).map(Some)
}

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

    /// Written under a key of the test's own, never the user's real Internet Options.
    #[cfg(windows)]
    #[test]
    fn internet_options_are_read_from_the_registry() {
        use winreg::enums::HKEY_CURRENT_USER;
        let key = format!(
            r"Software\HubSetupTests\{}",
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_nanos()
        );
        let root = winreg::RegKey::predef(HKEY_CURRENT_USER);
        let (settings, _) = root.create_subkey(&key).unwrap();
        assert_eq!(internet_options(&key).unwrap(), None, "no proxy set");
        settings
            .set_value("ProxyServer", &"proxy.corp:8080")
            .unwrap();
        settings.set_value("ProxyEnable", &0u32).unwrap();
        assert_eq!(
            internet_options(&key).unwrap(),
            None,
            "a proxy switched off"
        );
        settings.set_value("ProxyEnable", &1u32).unwrap();
        settings.set_value("ProxyOverride", &"<local>").unwrap();
        let read = internet_options(&key).unwrap().unwrap();
        assert_eq!(read.https.as_ref().unwrap().authority(), "proxy.corp:8080");
        assert_eq!(read.for_host("intranet"), None);
        root.delete_subkey_all(&key).unwrap();
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
        assert_eq!(settings.for_host("management.azure.com"), Some(proxy));
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
    }
}
