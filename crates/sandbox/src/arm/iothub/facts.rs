//! What ARM tells about an existing hub, for an admin deciding whether to reuse it: device
//! counts (`IotHubStats`), today's messages against the daily quota (`quotaMetrics`) and the
//! tiers it may move to (`skus`). Its consumer groups are in `consumer_groups`.

use hyper::StatusCode;
use serde_json::{json, Value};

use crate::http::{json_response, Resp};
use crate::state::{now_ms, sku_facts, Hub};
use crate::SandboxConfig;

/// The most devices a hub's registry holds.
const MAX_DEVICES: u64 = 1_000_000;

pub(crate) fn stats(hub: &Hub) -> Resp {
    let enabled = hub
        .devices
        .values()
        .filter(|d| d.status == "enabled")
        .count();
    json_response(
        StatusCode::OK,
        &json!({
            "totalDeviceCount": hub.devices.len(),
            "enabledDeviceCount": enabled,
            "disabledDeviceCount": hub.devices.len() - enabled,
        }),
    )
}

pub(crate) fn quota_metrics(hub: &Hub, config: &SandboxConfig) -> Resp {
    let today = now_ms() / 86_400_000;
    json_response(
        StatusCode::OK,
        &json!({
            "value": [
                { "name": "TotalMessages", "currentValue": hub.messages_on(today), "maxValue": hub.daily_quota(config) },
                { "name": "TotalDeviceCount", "currentValue": hub.devices.len(), "maxValue": MAX_DEVICES },
            ],
            "nextLink": null,
        }),
    )
}

/// The tiers a hub may move to, as IoT Hub allows: within its edition, and from basic up to
/// standard; never from or to the free tier, and never from standard down to basic.
pub(crate) fn skus(hub: &Hub) -> Resp {
    let allowed: &[&str] = match hub.sku.as_str() {
        "F1" => &[],
        "B1" | "B2" | "B3" => &["B1", "B2", "B3", "S1", "S2", "S3"],
        _ => &["S1", "S2", "S3"],
    };
    let value: Vec<Value> = allowed
        .iter()
        .filter(|sku| **sku != hub.sku)
        .filter_map(|sku| {
            let (tier, max_units, _) = sku_facts(sku)?;
            Some(json!({
                "resourceType": "Microsoft.Devices/IotHubs",
                "sku": { "name": sku, "tier": tier },
                "capacity": { "minimum": 1, "maximum": max_units, "default": 1, "scaleType": "Manual" },
            }))
        })
        .collect();
    json_response(StatusCode::OK, &json!({ "value": value, "nextLink": null }))
}

/// `routingEndpointsHealth`: each custom endpoint as its last delivery left it, `unknown`
/// before any.
pub(crate) fn endpoint_health(hub: &Hub) -> Resp {
    let endpoints = crate::routing::endpoint_names(hub.other_properties.get("routing"));
    let value: Vec<Value> = endpoints
        .iter()
        .map(|name| {
            hub.endpoint_health
                .get(name)
                .cloned()
                .unwrap_or_else(|| json!({ "endpointId": name, "healthStatus": "unknown" }))
        })
        .collect();
    json_response(StatusCode::OK, &json!({ "value": value, "nextLink": null }))
}
