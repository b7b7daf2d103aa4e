//! Partition receivers: `{entity}/ConsumerGroups/{group}/Partitions/{n}`, from the position a
//! selector filter names (`amqp.annotation.x-opt-offset > '-1'`, `…-sequence-number >= '5'`,
//! `…-enqueued-time > '1700000000000'`, `@latest`), then live. Event Hubs' reader rules hold:
//! at most five receivers per partition and consumer group, and a receiver with a higher
//! epoch (`com.microsoft:epoch`) takes the partition from those with a lower one or none.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use fe2o3_amqp::link::delivery::Sendable;
use fe2o3_amqp::types::definitions::{AmqpError, ErrorCondition, LinkError};
use fe2o3_amqp::types::messaging::annotations::OwnedKey;
use fe2o3_amqp::types::messaging::{
    ApplicationProperties, Data, Message, MessageAnnotations, MessageId, Properties,
};
use fe2o3_amqp::types::performatives::Attach;
use fe2o3_amqp::types::primitives::{Binary, SimpleValue, Symbol, Timestamp, Value};
use fe2o3_amqp::Sender;
use tokio::sync::watch;

use super::log::{partition_count, Event, Position};
use super::{error, Peer};
use fe2o3_amqp::types::definitions::Error as Refused;

/// Event Hubs' limit of concurrent receivers per partition and consumer group.
const MAX_READERS: usize = 5;
/// Events sent per read of the log; the client's credit limits what is in flight.
const BATCH: usize = 256;

/// Whether an address names a partition of a consumer group (with or without the
/// `amqps://host/` prefix Azure's SDKs put before it).
pub(crate) fn is_partition_address(address: &str) -> bool {
    path_of(address)
        .split('/')
        .nth(1)
        .is_some_and(|s| s.eq_ignore_ascii_case("consumergroups"))
}

fn path_of(address: &str) -> &str {
    match address.split_once("://") {
        Some((_, rest)) => rest.split_once('/').map_or("", |(_, path)| path),
        None => address,
    }
}

/// A receiver's request, read from its attach.
#[derive(Debug, Clone)]
pub(crate) struct ReaderRequest {
    pub(crate) name: String,
    entity: String,
    group: String,
    partition: String,
    position: Result<Position, String>,
    epoch: Option<i64>,
}

impl ReaderRequest {
    pub(crate) fn from_attach(attach: &Attach, address: &str) -> ReaderRequest {
        let mut parts = path_of(address).split('/');
        let entity = parts.next().unwrap_or_default().to_owned();
        let group = parts.nth(1).unwrap_or_default().to_owned();
        let partition = parts.nth(1).unwrap_or_default().to_owned();
        let selector = attach
            .source
            .as_ref()
            .and_then(|s| s.filter.as_ref())
            .and_then(|filters| {
                filters.iter().find_map(|(key, value)| {
                    (key.as_str() == "apache.org:selector-filter:string")
                        .then(|| described_text(value))
                })
            })
            .flatten();
        let position = match selector {
            Some(selector) => parse_selector(&selector),
            None => Ok(Position::Latest),
        };
        let epoch = attach.properties.as_ref().and_then(|p| {
            p.iter().find_map(|(k, v)| match (k.as_str(), v) {
                ("com.microsoft:epoch", Value::Long(e)) => Some(*e),
                ("com.microsoft:epoch", Value::Int(e)) => Some(i64::from(*e)),
                _ => None,
            })
        });
        ReaderRequest {
            name: attach.name.clone(),
            entity,
            group,
            partition,
            position,
            epoch,
        }
    }
}

fn described_text(value: &Value) -> Option<String> {
    match value {
        Value::Described(described) => match &described.value {
            Value::String(s) => Some(s.clone()),
            _ => None,
        },
        Value::String(s) => Some(s.clone()),
        _ => None,
    }
}

