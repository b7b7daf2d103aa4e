//! The "landed" stage: the test message read back from the hub's Event Hub-compatible
//! endpoint, as Azure's own tools read messages, matched by its message ID and the device-id
//! annotation the hub adds, on every partition from just before the send.

use std::collections::HashMap;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use hubsetup_events::{Event, EventHubAddress, Reader, StartAt};
use hubsetup_net::Network;

use crate::failure::Failure;
use crate::{Sent, Stage, StageResult, StageStatus};

/// What the read-back found (by message ID), and how long it took.
pub(crate) type Landed = (Result<HashMap<String, Event>, Failure>, f64);

/// Reading starts this long before the send, as this computer's clock and the hub's differ.
const CLOCK_ALLOWANCE: Duration = Duration::from_secs(60);

/// Access to read the test message back.
#[derive(Debug, Clone)]
pub struct ReadBack {
    pub address: EventHubAddress,
    /// Read with a consumer group of its own, so the customer's readers are not disturbed.
    pub consumer_group: String,
}

/// Waits up to `timeout` for the messages with `message_ids` from `device_id`; those found,
/// by ID. Only a reader that cannot read is an error: a message not found is missing from the
/// answer.
pub(crate) async fn confirm(
    network: &Network,
    read_back: &ReadBack,
    device_id: &str,
    message_ids: &[&str],
    send_began: SystemTime,
    timeout: Duration,
) -> Result<HashMap<String, Event>, Failure> {
    let mut reader = Reader::open(network, &read_back.address, &read_back.consumer_group)
        .await
        .map_err(Failure::CannotReadBack)?;
    let start = StartAt::Time(send_began - CLOCK_ALLOWANCE);
    let mut events = reader
        .receive(start)
        .await
        .map_err(Failure::CannotReadBack)?;
    let mut found = HashMap::new();
    let reading = async {
        while found.len() < message_ids.len() {
            let Some(event) = events.recv().await else {
                break;
            };
            let event = event.map_err(Failure::CannotReadBack)?;
            let id = event.system_properties.get("message-id").cloned();
            let ours = event.device_id.as_deref() == Some(device_id)
                && id.as_deref().is_some_and(|id| message_ids.contains(&id));
            if let (true, Some(id)) = (ours, id) {
                found.insert(id, event);
            }
        }
        Ok::<(), Failure>(())
    };
    let outcome = tokio::time::timeout(timeout, reading).await;
    drop(events);
    reader.close().await;
    match outcome {
        Ok(Err(failure)) => Err(failure),
        _ => Ok(found),
    }
}

/// The time from the start of the send to the hub's enqueue time, for people; the two clocks
/// differ, so a negative figure is named as such.
pub(crate) fn latency_text(event: &Event, send_began: SystemTime) -> String {
    let began = send_began
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64);
    let millis = event.enqueued_ms - began;
    if millis >= 0 {
        format!("{millis} ms")
    } else {
        format!(
            "{} ms before it by this computer's clock (the clocks differ)",
            -millis
        )
    }
}

/// The "landed" stage for one protocol's message, and the failure it means, if any.
pub(crate) fn stage(
    sent: &Sent,
    landed: Option<&Landed>,
    waited_secs: u64,
) -> (StageResult, Option<Failure>) {
    match landed {
        None => (
            StageResult::new(
                Stage::Landed,
                StageStatus::NotChecked,
                0.0,
                "accepted by the hub; sign in or paste a service connection string to see it arrive".into(),
            ),
            None,
        ),
        Some((Err(failure), millis)) => (
            StageResult::failed(Stage::Landed, *millis, failure.to_string()),
            Some(failure.clone()),
        ),
        Some((Ok(found), millis)) => match found.get(&sent.message.id) {
            Some(event) => (
                StageResult::passed(
                    Stage::Landed,
                    *millis,
                    format!(
                        "read back from partition {} of the Event Hub-compatible endpoint; enqueued {} after the send began",
                        event.partition,
                        latency_text(event, sent.began)
                    ),
                ),
                None,
            ),
            None => (
                StageResult::failed(
                    Stage::Landed,
                    *millis,
                    format!("not on the Event Hub-compatible endpoint within {waited_secs} s"),
                ),
                Some(Failure::NotLanded {
                    seconds: waited_secs,
                }),
            ),
        },
    }
}
