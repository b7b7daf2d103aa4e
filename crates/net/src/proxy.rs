//! Proxy settings as corporate networks set them: `HTTPS_PROXY` (or `https_proxy`,
//! `ALL_PROXY`) and `NO_PROXY` (comma-separated hosts, `.domain` suffixes, `*`).

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
            entry == "*" || {
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

    pub(crate) fn no_proxy_list(&self) -> String {
        self.no_proxy.join(",")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
