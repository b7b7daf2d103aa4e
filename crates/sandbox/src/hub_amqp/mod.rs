//! AMQP on a hub's own host (`{hub}.azure-devices.…`, port 5671 over TLS or
//! `/$iothub/websocket` over a WebSocket), for devices and services on one listener, as IoT Hub
//! serves them.
//!
//! The protocol header chooses the sign-in: `AMQP 3 1 0 0` is SASL (PLAIN for services, see
//! [`redirect`]; ANONYMOUS for devices), `AMQP 0 1 0 0` is AMQP with no SASL at all (Node's
//! `azure-iot-device-amqp` sends that). Devices then put a SAS token on `$cbs` (see [`cbs`]),
//! checked as the HTTPS side checks one, and send on a link to
//! `/devices/{id}/messages/events` (see [`devices`]); services are redirected to the hub's Event
//! Hub-compatible namespace.

mod cbs;
mod devices;
mod redirect;

use std::sync::{Arc, Mutex};

use fe2o3_amqp::acceptor::link::LinkEndpoint;
use fe2o3_amqp::acceptor::session::ListenerSessionHandle;
use fe2o3_amqp::acceptor::{ConnectionAcceptor, SessionAcceptor};
use fe2o3_amqp::types::definitions::{AmqpError, Error as AmqpErrorFrame, ErrorCondition, Role};
use fe2o3_amqp::types::performatives::Attach;
use percent_encoding::percent_decode_str;

use crate::amqp::stream::{Dropper, Replayed, SASL_HEADER};
use crate::amqp::wire::FullFields;
use crate::amqp::{answer_requests, error, serve_replies, ReplyLinks};
use crate::eventhubs::{namespace_host, Endpoints};
use redirect::{SignIn, SignedIn, EVENTS_PATH};

/// The claims-based security node.
const CBS: &str = "$cbs";

/// What every link of one connection to a hub's host shares.
pub(crate) struct HubConnection {
    endpoints: Arc<Endpoints>,
    /// The hub's name in lower case (its key in the state).
    hub: String,
    /// The host the client asked for (TLS SNI or the WebSocket's `Host`), lower case.
    host: String,
    /// How the client signed in; `None` when it sent no SASL header.
    signed_in: Option<SignedIn>,
    /// What the tokens put on `$cbs` allow, and until when.
    grants: Mutex<Vec<cbs::Grant>>,
    /// Ends the connection on purpose (a `DropConnection` fault).
    dropper: Dropper,
}

/// Serves AMQP on the hub's own host: sign-in by the protocol header, then `$cbs`, device
/// senders and redirects for services.
pub(crate) async fn serve<S>(stream: S, host: String, hub: String, endpoints: Arc<Endpoints>)
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + std::fmt::Debug + Send + Unpin + 'static,
{
    let Ok((header, stream)) = Replayed::read_header(stream).await else {
        return;
    };
    let dropper = stream.dropper();
    let stream = FullFields::new(stream);
    let base = ConnectionAcceptor::builder()
        .container_id(format!("sandbox-iothub-{hub}"))
        .max_frame_size(65_536)
        .idle_time_out(240_000u32);
    let signed_in = Arc::new(Mutex::new(None));
    let accepted = if header == SASL_HEADER {
        let sign_in = SignIn {
            state: endpoints.state.clone(),
            hub: hub.clone(),
            host: host.clone(),
            signed_in: signed_in.clone(),
        };
        base.sasl_acceptor(sign_in).build().accept(stream).await
    } else {
        // The bare AMQP header, or anything else: the library answers a wrong header with its
        // own and closes.
        base.build().accept(stream).await
    };
    let Ok(mut connection) = accepted else {
        return;
    };
    let signed_in = *signed_in.lock().expect("sign-in");
    let hub_connection = Arc::new(HubConnection {
        endpoints,
        hub,
        host,
        signed_in,
        grants: Mutex::new(Vec::new()),
        dropper,
    });
    let sessions = SessionAcceptor::builder().handle_max(255u32).build();
    while let Ok(session) = sessions.accept(&mut connection).await {
        tokio::spawn(session_main(session, hub_connection.clone()));
    }
    let _ = connection.on_close().await;
}

/// What a client attaches to on a hub's host, from its point of view.
#[derive(Debug, PartialEq, Eq)]
enum Node {
    /// It sends put-token requests to `$cbs`.
    Cbs,
    /// It receives `$cbs`'s replies: the node and the link's own target, either of which a
    /// request's `reply-to` may name.
    CbsReplies(Vec<String>),
    /// It sends a device's messages (`/devices/{id}/messages/events`).
    DeviceEvents(String),
    /// Anything else: the built-in endpoint (redirected), or what the sandbox does not serve.
    Other(String),
}

fn node_of(attach: &Attach, host: &str) -> Node {
    let (source, target) = crate::amqp::addresses(attach);
    match attach.role {
        // The client sends: its target is our node.
        Role::Sender if target == CBS => Node::Cbs,
        Role::Sender => match device_of_events(&target, host) {
            Some(device) => Node::DeviceEvents(device),
            None => Node::Other(target),
        },
        Role::Receiver if source == CBS => Node::CbsReplies(vec![source, target]),
        Role::Receiver => Node::Other(source),
    }
}

/// The path of `address` on this host: `/a/b`, `a/b` or `amqps://{host}/a/b` give `a/b`;
/// `None` when it names another host.
fn path_on<'a>(address: &'a str, host: &str) -> Option<&'a str> {
    let path = match address.split_once("://") {
        Some((_, rest)) => {
            let (named, path) = rest.split_once('/').unwrap_or((rest, ""));
            let named = named.rsplit_once(':').map_or(named, |(name, _port)| name);
            if !named.eq_ignore_ascii_case(host) {
                return None;
            }
            path
        }
        None => address,
    };
    Some(path.trim_start_matches('/'))
}

