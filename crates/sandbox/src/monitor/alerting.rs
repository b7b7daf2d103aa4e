//! Azure Monitor's alerting through ARM: action groups (`Microsoft.Insights/actionGroups`,
//! who is told), their test notifications (`createNotifications`, `notificationStatus/{id}`),
//! and metric alert rules (`Microsoft.Insights/metricAlerts`, when), each checked as Azure
//! checks it when written. Rules are evaluated in [`super::evaluate`]; e-mails land in the
//! sandbox's outbox, which tests read through the control endpoint.

use hubsetup_core::wkd::MailAddress;
use hyper::StatusCode;
use serde_json::{json, Map, Value};

use super::catalog;
use crate::http::{arm_error, empty, json_response, with_header, Req, Resp};
use crate::state::{InsightsResource, Mail, State};
use crate::SandboxConfig;

/// The kinds of receiver an action group lists, each shown (empty where none) as Azure does.
const RECEIVERS: [&str; 12] = [
    "emailReceivers",
    "smsReceivers",
    "webhookReceivers",
    "itsmReceivers",
    "azureAppPushReceivers",
    "automationRunbookReceivers",
    "voiceReceivers",
    "logicAppReceivers",
    "azureFunctionReceivers",
    "armRoleReceivers",
    "eventHubReceivers",
    "incidentReceivers",
];
/// How often a rule may be evaluated, and over how long a window (Azure's choices).
const FREQUENCIES: [&str; 5] = ["PT1M", "PT5M", "PT15M", "PT30M", "PT1H"];
const WINDOWS: [&str; 8] = [
    "PT1M", "PT5M", "PT15M", "PT30M", "PT1H", "PT6H", "PT12H", "P1D",
];
const OPERATORS: [&str; 5] = [
    "Equals",
    "GreaterThan",
    "GreaterThanOrEqual",
    "LessThan",
    "LessThanOrEqual",
];
const CRITERIA: [&str; 2] = [
    "Microsoft.Azure.Monitor.SingleResourceMultipleMetricCriteria",
    "Microsoft.Azure.Monitor.MultipleResourceMultipleMetricCriteria",
];

/// Which Microsoft.Insights resource a request is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    ActionGroups,
    MetricAlerts,
}

impl Kind {
    fn type_name(self) -> &'static str {
        match self {
            Kind::ActionGroups => "Microsoft.Insights/ActionGroups",
            Kind::MetricAlerts => "Microsoft.Insights/metricAlerts",
        }
    }

    fn segment(self) -> &'static str {
        match self {
            Kind::ActionGroups => "actionGroups",
            Kind::MetricAlerts => "metricAlerts",
        }
    }

    fn store(self, state: &mut State) -> &mut std::collections::BTreeMap<String, InsightsResource> {
        match self {
            Kind::ActionGroups => &mut state.alerting.action_groups,
            Kind::MetricAlerts => &mut state.alerting.metric_alerts,
        }
    }
}

pub(crate) fn resource_id(sub: &str, group: &str, kind: Kind, name: &str) -> String {
    format!(
        "/subscriptions/{sub}/resourceGroups/{group}/providers/Microsoft.Insights/{}/{name}",
        kind.segment()
    )
}

/// `GET` of every resource of `kind` in a subscription, or in one of its resource groups.
pub(crate) fn list(state: &State, kind: Kind, sub: &str, group: Option<&str>) -> Resp {
    let store = match kind {
        Kind::ActionGroups => &state.alerting.action_groups,
        Kind::MetricAlerts => &state.alerting.metric_alerts,
    };
    let value: Vec<Value> = store
        .values()
        .filter(|r| r.subscription_id.eq_ignore_ascii_case(sub))
        .filter(|r| group.is_none_or(|g| r.resource_group.eq_ignore_ascii_case(g)))
        .map(|r| shown(kind, r))
        .collect();
    json_response(StatusCode::OK, &json!({ "value": value }))
}

