//! IotHub creates, updates and deletes, checked as Azure checks them: region, SKU and units,
//! tier transitions, the one free hub per subscription, etags, shared access policies.

use hyper::StatusCode;
use serde_json::{json, Map, Value};

use super::super::resources::region;
use super::super::{arm_time, policy};
use super::{async_headers, catalog, hub_json, name_problem};
use crate::http::{arm_error, empty, json_response, provider_error, Req, Resp};
use crate::state::{self, now_ms, sku_facts, Hub, Network, Policy, State, REGIONS};
use crate::SandboxConfig;

const RIGHTS_ORDER: [&str; 4] = [
    "RegistryRead",
    "RegistryWrite",
    "ServiceConnect",
    "DeviceConnect",
];

fn bad_request(code: &str, message: &str) -> Resp {
    provider_error(StatusCode::BAD_REQUEST, code, message)
}

/// Checks an SKU change of an existing hub against Azure's rules.
fn sku_change_problem(from: &str, to: &str) -> Option<String> {
    let tier = |s: &str| s.chars().next().unwrap_or('?');
    match (tier(from), tier(to)) {
        (a, b) if a == b => None,
        ('F', _) => Some(format!("A free (F1) IoT hub cannot be changed to {to}. Create a new hub in the tier you need and move the devices.")),
        (_, 'F') => Some(format!("An IoT hub cannot be changed to the free tier (from {from}).")),
        ('S', 'B') => Some(format!("An IoT hub cannot be downgraded from the standard tier ({from}) to the basic tier ({to}).")),
        _ => None,
    }
}

/// Reads `properties.authorizationPolicies` of a PUT: policies with keys keep them, policies
/// without keys get new ones (so a client that drops keys re-keys that policy, as PUT
/// replaces). Absent means Azure's default set with new keys.
fn policies_from(body: &Value) -> Result<Vec<Policy>, Resp> {
    let Some(list) = body
        .pointer("/properties/authorizationPolicies")
        .filter(|v| !v.is_null())
    else {
        return Ok(state::default_policies());
    };
    let Some(list) = list.as_array() else {
        return Err(bad_request(
            "InvalidAuthorizationPolicies",
            "authorizationPolicies must be a list.",
        ));
    };
    let mut policies: Vec<Policy> = Vec::new();
    for item in list {
        let name = item
            .get("keyName")
            .and_then(Value::as_str)
            .unwrap_or_default();
        if name.is_empty()
            || name.len() > 64
            || !name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
        {
            return Err(bad_request("InvalidKeyName", &format!("The key name '{name}' is invalid: use 1 to 64 letters, digits, '-', '_' and '.'.")));
        }
        if policies
            .iter()
            .any(|p| p.key_name.eq_ignore_ascii_case(name))
        {
            return Err(bad_request(
                "DuplicateKeyName",
                &format!("The key name '{name}' appears more than once."),
            ));
        }
        let rights_text = item
            .get("rights")
            .and_then(Value::as_str)
            .unwrap_or_default();
        let given: Vec<&str> = rights_text
            .split(',')
            .map(str::trim)
            .filter(|r| !r.is_empty())
            .collect();
        if given.is_empty() || given.iter().any(|r| !RIGHTS_ORDER.contains(r)) {
            return Err(bad_request("InvalidAccessRights", &format!("The rights '{rights_text}' of key '{name}' are invalid; use RegistryRead, RegistryWrite, ServiceConnect and DeviceConnect.")));
        }
        let rights = RIGHTS_ORDER
            .iter()
            .filter(|r| given.contains(r))
            .copied()
            .collect::<Vec<_>>()
            .join(", ");
        let key = |field: &str| -> Result<String, Resp> {
            match item.get(field).and_then(Value::as_str) {
                None | Some("") => Ok(state::random_base64(32)),
                Some(k) => hubsetup_core::SharedAccessKey::from_base64(k)
                    .map(|_| k.to_owned())
                    .map_err(|_| {
                        bad_request(
                            "InvalidKey",
                            &format!(
                                "The {field} of key '{name}' must be base64 of 16 to 64 bytes."
                            ),
                        )
                    }),
            }
        };
        policies.push(Policy {
            key_name: name.to_owned(),
            primary_key: key("primaryKey")?,
            secondary_key: key("secondaryKey")?,
            rights,
        });
    }
    Ok(policies)
}

