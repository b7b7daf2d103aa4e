//! Device-to-cloud messages over AMQP: a device's sender link to
//! `/devices/{id}/messages/events`, admitted only with a valid token for the device put on
//! `$cbs`; each transfer decoded into the hub's [`Incoming`], taken by `messages::accept` as
//! over HTTPS and MQTT, and settled Accepted, or Rejected with the condition IoT Hub gives the
//! refusal (Node's `azure-iot-device-amqp` turns each into its own error type). Faults for
//! `/devices/{id}/messages/events` on the hub's host apply to every transfer.

use std::collections::BTreeMap;
use std::sync::Arc;

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use fe2o3_amqp::types::definitions::{
    AmqpError, Error as AmqpErrorFrame, ErrorCondition, LinkError,
};
use fe2o3_amqp::types::messaging::annotations::OwnedKey;
use fe2o3_amqp::types::messaging::{AmqpValue, Body, Message, MessageId};
use fe2o3_amqp::types::primitives::{SimpleValue, Symbol, Value};
use fe2o3_amqp::Receiver;
use hyper::StatusCode;

use super::HubConnection;
use crate::amqp::error;
use crate::eventhubs::timestamp_text;
use crate::faults::Action;
use crate::hub::network_refusal;
use crate::messages::{accept, Incoming};
use crate::refusal::{device_not_found, Refusal};
use crate::state::now_ms;

/// The condition IoT Hub's service gives a throttled device (Node: `ThrottlingError`).
const THROTTLED: &str = "com.microsoft:device-container-throttled";
/// The condition for a malformed argument (Node: `ArgumentError`).
const ARGUMENT_ERROR: &str = "com.microsoft:argument-error";
/// The message annotation that carries the device's creation time.
const CREATION_TIME: &str = "iothub-creation-time-utc";

/// What becomes of one transfer.
#[derive(Debug, PartialEq)]
enum Outcome {
    Accepted,
    Rejected(AmqpErrorFrame),
    /// The connection is closed without settling (a `DropConnection` fault).
    Drop,
}

/// Whether a device's sender link may attach: a valid token for the device on `$cbs`, a hub
/// whose network settings let the client in, an enabled device.
pub(super) fn admit(connection: &HubConnection, device: &str) -> Result<(), AmqpErrorFrame> {
    let now = now_ms();
    connection
        .may_send(device, now / 1000)
        .map_err(|reason| unauthorized(&reason))?;
    let state = connection.endpoints.state.lock().expect("state lock");
    let Some(hub) = state.hubs.get(&connection.hub).filter(|h| h.is_active(now)) else {
        return Err(error(
            ErrorCondition::AmqpError(AmqpError::NotFound),
            &format!("IotHub {} not found.", connection.hub),
        ));
    };
    if let Some(reason) = network_refusal(hub) {
        return Err(unauthorized(reason));
    }
    match hub.devices.get(device) {
        Some(d) if d.status == "enabled" => Ok(()),
        _ => Err(refusal_error(&device_not_found(hub, device))),
    }
}

/// Takes the device's messages until the link or the connection ends.
pub(super) async fn receive(
    mut receiver: Receiver,
    device: String,
    connection: Arc<HubConnection>,
) {
    let path = format!("/devices/{device}/messages/events");
    while let Ok(delivery) = receiver.recv::<Body<Value>>().await {
        let settled = match take(&connection, &device, &path, delivery.message()).await {
            Outcome::Accepted => receiver.accept(&delivery).await,
            Outcome::Rejected(refusal) => receiver.reject(&delivery, refusal).await,
            Outcome::Drop => {
                connection.dropper.drop_connection();
                return;
            }
        };
        if settled.is_err() {
            return;
        }
    }
}

