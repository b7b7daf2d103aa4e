//! Microsoft.Devices: the provider (registration, `checkNameAvailability`, long-running
//! operations) and IotHubs: reads, keys, statistics, quotas, SKUs and consumer groups. Creates,
//! updates and deletes are in `write`.

use hubsetup_core::names;
use hyper::{Method, StatusCode};
use serde_json::{json, Value};

use super::api_versions::IOTHUB;
use super::{method_not_allowed, rbac};
use crate::http::{arm_error, json_response, provider_error, with_header, Req, Resp};
use crate::state::{
    self, now_ms, sku_facts, Hub, Operation, Policy, State, NAMES_TAKEN_ELSEWHERE, REGIONS,
};
use crate::SandboxConfig;

mod catalog;
pub(crate) mod certificates;
mod consumer_groups;
mod facts;
mod failover;
pub(crate) mod private_links;
mod write;

#[cfg(test)]
pub(crate) use catalog::tests::listed_operations;
pub(crate) use catalog::{operations, usages};

/// A request on one hub (`…/IotHubs/{name}/{rest…}`), its resource group checked first.
pub(crate) fn hub_request(
    req: &Req,
    method: &Method,
    rest: &[&str],
    original: &[&str],
    state: &mut State,
    config: &SandboxConfig,
    sub: &str,
) -> Resp {
    let (group, name) = (original[3], original[7]);
    if !super::resources::group_exists(state, sub, group) {
        return super::resources::group_not_found(group);
    }
    match (method, rest) {
        (&Method::PUT, []) => write::put_hub(req, state, config, sub, group, name),
        (&Method::GET, []) => with_hub(state, sub, group, name, |hub| {
            json_response(StatusCode::OK, &hub_json(hub, config))
        }),
        (&Method::DELETE, []) => write::delete_hub(state, config, sub, group, name),
        (&Method::PATCH, []) => write::patch_hub(req, state, config, sub, group, name),
        (&Method::GET, ["jobs"]) => with_hub(state, sub, group, name, crate::jobs::list),
        (&Method::GET, ["jobs", _]) => with_hub(state, sub, group, name, |hub| {
            crate::jobs::get(hub, original[9])
        }),
        (&Method::POST, [kind @ ("exportdevices" | "importdevices")]) => {
            let kind = if *kind == "exportdevices" {
                crate::jobs::Kind::Export
            } else {
                crate::jobs::Kind::Import
            };
            match hub_in(state, sub, group, name).map(|hub| hub.name.to_ascii_lowercase()) {
                Some(key) => crate::jobs::start(req, kind, &key, state, &config.suffix),
                None => hub_not_found(group, name),
            }
        }
        (&Method::GET, ["providers", "microsoft.insights", "metrics"]) => {
            let id = format!("/{}", original[..8].join("/"));
            with_hub_mut(state, sub, group, name, |hub| {
                crate::monitor::api::metrics(req, hub, &id, crate::state::now_ms())
            })
        }
        (&Method::GET, ["providers", "microsoft.insights", "metricdefinitions"]) => {
            let id = format!("/{}", original[..8].join("/"));
            with_hub(state, sub, group, name, |_| {
                crate::monitor::api::definitions(&id)
            })
        }
        (&Method::POST, ["routing", "routes", "$testall"]) => {
            let input = req.json().unwrap_or_default();
            with_hub(state, sub, group, name, |hub| {
                crate::routing::trial::test_all(hub.other_properties.get("routing"), &input)
            })
        }
        (&Method::POST, ["routing", "routes", "$testnew"]) => {
            let input = req.json().unwrap_or_default();
            with_hub(state, sub, group, name, |_| {
                crate::routing::trial::test_new(&input)
            })
        }
        (&Method::GET, ["certificates"]) => with_hub(state, sub, group, name, certificates::list),
        (&Method::GET, ["certificates", _]) => with_hub(state, sub, group, name, |hub| {
            certificates::get(hub, original[9])
        }),
        (&Method::PUT, ["certificates", _]) => with_hub_mut(state, sub, group, name, |hub| {
            certificates::put(hub, original[9], req)
        }),
        (&Method::DELETE, ["certificates", _]) => with_hub_mut(state, sub, group, name, |hub| {
            certificates::delete(hub, original[9], req)
        }),
        (&Method::POST, ["certificates", _, "generateverificationcode"]) => {
            with_hub_mut(state, sub, group, name, |hub| {
                certificates::generate_verification_code(hub, original[9], req)
            })
        }
        (&Method::POST, ["certificates", _, "verify"]) => {
            with_hub_mut(state, sub, group, name, |hub| {
                certificates::verify(hub, original[9], req)
            })
        }
        (&Method::POST, ["failover"]) => failover::failover(req, state, config, sub, group, name),
        (&Method::GET, ["privatelinkresources"]) => with_hub(state, sub, group, name, |hub| {
            private_links::link_resources(hub, config, None)
        }),
        (&Method::GET, ["privatelinkresources", _]) => with_hub(state, sub, group, name, |hub| {
            private_links::link_resources(hub, config, Some(original[9]))
        }),
        (&Method::GET, ["privateendpointconnections"]) => {
            with_hub(state, sub, group, name, private_links::list)
        }
        (&Method::GET, ["privateendpointconnections", _]) => {
            with_hub(state, sub, group, name, |hub| {
                private_links::get(hub, original[9])
            })
        }
        (&Method::PUT, ["privateendpointconnections", _]) => {
            with_hub_mut(state, sub, group, name, |hub| {
                private_links::update(hub, original[9], req.json())
            })
        }
        (&Method::DELETE, ["privateendpointconnections", _]) => {
            with_hub_mut(state, sub, group, name, |hub| {
                private_links::delete(hub, original[9])
            })
        }
        (&Method::GET, ["routingendpointshealth"]) => {
            with_hub(state, sub, group, name, facts::endpoint_health)
        }
        (&Method::POST, ["listkeys"]) => {
            with_hub(state, sub, group, name, |hub| list_keys(hub, None))
        }
        (&Method::GET, ["iothubstats"]) => with_hub(state, sub, group, name, facts::stats),
        (&Method::GET, ["quotametrics"]) => with_hub(state, sub, group, name, |hub| {
            facts::quota_metrics(hub, config)
        }),
        (&Method::GET, ["skus"]) => with_hub(state, sub, group, name, facts::skus),
        (&Method::GET, ["eventhubendpoints", _, "consumergroups"]) => {
            let id = format!("/{}", original[..8].join("/"));
            with_hub(state, sub, group, name, |hub| {
                consumer_groups::list(hub, &id, original[9])
            })
        }
        (&Method::GET, ["eventhubendpoints", _, "consumergroups", _]) => {
            let id = format!("/{}", original[..8].join("/"));
            with_hub(state, sub, group, name, |hub| {
                consumer_groups::get(hub, &id, original[9], original[11])
            })
        }
        (&Method::PUT, ["eventhubendpoints", _, "consumergroups", _]) => {
            let id = format!("/{}", original[..8].join("/"));
            with_hub_mut(state, sub, group, name, |hub| {
                consumer_groups::put(hub, &id, original[9], original[11])
            })
        }
        (&Method::DELETE, ["eventhubendpoints", _, "consumergroups", _]) => {
            with_hub_mut(state, sub, group, name, |hub| {
                consumer_groups::delete(hub, original[9], original[11])
            })
        }
        (&Method::POST, ["iothubkeys", _, "listkeys"]) => {
            let key = original[9];
            with_hub(state, sub, group, name, |hub| list_keys(hub, Some(key)))
        }
        _ => method_not_allowed(),
    }
}

