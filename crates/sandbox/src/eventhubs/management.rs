//! The `$management` node: READ of the event hub (`com.microsoft:eventhub`: name, created
//! time, partition count and IDs) and of one partition (`com.microsoft:partition`: first and
//! last sequence numbers, last offset and enqueued time, whether it is empty), as Event Hubs
//! answers Azure's SDKs. Reading needs the `Listen` claim, from `$cbs` or the request's own
//! `security_token`.

use fe2o3_amqp::types::primitives::{Array, OrderedMap, Timestamp, Value};

use super::cbs::Refusal;
use super::log::partition_count;
use super::Peer;
use crate::amqp::{Reply, Request};

pub(crate) fn read(request: &Request<'_>, peer: &Peer) -> Reply {
    if request.text("operation").as_deref() != Some("READ") {
        return Reply::status(
            400,
            "The $management node supports the READ operation only.",
        );
    }
    let entity = peer.entity();
    let name = request.text("name").unwrap_or_default();
    if !name.eq_ignore_ascii_case(entity) {
        return Reply::status(404, &super::entity_not_found(&peer.host, &name));
    }
    if let Some(token) = request.text("security_token") {
        if let Err(reply) = super::cbs::put_token_text(&token, peer) {
            return reply;
        }
    }
    if let Err(refusal) = peer.may_listen(entity) {
        return Reply::status(401, &refusal_text(refusal, peer, entity));
    }
    let state = peer.endpoints.state.lock().expect("state lock");
    let Some(hub) = state.hubs.get(&peer.hub) else {
        return Reply::status(404, "The IoT hub of this endpoint no longer exists.");
    };
    let partitions = partition_count(&hub.sku);
    let mut body = OrderedMap::new();
    let mut put = |key: &str, value: Value| {
        body.insert(Value::String(key.to_owned()), value);
    };
    match request.text("type").as_deref() {
        Some("com.microsoft:eventhub") => {
            put("name", Value::String(entity.to_owned()));
            put("type", Value::String("com.microsoft:eventhub".to_owned()));
            put("created_at", timestamp(hub.events.created_ms()));
            put("partition_count", Value::Int(partitions as i32));
            put(
                "partition_ids",
                Value::Array(Array::from(
                    (0..partitions)
                        .map(|p| Value::String(p.to_string()))
                        .collect::<Vec<_>>(),
                )),
            );
        }
        Some("com.microsoft:partition") => {
            let id = request.text("partition").unwrap_or_default();
            let Some(number) = id.parse::<usize>().ok().filter(|p| *p < partitions) else {
                return Reply::status(400, &super::partition_out_of_range(partitions));
            };
            let summary = hub.events.summary(number);
            put("name", Value::String(entity.to_owned()));
            put("type", Value::String("com.microsoft:partition".to_owned()));
            put("partition", Value::String(id));
            put("begin_sequence_number", Value::Long(summary.begin_sequence_number));
            put(
                "last_enqueued_sequence_number",
                Value::Long(summary.last_sequence_number),
            );
            put(
                "last_enqueued_offset",
                Value::String(summary.last_offset.to_string()),
            );
            put("last_enqueued_time_utc", timestamp(summary.last_enqueued_ms));
            put("is_partition_empty", Value::Bool(summary.empty));
        }
        other => {
            return Reply::status(
                400,
                &format!(
                    "The management node cannot READ '{}': use com.microsoft:eventhub or com.microsoft:partition.",
                    other.unwrap_or_default()
                ),
            )
        }
    }
    Reply::ok(Value::Map(body))
}

fn timestamp(ms: u64) -> Value {
    Value::Timestamp(Timestamp::from_milliseconds(ms as i64))
}

pub(crate) fn refusal_text(refusal: Refusal, peer: &Peer, resource: &str) -> String {
    refusal.describe(&format!("sb://{}/{resource}", peer.host))
}