fn network_from(body: &Value) -> Network {
    let p = |name: &str| {
        body.pointer(&format!("/properties/{name}"))
            .cloned()
            .unwrap_or(Value::Null)
    };
    let defaults = Network::default();
    Network {
        public_network_access: p("publicNetworkAccess")
            .as_str()
            .map_or(defaults.public_network_access, str::to_owned),
        ip_filter_rules: if p("ipFilterRules").is_array() {
            p("ipFilterRules")
        } else {
            defaults.ip_filter_rules
        },
        network_rule_sets: p("networkRuleSets"),
        disable_local_auth: p("disableLocalAuth").as_bool().unwrap_or(false),
        disable_device_sas: p("disableDeviceSAS").as_bool().unwrap_or(false),
        min_tls_version: p("minTlsVersion").as_str().map(str::to_owned),
    }
}

/// Properties the sandbox does not model, kept as sent; read-only ones are dropped.
fn other_properties_from(body: &Value) -> Map<String, Value> {
    const MODELLED: &[&str] = &[
        "authorizationPolicies",
        "publicNetworkAccess",
        "ipFilterRules",
        "networkRuleSets",
        "disableLocalAuth",
        "disableDeviceSAS",
        "minTlsVersion",
        "provisioningState",
        "state",
        "hostName",
        "eventHubEndpoints",
        "features",
        "locations",
    ];
    body.pointer("/properties")
        .and_then(Value::as_object)
        .map(|m| {
            m.iter()
                .filter(|(k, _)| !MODELLED.contains(&k.as_str()))
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect()
        })
        .unwrap_or_default()
}

/// The identities a PUT asks for: a system-assigned identity keeps its principal across
/// updates (Azure makes a new one only when it is turned on), user-assigned ones are kept as
/// given with ids of their own.
fn identity_from(
    body: &Value,
    previous: Option<&Value>,
    tenant: &str,
) -> Result<Option<Value>, Resp> {
    let Some(asked) = body.get("identity").filter(|i| !i.is_null()) else {
        return Ok(None);
    };
    let kind = asked
        .get("type")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let (system, user) = match kind {
        "None" => return Ok(None),
        "SystemAssigned" => (true, false),
        "UserAssigned" => (false, true),
        "SystemAssigned, UserAssigned" | "SystemAssigned,UserAssigned" => (true, true),
        _ => {
            return Err(bad_request(
                "InvalidIdentityType",
                &format!("The identity type '{kind}' is invalid; use None, SystemAssigned, UserAssigned or 'SystemAssigned, UserAssigned'."),
            ))
        }
    };
    let mut identity = json!({ "type": kind });
    if system {
        let kept = previous
            .and_then(|p| p.get("principalId"))
            .filter(|id| id.is_string())
            .cloned();
        identity["principalId"] = kept.unwrap_or_else(|| json!(crate::http::uuid_like()));
        identity["tenantId"] = json!(tenant);
    }
    if user {
        let Some(given) = asked
            .get("userAssignedIdentities")
            .and_then(Value::as_object)
        else {
            return Err(bad_request(
                "InvalidIdentity",
                "A user-assigned identity needs userAssignedIdentities: the resource ids of the identities.",
            ));
        };
        let ids: Map<String, Value> = given
            .keys()
            .map(|id| {
                (id.clone(), json!({ "principalId": crate::http::uuid_like(), "clientId": crate::http::uuid_like() }))
            })
            .collect();
        identity["userAssignedIdentities"] = Value::Object(ids);
    }
    Ok(Some(identity))
}