pub(crate) fn provider(state: &State, sub: &str, transitional: Option<&str>) -> Resp {
    let registered = state.subscription(sub).is_some_and(|s| s.registered);
    let registration = transitional.unwrap_or(if registered {
        "Registered"
    } else {
        "NotRegistered"
    });
    let locations: Vec<&str> = REGIONS.iter().map(|r| r.display).collect();
    json_response(
        StatusCode::OK,
        &json!({
            "id": format!("/subscriptions/{sub}/providers/Microsoft.Devices"),
            "namespace": "Microsoft.Devices",
            "registrationState": registration,
            "registrationPolicy": "RegistrationRequired",
            "resourceTypes": [
                { "resourceType": "IotHubs", "locations": locations, "apiVersions": IOTHUB.listed },
                { "resourceType": "checkNameAvailability", "locations": [], "apiVersions": IOTHUB.listed },
                { "resourceType": "usages", "locations": [], "apiVersions": IOTHUB.listed },
                { "resourceType": "operations", "locations": [], "apiVersions": IOTHUB.listed },
                { "resourceType": "locations/operationResults", "locations": locations, "apiVersions": IOTHUB.listed },
            ],
        }),
    )
}

/// Why a name cannot be used for a new hub: invalid, or taken anywhere in the world.
fn name_problem(state: &State, name: &str) -> Option<(&'static str, String)> {
    if let Err(e) = names::check_hub_name(name) {
        return Some(("Invalid", e.to_string()));
    }
    let lower = name.to_ascii_lowercase();
    if state.hubs.contains_key(&lower) || NAMES_TAKEN_ELSEWHERE.contains(&lower.as_str()) {
        return Some((
            "AlreadyExists",
            format!("IotHub name '{name}' is not available"),
        ));
    }
    None
}

