//! What Azure Monitor's alerting keeps for the sandbox: action groups, metric alert rules and
//! their monitor conditions, and the e-mails they sent (the outbox tests read).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// An ARM resource of Microsoft.Insights as it was written: its place, and its body as ARM
/// shows it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct InsightsResource {
    pub subscription_id: String,
    pub resource_group: String,
    pub name: String,
    pub body: serde_json::Value,
}

/// A metric alert rule's monitor condition: fired, or resolved (or never fired).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Condition {
    pub fired: bool,
    /// When it was last evaluated, in ms.
    pub evaluated_ms: u64,
    /// When it last changed, in ms.
    pub changed_ms: u64,
}

/// One e-mail an action group sent.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Mail {
    pub to: String,
    pub subject: String,
    pub body: String,
    /// `alert` (a rule fired or resolved) or `test` (a test notification).
    pub kind: String,
    /// The rule, or the action group of a test.
    pub source: String,
    pub sent_ms: u64,
}

/// Alerting's state.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Alerting {
    /// Action groups by resource id, lower case.
    pub action_groups: BTreeMap<String, InsightsResource>,
    /// Metric alert rules by resource id, lower case.
    pub metric_alerts: BTreeMap<String, InsightsResource>,
    /// Each rule's monitor condition, by its id, lower case.
    pub conditions: BTreeMap<String, Condition>,
    /// Test notifications' status documents, by notification id.
    pub notifications: BTreeMap<String, serde_json::Value>,
    pub outbox: Vec<Mail>,
}