/// Reads a selector as Azure's SDKs write it.
fn parse_selector(selector: &str) -> Result<Position, String> {
    let invalid = || {
        format!("The selector filter '{selector}' is not valid: use amqp.annotation.x-opt-offset, x-opt-sequence-number or x-opt-enqueued-time with > or >= and a value.")
    };
    let rest = selector
        .trim()
        .strip_prefix("amqp.annotation.")
        .ok_or_else(invalid)?;
    let (field, rest) = rest.split_once(char::is_whitespace).ok_or_else(invalid)?;
    let rest = rest.trim_start();
    let (inclusive, value) = if let Some(v) = rest.strip_prefix(">=") {
        (true, v)
    } else if let Some(v) = rest.strip_prefix('>') {
        (false, v)
    } else {
        return Err(invalid());
    };
    let value = value.trim().trim_matches('\'');
    if value == "@latest" {
        return Ok(Position::Latest);
    }
    let number = value.parse::<i64>().map_err(|_| invalid())?;
    match field {
        "x-opt-offset" => Ok(Position::Offset {
            offset: number,
            inclusive,
        }),
        "x-opt-sequence-number" => Ok(Position::SequenceNumber { number, inclusive }),
        "x-opt-enqueued-time" => Ok(Position::EnqueuedAfter(
            u64::try_from(number)
                .unwrap_or(0)
                .saturating_sub(u64::from(inclusive)),
        )),
        _ => Err(invalid()),
    }
}

struct Reader {
    id: u64,
    name: String,
    epoch: Option<i64>,
    stop: watch::Sender<Option<Refused>>,
}

/// The receivers open on every partition, for the five-readers and epoch rules.
#[derive(Default)]
pub(crate) struct Readers {
    open: Mutex<HashMap<(String, String, usize), Vec<Reader>>>,
    next_id: AtomicU64,
}

impl std::fmt::Debug for Readers {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Readers")
    }
}

/// A receiver's place among the partition's readers; leaving it frees the place.
struct Registration<'r> {
    readers: &'r Readers,
    key: (String, String, usize),
    id: u64,
    stop: watch::Receiver<Option<Refused>>,
}

impl Drop for Registration<'_> {
    fn drop(&mut self) {
        let mut open = self.readers.open.lock().expect("readers");
        if let Some(list) = open.get_mut(&self.key) {
            list.retain(|r| r.id != self.id);
        }
    }
}

impl Readers {
    /// The receivers attached to a partition of a hub's consumer group (lower case), as
    /// `(name, epoch)`: what a test waits for before it races another reader against them.
    pub(crate) fn attached(
        &self,
        hub: &str,
        group: &str,
        partition: usize,
    ) -> Vec<(String, Option<i64>)> {
        let key = (
            hub.to_ascii_lowercase(),
            group.to_ascii_lowercase(),
            partition,
        );
        self.open
            .lock()
            .expect("readers")
            .get(&key)
            .map(|list| list.iter().map(|r| (r.name.clone(), r.epoch)).collect())
            .unwrap_or_default()
    }

    fn join(
        &self,
        key: (String, String, usize),
        name: &str,
        epoch: Option<i64>,
    ) -> Result<Registration<'_>, Refused> {
        let mut open = self.open.lock().expect("readers");
        let list = open.entry(key.clone()).or_default();
        let highest = list.iter().filter_map(|r| r.epoch).max();
        match (epoch, highest) {
            (Some(mine), Some(theirs)) if mine < theirs => {
                return Err(stolen(format!("Receiver '{name}' with epoch '{mine}' cannot be created because a receiver with a higher epoch '{theirs}' already exists on this partition.")));
            }
            (None, Some(theirs)) => {
                return Err(stolen(format!("Receiver '{name}' without an epoch cannot be created because a receiver with epoch '{theirs}' already exists on this partition.")));
            }
            (Some(mine), _) => {
                for other in list.iter().filter(|r| r.epoch.is_none_or(|e| e < mine)) {
                    let theirs = other.epoch.map_or("none".to_owned(), |e| e.to_string());
                    let _ = other.stop.send(Some(stolen(format!("New receiver '{name}' with higher epoch of '{mine}' is created hence current receiver '{}' with epoch '{theirs}' is getting disconnected. If you are recreating the receiver, make sure a higher epoch is used.", other.name))));
                }
                list.retain(|r| r.epoch.is_some_and(|e| e >= mine));
            }
            (None, None) => {}
        }
        if list.len() >= MAX_READERS {
            let names = list
                .iter()
                .map(|r| r.name.as_str())
                .collect::<Vec<_>>()
                .join(", ");
            return Err(error(
                ErrorCondition::AmqpError(AmqpError::ResourceLimitExceeded),
                &format!("Exceeded the maximum number of allowed receivers per partition in a consumer group which is {MAX_READERS}. List of connected receivers - {names}."),
            ));
        }
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let (stop, stopped) = watch::channel(None);
        list.push(Reader {
            id,
            name: name.to_owned(),
            epoch,
            stop,
        });
        Ok(Registration {
            readers: self,
            key,
            id,
            stop: stopped,
        })
    }
}

