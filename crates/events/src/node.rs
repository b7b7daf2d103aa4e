//! AMQP's request-reply nodes as Azure serves them (`$cbs` for claims-based security,
//! `$management`): a sender for requests and a receiver for their replies; and the one request
//! every client makes, `put-token`, shared by the reader and the live test's AMQP send.

use std::time::Duration;

use fe2o3_amqp::session::SessionHandle;
use fe2o3_amqp::types::messaging::{
    AmqpValue, ApplicationProperties, Body, Message, MessageId, Properties,
};
use fe2o3_amqp::types::primitives::{SimpleValue, Timestamp, Value};
use fe2o3_amqp::{Receiver, Sender};

use crate::EventsError;

/// The longest one request or one step of a connection may take.
pub(crate) const STEP_TIMEOUT: Duration = Duration::from_secs(15);

/// A request-reply node (`$cbs`, `$management`): a sender and a receiver for its replies.
pub struct Node {
    sender: Sender,
    receiver: Receiver,
    next_id: u64,
}

impl Node {
    pub async fn attach(
        session: &mut SessionHandle<()>,
        address: &str,
    ) -> Result<Node, EventsError> {
        let name = address.trim_start_matches('$');
        let sender = Sender::attach(session, format!("{name}-requests"), address)
            .await
            .map_err(|e| EventsError::Lost(format!("{address}: {e}")))?;
        let receiver = Receiver::builder()
            .name(format!("{name}-replies"))
            .source(address)
            .target(format!("{name}-replies"))
            .attach(session)
            .await
            .map_err(|e| EventsError::Lost(format!("{address}: {e}")))?;
        Ok(Node {
            sender,
            receiver,
            next_id: 0,
        })
    }

    /// Sends a request and returns the reply's status code, description and body.
    pub async fn call(
        &mut self,
        properties: ApplicationProperties,
        body: Value,
    ) -> Result<(i64, String, Value), EventsError> {
        self.next_id += 1;
        let message = Message::builder()
            .properties(Properties {
                message_id: Some(MessageId::Ulong(self.next_id)),
                reply_to: Some(
                    self.receiver
                        .target()
                        .as_ref()
                        .and_then(|t| t.address.clone())
                        .unwrap_or_default(),
                ),
                ..Default::default()
            })
            .application_properties(properties)
            .body(Body::Value(AmqpValue(body)))
            .build();
        let lost = |e: String| EventsError::Lost(e);
        tokio::time::timeout(STEP_TIMEOUT, self.sender.send(message))
            .await
            .map_err(|_| lost("the endpoint did not take the request in time".into()))?
            .map_err(|e| lost(e.to_string()))?;
        let reply = tokio::time::timeout(STEP_TIMEOUT, self.receiver.recv::<Body<Value>>())
            .await
            .map_err(|_| lost("the endpoint did not answer in time".into()))?
            .map_err(|e| lost(e.to_string()))?;
        let _ = self.receiver.accept(&reply).await;
        let message = reply.into_message();
        let status = |keys: &[&str]| {
            message
                .application_properties
                .as_ref()
                .and_then(|p| keys.iter().find_map(|k| p.0.get(*k).cloned()))
        };
        let code = match status(&["status-code", "statusCode"]) {
            Some(SimpleValue::Int(n)) => i64::from(n),
            Some(SimpleValue::Long(n)) => n,
            Some(SimpleValue::Uint(n)) => i64::from(n),
            _ => 0,
        };
        let description = match status(&["status-description", "statusDescription"]) {
            Some(SimpleValue::String(s)) => s,
            _ => String::new(),
        };
        let body = match message.body {
            Body::Value(AmqpValue(value)) => value,
            _ => Value::Null,
        };
        Ok((code, description, body))
    }
}

impl std::fmt::Debug for Node {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Node").finish_non_exhaustive()
    }
}

/// Puts a SAS token for `audience` on `$cbs`; the reply's status code (200 when taken) and
/// description. The token is sent, never kept or shown.
pub async fn put_token(
    cbs: &mut Node,
    audience: &str,
    token: &str,
    expiry_secs: u64,
) -> Result<(i64, String), EventsError> {
    let request = ApplicationProperties::builder()
        .insert("operation", SimpleValue::String("put-token".into()))
        .insert(
            "type",
            SimpleValue::String("servicebus.windows.net:sastoken".into()),
        )
        .insert("name", SimpleValue::String(audience.to_owned()))
        .insert(
            "expiration",
            SimpleValue::Timestamp(Timestamp::from_milliseconds((expiry_secs * 1000) as i64)),
        )
        .build();
    let (code, description, _) = cbs.call(request, Value::String(token.to_owned())).await?;
    Ok((code, description))
}
