//! Know when it stops: the health of a hub an admin set up, read from what Azure already
//! measures (the registry's activity of each device, Azure Monitor's platform metrics, the
//! quota and the routing endpoints' health), with verdicts on top in plain words ("No
//! messages from … for 3 h") and a sparkline of the messages per hour.
//!
//! [`read_health`] reads it; [`verdicts`] and [`sparkline`] are pure, so what the admin is
//! told is tested without Azure. [`set_up_alerts`] sets up the alarm for when the data stops
//! (Azure Monitor's action group and metric alert rules), [`send_test_email`] proves it
//! reaches people, [`read_alerts`] and [`remove_alerts`] show and undo it.

mod alerts;
mod read;
mod sparkline;
mod verdicts;

pub use alerts::{
    action_group_name, alert_records, choice_problem, read_alerts, remove_alerts, send_test_email,
    set_up_alerts, AlertChoice, AlertRule, AlertSetUp,
};
pub use read::{read_health, EndpointHealth, Health, Hour, RoutingHealth, Stream};
pub use sparkline::sparkline;
pub use verdicts::{verdicts, Level, Verdict};

/// Why the health could not be read, in words for the admin.
#[derive(Debug, thiserror::Error)]
pub enum HealthError {
    #[error("You may not read the metrics of hub '{hub}'. Ask for the role \"Monitoring Reader\" (or Reader) on the hub or its resource group.")]
    NoMonitoringRight { hub: String },
    #[error("You may not set up alerts in resource group '{group}'. Ask for the role \"Monitoring Contributor\" on the resource group (it may write action groups and alert rules).")]
    NoAlertRight { group: String },
    #[error("{0}")]
    Choice(String),
    #[error("No alert is set up on hub '{hub}' yet: set one up first, then send the test e-mail.")]
    NoAlertsYet { hub: String },
    #[error("Azure Monitor could not send the test e-mail: {detail} Check the addresses and send it again.")]
    TestNotSent { detail: String },
    #[error("Azure Monitor answered what IoT Hub Setup cannot read: {0}.")]
    Metrics(String),
    #[error(transparent)]
    Azure(#[from] hubsetup_provision::Error),
}
