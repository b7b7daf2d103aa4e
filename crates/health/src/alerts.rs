//! The alarm that tells the admin when the data stops, set up in Azure Monitor without the
//! admin having to learn it: an action group that e-mails the people chosen, and metric alert
//! rules on the hub (no successful device-to-cloud messages for a window; optionally the daily
//! quota past 80 % and messages dropped by routing), each evaluated every five minutes. Rights
//! are checked first; a test e-mail goes through the action group's test-notification API;
//! everything is named after the hub, so that a repeat changes nothing and removal is exact.

use std::time::Duration;

use hubsetup_core::wkd::MailAddress;
use hubsetup_provision::{shell_quote as quote, Azure, Error, HubInfo};
use reqwest::Method;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use ts_rs::TS;

use crate::HealthError;

const ACTION_GROUPS_API: &str = "2023-01-01";
const METRIC_ALERTS_API: &str = "2018-03-01";
/// How often Azure Monitor evaluates the rules.
const EVERY: &str = "PT5M";
/// The action group's short name, which names it in e-mails (12 characters at most).
const SHORT_NAME: &str = "IoT data";

/// What the admin chose on the Health screen or in the CLI.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct AlertChoice {
    /// Who is e-mailed: the admin, and the partner's support contact if chosen.
    pub emails: Vec<String>,
    /// How long without a successful message before the alert fires, in minutes (Azure's
    /// windows: 5, 15, 30, 60, 360, 720 or 1440).
    pub quiet_minutes: u32,
    /// Also alert when the day's messages pass 80 % of the tier's quota.
    pub quota_warning: bool,
    /// Also alert when routing drops messages.
    pub dropped_warning: bool,
}

/// The alerting set up on a hub, as Azure has it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, TS)]
#[ts(export)]
pub struct AlertSetUp {
    pub action_group: String,
    pub emails: Vec<String>,
    pub rules: Vec<AlertRule>,
}

/// One alert rule on the hub.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, TS)]
#[ts(export)]
pub struct AlertRule {
    pub name: String,
    /// What it watches, in words.
    pub watches: String,
    pub enabled: bool,
    /// Whether its condition holds now (`Unhealthy` in Azure's words).
    pub firing: bool,
}

/// The windows Azure Monitor allows, in minutes.
const WINDOWS: [u32; 7] = [5, 15, 30, 60, 360, 720, 1440];

/// The action group's name for `hub`.
pub fn action_group_name(hub: &str) -> String {
    format!("{hub}-data-alerts")
}

fn group_id(hub: &HubInfo) -> String {
    format!(
        "/subscriptions/{}/resourceGroups/{}/providers/Microsoft.Insights/actionGroups/{}",
        hub.subscription_id,
        hub.resource_group,
        action_group_name(&hub.name)
    )
}

fn rule_id(hub: &HubInfo, rule: &str) -> String {
    format!(
        "/subscriptions/{}/resourceGroups/{}/providers/Microsoft.Insights/metricAlerts/{rule}",
        hub.subscription_id, hub.resource_group
    )
}

/// A rule the choice asks for: its name, what it watches in words, and its condition.
struct Wanted {
    name: String,
    watches: String,
    severity: u8,
    window: String,
    criterion: Value,
}

