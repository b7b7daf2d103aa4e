//! The Azure clouds as data: where to sign in, where ARM lives and which host suffix IoT hubs
//! get. Nothing in core hard-codes an endpoint elsewhere; the sandbox is just another `Cloud`.

use serde::{Deserialize, Serialize};

/// One cloud's endpoints. `extra_root_ca_pem` lets a cloud (the sandbox, or a network behind a
/// TLS-inspecting proxy) bring a root certificate that clients must trust.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Cloud {
    /// A short stable identifier: `public`, `china`, `usgov`, `sandbox`.
    pub id: String,
    pub display_name: String,
    /// The Entra ID authority host, e.g. `https://login.microsoftonline.com`.
    pub login_endpoint: String,
    /// The ARM endpoint, e.g. `https://management.azure.com`.
    pub arm_endpoint: String,
    /// The suffix of IoT hub host names, without the leading dot, e.g. `azure-devices.net`.
    pub iot_hub_suffix: String,
    /// The suffix of storage accounts' service hosts (`{account}.blob.{suffix}`), e.g.
    /// `core.windows.net`.
    #[serde(default = "default_storage_suffix")]
    pub storage_suffix: String,
    #[serde(default)]
    pub extra_root_ca_pem: Option<String>,
    /// Where every host of this cloud is served when it is not found through DNS: the
    /// sandbox's loopback address. `None` for Azure's clouds.
    #[serde(default)]
    pub loopback: Option<std::net::SocketAddr>,
    /// For a loopback cloud, where its services on other ports than 443 listen: Azure's port
    /// (5671 for AMQP) to the loopback port.
    #[serde(default)]
    pub loopback_ports: std::collections::BTreeMap<u16, u16>,
    /// A name server (UDP) that answers for this cloud's hosts, so that a hub that does not
    /// exist does not resolve, as in Azure. The sandbox's; `None` means system DNS.
    #[serde(default)]
    pub dns_server: Option<std::net::SocketAddr>,
    /// A verifying key server's VKS API, for public keys by address or fingerprint:
    /// keys.openpgp.org, or the sandbox's.
    #[serde(default = "default_key_server")]
    pub key_server: String,
    /// Keybase, for public keys by Keybase user name: keybase.io, or the sandbox's.
    #[serde(default = "default_keybase")]
    pub keybase: String,
    /// Azure's Retail Prices API (`https://prices.azure.com`), which lists the global cloud's
    /// prices only; `None` for the sovereign clouds.
    #[serde(default)]
    pub retail_prices: Option<String>,
}

fn default_storage_suffix() -> String {
    "core.windows.net".to_owned()
}

fn default_key_server() -> String {
    "https://keys.openpgp.org".to_owned()
}

fn default_keybase() -> String {
    "https://keybase.io".to_owned()
}

/// The host of a URL or endpoint (`https://Login.example/x?y` → `login.example`), lower case.
pub fn host_of(url: &str) -> String {
    url.split_once("://")
        .map_or(url, |(_, rest)| rest)
        .split(['/', '?'])
        .next()
        .unwrap_or_default()
        .to_ascii_lowercase()
}

impl Cloud {
    fn builtin(id: &str, name: &str, endpoints: [&str; 4]) -> Cloud {
        let [login, arm, hub_suffix, storage_suffix] = endpoints;
        Cloud {
            id: id.to_owned(),
            display_name: name.to_owned(),
            login_endpoint: login.to_owned(),
            arm_endpoint: arm.to_owned(),
            iot_hub_suffix: hub_suffix.to_owned(),
            storage_suffix: storage_suffix.to_owned(),
            extra_root_ca_pem: None,
            loopback: None,
            loopback_ports: Default::default(),
            dns_server: None,
            key_server: default_key_server(),
            keybase: default_keybase(),
            retail_prices: None,
        }
    }