/// One transfer: the faults in force, the token, then the hub's own checks.
async fn take(
    connection: &HubConnection,
    device: &str,
    path: &str,
    message: &Message<Body<Value>>,
) -> Outcome {
    let endpoints = &connection.endpoints;
    let plan = endpoints.faults.plan(&connection.host, path);
    if !plan.delay.is_zero() {
        tokio::time::sleep(plan.delay).await;
    }
    if let Some(action) = &plan.action {
        return fault_outcome(action);
    }
    let now = now_ms();
    if let Err(reason) = connection.may_send(device, now / 1000) {
        return Outcome::Rejected(unauthorized(&reason));
    }
    let incoming = match incoming(message) {
        Ok(incoming) => incoming,
        Err(refusal) => return Outcome::Rejected(refusal_error(&refusal)),
    };
    let mut state = endpoints.state.lock().expect("state lock");
    let outbox = state.outbox.clone();
    let Some(hub) = state.hubs.get_mut(&connection.hub) else {
        return Outcome::Rejected(error(
            ErrorCondition::AmqpError(AmqpError::NotFound),
            &format!("IotHub {} not found.", connection.hub),
        ));
    };
    if let Some(reason) = network_refusal(hub) {
        return Outcome::Rejected(unauthorized(reason));
    }
    match accept(
        hub,
        device,
        incoming,
        now,
        &endpoints.config,
        outbox.as_ref(),
    ) {
        Ok(()) => Outcome::Accepted,
        Err(refusal) => Outcome::Rejected(refusal_error(&refusal)),
    }
}

fn unauthorized(reason: &str) -> AmqpErrorFrame {
    error(
        ErrorCondition::AmqpError(AmqpError::UnauthorizedAccess),
        reason,
    )
}

/// The AMQP condition IoT Hub gives a refusal that HTTPS answers with `status`.
fn condition(status: u16) -> ErrorCondition {
    match status {
        400 => ErrorCondition::Custom(Symbol::from(ARGUMENT_ERROR)),
        401 => ErrorCondition::AmqpError(AmqpError::UnauthorizedAccess),
        403 => ErrorCondition::AmqpError(AmqpError::ResourceLimitExceeded),
        404 => ErrorCondition::AmqpError(AmqpError::NotFound),
        413 => ErrorCondition::LinkError(LinkError::MessageSizeExceeded),
        429 => ErrorCondition::Custom(Symbol::from(THROTTLED)),
        _ => ErrorCondition::AmqpError(AmqpError::InternalError),
    }
}

/// A refusal of the hub's (the same as over HTTPS) as AMQP's rejection.
fn refusal_error(refusal: &Refusal) -> AmqpErrorFrame {
    error(condition(refusal.status.as_u16()), &refusal.detail)
}

/// What a fault does to a transfer: a status becomes the rejection IoT Hub gives it.
fn fault_outcome(action: &Action) -> Outcome {
    let status = match action {
        Action::Drop => return Outcome::Drop,
        Action::Status { status, .. } => *status,
    };
    let description = match status {
        429 => "The IoT hub is throttling this device: too many requests for its tier. Retry after a while.",
        403 => "The IoT hub's daily message quota is used up; it takes messages again after midnight UTC.",
        413 => "The message is larger than the IoT hub takes (256 KB).",
        401 => "Unauthorized",
        404 => "The device is not registered or is disabled.",
        _ => "The IoT hub had an internal error. Retry after a while.",
    };
    Outcome::Rejected(error(condition(status), description))
}

/// A transfer as the hub's message: the body (data sections, or an AMQP value holding binary
/// or text), the system properties IoT Hub reads, and the application properties as text.
fn incoming(message: &Message<Body<Value>>) -> Result<Incoming, Refusal> {
    let body =
        match &message.body {
            Body::Data(sections) => sections.iter().flat_map(|d| d.0.iter().copied()).collect(),
            Body::Value(AmqpValue(Value::Binary(bytes))) => bytes.to_vec(),
            Body::Value(AmqpValue(Value::String(text))) => text.as_bytes().to_vec(),
            Body::Empty => Vec::new(),
            _ => return Err(Refusal::new(
                StatusCode::BAD_REQUEST,
                "ArgumentInvalid",
                "The message body must be data sections, or an AMQP value holding binary or text.",
            )),
        };
    let properties = message.properties.as_ref();
    let message_id = properties.and_then(|p| p.message_id.as_ref()).map(id_text);
    let correlation_id = properties
        .and_then(|p| p.correlation_id.as_ref())
        .map(id_text);
    let content_type = properties
        .and_then(|p| p.content_type.as_ref())
        .map(|s| s.0.clone());
    let content_encoding = properties
        .and_then(|p| p.content_encoding.as_ref())
        .map(|s| s.0.clone());
    let creation_time_utc = message
        .message_annotations
        .as_ref()
        .and_then(|a| a.0.get(&OwnedKey::Symbol(Symbol::from(CREATION_TIME))))
        .and_then(|value| match value {
            Value::String(text) => Some(text.clone()),
            Value::Timestamp(t) => u64::try_from(t.milliseconds()).ok().map(timestamp_text),
            _ => None,
        });
    let app_properties: BTreeMap<String, String> = message
        .application_properties
        .as_ref()
        .map(|a| {
            a.0.iter()
                .map(|(k, v)| (k.clone(), value_text(v)))
                .collect()
        })
        .unwrap_or_default();
    let system_bytes = [
        &message_id,
        &correlation_id,
        &content_type,
        &content_encoding,
        &creation_time_utc,
    ]
    .into_iter()
    .flatten()
    .map(String::len)
    .sum();
    Ok(Incoming {
        body,
        message_id,
        correlation_id,
        content_type,
        content_encoding,
        creation_time_utc,
        app_properties,
        system_bytes,
    })
}

