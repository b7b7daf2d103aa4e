//! Watching that survives a dropped connection: [`watch`] reads every partition, reconnects
//! when the connection is lost (saying so), starts again a little before the last event it
//! saw, and drops what it had already delivered by each partition's sequence number. Refusals
//! that another try cannot fix (a wrong key, a missing consumer group, another reader taking
//! over) end the watch with their [`EventsError`].

use std::collections::HashMap;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use hubsetup_net::Network;
use tokio::sync::mpsc;

use crate::{Event, EventHubAddress, EventsError, Reader, StartAt, Transport};

/// Tries to reconnect before a lost connection ends the watch.
const MAX_RECONNECTS: u32 = 8;
/// How far before the last event seen a reconnect starts reading, for clocks that differ.
const OVERLAP: Duration = Duration::from_secs(2);

/// What a watch reports, in order.
#[derive(Debug, Clone, PartialEq)]
pub enum WatchUpdate {
    /// Connected (again): how, and with which consumer group.
    Connected {
        transport: Transport,
    },
    Event(Box<Event>),
    /// The connection was lost; the watch tries again after `delay`.
    Reconnecting {
        reason: EventsError,
        attempt: u32,
        delay: Duration,
    },
    /// The watch ended with this error; nothing more follows.
    Ended(EventsError),
}

/// Whether trying again may help.
fn is_transient(error: &EventsError) -> bool {
    match error {
        EventsError::Proxy { reason } => reason.is_transient(),
        other => other.is_network(),
    }
}

/// Watches every partition from `start` until the returned channel is dropped or the watch
/// ends (see [`WatchUpdate::Ended`]).
pub fn watch(
    network: Network,
    address: EventHubAddress,
    group: String,
    start: StartAt,
) -> mpsc::Receiver<WatchUpdate> {
    let (updates, received) = mpsc::channel(1024);
    tokio::spawn(async move {
        let mut seen = Seen::default();
        let mut attempt = 0;
        let mut from = start;
        loop {
            let reading = read(
                &network,
                &address,
                &group,
                from,
                &mut seen,
                &mut attempt,
                &updates,
            );
            let error = match reading.await {
                Ok(()) => return,
                Err(error) => error,
            };
            if !is_transient(&error) || attempt >= MAX_RECONNECTS {
                let _ = updates.send(WatchUpdate::Ended(error)).await;
                return;
            }
            attempt += 1;
            let delay = Duration::from_millis(250 * 2u64.pow(attempt.min(5)));
            let reconnecting = WatchUpdate::Reconnecting {
                reason: error,
                attempt,
                delay,
            };
            if updates.send(reconnecting).await.is_err() {
                return;
            }
            tokio::time::sleep(delay).await;
            from = seen.restart(from);
        }
    });
    received
}

/// One connection's worth of watching: `Ok` when the watcher went away. A connection that
/// opens resets the count of reconnect `attempts`.
async fn read(
    network: &Network,
    address: &EventHubAddress,
    group: &str,
    from: StartAt,
    seen: &mut Seen,
    attempts: &mut u32,
    updates: &mpsc::Sender<WatchUpdate>,
) -> Result<(), EventsError> {
    let mut reader = Reader::open(network, address, group).await?;
    let mut events = reader.receive(from).await?;
    *attempts = 0;
    let connected = WatchUpdate::Connected {
        transport: reader.transport().clone(),
    };
    if updates.send(connected).await.is_err() {
        return Ok(());
    }
    let outcome = loop {
        tokio::select! {
            next = events.recv() => match next {
                Some(Ok(event)) => {
                    if seen.is_new(&event) && updates.send(WatchUpdate::Event(Box::new(event))).await.is_err() {
                        break Ok(());
                    }
                }
                Some(Err(error)) => break Err(error),
                None => break Err(EventsError::Lost("the endpoint closed the connection".into())),
            },
            () = updates.closed() => break Ok(()),
        }
    };
    drop(events);
    reader.close().await;
    outcome
}

/// The last sequence number delivered per partition, and the latest enqueued time.
#[derive(Debug, Default)]
struct Seen {
    last: HashMap<String, i64>,
    latest_ms: i64,
}

impl Seen {
    /// Records `event`; false when it was delivered before (a reconnect's overlap).
    fn is_new(&mut self, event: &Event) -> bool {
        let last = self.last.entry(event.partition.clone()).or_insert(-1);
        if event.sequence_number <= *last {
            return false;
        }
        *last = event.sequence_number;
        self.latest_ms = self.latest_ms.max(event.enqueued_ms);
        true
    }

    fn any(&self) -> bool {
        !self.last.is_empty()
    }

    /// Where a reconnect starts: a little before the last event seen; with nothing seen yet,
    /// where the watch began (a watch from "now" keeps the time it started).
    fn restart(&self, began: StartAt) -> StartAt {
        if !self.any() {
            return match began {
                StartAt::Latest => StartAt::Time(SystemTime::now() - OVERLAP),
                other => other,
            };
        }
        let latest = UNIX_EPOCH + Duration::from_millis(self.latest_ms.max(0) as u64);
        StartAt::Time(latest - OVERLAP)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(partition: &str, sequence_number: i64, enqueued_ms: i64) -> Event {
        Event {
            partition: partition.into(),
            sequence_number,
            offset: String::new(),
            enqueued_ms,
            device_id: None,
            properties: Default::default(),
            system_properties: Default::default(),
            body: Vec::new(),
        }
    }

    #[test]
    fn an_overlap_after_a_reconnect_is_dropped_per_partition() {
        let mut seen = Seen::default();
        assert!(seen.is_new(&event("0", 0, 1_000)));
        assert!(seen.is_new(&event("0", 1, 2_000)));
        assert!(seen.is_new(&event("1", 0, 1_500)));
        // Read again after a reconnect: the same sequence numbers are not new.
        assert!(!seen.is_new(&event("0", 1, 2_000)));
        assert!(!seen.is_new(&event("1", 0, 1_500)));
        assert!(seen.is_new(&event("1", 1, 2_500)));
        assert_eq!(
            seen.restart(StartAt::Beginning),
            StartAt::Time(UNIX_EPOCH + Duration::from_millis(2_500) - OVERLAP)
        );
    }

    #[test]
    fn a_reconnect_before_any_event_keeps_where_the_watch_began() {
        let seen = Seen::default();
        assert_eq!(seen.restart(StartAt::Beginning), StartAt::Beginning);
        let StartAt::Time(from) = seen.restart(StartAt::Latest) else {
            panic!("a watch from now restarts from a time");
        };
        assert!(SystemTime::now().duration_since(from).unwrap() < Duration::from_secs(10));
    }

    #[test]
    fn only_connection_troubles_are_tried_again() {
        assert!(is_transient(&EventsError::Lost("reset".into())));
        assert!(!is_transient(&EventsError::WrongKey));
        assert!(!is_transient(&EventsError::TakenOver {
            group: "$Default".into(),
            partition: "0".into()
        }));
    }
}
