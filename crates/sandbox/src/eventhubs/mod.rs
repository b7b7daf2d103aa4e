//! Each hub's built-in Event Hub-compatible endpoint, as AMQP 1.0 over TLS (Azure's port 5671):
//! the namespace `iothub-ns-{hub}.servicebus.{suffix}` with one event hub named after the hub.
//!
//! A client authenticates the way Azure's SDKs do: SASL ANONYMOUS, then a SAS token put on the
//! `$cbs` node for `sb://{namespace}/{entity}`, checked exactly against the hub's shared access
//! policies (ServiceConnect grants the `Listen` claim). The `$management` node answers the
//! event hub's and its partitions' properties; receivers on
//! `{entity}/ConsumerGroups/{group}/Partitions/{n}` get every device-to-cloud message the hub
//! accepted (see [`log`]), from the position their filter names, live. Refusals carry Event
//! Hubs' error conditions and texts.

mod cbs;
pub(crate) mod log;
mod management;
mod partition;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use fe2o3_amqp::acceptor::link::LinkEndpoint;
use fe2o3_amqp::acceptor::session::ListenerSessionHandle;
use fe2o3_amqp::acceptor::{ConnectionAcceptor, SaslAnonymousMechanism, SessionAcceptor};
use fe2o3_amqp::types::definitions::Role;
use fe2o3_amqp::types::definitions::{AmqpError, Error as AmqpErrorFrame, ErrorCondition};
use fe2o3_amqp::types::performatives::Attach;

pub(crate) use cbs::SAS_TOKEN_TYPE;
pub use log::ReceivedMessage;
pub(crate) use partition::Readers;

use crate::amqp::{answer_requests, error, serve_replies, ReplyLinks};
use crate::faults::Faults;
use crate::state::State;
use crate::SandboxConfig;

/// The namespace host of `hub`'s endpoint.
pub(crate) fn namespace_host(hub: &str, suffix: &str) -> String {
    format!("iothub-ns-{}.servicebus.{suffix}", hub.to_ascii_lowercase())
}

/// The event hub's name (its entity path) on `hub`'s endpoint: the hub's name in lower case.
pub(crate) fn entity_path(hub: &str) -> String {
    hub.to_ascii_lowercase()
}

/// Event Hubs' words for an entity (event hub, consumer group, node) that does not exist.
pub(crate) fn entity_not_found(host: &str, path: &str) -> String {
    format!("The messaging entity 'sb://{host}/{path}' could not be found. To know more visit https://aka.ms/sbResourceMgrExceptions.")
}

/// Event Hubs' words for a partition ID outside `0..partitions`.
pub(crate) fn partition_out_of_range(partitions: usize) -> String {
    format!(
        "The specified partition is invalid for an EventHub partition sender or receiver. It should be between 0 and {}.",
        partitions.saturating_sub(1)
    )
}

/// The hub whose endpoint a namespace host names, when it is one.
pub(crate) fn hub_of_namespace<'h>(host: &'h str, suffix: &str) -> Option<&'h str> {
    host.strip_suffix(suffix)?
        .strip_suffix(".servicebus.")?
        .strip_prefix("iothub-ns-")
        .filter(|hub| !hub.is_empty() && !hub.contains('.'))
}

/// The hub whose own host (`{hub}.azure-devices.{suffix}`) `host` is.
pub(crate) fn hub_of_host<'h>(host: &'h str, suffix: &str) -> Option<&'h str> {
    host.strip_suffix(suffix)?
        .strip_suffix(".azure-devices.")
        .filter(|hub| !hub.is_empty() && !hub.contains('.'))
}

/// What every AMQP endpoint shares: the sandbox's state (hubs and their events), its
/// configuration (domain, quotas), the faults in force, and the receivers open on each
/// partition.
#[derive(Debug)]
pub(crate) struct Endpoints {
    pub(crate) state: Arc<Mutex<State>>,
    pub(crate) config: SandboxConfig,
    pub(crate) faults: Arc<Faults>,
    pub(crate) readers: Readers,
}

/// What every link of one connection shares: the hub it reached and the tokens put on `$cbs`.
pub(crate) struct Peer {
    pub(crate) endpoints: Arc<Endpoints>,
    /// The hub, lower case, as the namespace host names it.
    pub(crate) hub: String,
    pub(crate) host: String,
    pub(crate) claims: Mutex<Vec<cbs::Claim>>,
}

impl Peer {
    /// The entity path of the hub's event hub (the hub's key in the state is its lower-case
    /// name, which is also the entity path: see [`entity_path`]).
    pub(crate) fn entity(&self) -> &str {
        &self.hub
    }
}

