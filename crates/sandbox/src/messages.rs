//! Device-to-cloud messages, whatever the protocol brought them (HTTPS, MQTT, AMQP): the checks IoT
//! Hub makes (an enabled device, a valid message ID, 256 KB, the day's quota by tier) and,
//! once taken, the hub's Event Hub-compatible endpoint (see `eventhubs::log`).

use std::collections::BTreeMap;

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use hyper::StatusCode;

use std::sync::Arc;

use crate::eventhubs::log::ReceivedMessage;
use crate::monitor::catalog::{Counter, Gauge};
use crate::refusal::{device_not_found, Refusal};
use crate::routing::{self, writer::Outbox, Routing};
use crate::state::Hub;
use crate::SandboxConfig;

/// Body plus system property values plus application property names and values.
pub(crate) const MAX_MESSAGE_BYTES: usize = 256 * 1024;
/// Messages kept per device for the tests' look at what arrived (`Sandbox::messages`).
const KEPT_MESSAGES: usize = 1000;
const MESSAGE_ID_PUNCTUATION: &str = "-:.+%_#*?!(),=@;$'";

fn valid_message_id(id: &str) -> bool {
    id.len() <= 128
        && id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || MESSAGE_ID_PUNCTUATION.contains(c))
}

/// A device-to-cloud message as any protocol delivers it.
pub(crate) struct Incoming {
    pub(crate) body: Vec<u8>,
    pub(crate) message_id: Option<String>,
    pub(crate) correlation_id: Option<String>,
    pub(crate) content_type: Option<String>,
    pub(crate) content_encoding: Option<String>,
    pub(crate) creation_time_utc: Option<String>,
    pub(crate) app_properties: BTreeMap<String, String>,
    /// The bytes of the system property values, which count toward the size limit.
    pub(crate) system_bytes: usize,
}

/// Takes a device's message: the device must be enabled, the message valid, within the size
/// limit and the day's quota. It goes where the hub's routing sends it: the Event
/// Hub-compatible endpoint, and storage endpoints through `outbox`.
pub(crate) fn accept(
    hub: &mut Hub,
    id: &str,
    incoming: Incoming,
    now: u64,
    config: &SandboxConfig,
    outbox: Option<&Outbox>,
) -> Result<(), Refusal> {
    hub.metrics.count(Counter::IngressAttempts, 1, now);
    match hub.devices.get(id) {
        Some(device) if device.status == "enabled" => {}
        _ => return Err(device_not_found(hub, id)),
    }
    if incoming
        .message_id
        .as_deref()
        .is_some_and(|m| !valid_message_id(m))
    {
        return Err(Refusal::new(StatusCode::BAD_REQUEST, "ArgumentInvalid", "The message ID is invalid: use at most 128 ASCII letters, digits and - : . + % _ # * ? ! ( ) , = @ ; $ '."));
    }
    let size = incoming.body.len()
        + incoming.system_bytes
        + incoming
            .app_properties
            .iter()
            .map(|(k, v)| k.len() + v.len())
            .sum::<usize>();
    if size > MAX_MESSAGE_BYTES {
        return Err(Refusal::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "MessageTooLarge",
            format!("Message size {size} bytes exceeds the maximum of {MAX_MESSAGE_BYTES} bytes."),
        ));
    }
    let quota = hub.daily_quota(config);
    let meter = if hub.sku == "F1" { 512 } else { 4096 };
    let counted = (size.max(1)).div_ceil(meter) as u64;
    let today = now / 86_400_000;
    if hub.quota_day != today {
        hub.quota_day = today;
        hub.messages_today = 0;
    }
    if hub.messages_today + counted > quota {
        return Err(Refusal::new(
            StatusCode::FORBIDDEN,
            "IotHubQuotaExceeded",
            format!(
                "Total number of messages on IotHub '{}' exceeded the allocated quota. Max allowed message count : '{quota}', current message count : '{}'. Read more about quotas at https://aka.ms/iothubthrottling",
                hub.name, hub.messages_today
            ),
        ));
    }
    hub.messages_today += counted;
    hub.metrics.count(Counter::IngressSuccess, 1, now);
    hub.metrics.set(Gauge::QuotaUsed, hub.messages_today, now);
    let message = ReceivedMessage {
        device_id: id.to_owned(),
        body_base64: STANDARD.encode(&incoming.body),
        content_type: incoming.content_type,
        content_encoding: incoming.content_encoding,
        message_id: incoming.message_id,
        correlation_id: incoming.correlation_id,
        creation_time_utc: incoming.creation_time_utc,
        app_properties: incoming.app_properties,
        received_at_ms: now,
    };
    let partitions = crate::eventhubs::log::partition_count(&hub.sku);
    let routing = match &hub.routing {
        Some(routing) => routing.clone(),
        // A restarted sandbox checks its saved routing again.
        None => {
            let routing = Arc::new(Routing::default_or(
                hub.other_properties.get("routing"),
                &hub.sku,
            ));
            hub.routing = Some(routing.clone());
            routing
        }
    };
    let delivery = routing.deliver(id, &message, &incoming.body);
    match (delivery.events, delivery.storage.is_empty()) {
        (false, true) => hub.metrics.count(Counter::Orphaned, 1, now),
        (events, _) => {
            hub.metrics.count(Counter::EgressSuccess, 1, now);
            if events {
                hub.metrics.count(Counter::BuiltInEvents, 1, now);
            }
        }
    }
    if let Some(outbox) = outbox.filter(|_| !delivery.storage.is_empty()) {
        let partition = crate::eventhubs::log::partition_of(id, partitions) as u32;
        let record = routing::records::Record {
            enqueued_ms: now,
            properties: message.app_properties.clone(),
            system: storage_system_properties(&delivery.system, hub, id, now),
            body: incoming.body.clone(),
            json_body: delivery.json_body.clone(),
        };
        for endpoint in &delivery.storage {
            let _ = outbox.send(routing::writer::Routed {
                hub: hub.name.clone(),
                partition,
                endpoint: (*endpoint).clone(),
                record: record.clone(),
            });
        }
    }
    if delivery.events {
        hub.events.append(
            partitions,
            hub.retention_days,
            message.clone(),
            incoming.body,
            now,
        );
    }
    let device = hub.devices.get_mut(id).expect("checked above");
    device.activity.last_activity_ms = now;
    if device.messages.len() >= KEPT_MESSAGES {
        device.messages.remove(0);
    }
    device.messages.push(message);
    Ok(())
}

/// The system properties a stored record carries, as IoT Hub names them there.
fn storage_system_properties(
    system: &BTreeMap<String, String>,
    hub: &Hub,
    device: &str,
    now: u64,
) -> BTreeMap<String, String> {
    let mut stored = system.clone();
    stored.insert(
        "connectionAuthMethod".into(),
        r#"{"scope":"device","type":"sas","issuer":"iothub","acceptingIpFilterRule":null}"#.into(),
    );
    if let Some(d) = hub.devices.get(device) {
        stored.insert(
            "connectionDeviceGenerationId".into(),
            d.generation_id.clone(),
        );
    }
    stored.insert("enqueuedTime".into(), routing::records::enqueued_time(now));
    stored
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn message_ids_follow_azure_rules() {
        assert!(valid_message_id("connectivity-test:2026-11-24T02:00:00Z"));
        assert!(!valid_message_id("has space"));
        assert!(!valid_message_id(&"a".repeat(129)));
    }
}