/// A message or correlation ID as text: a string as it is, a ulong in decimal, a UUID in its
/// usual form, binary as UTF-8 when it is, else base64.
fn id_text(id: &MessageId) -> String {
    match id {
        MessageId::String(text) => text.clone(),
        MessageId::Ulong(n) => n.to_string(),
        MessageId::Uuid(uuid) => uuid_text(uuid.as_inner()),
        MessageId::Binary(bytes) => {
            String::from_utf8(bytes.to_vec()).unwrap_or_else(|_| STANDARD.encode(bytes.as_slice()))
        }
    }
}

fn uuid_text(bytes: &[u8; 16]) -> String {
    let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    format!(
        "{}-{}-{}-{}-{}",
        &hex[..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..]
    )
}

/// An application property's value as text, as IoT Hub hands properties on.
fn value_text(value: &SimpleValue) -> String {
    match value {
        SimpleValue::Null => String::new(),
        SimpleValue::Bool(b) => b.to_string(),
        SimpleValue::Ubyte(n) => n.to_string(),
        SimpleValue::Ushort(n) => n.to_string(),
        SimpleValue::Uint(n) => n.to_string(),
        SimpleValue::Ulong(n) => n.to_string(),
        SimpleValue::Byte(n) => n.to_string(),
        SimpleValue::Short(n) => n.to_string(),
        SimpleValue::Int(n) => n.to_string(),
        SimpleValue::Long(n) => n.to_string(),
        SimpleValue::Float(n) => n.to_string(),
        SimpleValue::Double(n) => n.to_string(),
        SimpleValue::Char(c) => c.to_string(),
        SimpleValue::Timestamp(t) => u64::try_from(t.milliseconds())
            .map(timestamp_text)
            .unwrap_or_default(),
        SimpleValue::Uuid(uuid) => uuid_text(uuid.as_inner()),
        SimpleValue::Binary(bytes) => STANDARD.encode(bytes.as_slice()),
        SimpleValue::String(text) => text.clone(),
        SimpleValue::Symbol(symbol) => symbol.0.clone(),
        other => format!("{other:?}"),
    }
}

#[cfg(test)]
mod tests {
    use fe2o3_amqp::types::messaging::{
        ApplicationProperties, Data, MessageAnnotations, Properties,
    };
    use fe2o3_amqp::types::primitives::{Binary, Uuid};

    use super::*;

    fn rejected_with(outcome: Outcome) -> (String, String) {
        match outcome {
            Outcome::Rejected(error) => {
                let condition = match error.condition {
                    ErrorCondition::AmqpError(e) => Symbol::from(&e).0,
                    ErrorCondition::LinkError(e) => Symbol::from(&e).0,
                    ErrorCondition::Custom(s) => s.0,
                    other => format!("{other:?}"),
                };
                (condition, error.description.unwrap_or_default())
            }
            other => panic!("not a rejection: {other:?}"),
        }
    }

    #[test]
    fn faults_become_the_conditions_iot_hub_rejects_with() {
        let status = |status| Action::Status {
            status,
            retry_after_secs: None,
        };
        for (code, condition) in [
            (429, "com.microsoft:device-container-throttled"),
            (413, "amqp:link:message-size-exceeded"),
            (403, "amqp:resource-limit-exceeded"),
            (500, "amqp:internal-error"),
            (503, "amqp:internal-error"),
        ] {
            assert_eq!(
                rejected_with(fault_outcome(&status(code))).0,
                condition,
                "{code}"
            );
        }
        assert_eq!(fault_outcome(&Action::Drop), Outcome::Drop);
    }

