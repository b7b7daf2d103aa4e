//! Which Event Hub-compatible endpoint to read and with which key: from the connection string
//! the portal's "Built-in endpoints" page shows, or from the hub's ARM resource and a policy's
//! key. Strings that cannot read events are refused with what to ask for instead.

use std::fmt;

use zeroize::Zeroizing;

use crate::EventsError;

/// An Event Hub-compatible endpoint and a shared access policy's key for it.
#[derive(Clone)]
pub struct EventHubAddress {
    /// The namespace host, e.g. `iothub-ns-contoso-1234.servicebus.windows.net`.
    pub host: String,
    /// The event hub's name (the entity path), e.g. `contoso`.
    pub entity: String,
    pub policy: String,
    key: Zeroizing<String>,
}

impl fmt::Debug for EventHubAddress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EventHubAddress")
            .field("host", &self.host)
            .field("entity", &self.entity)
            .field("policy", &self.policy)
            .field("key", &"****")
            .finish()
    }
}

impl EventHubAddress {
    /// From the hub's `eventHubEndpoints.events` (`endpoint` `sb://host/`, `path`) and a
    /// policy's name and key.
    pub fn new(endpoint: &str, path: &str, policy: &str, key: &str) -> EventHubAddress {
        EventHubAddress {
            host: host_of(endpoint),
            entity: path.to_owned(),
            policy: policy.to_owned(),
            key: Zeroizing::new(key.to_owned()),
        }
    }

    /// Reads `Endpoint=sb://…/;SharedAccessKeyName=…;SharedAccessKey=…;EntityPath=…`.
    pub fn parse(text: &str) -> Result<EventHubAddress, EventsError> {
        let field = |name: &str| field(text, name);
        if field("HostName").is_some() {
            return Err(if field("DeviceId").is_some() {
                EventsError::DeviceStringCannotRead
            } else {
                EventsError::HubStringNeedsEndpoint
            });
        }
        let endpoint = field("Endpoint").ok_or(EventsError::NotAnEventHubString)?;
        let entity = field("EntityPath").ok_or(EventsError::MissingEntityPath)?;
        let policy = field("SharedAccessKeyName").ok_or(EventsError::NotAnEventHubString)?;
        let key = field("SharedAccessKey").ok_or(EventsError::NotAnEventHubString)?;
        Ok(EventHubAddress::new(&endpoint, &entity, &policy, &key))
    }

    /// The key's text: Event Hubs signs with it as it is written.
    pub(crate) fn key_text(&self) -> &str {
        &self.key
    }

    /// A SAS token for the IoT hub's own service API at `hub_host` (methods, twins), signed as
    /// IoT Hub signs: a built-in endpoint's string carries the hub's policy and its key. `None`
    /// when the key is not base64, as no IoT Hub key is.
    pub fn hub_service_token(&self, hub_host: &str, expiry: u64) -> Option<Zeroizing<String>> {
        let key = hubsetup_core::SharedAccessKey::from_base64(&self.key).ok()?;
        let token = hubsetup_core::sas::generate(&key, hub_host, expiry, Some(&self.policy));
        Some(Zeroizing::new(token.expose()))
    }
}

/// The value of field `name` (any case) of a connection string. A value is everything after
/// the first '=' (keys are base64 and may end in '=').
pub(crate) fn field(text: &str, name: &str) -> Option<String> {
    text.trim().split(';').find_map(|part| {
        let (key, value) = part.split_once('=')?;
        key.trim()
            .eq_ignore_ascii_case(name)
            .then(|| value.trim().to_owned())
    })
}

/// The host a connection string names (`Endpoint=sb://host/` or `HostName=host`), to tell
/// which cloud it belongs to; None when it names none.
pub fn named_host(text: &str) -> Option<String> {
    field(text, "Endpoint")
        .or_else(|| field(text, "HostName"))
        .map(|value| host_of(&value))
        .filter(|host| !host.is_empty())
}

fn host_of(endpoint: &str) -> String {
    let rest = endpoint
        .split_once("://")
        .map_or(endpoint, |(_, rest)| rest);
    rest.split(['/', ':'])
        .next()
        .unwrap_or_default()
        .to_ascii_lowercase()
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &str = "c2VjcmV0LWtleS1mb3ItdGVzdHMtMDEyMzQ1Njc4OTA=";

    #[test]
    fn the_portals_built_in_endpoint_string_is_read_whole() {
        let text = format!(
            "Endpoint=sb://iothub-ns-contoso-42.servicebus.windows.net/;SharedAccessKeyName=service;SharedAccessKey={KEY};EntityPath=contoso"
        );
        let address = EventHubAddress::parse(&text).unwrap();
        assert_eq!(address.host, "iothub-ns-contoso-42.servicebus.windows.net");
        assert_eq!(address.entity, "contoso");
        assert_eq!(address.policy, "service");
        assert_eq!(address.key_text(), KEY);
        assert!(!format!("{address:?}").contains(KEY));
    }

    #[test]
    fn the_host_a_string_names_tells_its_cloud() {
        assert_eq!(
            named_host("Endpoint=sb://IOTHUB-NS-x.servicebus.windows.net/;EntityPath=x").as_deref(),
            Some("iothub-ns-x.servicebus.windows.net")
        );
        assert_eq!(
            named_host("HostName=plant.azure-devices.net;SharedAccessKeyName=service").as_deref(),
            Some("plant.azure-devices.net")
        );
        assert_eq!(named_host("SharedAccessKey=abc="), None);
    }

    #[test]
    fn strings_that_cannot_read_say_what_to_ask_for() {
        let device = format!("HostName=h.azure-devices.net;DeviceId=d;SharedAccessKey={KEY}");
        let error = EventHubAddress::parse(&device).unwrap_err();
        assert_eq!(error, EventsError::DeviceStringCannotRead);
        assert!(error.to_string().contains("service"));
        assert!(!error.to_string().contains(KEY));
        let hub = format!(
            "HostName=h.azure-devices.net;SharedAccessKeyName=service;SharedAccessKey={KEY}"
        );
        assert_eq!(
            EventHubAddress::parse(&hub).unwrap_err(),
            EventsError::HubStringNeedsEndpoint
        );
        let no_path = format!(
            "Endpoint=sb://x.servicebus.windows.net/;SharedAccessKeyName=s;SharedAccessKey={KEY}"
        );
        assert_eq!(
            EventHubAddress::parse(&no_path).unwrap_err(),
            EventsError::MissingEntityPath
        );
        assert_eq!(
            EventHubAddress::parse("nonsense").unwrap_err(),
            EventsError::NotAnEventHubString
        );
    }
}