pub(crate) fn check_name(req: &Req, state: &State) -> Resp {
    let Some(name) = req
        .json()
        .and_then(|b| b.get("name").and_then(Value::as_str).map(str::to_owned))
    else {
        return arm_error(
            StatusCode::BAD_REQUEST,
            "InvalidRequestContent",
            "The request content must be {\"name\": \"…\"}.",
        );
    };
    let body = match name_problem(state, &name) {
        Some((reason, message)) => {
            json!({ "nameAvailable": false, "reason": reason, "message": message })
        }
        None => json!({ "nameAvailable": true, "reason": "Invalid", "message": "" }),
    };
    json_response(StatusCode::OK, &body)
}

pub(crate) fn hub_id(hub: &Hub) -> String {
    format!(
        "/subscriptions/{}/resourceGroups/{}/providers/Microsoft.Devices/IotHubs/{}",
        hub.subscription_id, hub.resource_group, hub.name
    )
}

fn hub_host(hub: &Hub, config: &SandboxConfig) -> String {
    format!(
        "{}.azure-devices.{}",
        hub.name.to_ascii_lowercase(),
        config.suffix
    )
}

/// What Azure shows for settings a hub's PUT left out, as its own example of a hub does:
/// routing to the built-in endpoint only, file uploads off, cloud-to-device defaults.
fn unset_defaults() -> [(String, Value); 5] {
    [
        (
            "routing".into(),
            json!({
                "endpoints": { "serviceBusQueues": [], "serviceBusTopics": [], "eventHubs": [], "storageContainers": [], "cosmosDBSqlContainers": [] },
                "routes": [],
                "fallbackRoute": crate::routing::default_fallback(),
            }),
        ),
        (
            "storageEndpoints".into(),
            json!({ "$default": { "sasTtlAsIso8601": "PT1H", "connectionString": "", "containerName": "" } }),
        ),
        (
            "messagingEndpoints".into(),
            json!({ "fileNotifications": { "lockDurationAsIso8601": "PT1M", "ttlAsIso8601": "PT1H", "maxDeliveryCount": 10 } }),
        ),
        ("enableFileUploadNotifications".into(), json!(false)),
        (
            "cloudToDevice".into(),
            json!({
                "maxDeliveryCount": 10,
                "defaultTtlAsIso8601": "PT1H",
                "feedback": { "lockDurationAsIso8601": "PT1M", "ttlAsIso8601": "PT1H", "maxDeliveryCount": 10 },
            }),
        ),
    ]
}

