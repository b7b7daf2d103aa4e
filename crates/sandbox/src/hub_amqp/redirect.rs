//! Sign-in and the built-in endpoint's redirect on a hub's own host, for service clients that
//! hold the hub's connection string rather than the Event Hub-compatible one: they sign in
//! with SASL PLAIN (`{policy}@sas.root.{hub}` and a SAS token for the hub, signed with the
//! policy key as IoT Hub signs), attach to `messages/events/…`, and are redirected
//! (`amqp:link:redirect`) to the same path on the hub's Event Hub-compatible namespace, as IoT
//! Hub does. Azure's tools find the endpoint this way. Devices sign in with SASL ANONYMOUS (or
//! none) and put tokens on `$cbs` instead (see `cbs`).

use std::sync::{Arc, Mutex};

use fe2o3_amqp::acceptor::sasl_acceptor::SaslServerFrame;
use fe2o3_amqp::acceptor::SaslAcceptor;
use fe2o3_amqp::types::definitions::{
    AmqpError, Error as AmqpErrorFrame, ErrorCondition, Fields, LinkError,
};
use fe2o3_amqp::types::primitives::{Array, Symbol, Value};
use fe2o3_amqp::types::sasl::{SaslCode, SaslInit, SaslOutcome, SaslResponse};

use crate::amqp::error;
use crate::eventhubs::entity_path;
use crate::hub::{authorize, network_refusal, Access};
use crate::state::{now_ms, State};

/// IoT Hub's service clients sign in with PLAIN.
const PLAIN: &str = "PLAIN";
/// Devices (and clients that put tokens on `$cbs`) sign in with ANONYMOUS.
const ANONYMOUS: &str = "ANONYMOUS";
/// Where IoT Hub's built-in endpoint lives on the hub's own host.
pub(super) const EVENTS_PATH: &str = "messages/events";

/// How a connection signed in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum SignedIn {
    /// SASL PLAIN with a policy token that has ServiceConnect.
    Service,
    /// SASL ANONYMOUS: rights come from tokens put on `$cbs`.
    Anonymous,
}

/// SASL on a hub's host: PLAIN for a shared access policy with ServiceConnect, ANONYMOUS for
/// clients that then put tokens on `$cbs`. What succeeded is kept in `signed_in`.
#[derive(Clone)]
pub(super) struct SignIn {
    pub(super) state: Arc<Mutex<State>>,
    pub(super) hub: String,
    pub(super) host: String,
    pub(super) signed_in: Arc<Mutex<Option<SignedIn>>>,
}

impl SignIn {
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

impl SaslAcceptor for SignIn {
    fn mechanisms(&self) -> Array<Symbol> {
        Array::from(vec![Symbol::from(PLAIN), Symbol::from(ANONYMOUS)])
    }

    fn on_init(&mut self, init: SaslInit) -> SaslServerFrame {
        let (code, signed_in) = match (init.mechanism.0.as_str(), init.initial_response) {
            (PLAIN, Some(response)) => (self.check(&response.into_vec()), SignedIn::Service),
            (ANONYMOUS, _) => (SaslCode::Ok, SignedIn::Anonymous),
            _ => (SaslCode::Auth, SignedIn::Anonymous),
        };
        if code == SaslCode::Ok {
            *self.signed_in.lock().expect("sign-in") = Some(signed_in);
        }
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

/// The redirect for a link to `address` (`messages/events/…`, with or without
/// `amqps://{host}/`), or why there is none.
pub(super) fn redirect(address: &str, namespace: &str, hub: &str) -> AmqpErrorFrame {
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
