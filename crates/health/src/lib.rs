//! Know when it stops: the health of a hub an admin set up, read from what Azure already
//! measures (the registry's activity of each device, Azure Monitor's platform metrics, the
//! quota and the routing endpoints' health), with verdicts on top in plain words ("No
//! messages from … for 3 h") and a sparkline of the messages per hour.
//!
//! [`read_health`] reads it; [`verdicts`] and [`sparkline`] are pure, so what the admin is
//! told is tested without Azure.

mod read;
mod sparkline;
mod verdicts;

pub use read::{read_health, EndpointHealth, Health, Hour, RoutingHealth, Stream};
pub use sparkline::sparkline;
pub use verdicts::{verdicts, Level, Verdict};

/// Why the health could not be read, in words for the admin.
#[derive(Debug, thiserror::Error)]
pub enum HealthError {
    #[error("You may not read the metrics of hub '{hub}'. Ask for the role \"Monitoring Reader\" (or Reader) on the hub or its resource group.")]
    NoMonitoringRight { hub: String },
    #[error("Azure Monitor answered what IoT Hub Setup cannot read: {0}.")]
    Metrics(String),
    #[error(transparent)]
    Azure(#[from] hubsetup_provision::Error),
}
