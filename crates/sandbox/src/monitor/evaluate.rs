//! Metric alert rules evaluated as Azure Monitor evaluates them: every evaluation frequency,
//! each condition's aggregation over the window just ended is compared with its threshold, from
//! what the hub really measured ([`super::Meter`]). A rule whose conditions all hold fires; it
//! resolves when they no longer do (unless `autoMitigate` is off). Each change e-mails the
//! receivers of the rule's action groups into the outbox.
//!
//! Time can be made to pass for one hub ([`time_passes`]): its measurements and its devices'
//! activity move into the past, so that an hour without data passes at once, for tests and
//! demonstrations, without touching any other hub.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::{json, Value};

use super::{catalog, minute_of};
use crate::state::{Hub, InsightsResource, Mail, State};

/// The hub a scope (its resource id) names.
pub(crate) fn hub_of<'a>(state: &'a State, scope: &str) -> Option<&'a Hub> {
    let parts: Vec<&str> = scope.trim_matches('/').split('/').collect();
    match parts.as_slice() {
        ["subscriptions", sub, "resourceGroups" | "resourcegroups", group, "providers", provider, kind, name]
            if provider.eq_ignore_ascii_case("Microsoft.Devices")
                && kind.eq_ignore_ascii_case("IotHubs") =>
        {
            state.hubs.get(&name.to_ascii_lowercase()).filter(|hub| {
                hub.subscription_id.eq_ignore_ascii_case(sub)
                    && hub.resource_group.eq_ignore_ascii_case(group)
            })
        }
        _ => None,
    }
}

/// Evaluates every rule whose evaluation is due; the ids of the rules
/// that fired or resolved.
pub(crate) fn evaluate(state: &mut State) -> Vec<String> {
    let now = crate::state::now_ms();
    let rules: Vec<InsightsResource> = state.alerting.metric_alerts.values().cloned().collect();
    let mut changed = Vec::new();
    for rule in rules {
        let properties = &rule.body["properties"];
        let key = rule.body["id"]
            .as_str()
            .unwrap_or_default()
            .to_ascii_lowercase();
        let frequency_ms = 1000
            * super::api::duration_secs(
                properties["evaluationFrequency"].as_str().unwrap_or("PT1M"),
            )
            .unwrap_or(60);
        let condition = state
            .alerting
            .conditions
            .entry(key.clone())
            .or_default()
            .clone();
        let due = condition.evaluated_ms == 0 || now >= condition.evaluated_ms + frequency_ms;
        if !due || !properties["enabled"].as_bool().unwrap_or(true) {
            continue;
        }
        let findings = findings(state, properties, now);
        let holds = !findings.is_empty() && findings.iter().all(|f| f.holds);
        let auto_mitigate = properties["autoMitigate"].as_bool().unwrap_or(true);
        let fires = holds && !condition.fired;
        let resolves = !holds && condition.fired && auto_mitigate;
        let entry = state.alerting.conditions.entry(key.clone()).or_default();
        entry.evaluated_ms = now;
        if fires || resolves {
            entry.fired = fires;
            entry.changed_ms = now;
            mail(state, &rule, &findings, fires, now);
            changed.push(rule.body["id"].as_str().unwrap_or_default().to_owned());
        }
    }
    changed
}

/// What one condition measured on one scope.
struct Finding {
    holds: bool,
    words: String,
}

fn findings(state: &State, properties: &Value, now_ms: u64) -> Vec<Finding> {
    let window_minutes =
        super::api::duration_secs(properties["windowSize"].as_str().unwrap_or("PT5M"))
            .unwrap_or(300)
            / 60;
    let scopes = properties["scopes"].as_array().cloned().unwrap_or_default();
    let criteria = properties
        .pointer("/criteria/allOf")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    // The window ends now, the minute under way included.
    let to = minute_of(now_ms) + 1;
    let from = to.saturating_sub(window_minutes.max(1));
    let mut found = Vec::new();
    for scope in scopes.iter().filter_map(Value::as_str) {
        let Some(hub) = hub_of(state, scope) else {
            continue;
        };
        for criterion in &criteria {
            let text = |name: &str| criterion[name].as_str().unwrap_or_default();
            let Some(metric) = catalog::metric(text("metricName")) else {
                continue;
            };
            let point = hub
                .metrics
                .series(metric, from, to, window_minutes.max(1))
                .into_iter()
                .next();
            let aggregation = text("timeAggregation");
            let value = point.and_then(|p| match aggregation.to_ascii_lowercase().as_str() {
                "total" => p.total,
                "average" => p.average,
                "minimum" => p.minimum,
                "maximum" => p.maximum,
                "count" => p.count,
                _ => None,
            });
            let threshold = criterion["threshold"].as_f64().unwrap_or_default();
            let operator = text("operator");
            // Without data there is nothing to compare, as in Azure Monitor.
            let holds = value.is_some_and(|v| match operator.to_ascii_lowercase().as_str() {
                "equals" => v == threshold,
                "greaterthan" => v > threshold,
                "greaterthanorequal" => v >= threshold,
                "lessthan" => v < threshold,
                "lessthanorequal" => v <= threshold,
                _ => false,
            });
            let measured = value.map_or("no data".to_owned(), |v| v.to_string());
            found.push(Finding {
                holds,
                words: format!(
                    "{} ({}), {aggregation} over the last {}: {measured} (the rule fires when it is {operator} {threshold}) on {}",
                    metric.display,
                    metric.name,
                    window_words(window_minutes),
                    hub.name
                ),
            });
        }
    }
    found
}