fn stolen(description: String) -> Refused {
    error(ErrorCondition::LinkError(LinkError::Stolen), &description)
}

/// A receiver's partition and start, or why it is refused.
pub(crate) type Admission = Result<(usize, Position), Refused>;

/// Checks a receiver's request against the hub: entity, claims, consumer group, partition;
/// and fixes its start, so that `@latest` means the end of the partition when it attached.
pub(crate) fn admit(request: &ReaderRequest, peer: &Peer) -> Admission {
    let resource = format!(
        "{}/consumergroups/{}/partitions/{}",
        request.entity, request.group, request.partition
    );
    let not_found = |what: &str| {
        error(
            ErrorCondition::AmqpError(AmqpError::NotFound),
            &super::entity_not_found(&peer.host, what),
        )
    };
    if !request.entity.eq_ignore_ascii_case(peer.entity()) {
        return Err(not_found(&request.entity));
    }
    peer.may_listen(&resource).map_err(|refusal| {
        error(
            ErrorCondition::AmqpError(AmqpError::UnauthorizedAccess),
            &super::management::refusal_text(refusal, peer, &resource),
        )
    })?;
    let state = peer.endpoints.state.lock().expect("state lock");
    let hub = state
        .hubs
        .get(&peer.hub)
        .ok_or_else(|| not_found(&request.entity))?;
    if !hub
        .consumer_groups
        .iter()
        .any(|g| g.eq_ignore_ascii_case(&request.group))
    {
        return Err(not_found(&format!(
            "{}/consumergroups/{}",
            request.entity, request.group
        )));
    }
    let partitions = partition_count(&hub.sku);
    let partition = request
        .partition
        .parse::<usize>()
        .ok()
        .filter(|p| *p < partitions)
        .ok_or_else(|| {
            error(
                ErrorCondition::Custom(Symbol::from("com.microsoft:argument-out-of-range")),
                &super::partition_out_of_range(partitions),
            )
        })?;
    let position = request.position.clone().map_err(|reason| {
        error(
            ErrorCondition::Custom(Symbol::from("com.microsoft:argument-error")),
            &reason,
        )
    })?;
    let position = match position {
        Position::Latest => hub.events.end_of(partition),
        other => other,
    };
    Ok((partition, position))
}

/// Serves one receiver until it detaches, the partition is taken over, or its token expires.
pub(crate) async fn serve(
    mut sender: Sender,
    request: ReaderRequest,
    admission: Admission,
    peer: Arc<Peer>,
) {
    let (partition, mut position) = match admission {
        Ok(admitted) => admitted,
        Err(refused) => {
            let _ = sender.close_with_error(refused).await;
            return;
        }
    };
    let key = (
        peer.hub.clone(),
        request.group.to_ascii_lowercase(),
        partition,
    );
    let mut registration = match peer
        .endpoints
        .readers
        .join(key, &request.name, request.epoch)
    {
        Ok(registration) => registration,
        Err(refused) => {
            let _ = sender.close_with_error(refused).await;
            return;
        }
    };
    loop {
        let (events, next, arrivals) = {
            let state = peer.endpoints.state.lock().expect("state lock");
            let Some(hub) = state.hubs.get(&peer.hub) else {
                break;
            };
            let (events, next) = hub.events.read(partition, position, BATCH);
            (events, next, hub.events.arrivals())
        };
        let arrived = arrivals.notified();
        tokio::pin!(arrived);
        arrived.as_mut().enable();
        if events.is_empty() {
            // Re-read once armed, so an event stored in between is not missed.
            let again = {
                let state = peer.endpoints.state.lock().expect("state lock");
                state
                    .hubs
                    .get(&peer.hub)
                    .is_some_and(|h| !h.events.read(partition, position, 1).0.is_empty())
            };
            if again {
                continue;
            }
            tokio::select! {
                _ = &mut arrived => continue,
                _ = registration.stop.changed() => break,
                _ = sender.on_detach() => return,
            }
        }
        position = next;
        for event in events {
            let sendable = Sendable::builder()
                .message(event_message(&event))
                .settled(true)
                .build();
            if sender.send(sendable).await.is_err() {
                return;
            }
        }
    }
    let refused = registration.stop.borrow().clone();
    drop(registration);
    match refused {
        Some(refused) => drop(sender.close_with_error(refused).await),
        None => drop(sender.close().await),
    }
}

