//! Finding a hub's Event Hub-compatible endpoint from the hub's own (service) connection
//! string, as Azure's tools do: AMQP to the hub's host with SASL PLAIN
//! (`{policy}@sas.root.{hub}` and a SAS token for the hub), a receiver on
//! `messages/events/$management`, and the hub's answer, a link redirect (`amqp:link:redirect`)
//! naming the namespace and the event hub. The policy's key then reads the endpoint.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use fe2o3_amqp::link::{LinkStateError, ReceiverAttachError, RecvError};
use fe2o3_amqp::sasl_profile::SaslProfile;
use fe2o3_amqp::types::definitions::{Error as AmqpErrorFrame, ErrorCondition, LinkError};
use fe2o3_amqp::types::messaging::Body;
use fe2o3_amqp::types::primitives::{Symbol, Value};
use fe2o3_amqp::{Receiver, Session};
use hubsetup_core::{sas, SharedAccessKey};
use hubsetup_net::Network;
use zeroize::Zeroizing;

use crate::address::field;
use crate::reader::connect;
use crate::{EventHubAddress, EventsError};

const DISCOVERY_TIMEOUT: Duration = Duration::from_secs(20);
const TOKEN_LIFETIME: Duration = Duration::from_secs(300);

/// A hub's service connection string: `HostName=…;SharedAccessKeyName=…;SharedAccessKey=…`.
struct HubString {
    host: String,
    policy: String,
    key: Zeroizing<String>,
}

impl HubString {
    fn parse(text: &str) -> Option<HubString> {
        let field = |name: &str| field(text, name);
        Some(HubString {
            host: field("HostName")?.to_ascii_lowercase(),
            policy: field("SharedAccessKeyName")?,
            key: Zeroizing::new(field("SharedAccessKey")?),
        })
    }
}

impl EventHubAddress {
    /// An Event Hub-compatible connection string as it is, or, for a hub's service connection
    /// string, the endpoint the hub redirects to (with the same policy and key).
    pub async fn resolve(network: &Network, text: &str) -> Result<EventHubAddress, EventsError> {
        match EventHubAddress::parse(text) {
            Err(EventsError::HubStringNeedsEndpoint) => {
                let hub = HubString::parse(text).ok_or(EventsError::NotAnEventHubString)?;
                tokio::time::timeout(DISCOVERY_TIMEOUT, discover(network, &hub))
                    .await
                    .map_err(|_| {
                        EventsError::Lost(format!(
                            "{} did not say where its built-in endpoint is within {} s",
                            hub.host,
                            DISCOVERY_TIMEOUT.as_secs()
                        ))
                    })?
            }
            other => other,
        }
    }
}

async fn discover(network: &Network, hub: &HubString) -> Result<EventHubAddress, EventsError> {
    let key = SharedAccessKey::from_base64(&hub.key).map_err(|_| EventsError::WrongKey)?;
    let expiry = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
        + TOKEN_LIFETIME.as_secs();
    let token = sas::generate(&key, &hub.host, expiry, Some(&hub.policy));
    let hub_name = hub.host.split('.').next().unwrap_or_default();
    let sasl = SaslProfile::Plain {
        username: format!("{}@sas.root.{hub_name}", hub.policy),
        password: token.expose().to_owned(),
    };
    let refused = |e: EventsError| match e {
        EventsError::SignInRefused(_) => EventsError::HubStringRefused {
            policy: hub.policy.clone(),
        },
        other => other,
    };
    let (mut connection, _) = connect(network, &hub.host, "/$iothub/websocket", sasl)
        .await
        .map_err(refused)?;
    let mut session = Session::begin(&mut connection)
        .await
        .map_err(|e| EventsError::Lost(e.to_string()))?;
    let attached = Receiver::attach(
        &mut session,
        format!("hubsetup-discover-{}", std::process::id()),
        "messages/events/$management",
    )
    .await;
    let error = match attached {
        Err(ReceiverAttachError::RemoteClosedWithError(error)) => error,
        Err(other) => return Err(EventsError::Lost(other.to_string())),
        Ok(mut receiver) => match receiver.recv::<Body<Value>>().await {
            Err(RecvError::LinkStateError(
                LinkStateError::RemoteClosedWithError(error)
                | LinkStateError::RemoteDetachedWithError(error),
            )) => error,
            other => {
                return Err(EventsError::Lost(format!(
                    "the hub answered without naming its built-in endpoint ({})",
                    other.map_or_else(|e| e.to_string(), |_| "a message".into())
                )))
            }
        },
    };
    let _ = session.end().await;
    let _ = connection.close().await;
    let (endpoint, entity) = redirect_target(&error).ok_or_else(|| EventsError::Endpoint {
        condition: format!("{:?}", error.condition),
        description: error.description.clone().unwrap_or_default(),
    })?;
    Ok(EventHubAddress::new(
        &format!("sb://{endpoint}/"),
        &entity,
        &hub.policy,
        &hub.key,
    ))
}

/// The namespace host and event hub a redirect names: `hostname`, and the first segment of
/// `address` (`amqps://{namespace}:5671/{entity}/$management`).
fn redirect_target(error: &AmqpErrorFrame) -> Option<(String, String)> {
    if error.condition != ErrorCondition::LinkError(LinkError::Redirect) {
        return None;
    }
    let info = error.info.as_ref()?;
    let text = |key: &str| match info.get(&Symbol::from(key)) {
        Some(Value::String(s)) => Some(s.clone()),
        _ => None,
    };
    let address = text("address")?;
    let path = address.split_once("://")?.1.split_once('/')?.1;
    let entity = path.split('/').next().filter(|e| !e.is_empty())?;
    Some((text("hostname")?, entity.to_owned()))
}

#[cfg(test)]
mod tests {
    use fe2o3_amqp::types::definitions::Fields;

    use super::*;

    #[test]
    fn a_redirect_names_the_namespace_and_the_event_hub() {
        let mut info = Fields::default();
        info.insert(
            Symbol::from("hostname"),
            Value::String("iothub-ns-plant-1234.servicebus.windows.net".into()),
        );
        info.insert(
            Symbol::from("address"),
            Value::String(
                "amqps://iothub-ns-plant-1234.servicebus.windows.net:5671/plant/$management".into(),
            ),
        );
        let redirect = AmqpErrorFrame::new(
            ErrorCondition::LinkError(LinkError::Redirect),
            None,
            Some(info),
        );
        assert_eq!(
            redirect_target(&redirect),
            Some((
                "iothub-ns-plant-1234.servicebus.windows.net".into(),
                "plant".into()
            ))
        );
        let other = AmqpErrorFrame::new(ErrorCondition::LinkError(LinkError::Stolen), None, None);
        assert_eq!(redirect_target(&other), None);
    }
}