    /// Azure's global public cloud.
    pub fn public() -> Cloud {
        let mut cloud = Cloud::builtin(
            "public",
            "Azure",
            [
                "https://login.microsoftonline.com",
                "https://management.azure.com",
                "azure-devices.net",
                "core.windows.net",
            ],
        );
        cloud.retail_prices = Some("https://prices.azure.com".to_owned());
        cloud
    }

    /// Azure operated by 21Vianet in China.
    pub fn china() -> Cloud {
        Cloud::builtin(
            "china",
            "Azure China",
            [
                "https://login.chinacloudapi.cn",
                "https://management.chinacloudapi.cn",
                "azure-devices.cn",
                "core.chinacloudapi.cn",
            ],
        )
    }

    /// Azure US Government.
    pub fn us_government() -> Cloud {
        Cloud::builtin(
            "usgov",
            "Azure US Government",
            [
                "https://login.microsoftonline.us",
                "https://management.usgovcloudapi.net",
                "azure-devices.us",
                "core.usgovcloudapi.net",
            ],
        )
    }

    /// A built-in Azure cloud by its `id` (`public`, `china`, `usgov`).
    pub fn azure(id: &str) -> Option<Cloud> {
        Cloud::azure_clouds().into_iter().find(|c| c.id == id)
    }

    /// The three Azure clouds, in the order the wizard offers them.
    pub fn azure_clouds() -> Vec<Cloud> {
        vec![Cloud::public(), Cloud::china(), Cloud::us_government()]
    }

    /// The hub name if `host` is `{hub}.{iot_hub_suffix}` in this cloud (case-insensitive,
    /// as DNS is).
    pub fn hub_name_of<'h>(&self, host: &'h str) -> Option<&'h str> {
        let (hub, suffix) = host.split_once('.')?;
        suffix
            .eq_ignore_ascii_case(&self.iot_hub_suffix)
            .then_some(hub)
    }

    /// The Blob service host of storage account `account` in this cloud.
    pub fn blob_host(&self, account: &str) -> String {
        format!("{account}.blob.{}", self.storage_suffix)
    }

    /// The host name of hub `hub` in this cloud.
    pub fn hub_host(&self, hub: &str) -> String {
        format!("{hub}.{}", self.iot_hub_suffix)
    }

    /// Whether `host` is one of this cloud's: its sign-in or ARM host, or a hub under its
    /// suffix.
    pub fn serves(&self, host: &str) -> bool {
        let host = host.to_ascii_lowercase();
        // A cloud with a name server of its own (the sandbox) answers for its whole domain:
        // its key server, Keybase and mail domains too.
        let own_domain = self.dns_server.is_some()
            && host_of(&self.login_endpoint)
                .strip_prefix("login.")
                .is_some_and(|domain| host.ends_with(&format!(".{domain}")));
        own_domain
            || host == host_of(&self.login_endpoint)
            || host == host_of(&self.arm_endpoint)
            || host
                .strip_suffix(&self.iot_hub_suffix.to_ascii_lowercase())
                .is_some_and(|hub| hub.ends_with('.') && hub.len() > 1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hub_name_is_found_only_under_the_cloud_suffix() {
        let public = Cloud::public();
        assert_eq!(
            public.hub_name_of("my-hub.azure-devices.net"),
            Some("my-hub")
        );
        assert_eq!(
            public.hub_name_of("My-Hub.Azure-Devices.NET"),
            Some("My-Hub")
        );
        assert_eq!(public.hub_name_of("my-hub.azure-devices.cn"), None);
        assert_eq!(public.hub_name_of("a.b.azure-devices.net"), None);
        assert_eq!(
            Cloud::china().hub_name_of("x1y.azure-devices.cn"),
            Some("x1y")
        );
        assert_eq!(public.hub_host("abc"), "abc.azure-devices.net");
        assert!(public.serves("management.azure.com"));
        assert!(public.serves("Login.MicrosoftOnline.com"));
        assert!(public.serves("hub1.azure-devices.net"));
        assert!(!public.serves("azure-devices.net"));
        assert!(!public.serves("hub1.azure-devices.cn"));
        assert!(!public.serves("evilazure-devices.net"));
    }
}
