//! What an admin needs to decide whether to reuse a hub, from the ARM operations Azure offers
//! for it: its devices (`IotHubStats`), today's messages against the daily quota
//! (`quotaMetrics`), the tiers it may move to (`skus`) and the consumer groups of its Event
//! Hub-compatible endpoint.

use serde::Serialize;
use serde_json::Value;

use crate::arm::{Azure, IOTHUB_API};
use crate::catalog::HubInfo;
use crate::Error;

/// From this share of the daily quota on, a live test may push the hub over it.
const NEAR_QUOTA_PERCENT: u64 = 90;

/// An existing hub's facts, with sentences for people.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ts_rs::TS)]
#[ts(export)]
pub struct HubFacts {
    pub devices: u64,
    pub enabled_devices: u64,
    pub messages_today: u64,
    pub daily_quota: u64,
    /// The tiers it may move to (none for the free tier).
    pub tiers_allowed: Vec<String>,
    pub consumer_groups: Vec<String>,
    /// "12 devices (11 enabled)", "5,200 of 8,000 messages used today (65%)", …
    pub lines: Vec<String>,
    /// When today's messages are near the quota: what a live test may meet.
    pub quota_warning: Option<String>,
}

fn number(value: &Value, field: &str) -> u64 {
    value.get(field).and_then(Value::as_u64).unwrap_or_default()
}

fn names(list: &Value, pointer: &str) -> Vec<String> {
    list.get("value")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|item| item.pointer(pointer).and_then(Value::as_str))
        .map(str::to_owned)
        .collect()
}

impl HubFacts {
    fn new(stats: &Value, quota: &Value, skus: &Value, groups: &Value) -> HubFacts {
        let messages = quota
            .get("value")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .find(|m| m.get("name").and_then(Value::as_str) == Some("TotalMessages"));
        let (messages_today, daily_quota) = messages
            .map(|m| (number(m, "currentValue"), number(m, "maxValue")))
            .unwrap_or_default();
        let devices = number(stats, "totalDeviceCount");
        let enabled_devices = number(stats, "enabledDeviceCount");
        let tiers_allowed = names(skus, "/sku/name");
        let consumer_groups = names(groups, "/name");
        let percent = (messages_today * 100).checked_div(daily_quota).unwrap_or(0);
        let mut lines = vec![
            format!(
                "{} device{} ({} enabled)",
                hubsetup_locale::count(devices),
                if devices == 1 { "" } else { "s" },
                hubsetup_locale::count(enabled_devices)
            ),
            format!(
                "{} of {} messages used today ({percent}%); the count starts again at midnight UTC",
                hubsetup_locale::count(messages_today),
                hubsetup_locale::count(daily_quota)
            ),
        ];
        lines.push(match tiers_allowed.as_slice() {
            [] => "Its tier cannot be changed (a free hub stays free)".to_owned(),
            tiers => format!("It may move to {}", tiers.join(", ")),
        });
        lines.push(format!("Consumer groups: {}", consumer_groups.join(", ")));
        let quota_warning = (daily_quota > 0 && percent >= NEAR_QUOTA_PERCENT).then(|| {
            format!(
                "The hub has used {} of its {} messages today: a live test may be refused with \
                 \"quota exceeded\" until midnight UTC. Test later, or add a unit.",
                hubsetup_locale::count(messages_today),
                hubsetup_locale::count(daily_quota)
            )
        });
        HubFacts {
            devices,
            enabled_devices,
            messages_today,
            daily_quota,
            tiers_allowed,
            consumer_groups,
            lines,
            quota_warning,
        }
    }
}

impl Azure {
    /// The facts of `hub` an admin decides a reuse by.
    pub async fn hub_facts(&self, hub: &HubInfo) -> Result<HubFacts, Error> {
        let read = |part: &'static str| {
            let url = self.url(&format!("{}/{part}", hub.path()), IOTHUB_API);
            async move { self.get_json(&url, &hub.subscription_id).await }
        };
        let (stats, quota, skus, groups) = tokio::try_join!(
            read("IotHubStats"),
            read("quotaMetrics"),
            read("skus"),
            read("eventHubEndpoints/events/ConsumerGroups"),
        )?;
        Ok(HubFacts::new(&stats, &quota, &skus, &groups))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn facts_are_told_in_numbers_for_people_and_a_near_quota_warns() {
        let facts = HubFacts::new(
            &json!({ "totalDeviceCount": 1200, "enabledDeviceCount": 1199, "disabledDeviceCount": 1 }),
            &json!({ "value": [{ "name": "TotalMessages", "currentValue": 7600, "maxValue": 8000 }] }),
            &json!({ "value": [] }),
            &json!({ "value": [{ "name": "$Default" }, { "name": "asa" }] }),
        );
        assert_eq!(
            facts.lines,
            [
                "1,200 devices (1,199 enabled)",
                "7,600 of 8,000 messages used today (95%); the count starts again at midnight UTC",
                "Its tier cannot be changed (a free hub stays free)",
                "Consumer groups: $Default, asa",
            ]
        );
        assert_eq!(
            facts.quota_warning.as_deref(),
            Some(
                "The hub has used 7,600 of its 8,000 messages today: a live test may be refused \
                 with \"quota exceeded\" until midnight UTC. Test later, or add a unit."
            )
        );
        let quiet = HubFacts::new(
            &json!({ "totalDeviceCount": 1, "enabledDeviceCount": 1 }),
            &json!({ "value": [{ "name": "TotalMessages", "currentValue": 10, "maxValue": 400000 }] }),
            &json!({ "value": [{ "sku": { "name": "S2" } }, { "sku": { "name": "S3" } }] }),
            &json!({ "value": [{ "name": "$Default" }] }),
        );
        assert_eq!(quiet.lines[0], "1 device (1 enabled)");
        assert_eq!(quiet.lines[2], "It may move to S2, S3");
        assert_eq!(quiet.quota_warning, None);
    }
}