fn window_words(minutes: u64) -> String {
    match minutes {
        m if m.is_multiple_of(1440) => {
            format!("{} day{}", m / 1440, if m == 1440 { "" } else { "s" })
        }
        m if m.is_multiple_of(60) => format!("{} hour{}", m / 60, if m == 60 { "" } else { "s" }),
        m => format!("{m} minute{}", if m == 1 { "" } else { "s" }),
    }
}

/// E-mails every receiver of the rule's enabled action groups that it fired or resolved.
fn mail(
    state: &mut State,
    rule: &InsightsResource,
    findings: &[Finding],
    fired: bool,
    now_ms: u64,
) {
    let properties = &rule.body["properties"];
    let severity = properties["severity"].as_u64().unwrap_or(3);
    let hub = properties["scopes"][0]
        .as_str()
        .unwrap_or_default()
        .rsplit('/')
        .next()
        .unwrap_or_default()
        .to_owned();
    let time = crate::arm::iothub::rfc3339(now_ms);
    let state_word = if fired { "Fired" } else { "Resolved" };
    let subject = format!(
        "{state_word}:Sev{severity} Azure Monitor Alert {} on {hub} ( metricalert ) at {time}",
        rule.name
    );
    let body = format!(
        "Your Azure Monitor alert was {}.\nAlert rule: {}\nDescription: {}\nSeverity: Sev{severity}\nResource: {}\n{}\n{state_word} at: {time}",
        if fired { "triggered" } else { "resolved" },
        rule.name,
        properties["description"].as_str().unwrap_or_default(),
        properties["scopes"][0].as_str().unwrap_or_default(),
        findings.iter().map(|f| format!("Condition: {}", f.words)).collect::<Vec<_>>().join("\n"),
    );
    let groups: Vec<String> = properties["actions"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|a| a["actionGroupId"].as_str().map(str::to_ascii_lowercase))
        .collect();
    let mut addresses = Vec::new();
    for group in groups
        .iter()
        .filter_map(|g| state.alerting.action_groups.get(g))
    {
        if !group.body["properties"]["enabled"]
            .as_bool()
            .unwrap_or(true)
        {
            continue;
        }
        for receiver in group.body["properties"]["emailReceivers"]
            .as_array()
            .into_iter()
            .flatten()
        {
            if let Some(address) = receiver["emailAddress"].as_str() {
                addresses.push(address.to_owned());
            }
        }
    }
    addresses.dedup();
    for to in addresses {
        state.alerting.outbox.push(Mail {
            to,
            subject: subject.clone(),
            body: body.clone(),
            kind: "alert".into(),
            source: rule.body["id"].as_str().unwrap_or_default().to_owned(),
            sent_ms: now_ms,
        });
    }
}

/// Lets `by_ms` pass for `hub` without a message: what its metrics measured and when its
/// devices were last active move that much into the past, its rules become due, and they are
/// evaluated; the rules that fired or resolved.
pub(crate) fn time_passes(state: &mut State, hub: &str, by_ms: u64) -> Option<Value> {
    let hub = state.hubs.get_mut(&hub.to_ascii_lowercase())?;
    hub.metrics.shift_back(by_ms / 60_000);
    for device in hub.devices.values_mut() {
        let activity = &mut device.activity;
        activity.last_activity_ms = activity.last_activity_ms.saturating_sub(by_ms);
        activity.connection_changed_ms = activity.connection_changed_ms.saturating_sub(by_ms);
    }
    let id = crate::arm::iothub::hub_id(hub);
    let watching: Vec<String> = state
        .alerting
        .metric_alerts
        .iter()
        .filter(|(_, rule)| {
            rule.body["properties"]["scopes"]
                .as_array()
                .is_some_and(|s| {
                    s.iter()
                        .any(|s| s.as_str().is_some_and(|s| s.eq_ignore_ascii_case(&id)))
                })
        })
        .map(|(key, _)| key.clone())
        .collect();
    for key in watching {
        let condition = state.alerting.conditions.entry(key).or_default();
        condition.evaluated_ms = condition.evaluated_ms.saturating_sub(by_ms);
        condition.changed_ms = condition.changed_ms.saturating_sub(by_ms);
    }
    let changed = evaluate(state);
    Some(json!({ "changed": changed }))
}