/// A request on one resource: `…/{actionGroups|metricAlerts}/{name}[/rest…]`.
pub(crate) fn resource(
    req: &Req,
    state: &mut State,
    config: &SandboxConfig,
    kind: Kind,
    (sub, group, name): (&str, &str, &str),
    rest: &[&str],
) -> Resp {
    let id = resource_id(sub, group, kind, name);
    let key = id.to_ascii_lowercase();
    match (&req.method, kind, rest) {
        (&hyper::Method::GET, _, []) => match kind.store(state).get(&key).cloned() {
            Some(found) => json_response(StatusCode::OK, &shown(kind, &found)),
            None => not_found(kind, group, name),
        },
        (&hyper::Method::DELETE, _, []) => {
            let gone = kind.store(state).remove(&key);
            state.alerting.conditions.remove(&key);
            empty(if gone.is_some() {
                StatusCode::OK
            } else {
                StatusCode::NO_CONTENT
            })
        }
        (&hyper::Method::PUT, _, []) => {
            let Some(body) = req.json().filter(Value::is_object) else {
                return bad_request(
                    "InvalidRequestContent",
                    "The request content was invalid and could not be deserialized.",
                );
            };
            let checked = match kind {
                Kind::ActionGroups => action_group(&body),
                Kind::MetricAlerts => metric_alert(&body, state),
            };
            let properties = match checked {
                Ok(properties) => properties,
                Err(refusal) => return refusal,
            };
            let existed = kind.store(state).contains_key(&key);
            let written = InsightsResource {
                subscription_id: sub.to_owned(),
                resource_group: group.to_owned(),
                name: name.to_owned(),
                body: json!({
                    "id": id,
                    "name": name,
                    "type": kind.type_name(),
                    "location": body.get("location").cloned().unwrap_or(json!("global")),
                    "tags": body.get("tags").cloned().unwrap_or(json!({})),
                    "properties": properties,
                }),
            };
            if kind == Kind::MetricAlerts && existed {
                // A rule written again starts from a fresh evaluation, as in Azure.
                state.alerting.conditions.remove(&key);
            }
            let answer = shown(kind, &written);
            kind.store(state).insert(key, written);
            // Action groups answer 201 when new; metric alert rules always 200, as specified.
            let created = !existed && kind == Kind::ActionGroups;
            json_response(
                if created {
                    StatusCode::CREATED
                } else {
                    StatusCode::OK
                },
                &answer,
            )
        }
        (&hyper::Method::PATCH, _, []) => {
            let body = req.json().unwrap_or_default();
            let Some(found) = kind.store(state).get_mut(&key) else {
                return not_found(kind, group, name);
            };
            if let Some(tags) = body.get("tags").filter(|t| t.is_object()) {
                found.body["tags"] = tags.clone();
            }
            if let Some(enabled) = body.pointer("/properties/enabled").and_then(Value::as_bool) {
                found.body["properties"]["enabled"] = json!(enabled);
            }
            let found = found.clone();
            json_response(StatusCode::OK, &shown(kind, &found))
        }
        (&hyper::Method::POST, Kind::ActionGroups, ["createnotifications"]) => {
            let Some(group_resource) = state.alerting.action_groups.get(&key).cloned() else {
                return not_found(kind, group, name);
            };
            test_notifications(req, state, config, &group_resource)
        }
        (&hyper::Method::GET, Kind::ActionGroups, ["notificationstatus", id]) => {
            match state.alerting.notifications.get(*id) {
                Some(status) => json_response(StatusCode::OK, status),
                None => arm_error(
                    StatusCode::NOT_FOUND,
                    "NotFound",
                    &format!("The test notification '{id}' was not found."),
                ),
            }
        }
        (&hyper::Method::GET, Kind::MetricAlerts, ["status"]) => {
            if !state.alerting.metric_alerts.contains_key(&key) {
                return not_found(kind, group, name);
            }
            json_response(
                StatusCode::OK,
                &json!({ "value": [status(state, &id, &key)] }),
            )
        }
        _ => crate::arm::method_not_allowed(),
    }
}

/// A resource as ARM shows it.
fn shown(kind: Kind, r: &InsightsResource) -> Value {
    let mut body = r.body.clone();
    if kind == Kind::MetricAlerts {
        body["properties"]["isMigrated"] = json!(false);
    }
    body
}

/// A rule's monitor condition, as `…/status` lists it.
fn status(state: &State, id: &str, key: &str) -> Value {
    let condition = state
        .alerting
        .conditions
        .get(key)
        .cloned()
        .unwrap_or_default();
    json!({
        "name": "status",
        "id": format!("{id}/status/status"),
        "type": "Microsoft.Insights/metricAlerts/status",
        "properties": {
            "dimensions": {},
            "status": if condition.fired { "Unhealthy" } else { "Healthy" },
            "timestamp": crate::arm::iothub::rfc3339(condition.evaluated_ms.max(crate::state::now_ms())),
        },
    })
}