/// A time as ARM writes it: `2026-12-07T12:00:00.123Z`.
pub(crate) fn rfc3339(ms: u64) -> String {
    time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000)
        .ok()
        .and_then(|t| {
            t.format(&time::format_description::well_known::Rfc3339)
                .ok()
        })
        .unwrap_or_default()
}

pub(crate) fn hub_json(hub: &Hub, config: &SandboxConfig) -> Value {
    let now = now_ms();
    let busy = now < hub.busy_until_ms;
    let (provisioning, activity) = match (busy, hub.creating) {
        (true, true) => ("Accepted", "Activating"),
        (true, false) => ("Updating", "Active"),
        (false, _) => ("Succeeded", "Active"),
    };
    let (tier, ..) = sku_facts(&hub.sku).unwrap_or(("Standard", 0, 0));
    let partitions = crate::eventhubs::log::partition_count(&hub.sku);
    let mut properties = hub.other_properties.clone();
    if let Some(routing) = properties.get_mut("routing") {
        *routing = crate::routing::masked(routing);
    }
    let n = &hub.network;
    for (key, value) in [
        ("publicNetworkAccess", json!(n.public_network_access)),
        ("ipFilterRules", n.ip_filter_rules.clone()),
        ("networkRuleSets", n.network_rule_sets.clone()),
        ("disableLocalAuth", json!(n.disable_local_auth)),
        ("disableDeviceSAS", json!(n.disable_device_sas)),
        ("minTlsVersion", json!(n.min_tls_version)),
        ("provisioningState", json!(provisioning)),
        ("state", json!(activity)),
        ("hostName", json!(hub_host(hub, config))),
        (
            "eventHubEndpoints",
            json!({ "events": {
                "retentionTimeInDays": hub.retention_days, "partitionCount": partitions,
                "partitionIds": (0..partitions).map(|i| i.to_string()).collect::<Vec<_>>(),
                "path": crate::eventhubs::entity_path(&hub.name),
                "endpoint": format!("sb://{}/", crate::eventhubs::namespace_host(&hub.name, &config.suffix)),
            }}),
        ),
        ("features", json!("None")),
        ("locations", failover::locations(hub)),
        (
            "privateEndpointConnections",
            if hub.private_endpoint_connections.is_empty() {
                Value::Null
            } else {
                json!(hub.private_endpoint_connections)
            },
        ),
    ] {
        if !value.is_null() {
            properties.insert(key.into(), value);
        }
    }
    for (key, value) in unset_defaults() {
        properties.entry(key).or_insert(value);
    }
    json!({
        "id": hub_id(hub),
        "name": hub.name,
        "type": "Microsoft.Devices/IotHubs",
        "location": hub.location,
        // Not in the REST specification, but Azure sends them and `az iot hub` commands given
        // only a hub's name find its resource group here.
        "resourcegroup": hub.resource_group,
        "subscriptionid": hub.subscription_id,
        "tags": hub.tags,
        "etag": hub.etag.trim_matches('"'),
        "sku": { "name": hub.sku, "tier": tier, "capacity": hub.capacity },
        "properties": Value::Object(properties),
        "identity": hub.identity.clone().unwrap_or_else(|| json!({ "type": "None" })),
        "systemData": { "createdAt": rfc3339(hub.created_ms) },
    })
}

pub(crate) fn list_hubs(
    state: &State,
    config: &SandboxConfig,
    keep: impl Fn(&Hub) -> bool,
) -> Resp {
    let value: Vec<Value> = state
        .hubs
        .values()
        .filter(|h| keep(h))
        .filter(|h| {
            let group = format!(
                "/subscriptions/{}/resourceGroups/{}",
                h.subscription_id, h.resource_group
            );
            rbac::allowed("Microsoft.Devices/IotHubs/read", &group)
        })
        .map(|h| hub_json(h, config))
        .collect();
    json_response(StatusCode::OK, &json!({ "value": value, "nextLink": null }))
}