pub(crate) fn put_hub(
    req: &Req,
    state: &mut State,
    config: &SandboxConfig,
    sub: &str,
    group: &str,
    name: &str,
) -> Resp {
    let Some(body) = req.json() else {
        return arm_error(
            StatusCode::BAD_REQUEST,
            "InvalidRequestContent",
            "The request content was invalid and could not be deserialized.",
        );
    };
    // Azure Policy judges the request at ARM's front door, before the provider sees it.
    if let Some(refusal) = policy::deny("Microsoft.Devices/IotHubs", sub, group, name, &body) {
        return refusal;
    }
    let mut body = body;
    policy::modify_hub(sub, group, &mut body);
    let Some(location) = body
        .get("location")
        .and_then(Value::as_str)
        .and_then(region)
    else {
        return arm_error(
            StatusCode::BAD_REQUEST,
            "LocationNotAvailableForResourceType",
            &format!(
                "The provided location '{}' is not available for resource type 'Microsoft.Devices/IotHubs'. List of available regions for the resource type is '{}'.",
                body.get("location").and_then(Value::as_str).unwrap_or_default(),
                REGIONS.iter().map(|r| r.name).collect::<Vec<_>>().join(",")
            ),
        );
    };
    let sku = body
        .pointer("/sku/name")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned();
    let Some((_, max_units, _)) = sku_facts(&sku) else {
        return bad_request(
            "InvalidSku",
            &format!("The SKU '{sku}' is not valid; use F1, B1, B2, B3, S1, S2 or S3."),
        );
    };
    let capacity = body
        .pointer("/sku/capacity")
        .and_then(Value::as_u64)
        .unwrap_or(1);
    if !(1..=max_units).contains(&capacity) {
        return bad_request(
            "IotHubUnitsOutOfRange",
            &format!("The number of units for SKU {sku} must be between 1 and {max_units}; {capacity} was requested."),
        );
    }
    let tenant = state
        .subscription(sub)
        .map(|s| s.tenant_id.clone())
        .unwrap_or_default();
    let policies = match policies_from(&body) {
        Ok(p) => p,
        Err(refusal) => return refusal,
    };
    let now = now_ms();
    let done_at = now + config.hub_provisioning_time.as_millis() as u64;
    let key = name.to_ascii_lowercase();
    let existing = state.hubs.get(&key).cloned();
    let mut hub = match existing {
        Some(mut hub)
            if hub.subscription_id == sub && hub.resource_group.eq_ignore_ascii_case(group) =>
        {
            let if_match = req.header("if-match").map(str::trim);
            match if_match {
                None => {
                    return provider_error(
                        StatusCode::PRECONDITION_FAILED,
                        "PreconditionFailed",
                        &format!("IotHub '{}' already exists. To update it, send its etag in the If-Match header.", hub.name),
                    )
                }
                Some(tag) if tag != "*" && tag.trim_matches('"') != hub.etag.trim_matches('"') => {
                    return provider_error(
                        StatusCode::PRECONDITION_FAILED,
                        "PreconditionFailed",
                        &format!("Precondition failed: the etag {tag} does not match the current etag of IotHub '{}'. Read the hub again and retry.", hub.name),
                    )
                }
                Some(_) => {}
            }
            if now < hub.busy_until_ms {
                return provider_error(
                    StatusCode::CONFLICT,
                    "OperationInProgress",
                    &format!(
                        "IotHub '{}' is being created or updated; wait for that to finish.",
                        hub.name
                    ),
                );
            }
            if hub.location != location {
                return bad_request(
                    "LocationCannotBeChanged",
                    &format!(
                        "The location of IotHub '{}' cannot be changed from {} to {location}.",
                        hub.name, hub.location
                    ),
                );
            }
            if let Some(problem) = sku_change_problem(&hub.sku, &sku) {
                return bad_request("InvalidSkuChange", &problem);
            }
            hub.creating = false;
            hub
        }
        Some(_) => {
            return provider_error(
                StatusCode::CONFLICT,
                "IotHubNameNotAvailable",
                &format!("IotHub name '{name}' is not available"),
            )
        }
        None => {
            if let Some((_, message)) = name_problem(state, name) {
                return provider_error(StatusCode::BAD_REQUEST, "InvalidIotHubName", &message);
            }
            let free = catalog::free_hubs(state, sub);
            if sku == "F1" && free >= catalog::FREE_HUBS {
                return provider_error(
                    StatusCode::BAD_REQUEST,
                    "400019",
                    &format!(
                        "Max number of Iot Hubs exceeded for sku = Free, Max Allowed = {}, Current = {free}. If you contact a support representative please include this correlation identifier: {}, timestamp: {}, errorcode: IH400019.",
                        catalog::FREE_HUBS,
                        crate::http::uuid_like(),
                        arm_time(now / 1000)
                    ),
                );
            }
            Hub {
                name: name.to_owned(),
                subscription_id: sub.to_owned(),
                resource_group: group.to_owned(),
                location: location.to_owned(),
                sku: sku.clone(),
                capacity,
                etag: String::new(),
                tags: json!({}),
                network: Network::default(),
                policies: vec![],
                devices: Default::default(),
                other_properties: Map::new(),
                busy_until_ms: 0,
                creating: true,
                created_ms: now,
                quota_day: 0,
                messages_today: 0,
                consumer_groups: state::default_consumer_groups(),
                identity: None,
                events: Default::default(),
                endpoint_health: Default::default(),
                failed_over: false,
                private_endpoint_connections: Vec::new(),
                certificates: Vec::new(),
                jobs: Vec::new(),
                retention_days: 1,
                routing: None,
                metrics: Default::default(),
            }
        }
    };
    let retention = body
        .pointer("/properties/eventHubEndpoints/events/retentionTimeInDays")
        .and_then(Value::as_u64)
        .unwrap_or(u64::from(hub.retention_days));
    let most = if sku == "F1" { 1 } else { 7 };
    if !(1..=most).contains(&retention) {
        return bad_request(
            "InvalidRetentionTime",
            &format!("The retention time of the built-in endpoint must be between 1 and {most} days for SKU {sku}; {retention} was requested."),
        );
    }
    hub.retention_days = retention as u32;
    let created = hub.creating;
    hub.sku = sku;
    hub.capacity = capacity;
    hub.tags = body
        .get("tags")
        .filter(|t| t.is_object())
        .cloned()
        .unwrap_or_else(|| json!({}));
    hub.network = network_from(&body);
    hub.policies = policies;
    hub.other_properties = other_properties_from(&body);
    hub.identity = match identity_from(&body, hub.identity.as_ref(), &tenant) {
        Ok(identity) => identity,
        Err(refusal) => return refusal,
    };
    let previous_routing = state
        .hubs
        .get(&key)
        .and_then(|h| h.other_properties.get("routing").cloned());
    crate::routing::complete(
        hub.other_properties.get_mut("routing"),
        previous_routing.as_ref(),
        state,
    );
    match crate::routing::validate(hub.other_properties.get("routing"), &hub.sku, state) {
        Ok(routing) => hub.routing = Some(std::sync::Arc::new(routing)),
        Err(refusal) => return refusal,
    }
    hub.busy_until_ms = done_at;
    hub.etag = state.next_etag();
    let rendered = hub_json(&hub, config);
    state.hubs.insert(key, hub);
    let status = if created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    async_headers(
        json_response(status, &rendered),
        state,
        config,
        sub,
        location,
        done_at,
    )
}