fn wanted(hub: &HubInfo, choice: &AlertChoice, daily_quota: u64) -> Vec<Wanted> {
    let minutes = choice.quiet_minutes;
    let window = if minutes.is_multiple_of(60) {
        format!("PT{}H", minutes / 60)
    } else {
        format!("PT{minutes}M")
    };
    let window = if minutes == 1440 {
        "P1D".to_owned()
    } else {
        window
    };
    let mut rules = vec![Wanted {
        name: format!("{}-no-data", hub.name),
        watches: format!("No messages from any device for {}", quiet_words(minutes)),
        severity: 2,
        window,
        criterion: json!({
            "criterionType": "StaticThresholdCriterion", "name": "no-messages",
            "metricName": "d2c.telemetry.ingress.success", "metricNamespace": "Microsoft.Devices/IotHubs",
            "timeAggregation": "Total", "operator": "LessThan", "threshold": 1,
        }),
    }];
    if choice.quota_warning {
        rules.push(Wanted {
            name: format!("{}-quota-80", hub.name),
            watches: "The day's messages past 80 % of the tier's quota".into(),
            severity: 3,
            window: "PT15M".into(),
            criterion: json!({
                "criterionType": "StaticThresholdCriterion", "name": "quota-80",
                "metricName": "dailyMessageQuotaUsed", "metricNamespace": "Microsoft.Devices/IotHubs",
                "timeAggregation": "Maximum", "operator": "GreaterThan", "threshold": daily_quota * 4 / 5,
            }),
        });
    }
    if choice.dropped_warning {
        rules.push(Wanted {
            name: format!("{}-dropped", hub.name),
            watches: "Messages dropped by routing".into(),
            severity: 3,
            window: "PT15M".into(),
            criterion: json!({
                "criterionType": "StaticThresholdCriterion", "name": "dropped",
                "metricName": "d2c.telemetry.egress.dropped", "metricNamespace": "Microsoft.Devices/IotHubs",
                "timeAggregation": "Total", "operator": "GreaterThan", "threshold": 0,
            }),
        });
    }
    rules
}

fn quiet_words(minutes: u32) -> String {
    match minutes {
        m if m.is_multiple_of(60) && m >= 60 => {
            let hours = m / 60;
            format!("{hours} hour{}", if hours == 1 { "" } else { "s" })
        }
        m => format!("{m} minutes"),
    }
}

/// What is wrong with a choice, in words, before anything is asked of Azure.
pub fn choice_problem(choice: &AlertChoice) -> Option<String> {
    if choice.emails.is_empty() {
        return Some("Give at least one e-mail address to tell when the data stops.".into());
    }
    if let Some(bad) = choice.emails.iter().find(|e| !MailAddress::is_address(e)) {
        return Some(format!(
            "'{bad}' is not an e-mail address: give one address such as admin@contoso.com."
        ));
    }
    if !WINDOWS.contains(&choice.quiet_minutes) {
        return Some(format!(
            "Azure Monitor watches windows of 5, 15, 30 or 60 minutes, or 6, 12 or 24 hours; {} minutes is none of them.",
            choice.quiet_minutes
        ));
    }
    None
}

/// Sets up (or brings up to date) the alerting `choice` asks for on `hub`: the rights are
/// checked first, then the action group, then each rule; rules of an earlier choice that this
/// one no longer asks for are removed.
pub async fn set_up_alerts(
    azure: &Azure,
    hub: &HubInfo,
    choice: &AlertChoice,
    daily_quota: u64,
) -> Result<AlertSetUp, HealthError> {
    if let Some(problem) = choice_problem(choice) {
        return Err(HealthError::Choice(problem));
    }
    check_alert_rights(azure, hub).await?;
    let group = group_body(choice);
    let group_id = group_id(hub);
    azure
        .arm_request(
            Method::PUT,
            &group_id,
            ACTION_GROUPS_API,
            Some(&group),
            &hub.subscription_id,
        )
        .await?;
    let rules = wanted(hub, choice, daily_quota);
    for rule in &rules {
        let body = rule_body(hub, rule, &group_id);
        azure
            .arm_request(
                Method::PUT,
                &rule_id(hub, &rule.name),
                METRIC_ALERTS_API,
                Some(&body),
                &hub.subscription_id,
            )
            .await?;
    }
    for stale in ["quota-80", "dropped"].map(|s| format!("{}-{s}", hub.name)) {
        if !rules.iter().any(|r| r.name == stale) {
            azure
                .arm_request(
                    Method::DELETE,
                    &rule_id(hub, &stale),
                    METRIC_ALERTS_API,
                    None,
                    &hub.subscription_id,
                )
                .await?;
        }
    }
    Ok(AlertSetUp {
        action_group: action_group_name(&hub.name),
        emails: choice.emails.clone(),
        rules: rules
            .into_iter()
            .map(|r| AlertRule {
                name: r.name,
                watches: r.watches,
                enabled: true,
                firing: false,
            })
            .collect(),
    })
}

