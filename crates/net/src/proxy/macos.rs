//! macOS's network proxies (System Settings › Network › Details › Proxies), as
//! SystemConfiguration gives them for the active network service.
//!
//! Its key names are C constants, read through `unsafe`; nothing else here is.
#![allow(unsafe_code)]

use system_configuration::core_foundation::array::CFArray;
use system_configuration::core_foundation::base::{CFType, TCFType};
use system_configuration::core_foundation::dictionary::CFDictionary;
use system_configuration::core_foundation::number::CFNumber;
use system_configuration::core_foundation::string::CFString;
use system_configuration::dynamic_store::SCDynamicStoreBuilder;
use system_configuration::sys::schema_definitions::{
    kSCPropNetProxiesExceptionsList, kSCPropNetProxiesExcludeSimpleHostnames,
    kSCPropNetProxiesHTTPSEnable, kSCPropNetProxiesHTTPSPort, kSCPropNetProxiesHTTPSProxy,
    kSCPropNetProxiesProxyAutoConfigEnable, kSCPropNetProxiesProxyAutoConfigURLString,
};

use super::{ProxySettings, LOCAL};
use crate::NetError;

/// The proxy settings as macOS keeps them, read out of SystemConfiguration's dictionary.
#[derive(Debug, Default)]
struct SystemProxies {
    https: Option<(String, Option<i64>)>,
    exceptions: Vec<String>,
    exclude_simple_hostnames: bool,
    script: Option<String>,
}

pub(super) fn system_settings() -> Result<Option<ProxySettings>, NetError> {
    let store = SCDynamicStoreBuilder::new("IoT Hub Setup").build();
    match store.get_proxies() {
        Some(proxies) => SystemProxies::read(&proxies).settings(),
        None => Ok(None),
    }
}

impl SystemProxies {
    fn read(proxies: &CFDictionary<CFString, CFType>) -> SystemProxies {
        // SAFETY: the keys are SystemConfiguration's own constant strings.
        let key = |name| unsafe { CFString::wrap_under_get_rule(name) };
        let value = |name| proxies.find(key(name)).map(|v| v.clone());
        let number = |name| value(name)?.downcast::<CFNumber>()?.to_i64();
        let text = |name| Some(value(name)?.downcast::<CFString>()?.to_string());
        let on = |name| number(name) == Some(1);
        let exceptions = value(unsafe { kSCPropNetProxiesExceptionsList })
            .and_then(|v| v.downcast::<CFArray>())
            .map(|list| {
                list.get_all_values()
                    .into_iter()
                    // SAFETY: the array's items are CF objects, retained by the array.
                    .map(|item| unsafe { CFType::wrap_under_get_rule(item.cast()) })
                    .filter_map(|entry| entry.downcast::<CFString>().map(|s| s.to_string()))
                    .collect()
            })
            .unwrap_or_default();
        unsafe {
            SystemProxies {
                https: text(kSCPropNetProxiesHTTPSProxy)
                    .filter(|_| on(kSCPropNetProxiesHTTPSEnable))
                    .map(|host| (host, number(kSCPropNetProxiesHTTPSPort))),
                exceptions,
                exclude_simple_hostnames: on(kSCPropNetProxiesExcludeSimpleHostnames),
                script: text(kSCPropNetProxiesProxyAutoConfigURLString)
                    .filter(|_| on(kSCPropNetProxiesProxyAutoConfigEnable)),
            }
        }
    }

    /// What the settings mean for HTTPS: its proxy unless an exception (`*.domain`, a host,
    /// simple host names) covers the host; a script is kept for what it can tell.
    fn settings(&self) -> Result<Option<ProxySettings>, NetError> {
        let proxy = self.https.as_ref().map(|(host, port)| match port {
            Some(port) => format!("{host}:{port}"),
            None => host.clone(),
        });
        let mut bypass = self.exceptions.clone();
        if self.exclude_simple_hostnames {
            bypass.push(LOCAL.to_owned());
        }
        let manual = ProxySettings::parse(proxy.as_deref(), Some(&bypass.join(",")))?;
        let settings = match &self.script {
            Some(script) => Some(manual.with_script(script)),
            None => manual.https.is_some().then_some(manual),
        };
        Ok(settings.map(|s| s.found_in("macOS network settings")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn macos_proxies_are_read_as_the_system_means_them() {
        let system = SystemProxies {
            https: Some(("proxy.corp".into(), Some(3128))),
            exceptions: vec![
                "*.local".into(),
                "169.254/16".into(),
                "internal.corp".into(),
            ],
            exclude_simple_hostnames: true,
            script: None,
        };
        let settings = system.settings().unwrap().unwrap();
        assert_eq!(
            settings
                .for_host("management.azure.com")
                .unwrap()
                .authority(),
            "proxy.corp:3128"
        );
        assert_eq!(settings.for_host("printer.local"), None);
        assert_eq!(settings.for_host("wiki.internal.corp"), None);
        assert_eq!(settings.for_host("intranet"), None);
        assert_eq!(SystemProxies::default().settings().unwrap(), None);
        let scripted = SystemProxies {
            script: Some("http://wpad.corp/proxy.pac".into()),
            ..SystemProxies::default()
        };
        assert_eq!(
            scripted.settings().unwrap().unwrap().script_url(),
            Some("http://wpad.corp/proxy.pac")
        );
    }
}
