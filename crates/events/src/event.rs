//! One message as the endpoint delivers it, decoded from AMQP into plain values.

use std::collections::BTreeMap;

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use fe2o3_amqp::types::messaging::annotations::OwnedKey;
use fe2o3_amqp::types::messaging::{Body, Message, MessageId};
use fe2o3_amqp::types::primitives::{SimpleValue, Value};

/// A message a device sent, with where and when the hub stored it.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Event {
    pub partition: String,
    pub sequence_number: i64,
    pub offset: String,
    /// When the hub stored it, in milliseconds since the Unix epoch.
    pub enqueued_ms: i64,
    /// The sending device (`iothub-connection-device-id`), when the hub named it.
    pub device_id: Option<String>,
    /// The application properties the device set.
    pub properties: BTreeMap<String, String>,
    /// The hub's annotations and the message's own properties (message-id, content-type, …).
    pub system_properties: BTreeMap<String, String>,
    #[serde(skip)]
    pub body: Vec<u8>,
}

/// How a body reads best: JSON, text, or (for binary payloads) base64.
#[derive(Debug, Clone, PartialEq)]
pub enum BodyView {
    Json(serde_json::Value),
    Text(String),
    Base64(String),
}

impl Event {
    /// The body as JSON when it parses, as text when it is UTF-8, else as base64.
    pub fn body_view(&self) -> BodyView {
        if let Ok(json) = serde_json::from_slice(&self.body) {
            return BodyView::Json(json);
        }
        match std::str::from_utf8(&self.body) {
            Ok(text) => BodyView::Text(text.to_owned()),
            Err(_) => BodyView::Base64(STANDARD.encode(&self.body)),
        }
    }

    /// The event as one JSON object: its fields, the enqueued time in RFC 3339, and the body
    /// as [`Event::body_view`] reads it, with `body_encoding` saying which.
    pub fn to_json(&self) -> serde_json::Value {
        let (body, encoding) = match self.body_view() {
            BodyView::Json(json) => (json, "json"),
            BodyView::Text(text) => (serde_json::Value::String(text), "text"),
            BodyView::Base64(b64) => (serde_json::Value::String(b64), "base64"),
        };
        let mut value = serde_json::to_value(self).unwrap_or_default();
        value["enqueued_time"] = serde_json::Value::String(rfc3339(self.enqueued_ms));
        value["body"] = body;
        value["body_encoding"] = serde_json::Value::String(encoding.to_owned());
        value
    }

    pub(crate) fn from_message(partition: &str, message: Message<Body<Value>>) -> Event {
        let mut system = BTreeMap::new();
        let (mut sequence_number, mut offset, mut enqueued_ms) = (-1, String::new(), 0);
        if let Some(annotations) = &message.message_annotations {
            for (key, value) in annotations.0.iter() {
                let key = match key {
                    OwnedKey::Symbol(s) => s.0.clone(),
                    OwnedKey::Ulong(n) => n.to_string(),
                };
                match (key.as_str(), value) {
                    ("x-opt-sequence-number", Value::Long(n)) => sequence_number = *n,
                    ("x-opt-offset", Value::String(s)) => offset = s.clone(),
                    ("x-opt-offset", Value::Long(n)) => offset = n.to_string(),
                    ("x-opt-enqueued-time", Value::Timestamp(t)) => enqueued_ms = t.milliseconds(),
                    _ => {}
                }
                system.insert(key, text_of(value));
            }
        }
        if let Some(properties) = &message.properties {
            let id = |id: &MessageId| match id {
                MessageId::String(s) => s.clone(),
                MessageId::Ulong(n) => n.to_string(),
                MessageId::Uuid(u) => format!("{u:?}"),
                MessageId::Binary(b) => format!("{b:?}"),
            };
            let fields = [
                ("message-id", properties.message_id.as_ref().map(id)),
                ("correlation-id", properties.correlation_id.as_ref().map(id)),
                (
                    "content-type",
                    properties.content_type.as_ref().map(|s| s.0.clone()),
                ),
                (
                    "content-encoding",
                    properties.content_encoding.as_ref().map(|s| s.0.clone()),
                ),
            ];
            for (key, value) in fields {
                if let Some(value) = value {
                    system.insert(key.to_owned(), value);
                }
            }
        }
        let properties = message
            .application_properties
            .as_ref()
            .map(|p| {
                p.0.iter()
                    .map(|(k, v)| (k.clone(), simple_text(v)))
                    .collect()
            })
            .unwrap_or_default();
        let body = match message.body {
            Body::Data(batch) => batch.into_iter().flat_map(|d| d.0.into_vec()).collect(),
            Body::Value(value) => text_of(&value.0).into_bytes(),
            other => format!("{other:?}").into_bytes(),
        };
        Event {
            partition: partition.to_owned(),
            sequence_number,
            offset,
            enqueued_ms,
            device_id: system.get("iothub-connection-device-id").cloned(),
            properties,
            system_properties: system,
            body,
        }
    }
}

/// A time in milliseconds since the epoch, as RFC 3339 in UTC.
pub fn rfc3339(ms: i64) -> String {
    let time = std::time::UNIX_EPOCH + std::time::Duration::from_millis(ms.max(0) as u64);
    humantime::format_rfc3339_millis(time).to_string()
}

fn text_of(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        Value::Symbol(s) => s.0.clone(),
        Value::Long(n) => n.to_string(),
        Value::Int(n) => n.to_string(),
        Value::Bool(b) => b.to_string(),
        Value::Timestamp(t) => t.milliseconds().to_string(),
        other => format!("{other:?}"),
    }
}

fn simple_text(value: &SimpleValue) -> String {
    match value {
        SimpleValue::String(s) => s.clone(),
        SimpleValue::Symbol(s) => s.0.clone(),
        SimpleValue::Long(n) => n.to_string(),
        SimpleValue::Int(n) => n.to_string(),
        SimpleValue::Bool(b) => b.to_string(),
        SimpleValue::Double(d) => d.to_string(),
        other => format!("{other:?}"),
    }
}