/// The action group as ARM takes it: each address a receiver, the admin's first.
fn group_body(choice: &AlertChoice) -> Value {
    let receivers: Vec<Value> = choice
        .emails
        .iter()
        .enumerate()
        .map(|(i, address)| {
            json!({ "name": receiver_name(i), "emailAddress": address, "useCommonAlertSchema": true })
        })
        .collect();
    json!({
        "location": "Global",
        "tags": { "created-by": "IoT Hub Setup" },
        "properties": { "groupShortName": SHORT_NAME, "enabled": true, "emailReceivers": receivers },
    })
}

fn receiver_name(i: usize) -> String {
    if i == 0 {
        "admin".to_owned()
    } else {
        format!("contact-{i}")
    }
}

/// A rule as ARM takes it, telling the action group `group_id`.
fn rule_body(hub: &HubInfo, rule: &Wanted, group_id: &str) -> Value {
    json!({
        "location": "global",
        "tags": { "created-by": "IoT Hub Setup" },
        "properties": {
            "description": format!("{} (set up by IoT Hub Setup).", rule.watches),
            "severity": rule.severity,
            "enabled": true,
            "scopes": [hub.id],
            "evaluationFrequency": EVERY,
            "windowSize": rule.window,
            "criteria": {
                "odata.type": "Microsoft.Azure.Monitor.SingleResourceMultipleMetricCriteria",
                "allOf": [rule.criterion],
            },
            "autoMitigate": true,
            "actions": [{ "actionGroupId": group_id }],
        },
    })
}

/// What `choice` sets up on `hub`, as the records an admin keeps: the `az` commands that make
/// the same, and an ARM template of the action group and rules.
pub fn alert_records(hub: &HubInfo, choice: &AlertChoice, daily_quota: u64) -> (String, Value) {
    let group = action_group_name(&hub.name);
    let mut lines = vec![
        "# Alert when data stops: an action group that e-mails, and alert rules on the hub."
            .to_owned(),
        format!(
            "az monitor action-group create --name {} --resource-group {} --short-name {} {}",
            quote(&group),
            quote(&hub.resource_group),
            quote(SHORT_NAME),
            choice
                .emails
                .iter()
                .enumerate()
                .map(|(i, e)| format!(
                    "--action email {} {} usecommonalertschema",
                    receiver_name(i),
                    quote(e)
                ))
                .collect::<Vec<_>>()
                .join(" ")
        ),
    ];
    let rules = wanted(hub, choice, daily_quota);
    for rule in &rules {
        let c = &rule.criterion;
        let aggregation = match c["timeAggregation"].as_str().unwrap_or_default() {
            "Maximum" => "max",
            "Minimum" => "min",
            "Average" => "avg",
            "Count" => "count",
            _ => "total",
        };
        let operator = match c["operator"].as_str().unwrap_or_default() {
            "LessThan" => "<",
            "GreaterThan" => ">",
            "LessThanOrEqual" => "<=",
            "GreaterThanOrEqual" => ">=",
            _ => "=",
        };
        // A metric name with dots goes in quotes, or az takes its first part for a namespace.
        let condition = format!(
            "{aggregation} \"{}\" {operator} {}",
            c["metricName"].as_str().unwrap_or_default(),
            c["threshold"]
        );
        lines.push(format!(
            "az monitor metrics alert create --name {} --resource-group {} --scopes {} --condition {} --window-size {} --evaluation-frequency 5m --severity {} --action {} --description {}",
            quote(&rule.name),
            quote(&hub.resource_group),
            quote(&hub.id),
            quote(&condition),
            rule.window.trim_start_matches("PT").trim_start_matches('P').to_ascii_lowercase(),
            rule.severity,
            quote(&group),
            quote(&rule.watches),
        ));
    }
    let group_ref = format!("[resourceId('Microsoft.Insights/actionGroups', '{group}')]");
    let resource = |mut body: Value, kind: &str, api: &str, name: &str| {
        body["type"] = json!(kind);
        body["apiVersion"] = json!(api);
        body["name"] = json!(name);
        body
    };
    let mut resources = vec![resource(
        group_body(choice),
        "Microsoft.Insights/actionGroups",
        ACTION_GROUPS_API,
        &group,
    )];
    for rule in &rules {
        let mut alert = resource(
            rule_body(hub, rule, &group_ref),
            "Microsoft.Insights/metricAlerts",
            METRIC_ALERTS_API,
            &rule.name,
        );
        alert["dependsOn"] = json!([group_ref]);
        resources.push(alert);
    }
    let template = json!({
        "$schema": "https://schema.management.azure.com/schemas/2019-04-01/deploymentTemplate.json#",
        "contentVersion": "1.0.0.0",
        "resources": resources,
    });
    (lines.join("\n") + "\n", template)
}