/// Evaluates the rules every second of the wall clock until the sandbox stops.
pub(crate) async fn run(state: Arc<Mutex<State>>) {
    let mut ticks = tokio::time::interval(Duration::from_secs(1));
    loop {
        ticks.tick().await;
        let mut state = state.lock().expect("state lock");
        if !state.alerting.metric_alerts.is_empty() {
            evaluate(&mut state);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::monitor::catalog::Counter;

    const HUB: &str = "contoso-plant-hub";
    const HUB_ID: &str = "/subscriptions/11111111-1111-4111-8111-111111111111/resourceGroups/contoso-iot/providers/Microsoft.Devices/IotHubs/contoso-plant-hub";
    const GROUP_ID: &str = "/subscriptions/11111111-1111-4111-8111-111111111111/resourceGroups/contoso-iot/providers/Microsoft.Insights/actionGroups/ops";

    fn resource(id: &str, body: Value) -> InsightsResource {
        InsightsResource {
            subscription_id: "11111111-1111-4111-8111-111111111111".into(),
            resource_group: "contoso-iot".into(),
            name: id.rsplit('/').next().unwrap().into(),
            body,
        }
    }

    /// The seeded hub watched by a rule that fires after an hour without messages.
    fn watched(auto_mitigate: bool) -> (State, String) {
        let mut state = State::seeded();
        state.alerting.action_groups.insert(
            GROUP_ID.to_ascii_lowercase(),
            resource(
                GROUP_ID,
                json!({ "id": GROUP_ID, "properties": { "enabled": true,
                "emailReceivers": [{ "name": "admin", "emailAddress": "admin@contoso.com" }] } }),
            ),
        );
        let rule = GROUP_ID.replace("actionGroups/ops", "metricAlerts/no-data");
        state.alerting.metric_alerts.insert(
            rule.to_ascii_lowercase(),
            resource(&rule, json!({ "id": rule, "properties": {
                "severity": 2, "enabled": true, "scopes": [HUB_ID], "evaluationFrequency": "PT5M", "windowSize": "PT1H",
                "autoMitigate": auto_mitigate,
                "criteria": { "allOf": [{ "metricName": "d2c.telemetry.ingress.success", "timeAggregation": "Total", "operator": "LessThan", "threshold": 1 }] },
                "actions": [{ "actionGroupId": GROUP_ID }],
            }})),
        );
        (state, rule)
    }

    fn sent(state: &mut State) {
        state.hubs.get_mut(HUB).unwrap().metrics.count(
            Counter::IngressSuccess,
            1,
            crate::state::now_ms(),
        );
    }

    fn subjects(state: &State) -> Vec<String> {
        state
            .alerting
            .outbox
            .iter()
            .map(|m| m.subject.split(" Azure").next().unwrap().to_owned())
            .collect()
    }

    #[test]
    fn a_rule_fires_once_when_data_stops_and_resolves_when_it_comes_back() {
        let (mut state, rule) = watched(true);
        sent(&mut state);
        assert!(
            evaluate(&mut state).is_empty(),
            "a message in the last hour"
        );
        assert_eq!(
            time_passes(&mut state, HUB, 65 * 60_000).unwrap()["changed"],
            json!([rule])
        );
        assert!(
            time_passes(&mut state, HUB, 10 * 60_000).unwrap()["changed"]
                .as_array()
                .unwrap()
                .is_empty(),
            "fired once"
        );
        sent(&mut state);
        // The next evaluation is due five minutes later.
        assert_eq!(
            time_passes(&mut state, HUB, 5 * 60_000).unwrap()["changed"],
            json!([rule])
        );
        assert_eq!(subjects(&state), ["Fired:Sev2", "Resolved:Sev2"]);
    }

    #[test]
    fn without_auto_mitigation_a_fired_rule_stays_fired() {
        let (mut state, _) = watched(false);
        time_passes(&mut state, HUB, 65 * 60_000);
        sent(&mut state);
        time_passes(&mut state, HUB, 5 * 60_000);
        assert_eq!(subjects(&state), ["Fired:Sev2"]);
    }

    #[test]
    fn time_passes_only_for_a_hub_that_exists() {
        let (mut state, _) = watched(true);
        assert!(time_passes(&mut state, "no-such-hub", 60_000).is_none());
    }

    #[test]
    fn windows_are_said_in_words() {
        assert_eq!(window_words(60), "1 hour");
        assert_eq!(window_words(360), "6 hours");
        assert_eq!(window_words(5), "5 minutes");
        assert_eq!(window_words(1440), "1 day");
    }
}
