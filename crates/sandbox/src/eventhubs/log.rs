//! What a hub's Event Hub-compatible endpoint holds: every device-to-cloud message the hub
//! accepted, in the partition its device ID hashes to, numbered as Event Hubs numbers events
//! (sequence number and byte offset per partition, enqueued time), kept for the hub's
//! retention time. In memory only: a restarted sandbox starts with empty partitions, as a hub
//! whose retention has passed does.

use std::collections::{BTreeMap, VecDeque};
use std::sync::Arc;

use sha2::{Digest, Sha256};
use tokio::sync::Notify;

use serde::{Deserialize, Serialize};

/// A day: Azure keeps events for `retentionTimeInDays` (1 by default on IoT Hub's endpoint,
/// 7 at most).
pub(crate) const RETENTION_MS: u64 = 24 * 60 * 60 * 1000;
/// Beyond this many events a partition drops its oldest, to bound the sandbox's memory.
const MAX_EVENTS_PER_PARTITION: usize = 200_000;

/// How many partitions a hub's endpoint has: 2 on the free tier, 4 otherwise (Azure's
/// defaults when the hub is created without a partition count).
pub(crate) fn partition_count(sku: &str) -> usize {
    if sku == "F1" {
        2
    } else {
        4
    }
}

/// A device-to-cloud message as the hub received it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReceivedMessage {
    pub device_id: String,
    /// The body, base64-encoded.
    pub body_base64: String,
    pub content_type: Option<String>,
    pub content_encoding: Option<String>,
    pub message_id: Option<String>,
    pub correlation_id: Option<String>,
    pub creation_time_utc: Option<String>,
    /// `iothub-app-*` properties with the prefix removed.
    pub app_properties: BTreeMap<String, String>,
    pub received_at_ms: u64,
}

/// One event as a partition stores it.
#[derive(Debug)]
pub(crate) struct Event {
    pub(crate) sequence_number: i64,
    pub(crate) offset: i64,
    pub(crate) enqueued_ms: u64,
    pub(crate) message: ReceivedMessage,
    pub(crate) body: Vec<u8>,
}

#[derive(Debug, Default, Clone)]
pub(crate) struct Partition {
    events: VecDeque<Arc<Event>>,
    next_sequence_number: i64,
    next_offset: i64,
}

/// Where a reader starts, as a receiver's filter gives it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Position {
    /// After (or at, when inclusive) this offset; `-1` means the start of the partition.
    Offset {
        offset: i64,
        inclusive: bool,
    },
    SequenceNumber {
        number: i64,
        inclusive: bool,
    },
    /// Events enqueued after this time (milliseconds since the epoch).
    EnqueuedAfter(u64),
    /// Only events that arrive from now on.
    Latest,
}

/// The partitions of one hub's endpoint and the signal readers wait on.
#[derive(Debug, Clone)]
pub struct EventLog {
    partitions: Vec<Partition>,
    arrived: Arc<Notify>,
    created_ms: u64,
}

impl Default for EventLog {
    fn default() -> EventLog {
        EventLog {
            partitions: Vec::new(),
            arrived: Arc::default(),
            created_ms: std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_millis() as u64),
        }
    }
}

impl EventLog {
    /// When the endpoint was made (in the sandbox: when the hub was created or loaded).
    pub(crate) fn created_ms(&self) -> u64 {
        self.created_ms
    }

    /// Stores a message in its device's partition, drops what is older than `retention_days`,
    /// and wakes the readers.
    pub(crate) fn append(
        &mut self,
        partitions: usize,
        retention_days: u32,
        message: ReceivedMessage,
        body: Vec<u8>,
        now_ms: u64,
    ) {
        let retention_ms = RETENTION_MS * u64::from(retention_days.max(1));
        if self.partitions.len() != partitions {
            self.partitions.resize_with(partitions, Partition::default);
        }
        let partition = &mut self.partitions[partition_of(&message.device_id, partitions)];
        while partition.events.front().is_some_and(|e| {
            e.enqueued_ms + retention_ms < now_ms
                || partition.events.len() >= MAX_EVENTS_PER_PARTITION
        }) {
            partition.events.pop_front();
        }
        let size = body.len() as i64;
        partition.events.push_back(Arc::new(Event {
            sequence_number: partition.next_sequence_number,
            offset: partition.next_offset,
            enqueued_ms: now_ms,
            message,
            body,
        }));
        partition.next_sequence_number += 1;
        partition.next_offset += size.max(1);
        self.arrived.notify_waiters();
    }

    /// What readers wait on for new events.
    pub(crate) fn arrivals(&self) -> Arc<Notify> {
        self.arrived.clone()
    }

    fn partition(&self, id: usize) -> Option<&Partition> {
        self.partitions.get(id)
    }

    /// Up to `max` events of partition `id` after `position`, and the position after them.
    pub(crate) fn read(
        &self,
        id: usize,
        position: Position,
        max: usize,
    ) -> (Vec<Arc<Event>>, Position) {
        let Some(partition) = self.partition(id) else {
            return (Vec::new(), position);
        };
        let start = match position {
            Position::Latest => return (Vec::new(), position),
            Position::Offset { offset, inclusive } => partition
                .events
                .partition_point(|e| e.offset < offset || (!inclusive && e.offset == offset)),
            Position::SequenceNumber { number, inclusive } => {
                partition.events.partition_point(|e| {
                    e.sequence_number < number || (!inclusive && e.sequence_number == number)
                })
            }
            Position::EnqueuedAfter(ms) => {
                partition.events.partition_point(|e| e.enqueued_ms <= ms)
            }
        };
        let events: Vec<Arc<Event>> = partition.events.range(start..).take(max).cloned().collect();
        let next = match events.last() {
            Some(last) => Position::SequenceNumber {
                number: last.sequence_number,
                inclusive: false,
            },
            None => position,
        };
        (events, next)
    }