fn hub_not_found(group: &str, name: &str) -> Resp {
    arm_error(
        StatusCode::NOT_FOUND,
        "ResourceNotFound",
        &format!("The Resource 'Microsoft.Devices/IotHubs/{name}' under resource group '{group}' was not found. For more details please go to https://aka.ms/ARMResourceNotFoundFix"),
    )
}

/// Runs `action` on the hub `name` in `sub`/`group`, or answers 404.
fn with_hub(
    state: &State,
    sub: &str,
    group: &str,
    name: &str,
    action: impl FnOnce(&Hub) -> Resp,
) -> Resp {
    let key = name.to_ascii_lowercase();
    match state.hubs.get(&key) {
        Some(hub)
            if hub.subscription_id == sub && hub.resource_group.eq_ignore_ascii_case(group) =>
        {
            action(hub)
        }
        _ => hub_not_found(group, name),
    }
}

fn with_hub_mut(
    state: &mut State,
    sub: &str,
    group: &str,
    name: &str,
    action: impl FnOnce(&mut Hub) -> Resp,
) -> Resp {
    match hub_in(state, sub, group, name) {
        Some(hub) => action(hub),
        None => hub_not_found(group, name),
    }
}

/// The hub `name` of that subscription and resource group.
pub(crate) fn hub_in<'a>(
    state: &'a mut State,
    sub: &str,
    group: &str,
    name: &str,
) -> Option<&'a mut Hub> {
    state
        .hubs
        .get_mut(&name.to_ascii_lowercase())
        .filter(|hub| hub.subscription_id == sub && hub.resource_group.eq_ignore_ascii_case(group))
}

fn list_keys(hub: &Hub, only: Option<&str>) -> Resp {
    if !hub.is_active(now_ms()) {
        return provider_error(
            StatusCode::CONFLICT,
            "IotHubNotActive",
            &format!(
                "IotHub '{}' is still being created; wait for it to become active.",
                hub.name
            ),
        );
    }
    let policy_json = |p: &Policy| json!({ "keyName": p.key_name, "primaryKey": p.primary_key, "secondaryKey": p.secondary_key, "rights": p.rights });
    match only {
        None => json_response(
            StatusCode::OK,
            &json!({ "value": hub.policies.iter().map(policy_json).collect::<Vec<_>>(), "nextLink": null }),
        ),
        Some(key) => match hub.policy(key) {
            Some(policy) => json_response(StatusCode::OK, &policy_json(policy)),
            None => provider_error(
                StatusCode::NOT_FOUND,
                "KeyNameNotFound",
                &format!(
                    "The key name '{key}' was not found on IotHub '{}'.",
                    hub.name
                ),
            ),
        },
    }
}

fn async_headers(
    response: Resp,
    state: &mut State,
    config: &SandboxConfig,
    sub: &str,
    location: &str,
    done_at_ms: u64,
) -> Resp {
    let id = state::random_base64(24).replace(['+', '/', '='], "");
    state.operations.insert(
        id.clone(),
        Operation {
            subscription_id: sub.to_owned(),
            done_at_ms,
        },
    );
    let url = format!(
        "https://management.{}/subscriptions/{sub}/providers/Microsoft.Devices/locations/{location}/operationResults/{id}?api-version=2023-06-30&operationSource=other&asyncinfo",
        config.suffix
    );
    let response = with_header(response, "azure-asyncoperation", &url);
    with_header(
        response,
        "retry-after",
        &config.retry_after_secs.to_string(),
    )
}

pub(crate) fn operation(state: &State, sub: &str, id: &str) -> Resp {
    match state.operations.get(id) {
        Some(op) if op.subscription_id == sub => {
            let status = if now_ms() >= op.done_at_ms {
                "Succeeded"
            } else {
                "Running"
            };
            json_response(StatusCode::OK, &json!({ "status": status }))
        }
        _ => arm_error(
            StatusCode::NOT_FOUND,
            "OperationNotFound",
            &format!("The operation '{id}' could not be found."),
        ),
    }
}
