//! What the sandbox's two AMQP endpoints share: the Event Hub-compatible namespaces (see
//! `eventhubs`) and the hubs' own hosts (see `hub_amqp`). Request nodes (`$cbs`,
//! `$management`) take a request on a client's sender link and answer on the client's receiver
//! link; [`wire`] writes every performative with all its fields, as Azure does; [`stream`]
//! lets a connection be read from its protocol header on and dropped on purpose.

pub(crate) mod stream;
pub(crate) mod wire;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use fe2o3_amqp::acceptor::{LinkAcceptor, SupportedSenderSettleModes};
use fe2o3_amqp::link::delivery::Sendable;
use fe2o3_amqp::types::definitions::SenderSettleMode;
use fe2o3_amqp::types::definitions::{Error as AmqpErrorFrame, ErrorCondition};
use fe2o3_amqp::types::messaging::{
    AmqpValue, ApplicationProperties, Body, Message, MessageId, Properties, TargetArchetype,
};
use fe2o3_amqp::types::messaging::{Source, Target};
use fe2o3_amqp::types::performatives::Attach;
use fe2o3_amqp::types::primitives::{SimpleValue, Value};
use fe2o3_amqp::{Receiver, Sender};
use tokio::sync::mpsc;

/// Accepts links as Azure does: its SDKs ask for unsettled sends but never settle what they
/// receive, so replies and events go out settled, which mixed mode allows.
pub(crate) fn link_acceptor(
) -> LinkAcceptor<impl Fn(Source) -> Option<Source>, impl Fn(Target) -> Option<Target>> {
    LinkAcceptor::builder()
        .supported_sender_settle_modes(SupportedSenderSettleModes::Mixed)
        .fallback_sender_settle_mode(SenderSettleMode::Mixed)
        .build()
}

/// An attach's source and target addresses ("" when absent).
pub(crate) fn addresses(attach: &Attach) -> (String, String) {
    let source = attach
        .source
        .as_ref()
        .and_then(|s| s.address.clone())
        .unwrap_or_default();
    let target = match attach.target.as_deref() {
        Some(TargetArchetype::Target(target)) => target.address.clone().unwrap_or_default(),
        _ => String::new(),
    };
    (source, target)
}

/// Where replies to requests go: the client's receiver links on a request node, by the
/// addresses a request's `reply-to` may name (the node's, or the link's own target).
pub(crate) type ReplyLinks =
    Arc<Mutex<HashMap<String, mpsc::UnboundedSender<Message<Body<Value>>>>>>;

/// Registers a client's receiver link on a request node under each of `addresses` and sends it
/// the replies meant for it, settled (Azure's SDKs never settle what they receive).
pub(crate) fn serve_replies(sender: Sender, addresses: Vec<String>, replies: &ReplyLinks) {
    let (tx, rx) = mpsc::unbounded_channel();
    let mut links = replies.lock().expect("reply links");
    for address in addresses.into_iter().filter(|a| !a.is_empty()) {
        links.insert(address, tx.clone());
    }
    drop(links);
    tokio::spawn(reply_link(sender, rx));
}