/// The device whose events `address` names (`/devices/{id}/messages/events`).
fn device_of_events(address: &str, host: &str) -> Option<String> {
    let path = path_on(address, host)?;
    let device = path
        .strip_prefix("devices/")?
        .strip_suffix("/messages/events")?;
    let device = percent_decode_str(device).decode_utf8().ok()?;
    (!device.is_empty() && !device.contains('/')).then(|| device.into_owned())
}

async fn session_main(mut session: ListenerSessionHandle, connection: Arc<HubConnection>) {
    let links = crate::amqp::link_acceptor();
    let replies: ReplyLinks = Arc::default();
    while let Some(attach) = session.next_incoming_attach().await {
        let node = node_of(&attach, &connection.host);
        let refused = match &node {
            Node::DeviceEvents(device) => devices::admit(&connection, device).err(),
            Node::Other(address) => Some(connection.other_link(address)),
            Node::Cbs | Node::CbsReplies(_) => None,
        };
        let endpoint = match links.accept_incoming_attach(attach, &mut session).await {
            Ok(endpoint) => endpoint,
            Err(_) => continue,
        };
        match (node, refused, endpoint) {
            (_, Some(refusal), endpoint) => refuse(endpoint, refusal).await,
            (Node::Cbs, None, LinkEndpoint::Receiver(receiver)) => {
                let connection = connection.clone();
                tokio::spawn(answer_requests(
                    receiver,
                    CBS,
                    replies.clone(),
                    move |request| cbs::put_token(request, &connection),
                ));
            }
            (Node::CbsReplies(addresses), None, LinkEndpoint::Sender(sender)) => {
                serve_replies(sender, addresses, &replies);
            }
            (Node::DeviceEvents(device), None, LinkEndpoint::Receiver(receiver)) => {
                tokio::spawn(devices::receive(receiver, device, connection.clone()));
            }
            (_, None, endpoint) => {
                let unexpected = error(
                    ErrorCondition::AmqpError(AmqpError::NotAllowed),
                    "The link's role does not fit its node.",
                );
                refuse(endpoint, unexpected).await;
            }
        }
    }
    let _ = session.on_end().await;
}

/// Closes a link just attached, saying why.
async fn refuse(endpoint: LinkEndpoint, refusal: AmqpErrorFrame) {
    match endpoint {
        LinkEndpoint::Sender(sender) => drop(sender.close_with_error(refusal).await),
        LinkEndpoint::Receiver(receiver) => drop(receiver.close_with_error(refusal).await),
    }
}

impl HubConnection {
    /// The answer to a link that is neither `$cbs` nor a device's events: the built-in
    /// endpoint's redirect for a service, or why not.
    fn other_link(&self, address: &str) -> AmqpErrorFrame {
        let path = path_on(address, &self.host).unwrap_or(address);
        let is_events = path == EVENTS_PATH || path.starts_with(&format!("{EVENTS_PATH}/"));
        if is_events && !self.may_read() {
            return error(
                ErrorCondition::AmqpError(AmqpError::UnauthorizedAccess),
                "Unauthorized: reading the built-in endpoint needs a shared access policy with ServiceConnect: sign in with SASL PLAIN, or put a token for the hub on $cbs first.",
            );
        }
        if !is_events && path.starts_with("devices/") {
            return error(
                ErrorCondition::AmqpError(AmqpError::NotImplemented),
                &format!("The sandbox's IoT hub takes only device-to-cloud messages from devices over AMQP (/devices/{{id}}/messages/events), not '{address}': cloud-to-device messages, twins and methods are not served."),
            );
        }
        let namespace = namespace_host(&self.hub, &self.endpoints.config.suffix);
        redirect::redirect(address, &namespace, &self.hub)
    }

    /// Whether the connection may read the built-in endpoint: signed in as a service, or a
    /// token with ServiceConnect put on `$cbs`.
    fn may_read(&self) -> bool {
        self.signed_in == Some(SignedIn::Service) || self.has_service_grant()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const HOST: &str = "plant.azure-devices.sandbox.test";

    #[test]
    fn a_devices_events_are_named_as_iot_hub_names_them() {
        for address in [
            "/devices/io.microshare.contact.unpacked.event/messages/events",
            "devices/io.microshare.contact.unpacked.event/messages/events",
            "amqps://PLANT.azure-devices.sandbox.test/devices/io.microshare.contact.unpacked.event/messages/events",
            "amqps://plant.azure-devices.sandbox.test:5671/devices/io%2Emicroshare.contact.unpacked.event/messages/events",
        ] {
            assert_eq!(
                device_of_events(address, HOST).as_deref(),
                Some("io.microshare.contact.unpacked.event"),
                "{address}"
            );
        }
        for address in [
            "amqps://other.azure-devices.sandbox.test/devices/d1/messages/events",
            "/devices//messages/events",
            "/devices/d1/messages/devicebound",
            "/devices/d1/modules/m1/messages/events",
            "messages/events",
        ] {
            assert_eq!(device_of_events(address, HOST), None, "{address}");
        }
    }

    #[test]
    fn other_hosts_are_not_this_hubs_paths() {
        assert_eq!(path_on("amqps://other.host/messages/events", HOST), None);
        assert_eq!(
            path_on(
                "amqps://plant.azure-devices.sandbox.test/messages/events/$management",
                HOST
            ),
            Some("messages/events/$management")
        );
        assert_eq!(path_on("/$cbs", HOST), Some("$cbs"));
    }
}