    /// The position of the partition's end: where `@latest` readers start.
    pub(crate) fn end_of(&self, id: usize) -> Position {
        Position::SequenceNumber {
            number: self.partition(id).map_or(0, |p| p.next_sequence_number),
            inclusive: true,
        }
    }

    /// The numbers the management node reports for partition `id`: first and last sequence
    /// numbers, last offset and enqueued time (`None` when the partition is empty).
    pub(crate) fn summary(&self, id: usize) -> PartitionSummary {
        let partition = self.partition(id);
        let first = partition.and_then(|p| p.events.front());
        let last = partition.and_then(|p| p.events.back());
        PartitionSummary {
            begin_sequence_number: first.map_or(0, |e| e.sequence_number),
            last_sequence_number: last.map_or(-1, |e| e.sequence_number),
            last_offset: last.map_or(-1, |e| e.offset),
            last_enqueued_ms: last.map_or(0, |e| e.enqueued_ms),
            empty: last.is_none(),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct PartitionSummary {
    pub(crate) begin_sequence_number: i64,
    pub(crate) last_sequence_number: i64,
    pub(crate) last_offset: i64,
    pub(crate) last_enqueued_ms: u64,
    pub(crate) empty: bool,
}

/// The partition a device's messages go to: a hash of its ID, so that each device's messages
/// stay in order in one partition, as IoT Hub keeps them.
pub(crate) fn partition_of(device_id: &str, partitions: usize) -> usize {
    let digest = Sha256::digest(device_id.as_bytes());
    let number = u32::from_be_bytes([digest[0], digest[1], digest[2], digest[3]]);
    number as usize % partitions.max(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn message(device: &str) -> ReceivedMessage {
        ReceivedMessage {
            device_id: device.to_owned(),
            body_base64: String::new(),
            content_type: None,
            content_encoding: None,
            message_id: None,
            correlation_id: None,
            creation_time_utc: None,
            app_properties: Default::default(),
            received_at_ms: 0,
        }
    }

    #[test]
    fn a_device_keeps_to_one_partition_and_numbers_count_up() {
        let mut log = EventLog::default();
        for at in 1..=3 {
            log.append(4, 1, message("dev-a"), b"12345".to_vec(), at * 1000);
        }
        let id = partition_of("dev-a", 4);
        let start = Position::Offset {
            offset: -1,
            inclusive: false,
        };
        let (events, _) = log.read(id, start, 10);
        let numbers: Vec<(i64, i64)> = events
            .iter()
            .map(|e| (e.sequence_number, e.offset))
            .collect();
        assert_eq!(numbers, [(0, 0), (1, 5), (2, 10)]);
        for other in (0..4).filter(|p| *p != id) {
            assert!(log.read(other, start, 10).0.is_empty());
        }
    }

    #[test]
    fn positions_select_from_where_they_say() {
        let mut log = EventLog::default();
        for at in 1..=4 {
            log.append(2, 1, message("dev-b"), b"x".to_vec(), at * 1000);
        }
        let id = partition_of("dev-b", 2);
        let sequence = |position| -> Vec<i64> {
            log.read(id, position, 10)
                .0
                .iter()
                .map(|e| e.sequence_number)
                .collect()
        };
        assert_eq!(
            sequence(Position::Offset {
                offset: 1,
                inclusive: true
            }),
            [1, 2, 3]
        );
        assert_eq!(
            sequence(Position::Offset {
                offset: 1,
                inclusive: false
            }),
            [2, 3]
        );
        assert_eq!(
            sequence(Position::SequenceNumber {
                number: 2,
                inclusive: true
            }),
            [2, 3]
        );
        assert_eq!(sequence(Position::EnqueuedAfter(2000)), [2, 3]);
        assert_eq!(sequence(Position::Latest), Vec::<i64>::new());
        assert_eq!(sequence(log.end_of(id)), Vec::<i64>::new());
        let (first_two, next) = log.read(
            id,
            Position::Offset {
                offset: -1,
                inclusive: false,
            },
            2,
        );
        assert_eq!(first_two.len(), 2);
        assert_eq!(
            log.read(id, next, 10)
                .0
                .iter()
                .map(|e| e.sequence_number)
                .collect::<Vec<_>>(),
            [2, 3]
        );
    }

    #[test]
    fn events_older_than_the_retention_are_dropped() {
        let mut log = EventLog::default();
        log.append(1, 1, message("old"), b"x".to_vec(), 1000);
        log.append(1, 1, message("new"), b"x".to_vec(), 1000 + RETENTION_MS + 1);
        let summary = log.summary(0);
        assert_eq!(
            (summary.begin_sequence_number, summary.last_sequence_number),
            (1, 1)
        );
        assert!(!summary.empty);
        assert!(EventLog::default().summary(0).empty);
    }
}
