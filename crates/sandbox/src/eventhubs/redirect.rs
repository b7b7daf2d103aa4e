//! AMQP on a hub's own host (`{hub}.azure-devices.…`, port 5671 or `/$iothub/websocket`), for
//! service clients that hold the hub's connection string rather than the Event
//! Hub-compatible one: they sign in with SASL PLAIN (`{policy}@sas.root.{hub}` and a SAS token
//! for the hub, signed with the policy key as IoT Hub signs), attach to `messages/events/…`,
//! and are redirected (`amqp:link:redirect`) to the same path on the hub's Event
//! Hub-compatible namespace, as IoT Hub does. Azure's tools find the endpoint this way.

use std::sync::{Arc, Mutex};

use fe2o3_amqp::acceptor::link::LinkEndpoint;
use fe2o3_amqp::acceptor::sasl_acceptor::SaslServerFrame;
use fe2o3_amqp::acceptor::{ConnectionAcceptor, LinkAcceptor, SaslAcceptor, SessionAcceptor};
use fe2o3_amqp::types::definitions::Role;
use fe2o3_amqp::types::definitions::{
    AmqpError, Error as AmqpErrorFrame, ErrorCondition, Fields, LinkError,
};
use fe2o3_amqp::types::messaging::TargetArchetype;
use fe2o3_amqp::types::primitives::{Array, Symbol, Value};
use fe2o3_amqp::types::sasl::{SaslCode, SaslInit, SaslOutcome, SaslResponse};

use super::{entity_path, error, namespace_host, wire, Endpoints};
use crate::hub::{authorize, network_refusal, Access};
use crate::state::{now_ms, State};

/// The one SASL mechanism IoT Hub's service clients use here.
const PLAIN: &str = "PLAIN";
/// Where IoT Hub's built-in endpoint lives on the hub's own host.
const EVENTS_PATH: &str = "messages/events";

/// SASL PLAIN for a hub's shared access policy with ServiceConnect.
#[derive(Clone)]
struct ServiceSignIn {
    state: Arc<Mutex<State>>,
    hub: String,
    host: String,
}

impl ServiceSignIn {
    /// `\0{policy}@sas.root.{hub}\0{token}`, checked as the HTTPS side checks a token.
    fn check(&self, response: &[u8]) -> SaslCode {
        let mut parts = response.split(|b| *b == 0).skip(1);
        let (Some(user), Some(token)) = (parts.next(), parts.next()) else {
            return SaslCode::Auth;
        };
        let (Ok(user), Ok(token)) = (std::str::from_utf8(user), std::str::from_utf8(token)) else {
            return SaslCode::Auth;
        };
        let Some((_policy, hub)) = user.split_once("@sas.root.") else {
            return SaslCode::Auth;
        };
        if !hub.eq_ignore_ascii_case(&self.hub) {
            return SaslCode::Auth;
        }
        let state = self.state.lock().expect("state lock");
        let now = now_ms();
        let Some(hub) = state.hubs.get(&self.hub).filter(|h| h.is_active(now)) else {
            return SaslCode::Auth;
        };
        if network_refusal(hub).is_some() {
            return SaslCode::Auth;
        }
        let resource = format!("{}/{EVENTS_PATH}", self.host);
        match authorize(
            Some(token),
            hub,
            &Access::ServiceConnect,
            &resource,
            now / 1000,
        ) {
            Ok(()) => SaslCode::Ok,
            Err(_) => SaslCode::Auth,
        }
    }
}

impl SaslAcceptor for ServiceSignIn {
    fn mechanisms(&self) -> Array<Symbol> {
        Array::from(vec![Symbol::from(PLAIN)])
    }

    fn on_init(&mut self, init: SaslInit) -> SaslServerFrame {
        let code = match (init.mechanism.0.as_str(), init.initial_response) {
            (PLAIN, Some(response)) => self.check(&response.into_vec()),
            _ => SaslCode::Auth,
        };
        SaslServerFrame::Outcome(SaslOutcome {
            code,
            additional_data: None,
        })
    }

    fn on_response(&mut self, _response: SaslResponse) -> SaslServerFrame {
        SaslServerFrame::Outcome(SaslOutcome {
            code: SaslCode::Auth,
            additional_data: None,
        })
    }
}