/// Answers each request that arrives on `receiver` (a client's sender link to `node`) with
/// `answer`, on the reply link the request's `reply-to` names, or else on the client's
/// receiver link on `node` (Azure's SDKs send no `reply-to`, or one that names no link, as
/// Node's IoT Hub client does with `cbs`).
pub(crate) async fn answer_requests<F>(
    mut receiver: Receiver,
    node: &'static str,
    replies: ReplyLinks,
    answer: F,
) where
    F: Fn(&Request<'_>) -> Reply + Send + 'static,
{
    while let Ok(delivery) = receiver.recv::<Body<Value>>().await {
        let _ = receiver.accept(&delivery).await;
        let request = Request(delivery.message());
        let reply = answer(&request);
        let properties = request.0.properties.as_ref();
        let reply_to = properties.and_then(|p| p.reply_to.clone());
        let reply = reply.into_message(properties.and_then(|p| p.message_id.clone()));
        // Clients attach their reply link before they send, but the two attaches may be
        // handled in either order.
        for _ in 0..100 {
            let link = {
                let links = replies.lock().expect("reply links");
                reply_to
                    .as_ref()
                    .and_then(|address| links.get(address))
                    .or_else(|| links.get(node))
                    .cloned()
            };
            if let Some(link) = link {
                let _ = link.send(reply);
                break;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }
}

async fn reply_link(
    mut sender: Sender,
    mut replies: mpsc::UnboundedReceiver<Message<Body<Value>>>,
) {
    while let Some(reply) = replies.recv().await {
        let reply = Sendable::builder().message(reply).settled(true).build();
        if sender.send(reply).await.is_err() {
            return;
        }
    }
}

/// An AMQP error with its condition and a description for people.
pub(crate) fn error(condition: ErrorCondition, description: &str) -> AmqpErrorFrame {
    AmqpErrorFrame::new(condition, Some(description.to_owned()), None)
}

/// A request to `$cbs` or `$management`.
pub(crate) struct Request<'m>(pub(crate) &'m Message<Body<Value>>);

impl Request<'_> {
    /// An application property as text.
    pub(crate) fn text(&self, key: &str) -> Option<String> {
        let properties = self.0.application_properties.as_ref()?;
        match properties.0.get(key)? {
            SimpleValue::String(s) => Some(s.clone()),
            SimpleValue::Symbol(s) => Some(s.0.clone()),
            _ => None,
        }
    }

    /// The body, when it is an AMQP value holding text.
    pub(crate) fn body_text(&self) -> Option<String> {
        match &self.0.body {
            Body::Value(AmqpValue(Value::String(s))) => Some(s.clone()),
            _ => None,
        }
    }
}

/// The answer to a request: a status code and description as application properties, and a
/// body for READ operations.
pub(crate) struct Reply {
    status: i32,
    description: String,
    body: Value,
}

impl Reply {
    pub(crate) fn status(status: i32, description: &str) -> Reply {
        Reply {
            status,
            description: description.to_owned(),
            body: Value::Null,
        }
    }

    pub(crate) fn ok(body: Value) -> Reply {
        Reply {
            status: 200,
            description: "OK".to_owned(),
            body,
        }
    }

    /// The reply as a message correlated with the request's message ID.
    pub(crate) fn into_message(self, correlation_id: Option<MessageId>) -> Message<Body<Value>> {
        let properties = Properties {
            correlation_id,
            ..Default::default()
        };
        let application_properties = ApplicationProperties::builder()
            // `$cbs` answers with the first pair, `$management` with both: Azure's SDKs read
            // either, depending on the node and the SDK. Node's IoT Hub client wants the
            // status code an integer.
            .insert("status-code", SimpleValue::Int(self.status))
            .insert(
                "status-description",
                SimpleValue::String(self.description.clone()),
            )
            .insert("statusCode", SimpleValue::Int(self.status))
            .insert("statusDescription", SimpleValue::String(self.description))
            .build();
        Message::builder()
            .properties(properties)
            .application_properties(application_properties)
            .body(Body::Value(AmqpValue(self.body)))
            .build()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_reply_carries_an_integer_status_and_the_request_id() {
        let reply = Reply::status(401, "Unauthorized")
            .into_message(Some(MessageId::String("3f1c-request".into())));
        let properties = reply.application_properties.unwrap();
        assert_eq!(
            properties.0.get("status-code"),
            Some(&SimpleValue::Int(401))
        );
        assert_eq!(
            properties.0.get("status-description"),
            Some(&SimpleValue::String("Unauthorized".into()))
        );
        assert_eq!(
            reply.properties.unwrap().correlation_id,
            Some(MessageId::String("3f1c-request".into()))
        );
    }
}
