//! The Azure clouds as data: where to sign in, where ARM lives and which host suffix IoT hubs
//! get. Nothing in core hard-codes an endpoint elsewhere; the sandbox is just another `Cloud`.

use serde::Serialize;

/// One cloud's endpoints. `extra_root_ca_pem` lets a cloud (the sandbox, or a network behind a
/// TLS-inspecting proxy) bring a root certificate that clients must trust.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
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
    pub extra_root_ca_pem: Option<String>,
}

impl Cloud {
    fn builtin(id: &str, name: &str, login: &str, arm: &str, suffix: &str) -> Cloud {
        Cloud {
            id: id.to_owned(),
            display_name: name.to_owned(),
            login_endpoint: login.to_owned(),
            arm_endpoint: arm.to_owned(),
            iot_hub_suffix: suffix.to_owned(),
            extra_root_ca_pem: None,
        }
    }

    /// Azure's global public cloud.
    pub fn public() -> Cloud {
        Cloud::builtin(
            "public",
            "Azure",
            "https://login.microsoftonline.com",
            "https://management.azure.com",
            "azure-devices.net",
        )
    }

    /// Azure operated by 21Vianet in China.
    pub fn china() -> Cloud {
        Cloud::builtin(
            "china",
            "Azure China",
            "https://login.chinacloudapi.cn",
            "https://management.chinacloudapi.cn",
            "azure-devices.cn",
        )
    }

    /// Azure US Government.
    pub fn us_government() -> Cloud {
        Cloud::builtin(
            "usgov",
            "Azure US Government",
            "https://login.microsoftonline.us",
            "https://management.usgovcloudapi.net",
            "azure-devices.us",
        )
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

    /// The host name of hub `hub` in this cloud.
    pub fn hub_host(&self, hub: &str) -> String {
        format!("{hub}.{}", self.iot_hub_suffix)
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
    }
}