    #[test]
    fn the_hubs_refusals_keep_their_reason_under_iot_hubs_conditions() {
        let refusal = |status: u16, code| {
            Refusal::new(StatusCode::from_u16(status).unwrap(), code, "why, in words")
        };
        for (status, code, condition) in [
            (404, "DeviceNotFound", "amqp:not-found"),
            (403, "IotHubQuotaExceeded", "amqp:resource-limit-exceeded"),
            (413, "MessageTooLarge", "amqp:link:message-size-exceeded"),
            (401, "IotHubUnauthorizedAccess", "amqp:unauthorized-access"),
            (400, "ArgumentInvalid", "com.microsoft:argument-error"),
            (500, "ServerError", "amqp:internal-error"),
        ] {
            let error = refusal_error(&refusal(status, code));
            assert_eq!(
                rejected_with(Outcome::Rejected(error)),
                (condition.to_owned(), "why, in words".to_owned())
            );
        }
    }

    #[test]
    fn a_transfer_becomes_the_hubs_message() {
        let uuid = [
            0x3f, 0x1c, 0x2b, 0x4d, 0x5e, 0x6f, 0x40, 0x81, 0x92, 0xa3, 0xb4, 0xc5, 0xd6, 0xe7,
            0xf8, 0x09,
        ];
        let message = Message::builder()
            .properties(Properties {
                message_id: Some(MessageId::Uuid(Uuid::from(uuid))),
                correlation_id: Some(MessageId::Ulong(42)),
                content_type: Some(Symbol::from("application/json")),
                content_encoding: Some(Symbol::from("utf-8")),
                ..Default::default()
            })
            .message_annotations(
                MessageAnnotations::builder()
                    .insert(
                        OwnedKey::Symbol(Symbol::from(CREATION_TIME)),
                        Value::String("2026-12-03T04:00:00Z".into()),
                    )
                    .build(),
            )
            .application_properties(
                ApplicationProperties::builder()
                    .insert("run", SimpleValue::String("r1".into()))
                    .insert("count", SimpleValue::Int(3))
                    .insert("ok", SimpleValue::Bool(true))
                    .build(),
            )
            .body(Body::Data(
                vec![
                    Data(Binary::from(b"{\"a\":".to_vec())),
                    Data(Binary::from(b"1}".to_vec())),
                ]
                .into(),
            ))
            .build();
        let taken = incoming(&message).unwrap();
        assert_eq!(taken.body, b"{\"a\":1}");
        assert_eq!(
            taken.message_id.as_deref(),
            Some("3f1c2b4d-5e6f-4081-92a3-b4c5d6e7f809")
        );
        assert_eq!(taken.correlation_id.as_deref(), Some("42"));
        assert_eq!(taken.content_type.as_deref(), Some("application/json"));
        assert_eq!(taken.content_encoding.as_deref(), Some("utf-8"));
        assert_eq!(
            taken.creation_time_utc.as_deref(),
            Some("2026-12-03T04:00:00Z")
        );
        assert_eq!(taken.app_properties["run"], "r1");
        assert_eq!(taken.app_properties["count"], "3");
        assert_eq!(taken.app_properties["ok"], "true");
        assert_eq!(
            taken.system_bytes,
            36 + 2 + "application/json".len() + "utf-8".len() + 20
        );

        let text: Message<Body<Value>> = Message::builder()
            .properties(Properties {
                message_id: Some(MessageId::String("m-1".into())),
                ..Default::default()
            })
            .body(Body::Value(AmqpValue(Value::String("hello".into()))))
            .build();
        let taken = incoming(&text).unwrap();
        assert_eq!(taken.body, b"hello");
        assert_eq!(taken.message_id.as_deref(), Some("m-1"));

        let sequence: Message<Body<Value>> = Message::builder()
            .body(Body::Value(AmqpValue(Value::Int(7))))
            .build();
        let refused = incoming(&sequence).err().unwrap();
        assert_eq!(refused.status, StatusCode::BAD_REQUEST);
    }
}