/// Serves AMQP on the hub's own host: sign-in, then a redirect for every link to
/// `messages/events/…`.
pub(crate) async fn serve<S>(stream: S, host: String, hub: String, endpoints: Arc<Endpoints>)
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + std::fmt::Debug + Send + Unpin + 'static,
{
    let acceptor = ConnectionAcceptor::builder()
        .container_id(format!("sandbox-iothub-{hub}"))
        .max_frame_size(65_536)
        .sasl_acceptor(ServiceSignIn {
            state: endpoints.state.clone(),
            hub: hub.clone(),
            host: host.clone(),
        })
        .build();
    let Ok(mut connection) = acceptor.accept(wire::FullFields::new(stream)).await else {
        return;
    };
    let namespace = namespace_host(&hub, &endpoints.suffix);
    let sessions = SessionAcceptor::builder().handle_max(255u32).build();
    while let Ok(mut session) = sessions.accept(&mut connection).await {
        let (namespace, hub) = (namespace.clone(), hub.clone());
        tokio::spawn(async move {
            let links = LinkAcceptor::new();
            while let Some(attach) = session.next_incoming_attach().await {
                let address = match attach.role {
                    // The client receives: the node is its source.
                    Role::Receiver => attach.source.as_ref().and_then(|s| s.address.clone()),
                    Role::Sender => match attach.target.as_deref() {
                        Some(TargetArchetype::Target(t)) => t.address.clone(),
                        _ => None,
                    },
                }
                .unwrap_or_default();
                let refusal = redirect(&address, &namespace, &hub);
                match links.accept_incoming_attach(attach, &mut session).await {
                    Ok(LinkEndpoint::Sender(sender)) => {
                        drop(sender.close_with_error(refusal).await)
                    }
                    Ok(LinkEndpoint::Receiver(receiver)) => {
                        drop(receiver.close_with_error(refusal).await)
                    }
                    Err(_) => {}
                }
            }
            let _ = session.on_end().await;
        });
    }
    let _ = connection.on_close().await;
}

/// The redirect for a link to `address` (`messages/events/…`, with or without
/// `amqps://{host}/`), or why there is none.
fn redirect(address: &str, namespace: &str, hub: &str) -> AmqpErrorFrame {
    let path = address
        .split_once("://")
        .and_then(|(_, rest)| rest.split_once('/'))
        .map_or(address, |(_, path)| path)
        .trim_start_matches('/');
    let Some(rest) = path
        .strip_prefix(EVENTS_PATH)
        .filter(|rest| rest.is_empty() || rest.starts_with('/'))
    else {
        return error(
            ErrorCondition::AmqpError(AmqpError::NotFound),
            &format!("The sandbox's IoT hub serves only {EVENTS_PATH} (its built-in endpoint) over AMQP to services, not '{address}'."),
        );
    };
    let target = format!("amqps://{namespace}:5671/{}{rest}", entity_path(hub));
    let mut info = Fields::default();
    for (key, value) in [
        ("hostname", namespace.to_owned()),
        ("network-host", namespace.to_owned()),
        ("address", target),
    ] {
        info.insert(Symbol::from(key), Value::String(value));
    }
    info.insert(Symbol::from("port"), Value::Int(5671));
    AmqpErrorFrame::new(
        ErrorCondition::LinkError(LinkError::Redirect),
        Some(format!(
            "The IoT hub's built-in endpoint is served by {namespace}."
        )),
        Some(info),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn links_to_the_built_in_endpoint_are_redirected_to_the_namespace() {
        let namespace = "iothub-ns-plant.servicebus.sandbox.test";
        for address in [
            "messages/events/$management",
            "amqps://plant.azure-devices.sandbox.test/messages/events/$management",
            "/messages/events/ConsumerGroups/$Default/Partitions/0",
        ] {
            let error = redirect(address, namespace, "plant");
            assert_eq!(
                error.condition,
                ErrorCondition::LinkError(LinkError::Redirect)
            );
            let info = error.info.unwrap();
            assert_eq!(
                info.get(&Symbol::from("hostname")),
                Some(&Value::String(namespace.into()))
            );
            let Some(Value::String(target)) = info.get(&Symbol::from("address")) else {
                panic!("a redirect names the address");
            };
            assert!(
                target.starts_with(&format!("amqps://{namespace}:5671/plant/")),
                "{target}"
            );
        }
        let other = redirect("devices/d1/messages/events", namespace, "plant");
        assert_eq!(
            other.condition,
            ErrorCondition::AmqpError(AmqpError::NotFound)
        );
    }
}
