//! Reads a hub's messages the way Azure's own tools do: from its built-in Event
//! Hub-compatible endpoint, over AMQP 1.0 on TLS (port 5671).
//!
//! [`Reader::open`] connects with SASL ANONYMOUS and puts a SAS token on `$cbs` (signed with
//! the policy key's text, as Event Hubs signs); [`Reader::partition_ids`] asks `$management`;
//! [`Reader::receive`] attaches a receiver to every partition of a consumer group from a
//! [`StartAt`] and streams [`Event`]s; [`watch`] adds reconnecting without duplicates.
//! Refusals become [`EventsError`]s that say what to do. Used by the live test's "landed"
//! stage, `hubsetup watch` and the Watch screen.

mod address;
mod discover;
mod error;
mod event;
mod node;
mod reader;
mod watch;

pub use address::{named_host, EventHubAddress};
pub use error::EventsError;
pub use event::{rfc3339, BodyView, Event};
pub use node::{put_token, Node};
pub use reader::{Reader, StartAt, Transport};
pub use watch::{watch, WatchUpdate};

/// The consumer group every hub has, which its other readers may use too.
pub const DEFAULT_CONSUMER_GROUP: &str = "$Default";