/// An action group's properties as Azure keeps them, or its refusal in words.
fn action_group(body: &Value) -> Result<Value, Resp> {
    let properties = body.get("properties").cloned().unwrap_or_default();
    let location = body
        .get("location")
        .and_then(Value::as_str)
        .unwrap_or_default();
    if location.is_empty() {
        return Err(bad_request(
            "LocationRequired",
            "The action group needs a location: use 'Global'.",
        ));
    }
    let short = properties
        .get("groupShortName")
        .and_then(Value::as_str)
        .unwrap_or_default();
    if short.is_empty() || short.chars().count() > 12 {
        return Err(bad_request(
            "InvalidGroupShortName",
            &format!("The action group's short name '{short}' is invalid: give 1 to 12 characters; it names the group in e-mails and text messages."),
        ));
    }
    let mut kept = Map::new();
    kept.insert("groupShortName".into(), json!(short));
    kept.insert(
        "enabled".into(),
        json!(properties
            .get("enabled")
            .and_then(Value::as_bool)
            .unwrap_or(true)),
    );
    let mut names = std::collections::BTreeSet::new();
    for kind in RECEIVERS {
        let receivers = properties
            .get(kind)
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default();
        for receiver in &receivers {
            let name = receiver
                .get("name")
                .and_then(Value::as_str)
                .unwrap_or_default();
            if name.is_empty() || !names.insert(name.to_ascii_lowercase()) {
                return Err(bad_request(
                    "InvalidReceiverName",
                    &format!("Each receiver of an action group needs a name of its own; '{name}' is empty or used twice."),
                ));
            }
        }
        let receivers: Vec<Value> = if kind == "emailReceivers" {
            receivers
                .into_iter()
                .map(|mut r| {
                    let address = r.get("emailAddress").and_then(Value::as_str).unwrap_or_default();
                    if !MailAddress::is_address(address) {
                        return Err(bad_request(
                            "InvalidEmailAddress",
                            &format!("The e-mail receiver '{}' has an invalid address '{address}': give one address such as admin@contoso.com.", r["name"].as_str().unwrap_or_default()),
                        ));
                    }
                    if r.get("useCommonAlertSchema").is_none_or(Value::is_null) {
                        r["useCommonAlertSchema"] = json!(false);
                    }
                    r["status"] = json!("Enabled");
                    Ok(r)
                })
                .collect::<Result<_, _>>()?
        } else {
            receivers
        };
        kept.insert(kind.into(), json!(receivers));
    }
    Ok(Value::Object(kept))
}