/// Said before anything is written, with the role to ask for.
async fn check_alert_rights(azure: &Azure, hub: &HubInfo) -> Result<(), HealthError> {
    let group = format!(
        "/subscriptions/{}/resourceGroups/{}",
        hub.subscription_id, hub.resource_group
    );
    for action in [
        "Microsoft.Insights/ActionGroups/write",
        "Microsoft.Insights/metricAlerts/write",
    ] {
        if !azure.may(&group, action, &hub.subscription_id).await? {
            return Err(HealthError::NoAlertRight {
                group: hub.resource_group.clone(),
            });
        }
    }
    Ok(())
}

/// The alerting IoT Hub Setup set up on `hub`, as Azure has it now; `None` when there is none.
pub async fn read_alerts(azure: &Azure, hub: &HubInfo) -> Result<Option<AlertSetUp>, HealthError> {
    let group = match azure
        .arm_request(
            Method::GET,
            &group_id(hub),
            ACTION_GROUPS_API,
            None,
            &hub.subscription_id,
        )
        .await
    {
        Ok(reply) => reply.body,
        Err(Error::Azure { code, .. }) if code == "ResourceNotFound" => return Ok(None),
        Err(e) => return Err(e.into()),
    };
    let emails = group
        .pointer("/properties/emailReceivers")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|r| r["emailAddress"].as_str().map(str::to_owned))
        .collect();
    let listed = azure
        .arm_request(
            Method::GET,
            &format!(
                "/subscriptions/{}/resourceGroups/{}/providers/Microsoft.Insights/metricAlerts",
                hub.subscription_id, hub.resource_group
            ),
            METRIC_ALERTS_API,
            None,
            &hub.subscription_id,
        )
        .await?
        .body;
    let mut rules = Vec::new();
    for rule in listed["value"].as_array().into_iter().flatten() {
        let on_hub = rule
            .pointer("/properties/scopes")
            .and_then(Value::as_array)
            .is_some_and(|s| {
                s.iter()
                    .any(|s| s.as_str().is_some_and(|s| s.eq_ignore_ascii_case(&hub.id)))
            });
        let name = rule["name"].as_str().unwrap_or_default().to_owned();
        if !on_hub || !name.starts_with(&format!("{}-", hub.name)) {
            continue;
        }
        let status = azure
            .arm_request(
                Method::GET,
                &format!("{}/status", rule_id(hub, &name)),
                METRIC_ALERTS_API,
                None,
                &hub.subscription_id,
            )
            .await?
            .body;
        let firing =
            status["value"].as_array().into_iter().flatten().any(|s| {
                s.pointer("/properties/status").and_then(Value::as_str) == Some("Unhealthy")
            });
        rules.push(AlertRule {
            watches: rule
                .pointer("/properties/description")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .trim_end_matches(" (set up by IoT Hub Setup).")
                .to_owned(),
            enabled: rule
                .pointer("/properties/enabled")
                .and_then(Value::as_bool)
                .unwrap_or(true),
            firing,
            name,
        });
    }
    Ok(Some(AlertSetUp {
        action_group: action_group_name(&hub.name),
        emails,
        rules,
    }))
}

