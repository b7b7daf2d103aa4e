//! The "landed" stage: the test message read back from the hub's Event Hub-compatible
//! endpoint, as Azure's own tools read messages, matched by its message ID and the device-id
//! annotation the hub adds, on every partition from just before the send.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use hubsetup_events::{Event, EventHubAddress, Reader, StartAt};
use hubsetup_net::Network;

use crate::failure::Failure;

/// Reading starts this long before the send, as this computer's clock and the hub's differ.
const CLOCK_ALLOWANCE: Duration = Duration::from_secs(60);

/// Access to read the test message back.
#[derive(Debug, Clone)]
pub struct ReadBack {
    pub address: EventHubAddress,
    /// Read with a consumer group of its own, so the customer's readers are not disturbed.
    pub consumer_group: String,
}

/// Waits up to `timeout` for the message with `message_id` from `device_id`.
pub(crate) async fn confirm(
    network: &Network,
    read_back: &ReadBack,
    device_id: &str,
    message_id: &str,
    send_began: SystemTime,
    timeout: Duration,
) -> Result<Event, Failure> {
    let mut reader = Reader::open(network, &read_back.address, &read_back.consumer_group)
        .await
        .map_err(Failure::CannotReadBack)?;
    let start = StartAt::Time(send_began - CLOCK_ALLOWANCE);
    let mut events = reader
        .receive(start)
        .await
        .map_err(Failure::CannotReadBack)?;
    let found = tokio::time::timeout(timeout, async {
        while let Some(event) = events.recv().await {
            let event = event.map_err(Failure::CannotReadBack)?;
            let ours = event.device_id.as_deref() == Some(device_id)
                && event
                    .system_properties
                    .get("message-id")
                    .map(String::as_str)
                    == Some(message_id);
            if ours {
                return Ok(event);
            }
        }
        Err(Failure::NotLanded {
            seconds: timeout.as_secs(),
        })
    })
    .await
    .unwrap_or(Err(Failure::NotLanded {
        seconds: timeout.as_secs(),
    }));
    drop(events);
    reader.close().await;
    found
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