/// A metric alert rule's properties as Azure keeps them, or its refusal in words: the times
/// Azure allows, a severity from 0 to 4, scopes that exist, metrics their resource has with an
/// aggregation it supports, and action groups that exist.
fn metric_alert(body: &Value, state: &State) -> Result<Value, Resp> {
    let mut properties = body.get("properties").cloned().unwrap_or_default();
    let text = |name: &str| {
        properties
            .get(name)
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned()
    };
    let location = body
        .get("location")
        .and_then(Value::as_str)
        .unwrap_or_default();
    if !location.eq_ignore_ascii_case("global") {
        return Err(bad_request(
            "InvalidLocation",
            &format!("A metric alert rule's location is 'global', not '{location}'."),
        ));
    }
    let severity = properties.get("severity").and_then(Value::as_u64);
    if severity.is_none_or(|s| s > 4) {
        return Err(bad_request(
            "InvalidSeverity",
            "The rule's severity must be a whole number from 0 (critical) to 4 (verbose).",
        ));
    }
    let frequency = text("evaluationFrequency").to_ascii_uppercase();
    let window = text("windowSize").to_ascii_uppercase();
    if !FREQUENCIES.contains(&frequency.as_str()) {
        return Err(bad_request(
            "InvalidEvaluationFrequency",
            &format!(
                "The evaluation frequency '{frequency}' is not allowed: use one of {}.",
                FREQUENCIES.join(", ")
            ),
        ));
    }
    if !WINDOWS.contains(&window.as_str()) {
        return Err(bad_request(
            "InvalidWindowSize",
            &format!(
                "The window size '{window}' is not allowed: use one of {}.",
                WINDOWS.join(", ")
            ),
        ));
    }
    if super::api::duration_secs(&window) < super::api::duration_secs(&frequency) {
        return Err(bad_request("InvalidWindowSize", &format!("The window size ({window}) must be at least the evaluation frequency ({frequency}).")));
    }
    let scopes: Vec<String> = properties
        .get("scopes")
        .and_then(Value::as_array)
        .map(|s| {
            s.iter()
                .filter_map(Value::as_str)
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_default();
    if scopes.is_empty() {
        return Err(bad_request(
            "ScopesRequired",
            "The rule needs a scope: the resource id of the IoT hub to watch.",
        ));
    }
    for scope in &scopes {
        if super::evaluate::hub_of(state, scope).is_none() {
            return Err(bad_request("ResourceNotFound", &format!("The scope '{scope}' is not an IoT hub that exists: give the hub's resource id.")));
        }
    }
    let odata = properties
        .pointer("/criteria/odata.type")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned();
    if !CRITERIA.contains(&odata.as_str()) {
        return Err(bad_request(
            "InvalidCriteria",
            &format!(
                "The criteria type '{odata}' is not one the sandbox evaluates: use {}.",
                CRITERIA.join(" or ")
            ),
        ));
    }
    let criteria = properties
        .pointer("/criteria/allOf")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    if criteria.is_empty() {
        return Err(bad_request(
            "InvalidCriteria",
            "The rule needs at least one condition in criteria.allOf.",
        ));
    }
    for criterion in &criteria {
        let field = |name: &str| {
            criterion
                .get(name)
                .and_then(Value::as_str)
                .unwrap_or_default()
        };
        if !field("criterionType").eq_ignore_ascii_case("StaticThresholdCriterion") {
            return Err(bad_request("InvalidCriteria", &format!("The condition '{}' is a {}: the sandbox evaluates static thresholds (StaticThresholdCriterion).", field("name"), field("criterionType"))));
        }
        let namespace = field("metricNamespace");
        if !namespace.is_empty() && !namespace.eq_ignore_ascii_case("Microsoft.Devices/IotHubs") {
            return Err(bad_request("MetricNotFound", &format!("Couldn't find a metric named '{}' in namespace '{namespace}': IoT hubs' metrics are in Microsoft.Devices/IotHubs. A metric name with dots goes in quotes in az's condition, as in \"total 'd2c.telemetry.ingress.success' < 1\".", field("metricName"))));
        }
        let Some(metric) = catalog::metric(field("metricName")) else {
            return Err(bad_request("MetricNotFound", &format!("Couldn't find a metric named '{}' for IoT hubs (Microsoft.Devices/IotHubs): check the name, for example d2c.telemetry.ingress.success.", field("metricName"))));
        };
        let aggregation = field("timeAggregation");
        if !metric
            .aggregations
            .iter()
            .any(|a| a.eq_ignore_ascii_case(aggregation))
        {
            return Err(bad_request(
                "InvalidTimeAggregation",
                &format!(
                    "The metric '{}' cannot be aggregated as '{aggregation}': use one of {}.",
                    metric.name,
                    metric.aggregations.join(", ")
                ),
            ));
        }
        if !OPERATORS
            .iter()
            .any(|o| o.eq_ignore_ascii_case(field("operator")))
        {
            return Err(bad_request(
                "InvalidOperator",
                &format!(
                    "The operator '{}' is invalid: use one of {}.",
                    field("operator"),
                    OPERATORS.join(", ")
                ),
            ));
        }
        if !criterion.get("threshold").is_some_and(Value::is_number) {
            return Err(bad_request(
                "InvalidThreshold",
                &format!(
                    "The condition '{}' needs a numeric threshold.",
                    field("name")
                ),
            ));
        }
    }
    let actions = properties
        .get("actions")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    for action in &actions {
        let group = action
            .get("actionGroupId")
            .and_then(Value::as_str)
            .unwrap_or_default();
        if !state
            .alerting
            .action_groups
            .contains_key(&group.to_ascii_lowercase())
        {
            return Err(bad_request("ActionGroupNotFound", &format!("The action group '{group}' does not exist: create it first, or give its full resource id.")));
        }
    }
    properties["evaluationFrequency"] = json!(frequency);
    properties["windowSize"] = json!(window);
    properties["lastUpdatedTime"] = json!(crate::arm::iothub::rfc3339(crate::state::now_ms()));
    // Each condition as Azure keeps it: its namespace, dimensions and validation spelled out.
    if let Some(conditions) = properties
        .pointer_mut("/criteria/allOf")
        .and_then(Value::as_array_mut)
    {
        for condition in conditions {
            for (key, default) in [
                ("metricNamespace", json!("Microsoft.Devices/IotHubs")),
                ("dimensions", json!([])),
                ("skipMetricValidation", json!(false)),
            ] {
                if condition.get(key).is_none_or(Value::is_null) {
                    condition[key] = default;
                }
            }
        }
    }
    for (key, default) in [
        ("autoMitigate", json!(true)),
        ("description", json!("")),
        ("targetResourceType", json!("Microsoft.Devices/IotHubs")),
        ("actions", json!([])),
    ] {
        if properties.get(key).is_none_or(Value::is_null) {
            properties[key] = default;
        }
    }
    if properties
        .get("targetResourceRegion")
        .is_none_or(Value::is_null)
    {
        if let Some(hub) = scopes
            .first()
            .and_then(|s| super::evaluate::hub_of(state, s))
        {
            properties["targetResourceRegion"] = json!(hub.location);
        }
    }
    Ok(properties)
}

/// `createNotifications`: each e-mail receiver the request names gets a test message now; the
/// answer points at the notification's status, which is complete.
fn test_notifications(
    req: &Req,
    state: &mut State,
    config: &SandboxConfig,
    group: &InsightsResource,
) -> Resp {
    let body = req.json().unwrap_or_default();
    let alert_type = body
        .get("alertType")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned();
    if alert_type.is_empty() || alert_type.len() > 30 {
        return bad_request("InvalidAlertType", "Give the kind of alert to test in alertType (up to 30 characters), for example 'metricstaticthreshold'.");
    }
    let receivers = body
        .get("emailReceivers")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let now = crate::state::now_ms();
    let mut details = Vec::new();
    for receiver in &receivers {
        let name = receiver
            .get("name")
            .and_then(Value::as_str)
            .unwrap_or_default();
        let address = receiver
            .get("emailAddress")
            .and_then(Value::as_str)
            .unwrap_or_default();
        let sent = MailAddress::is_address(address);
        if sent {
            state.alerting.outbox.push(Mail {
                to: address.to_owned(),
                subject: format!("Test notification from action group '{}'", group.name),
                body: format!(
                    "This is a test notification of the '{alert_type}' kind from Azure Monitor action group '{}' ({}).\nNo alert fired: someone sent this test to check that e-mails arrive.",
                    group.name, group.body["id"].as_str().unwrap_or_default()
                ),
                kind: "test".into(),
                source: group.body["id"].as_str().unwrap_or_default().to_owned(),
                sent_ms: now,
            });
        }
        details.push(json!({
            "MechanismType": "Email",
            "Name": name,
            "Status": if sent { "Success" } else { "Failed" },
            "SubState": if sent { "Default" } else { "InvalidEmailAddress" },
            "SendTime": crate::arm::iothub::rfc3339(now),
            "Detail": if sent { format!("Sent to {address}.") } else { format!("'{address}' is not an e-mail address.") },
        }));
    }
    let id = crate::http::uuid_like();
    let time = crate::arm::iothub::rfc3339(now);
    state.alerting.notifications.insert(
        id.clone(),
        json!({
            "context": { "notificationSource": "Microsoft.Insights/TestNotification", "contextType": "Microsoft.Insights/actionGroups" },
            "state": "Complete",
            "createdTime": time,
            "completedTime": time,
            "actionDetails": details,
        }),
    );
    let location = format!(
        "https://management.{}{}/notificationStatus/{id}?api-version={}",
        config.suffix,
        group.body["id"].as_str().unwrap_or_default(),
        req.query("api-version").unwrap_or("2023-01-01"),
    );
    with_header(empty(StatusCode::ACCEPTED), "location", &location)
}

fn bad_request(code: &str, message: &str) -> Resp {
    arm_error(StatusCode::BAD_REQUEST, code, message)
}

fn not_found(kind: Kind, group: &str, name: &str) -> Resp {
    arm_error(
        StatusCode::NOT_FOUND,
        "ResourceNotFound",
        &format!(
            "The Resource '{}/{name}' under resource group '{group}' was not found. For more details please go to https://aka.ms/ARMResourceNotFoundFix",
            kind.type_name()
        ),
    )
}