/// PATCH: Azure updates only a hub's tags this way; everything else goes through PUT.
pub(crate) fn patch_hub(
    req: &Req,
    state: &mut State,
    config: &SandboxConfig,
    sub: &str,
    group: &str,
    name: &str,
) -> Resp {
    let Some(tags) = req
        .json()
        .and_then(|b| b.get("tags").cloned())
        .filter(Value::is_object)
    else {
        return arm_error(
            StatusCode::BAD_REQUEST,
            "InvalidRequestContent",
            "The request content must be {\"tags\": {…}}: only a hub's tags are updated with PATCH.",
        );
    };
    let etag = state.next_etag();
    super::with_hub_mut(state, sub, group, name, |hub| {
        hub.tags = tags;
        hub.etag = etag;
        json_response(StatusCode::OK, &hub_json(hub, config))
    })
}

pub(crate) fn delete_hub(
    state: &mut State,
    config: &SandboxConfig,
    sub: &str,
    group: &str,
    name: &str,
) -> Resp {
    let key = name.to_ascii_lowercase();
    match state.hubs.get(&key) {
        Some(hub)
            if hub.subscription_id == sub && hub.resource_group.eq_ignore_ascii_case(group) =>
        {
            let location = hub.location.clone();
            // Azure answers with the hub as it goes, as its specification documents.
            let mut going = hub_json(hub, config);
            going["properties"]["provisioningState"] = json!("Deleting");
            going["properties"]["state"] = json!("Deleting");
            state.hubs.remove(&key);
            let done_at = now_ms() + config.hub_provisioning_time.as_millis() as u64;
            async_headers(
                json_response(StatusCode::ACCEPTED, &going),
                state,
                config,
                sub,
                &location,
                done_at,
            )
        }
        _ => empty(StatusCode::NO_CONTENT),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tier_changes_follow_azure_rules() {
        assert_eq!(sku_change_problem("S1", "S3"), None);
        assert_eq!(sku_change_problem("B1", "S1"), None);
        assert_eq!(sku_change_problem("B2", "B1"), None);
        assert!(sku_change_problem("F1", "S1")
            .unwrap()
            .starts_with("A free (F1) IoT hub cannot be changed"));
        assert!(sku_change_problem("S1", "F1").is_some());
        assert!(sku_change_problem("S2", "B2")
            .unwrap()
            .contains("downgraded"));
    }
}