/// Speaks AMQP on an open stream (TLS on 5671, or a WebSocket on 443) to `hub`'s Event
/// Hub-compatible namespace at `host`.
pub(crate) async fn serve_namespace<S>(
    stream: S,
    host: String,
    hub: String,
    endpoints: Arc<Endpoints>,
) where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + std::fmt::Debug + Send + Unpin + 'static,
{
    let acceptor = ConnectionAcceptor::builder()
        .container_id(format!("sandbox-eventhubs-{hub}"))
        .max_frame_size(65_536)
        .idle_time_out(240_000u32)
        .sasl_acceptor(SaslAnonymousMechanism::new())
        .build();
    let Ok(mut connection) = acceptor
        .accept(crate::amqp::wire::FullFields::new(stream))
        .await
    else {
        return;
    };
    let peer = Arc::new(Peer {
        endpoints,
        hub,
        host,
        claims: Mutex::new(Vec::new()),
    });
    // Azure's SDKs need the limit stated: pyamqp compares against it.
    let sessions = SessionAcceptor::builder().handle_max(255u32).build();
    while let Ok(session) = sessions.accept(&mut connection).await {
        tokio::spawn(session_main(session, peer.clone()));
    }
    let _ = connection.on_close().await;
}

async fn session_main(mut session: ListenerSessionHandle, peer: Arc<Peer>) {
    let links = crate::amqp::link_acceptor();
    let replies: ReplyLinks = Arc::default();
    while let Some(attach) = session.next_incoming_attach().await {
        let node = node_of(&attach, &peer);
        let accepted = links.accept_incoming_attach(attach, &mut session).await;
        match (node, accepted) {
            (Node::Requests(kind), Ok(LinkEndpoint::Receiver(receiver))) => {
                let peer = peer.clone();
                tokio::spawn(answer_requests(
                    receiver,
                    kind.address(),
                    replies.clone(),
                    move |request| match kind {
                        RequestNode::Cbs => cbs::put_token(request, &peer),
                        RequestNode::Management => management::read(request, &peer),
                    },
                ));
            }
            (Node::Replies(addresses), Ok(LinkEndpoint::Sender(sender))) => {
                serve_replies(sender, addresses, &replies);
            }
            (Node::Partition(request, admission), Ok(LinkEndpoint::Sender(sender))) => {
                tokio::spawn(partition::serve(sender, request, admission, peer.clone()));
            }
            (Node::Unknown(address), Ok(endpoint)) => {
                let error = not_found(&entity_not_found(&peer.host, &address));
                match endpoint {
                    LinkEndpoint::Sender(sender) => drop(sender.close_with_error(error).await),
                    LinkEndpoint::Receiver(receiver) => {
                        drop(receiver.close_with_error(error).await)
                    }
                }
            }
            (_, Ok(LinkEndpoint::Sender(sender))) => {
                drop(sender.close_with_error(not_implemented()).await)
            }
            (_, Ok(LinkEndpoint::Receiver(receiver))) => {
                drop(receiver.close_with_error(not_implemented()).await)
            }
            (_, Err(_)) => {}
        }
    }
    let _ = session.on_end().await;
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum RequestNode {
    Cbs,
    Management,
}

impl RequestNode {
    /// The node at `address`, if it is one.
    fn at(address: &str) -> Option<RequestNode> {
        [RequestNode::Cbs, RequestNode::Management]
            .into_iter()
            .find(|node| node.address() == address)
    }

    fn address(self) -> &'static str {
        match self {
            RequestNode::Cbs => "$cbs",
            RequestNode::Management => "$management",
        }
    }
}

enum Node {
    /// The client sends requests to `$cbs` or `$management`.
    Requests(RequestNode),
    /// The client receives replies from `$cbs` or `$management`: the node and the link's own
    /// address, either of which a request's `reply-to` may name.
    Replies(Vec<String>),
    /// The client receives events from a partition; its start is fixed before its attach is
    /// answered, as Event Hubs does, or it is refused.
    Partition(partition::ReaderRequest, partition::Admission),
    Unknown(String),
}

/// What the client attaches to, from its point of view.
fn node_of(attach: &Attach, peer: &Peer) -> Node {
    let (source, target) = crate::amqp::addresses(attach);
    match attach.role {
        // The client sends: its target is our node.
        Role::Sender => match RequestNode::at(&target) {
            Some(kind) => Node::Requests(kind),
            None => Node::Unknown(target),
        },
        Role::Receiver => {
            if RequestNode::at(&source).is_some() {
                Node::Replies(vec![source, target])
            } else if partition::is_partition_address(&source) {
                let request = partition::ReaderRequest::from_attach(attach, &source);
                let admission = partition::admit(&request, peer);
                Node::Partition(request, admission)
            } else {
                Node::Unknown(source)
            }
        }
    }
}

fn not_found(description: &str) -> AmqpErrorFrame {
    error(ErrorCondition::AmqpError(AmqpError::NotFound), description)
}

fn not_implemented() -> AmqpErrorFrame {
    error(
        ErrorCondition::AmqpError(AmqpError::NotImplemented),
        "The sandbox's Event Hub-compatible endpoint only serves $cbs, $management and partition receivers.",
    )
}

/// A time for people and for error texts, as Event Hubs writes them (UTC, ISO 8601).
pub(crate) fn timestamp_text(ms: u64) -> String {
    humantime::format_rfc3339_millis(std::time::UNIX_EPOCH + Duration::from_millis(ms)).to_string()
}