/// An event as Event Hubs delivers a message IoT Hub received: its body as one data
/// section, the hub's system properties as message annotations, the device's properties.
fn event_message(event: &Event) -> Message<Data> {
    let message = &event.message;
    let enqueued = Value::Timestamp(Timestamp::from_milliseconds(event.enqueued_ms as i64));
    let mut annotations = MessageAnnotations::default();
    let mut annotate = |key: &str, value: Value| {
        annotations
            .0
            .insert(OwnedKey::Symbol(Symbol::from(key)), value);
    };
    annotate(
        "iothub-connection-device-id",
        Value::String(message.device_id.clone()),
    );
    annotate(
        "iothub-connection-auth-method",
        Value::String(
            r#"{"scope":"device","type":"sas","issuer":"iothub","acceptingIpFilterRule":null}"#
                .to_owned(),
        ),
    );
    annotate("iothub-enqueuedtime", enqueued.clone());
    annotate(
        "iothub-message-source",
        Value::String("Telemetry".to_owned()),
    );
    annotate("x-opt-sequence-number", Value::Long(event.sequence_number));
    annotate("x-opt-offset", Value::String(event.offset.to_string()));
    annotate("x-opt-enqueued-time", enqueued);
    let properties = Properties {
        message_id: message.message_id.clone().map(MessageId::String),
        correlation_id: message.correlation_id.clone().map(MessageId::String),
        content_type: message.content_type.clone().map(Symbol::from),
        content_encoding: message.content_encoding.clone().map(Symbol::from),
        ..Default::default()
    };
    let mut application = ApplicationProperties::default();
    for (key, value) in &message.app_properties {
        application
            .0
            .insert(key.clone(), SimpleValue::String(value.clone()));
    }
    if let Some(created) = &message.creation_time_utc {
        application.0.insert(
            "iothub-creation-time-utc".to_owned(),
            SimpleValue::String(created.clone()),
        );
    }
    Message::builder()
        .message_annotations(annotations)
        .properties(properties)
        .application_properties(application)
        .data(Binary::from(event.body.clone()))
        .build()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_attached_readers_are_listed_until_they_leave_or_are_taken_over() {
        let readers = Readers::default();
        let key = || ("contoso".to_owned(), "$default".to_owned(), 1);
        let first = readers.join(key(), "first", Some(1)).unwrap();
        let plain = readers.join(key(), "plain", Some(1)).unwrap();
        assert_eq!(
            readers.attached("Contoso", "$Default", 1),
            [("first".to_owned(), Some(1)), ("plain".to_owned(), Some(1))]
        );
        assert!(readers.attached("contoso", "$default", 2).is_empty());
        drop(plain);
        let _taker = readers.join(key(), "taker", Some(2)).unwrap();
        assert_eq!(
            readers.attached("contoso", "$default", 1),
            [("taker".to_owned(), Some(2))]
        );
        assert!(
            first.stop.borrow().is_some(),
            "the first reader was told to stop"
        );
    }

    #[test]
    fn selectors_as_the_sdks_write_them() {
        assert_eq!(
            parse_selector("amqp.annotation.x-opt-offset > '-1'"),
            Ok(Position::Offset {
                offset: -1,
                inclusive: false
            })
        );
        assert_eq!(
            parse_selector("amqp.annotation.x-opt-sequence-number >= '42'"),
            Ok(Position::SequenceNumber {
                number: 42,
                inclusive: true
            })
        );
        assert_eq!(
            parse_selector("amqp.annotation.x-opt-enqueued-time > '1700000000000'"),
            Ok(Position::EnqueuedAfter(1_700_000_000_000))
        );
        assert_eq!(
            parse_selector("amqp.annotation.x-opt-offset > @latest"),
            Ok(Position::Latest)
        );
        assert!(parse_selector("x-opt-offset = 3")
            .unwrap_err()
            .contains("is not valid"));
    }

    #[test]
    fn partition_addresses_with_or_without_the_host() {
        assert!(is_partition_address(
            "amqps://ns.example/hub/ConsumerGroups/$Default/Partitions/0"
        ));
        assert!(is_partition_address(
            "hub/consumergroups/watch/partitions/3"
        ));
        assert!(!is_partition_address("$cbs"));
        assert_eq!(path_of("amqps://ns.example/hub/x"), "hub/x");
    }
}
