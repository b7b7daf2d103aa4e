//! The consumer groups of a hub's built-in Event Hub-compatible endpoint (`events`): listed,
//! read, created and deleted through ARM, as `az iot hub consumer-group` and the portal do.
//! Creation is synchronous (200); names follow Azure's rules; a hub holds at most 20.

use hyper::StatusCode;
use serde_json::{json, Value};

use crate::http::{arm_error, json_response, Resp};
use crate::state::Hub;

/// Consumer groups per hub, `$Default` included.
const MAX_GROUPS: usize = 20;
const ENDPOINT: &str = "events";

fn group_json(hub_id: &str, name: &str) -> Value {
    json!({
        "id": format!("{hub_id}/eventHubEndpoints/{ENDPOINT}/ConsumerGroups/{name}"),
        "name": name,
        "type": "Microsoft.Devices/IotHubs/EventHubEndpoints/ConsumerGroups",
        "properties": { "created": "2026-01-05T09:00:00Z", "name": name },
        "etag": format!("\"{}\"", name.len()),
    })
}

fn endpoint_not_found(endpoint: &str) -> Option<Resp> {
    (!endpoint.eq_ignore_ascii_case(ENDPOINT)).then(|| {
        arm_error(
            StatusCode::NOT_FOUND,
            "EventHubEndpointNotFound",
            &format!("The Event Hub-compatible endpoint '{endpoint}' does not exist on this hub; its built-in endpoint is 'events'."),
        )
    })
}

fn group_not_found(hub: &Hub, name: &str) -> Resp {
    arm_error(
        StatusCode::NOT_FOUND,
        "ConsumerGroupNotFound",
        &format!(
            "The consumer group '{name}' does not exist on IotHub '{}'.",
            hub.name
        ),
    )
}

pub(crate) fn list(hub: &Hub, hub_id: &str, endpoint: &str) -> Resp {
    if let Some(missing) = endpoint_not_found(endpoint) {
        return missing;
    }
    let value: Vec<Value> = hub
        .consumer_groups
        .iter()
        .map(|name| group_json(hub_id, name))
        .collect();
    json_response(StatusCode::OK, &json!({ "value": value, "nextLink": null }))
}

pub(crate) fn get(hub: &Hub, hub_id: &str, endpoint: &str, name: &str) -> Resp {
    if let Some(missing) = endpoint_not_found(endpoint) {
        return missing;
    }
    match hub
        .consumer_groups
        .iter()
        .find(|g| g.eq_ignore_ascii_case(name))
    {
        Some(group) => json_response(StatusCode::OK, &group_json(hub_id, group)),
        None => group_not_found(hub, name),
    }
}

/// 1 to 50 letters, digits, hyphens, periods and underscores.
fn valid_name(name: &str) -> bool {
    (1..=50).contains(&name.len())
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '.' | '_'))
}

pub(crate) fn put(hub: &mut Hub, hub_id: &str, endpoint: &str, name: &str) -> Resp {
    if let Some(missing) = endpoint_not_found(endpoint) {
        return missing;
    }
    if let Some(existing) = hub
        .consumer_groups
        .iter()
        .find(|g| g.eq_ignore_ascii_case(name))
    {
        return json_response(StatusCode::OK, &group_json(hub_id, existing));
    }
    if !valid_name(name) {
        return arm_error(
            StatusCode::BAD_REQUEST,
            "InvalidConsumerGroupName",
            &format!("The consumer group name '{name}' is not valid: use 1 to 50 letters, digits, hyphens, periods and underscores."),
        );
    }
    if hub.consumer_groups.len() >= MAX_GROUPS {
        return arm_error(
            StatusCode::BAD_REQUEST,
            "ConsumerGroupLimitExceeded",
            &format!("IotHub '{}' already has {MAX_GROUPS} consumer groups on its built-in endpoint, the most allowed. Delete one that is no longer used.", hub.name),
        );
    }
    hub.consumer_groups.push(name.to_owned());
    json_response(StatusCode::OK, &group_json(hub_id, name))
}

pub(crate) fn delete(hub: &mut Hub, endpoint: &str, name: &str) -> Resp {
    if let Some(missing) = endpoint_not_found(endpoint) {
        return missing;
    }
    if name.eq_ignore_ascii_case("$Default") {
        return arm_error(
            StatusCode::BAD_REQUEST,
            "DefaultConsumerGroupCannotBeDeleted",
            "The $Default consumer group cannot be deleted.",
        );
    }
    hub.consumer_groups
        .retain(|g| !g.eq_ignore_ascii_case(name));
    // 200 whether or not it was there: the only success IoT Hub's specification documents.
    crate::http::empty(StatusCode::OK)
}
