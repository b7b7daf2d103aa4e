//! What every listener shares: the sandbox's configuration, state and fault rules, and which
//! service a host name belongs to (Entra ID, ARM, a hub, an Event Hubs namespace, …), as DNS
//! names select them in Azure.

use std::sync::{Arc, Mutex};

use crate::faults::Faults;
use crate::state::State;
use crate::{keys, SandboxConfig};

/// Everything a request handler needs.
pub(crate) struct App {
    pub(crate) config: SandboxConfig,
    pub(crate) state: Arc<Mutex<State>>,
    pub(crate) faults: Arc<Faults>,
    pub(crate) event_hubs: Arc<crate::eventhubs::Endpoints>,
    /// Devices' MQTT sessions that take direct methods.
    pub(crate) sessions: crate::twins::Sessions,
    /// The storage accounts' Blob service (Azurite).
    pub(crate) storage: Arc<crate::storage::Storage>,
}

/// Which service a host name belongs to.
pub(crate) enum Service<'h> {
    Login,
    Management,
    Control,
    Hub(&'h str),
    /// A mail domain's Web Key Directory: on `openpgpkey.{domain}` (advanced) or on the
    /// domain itself (direct).
    KeyDirectory {
        domain: String,
        advanced: bool,
    },
    KeyServer,
    Keybase,
    /// Azure's Retail Prices API (`prices.…`).
    Prices,
    /// Microsoft Graph's directory (`graph.…`).
    Graph,
    /// A hub's Event Hub-compatible namespace (`iothub-ns-{hub}.servicebus.…`).
    EventHubs,
    /// A storage account's Blob service (`{account}.blob.core.…`), relayed to Azurite.
    Blob(&'h str),
}

impl App {
    pub(crate) fn service<'h>(&self, host: &'h str) -> Option<Service<'h>> {
        let rest = host
            .strip_suffix(self.config.suffix.as_str())?
            .strip_suffix('.')?;
        match rest {
            "login" => Some(Service::Login),
            "management" => Some(Service::Management),
            "control" => Some(Service::Control),
            "keys" => Some(Service::KeyServer),
            "keybase" => Some(Service::Keybase),
            "prices" => Some(Service::Prices),
            "graph" => Some(Service::Graph),
            _ if crate::eventhubs::hub_of_namespace(host, &self.config.suffix).is_some() => {
                Some(Service::EventHubs)
            }
            _ if self.storage.account_of(host).is_some() => {
                self.storage.account_of(host).map(Service::Blob)
            }
            _ => self.mail_domain(rest).or_else(|| {
                rest.strip_suffix(".azure-devices")
                    .filter(|hub| !hub.contains('.'))
                    .map(Service::Hub)
            }),
        }
    }

    /// `{label}` or `openpgpkey.{label}` for the sandbox's mail domains that have it.
    fn mail_domain<'h>(&self, rest: &str) -> Option<Service<'h>> {
        let (label, advanced) = match rest.strip_prefix("openpgpkey.") {
            Some(label) => (label, true),
            None => (rest, false),
        };
        keys::MAIL_DOMAINS
            .iter()
            .find(|(name, has_host)| *name == label && (!advanced || *has_host))
            .map(|_| Service::KeyDirectory {
                domain: format!("{label}.{}", self.config.suffix),
                advanced,
            })
    }
}