/// Sends a test e-mail to every receiver of the hub's action group and waits until Azure
/// Monitor says how each went; the addresses it reached.
pub async fn send_test_email(azure: &Azure, hub: &HubInfo) -> Result<Vec<String>, HealthError> {
    let Some(set_up) = read_alerts(azure, hub).await? else {
        return Err(HealthError::NoAlertsYet {
            hub: hub.name.clone(),
        });
    };
    let receivers: Vec<Value> = set_up
        .emails
        .iter()
        .enumerate()
        .map(|(i, address)| json!({ "name": format!("receiver-{i}"), "emailAddress": address, "useCommonAlertSchema": true }))
        .collect();
    let body = json!({ "alertType": "metricstaticthreshold", "emailReceivers": receivers });
    let started = azure
        .arm_request(
            Method::POST,
            &format!("{}/createNotifications", group_id(hub)),
            ACTION_GROUPS_API,
            Some(&body),
            &hub.subscription_id,
        )
        .await?;
    let mut status = azure.arm_follow(started, &hub.subscription_id).await?;
    // The status answers 200 while it is still sending; it is done when its state says so.
    for _ in 0..30 {
        if status.body["state"]
            .as_str()
            .is_some_and(|s| s.eq_ignore_ascii_case("Complete"))
        {
            break;
        }
        tokio::time::sleep(Duration::from_secs(2)).await;
        let Some(url) = status.operation.clone() else {
            break;
        };
        status = azure
            .arm_request(
                Method::GET,
                url_path(&url),
                ACTION_GROUPS_API,
                None,
                &hub.subscription_id,
            )
            .await?;
    }
    let details = status.body["actionDetails"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let reached: Vec<String> = set_up
        .emails
        .iter()
        .enumerate()
        .filter(|(i, _)| {
            details.iter().any(|d| {
                d["Name"].as_str() == Some(&format!("receiver-{i}"))
                    && d["Status"].as_str() == Some("Success")
            })
        })
        .map(|(_, e)| e.clone())
        .collect();
    if reached.is_empty() {
        return Err(HealthError::TestNotSent {
            detail: details
                .iter()
                .filter_map(|d| d["Detail"].as_str())
                .collect::<Vec<_>>()
                .join(" "),
        });
    }
    Ok(reached)
}

fn url_path(url: &str) -> &str {
    url.split_once("://")
        .and_then(|(_, rest)| rest.find('/').map(|i| &rest[i..]))
        .map_or(url, |path| path.split('?').next().unwrap_or(path))
}

/// Removes the alert rules and the action group IoT Hub Setup made for `hub`.
pub async fn remove_alerts(azure: &Azure, hub: &HubInfo) -> Result<(), HealthError> {
    check_alert_rights(azure, hub).await?;
    for rule in ["no-data", "quota-80", "dropped"].map(|s| format!("{}-{s}", hub.name)) {
        azure
            .arm_request(
                Method::DELETE,
                &rule_id(hub, &rule),
                METRIC_ALERTS_API,
                None,
                &hub.subscription_id,
            )
            .await?;
    }
    azure
        .arm_request(
            Method::DELETE,
            &group_id(hub),
            ACTION_GROUPS_API,
            None,
            &hub.subscription_id,
        )
        .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn choice(emails: &[&str], quiet_minutes: u32) -> AlertChoice {
        AlertChoice {
            emails: emails.iter().map(|e| (*e).to_owned()).collect(),
            quiet_minutes,
            quota_warning: false,
            dropped_warning: false,
        }
    }

    #[test]
    fn a_choice_is_checked_before_azure_is_asked() {
        assert_eq!(choice_problem(&choice(&["admin@contoso.com"], 60)), None);
        assert_eq!(
            choice_problem(&choice(&[], 60)).as_deref(),
            Some("Give at least one e-mail address to tell when the data stops.")
        );
        assert_eq!(
            choice_problem(&choice(&["admin at contoso"], 60)).as_deref(),
            Some("'admin at contoso' is not an e-mail address: give one address such as admin@contoso.com.")
        );
        assert_eq!(
            choice_problem(&choice(&["admin@contoso.com"], 90)).as_deref(),
            Some("Azure Monitor watches windows of 5, 15, 30 or 60 minutes, or 6, 12 or 24 hours; 90 minutes is none of them.")
        );
    }

    fn plant() -> HubInfo {
        HubInfo {
            id: "/subscriptions/s/resourceGroups/g/providers/Microsoft.Devices/IotHubs/plant"
                .into(),
            name: "plant".into(),
            subscription_id: "s".into(),
            resource_group: "g".into(),
            location: "westeurope".into(),
            sku: "S1".into(),
            units: 1,
            host_name: "plant.azure-devices.net".into(),
            provisioning_state: "Succeeded".into(),
        }
    }

    #[test]
    fn quiet_windows_are_said_and_written_as_azure_takes_them() {
        let hub = plant();
        let windows = |minutes| {
            let rule = &wanted(&hub, &choice(&["a@b.c"], minutes), 400_000)[0];
            (rule.window.clone(), rule.watches.clone())
        };
        assert_eq!(
            windows(60),
            (
                "PT1H".into(),
                "No messages from any device for 1 hour".into()
            )
        );
        assert_eq!(
            windows(15),
            (
                "PT15M".into(),
                "No messages from any device for 15 minutes".into()
            )
        );
        assert_eq!(
            windows(360),
            (
                "PT6H".into(),
                "No messages from any device for 6 hours".into()
            )
        );
        assert_eq!(windows(1440).0, "P1D");
        let mut all = choice(&["a@b.c"], 60);
        all.quota_warning = true;
        all.dropped_warning = true;
        let rules = wanted(&hub, &all, 400_000);
        assert_eq!(
            rules.iter().map(|r| r.name.as_str()).collect::<Vec<_>>(),
            ["plant-no-data", "plant-quota-80", "plant-dropped"]
        );
        assert_eq!(rules[1].criterion["threshold"], 320_000);
    }

    #[test]
    fn records_make_the_same_alert_with_az_or_a_template() {
        let hub = plant();
        let (az, template) = alert_records(
            &hub,
            &choice(&["admin@contoso.com", "ops@partner.example"], 30),
            400_000,
        );
        assert_eq!(
            az.lines().nth(1).unwrap(),
            "az monitor action-group create --name plant-data-alerts --resource-group g --short-name 'IoT data' --action email admin 'admin@contoso.com' usecommonalertschema --action email contact-1 'ops@partner.example' usecommonalertschema"
        );
        assert_eq!(
            az.lines().nth(2).unwrap(),
            "az monitor metrics alert create --name plant-no-data --resource-group g --scopes /subscriptions/s/resourceGroups/g/providers/Microsoft.Devices/IotHubs/plant --condition 'total \"d2c.telemetry.ingress.success\" < 1' --window-size 30m --evaluation-frequency 5m --severity 2 --action plant-data-alerts --description 'No messages from any device for 30 minutes'"
        );
        let resources = template["resources"].as_array().unwrap();
        assert_eq!(resources[0]["type"], "Microsoft.Insights/actionGroups");
        assert_eq!(resources[1]["properties"]["windowSize"], "PT30M");
        assert_eq!(
            resources[1]["properties"]["actions"][0]["actionGroupId"],
            "[resourceId('Microsoft.Insights/actionGroups', 'plant-data-alerts')]"
        );
        assert_eq!(
            resources[1]["dependsOn"][0],
            resources[1]["properties"]["actions"][0]["actionGroupId"]
        );
    }
}
