//! Azure Resource Manager's own resources: subscriptions, their regions and resource groups.

use hyper::{Method, StatusCode};
use serde_json::{json, Value};

use super::{method_not_allowed, rbac};
use crate::http::{arm_error, empty, json_response, with_header, Req, Resp};
use crate::state::{self, now_ms, Operation, State, REGIONS};
use crate::SandboxConfig;

pub(crate) fn subscription_json(s: &state::Subscription) -> Value {
    let tenant = state::tenant(&s.tenant_id).map_or(state::TENANT_ID, |t| t.id);
    json!({
        "id": format!("/subscriptions/{}", s.id),
        "authorizationSource": "RoleBased",
        "managedByTenants": [],
        "subscriptionId": s.id,
        "tenantId": tenant,
        "displayName": s.display_name,
        "state": s.state,
        "subscriptionPolicies": { "locationPlacementId": "Public_2014-09-01", "quotaId": "PayAsYouGo_2014-09-01", "spendingLimit": "Off" },
    })
}

/// The subscriptions of the token's tenant, as ARM lists them.
pub(crate) fn list_subscriptions(state: &State, tenant: &str) -> Resp {
    let value: Vec<Value> = state
        .subscriptions
        .iter()
        .filter(|s| s.tenant_id.eq_ignore_ascii_case(tenant))
        .map(subscription_json)
        .collect();
    json_response(
        StatusCode::OK,
        &json!({ "count": { "type": "Total", "value": value.len() }, "value": value }),
    )
}

pub(crate) fn locations(sub: &str) -> Resp {
    let value: Vec<Value> = REGIONS
        .iter()
        .map(|r| {
            let (paired, _) = r.paired;
            json!({
                "id": format!("/subscriptions/{sub}/locations/{}", r.name),
                "name": r.name,
                "type": "Region",
                "subscriptionId": sub,
                "displayName": r.display,
                "regionalDisplayName": format!("({}) {}", r.geography_group, r.display),
                "metadata": {
                    "regionType": "Physical",
                    "regionCategory": "Recommended",
                    "geography": r.geography,
                    "geographyGroup": r.geography_group,
                    "longitude": r.longitude,
                    "latitude": r.latitude,
                    "physicalLocation": r.physical_location,
                    "pairedRegion": [{
                        "name": paired,
                        "id": format!("/subscriptions/{sub}/locations/{paired}"),
                        "subscriptionId": sub,
                    }],
                },
                "availabilityZoneMappings": (1..=3)
                    .map(|zone| json!({ "logicalZone": zone.to_string(), "physicalZone": format!("{}-az{zone}", r.name) }))
                    .collect::<Vec<_>>(),
            })
        })
        .collect();
    json_response(StatusCode::OK, &json!({ "value": value }))
}

/// The region's canonical name, from either `westeurope` or `West Europe`.
pub(crate) fn region(location: &str) -> Option<&'static str> {
    let squashed: String = location
        .chars()
        .filter(|c| !c.is_whitespace())
        .collect::<String>()
        .to_ascii_lowercase();
    REGIONS.iter().find(|r| r.name == squashed).map(|r| r.name)
}

/// A region by its canonical name.
pub(crate) fn region_named(name: &str) -> Option<&'static state::Region> {
    REGIONS.iter().find(|r| r.name == name)
}

fn group_json(sub: &str, group: &state::ResourceGroup) -> Value {
    json!({
        "id": format!("/subscriptions/{sub}/resourceGroups/{}", group.name),
        "name": group.name,
        "type": "Microsoft.Resources/resourceGroups",
        "location": group.location,
        "tags": group.tags,
        "properties": { "provisioningState": "Succeeded" },
    })
}

pub(crate) fn list_groups(state: &State, sub: &str) -> Resp {
    let groups = state
        .subscription(sub)
        .map(|s| s.resource_groups.clone())
        .unwrap_or_default();
    let value: Vec<Value> = groups
        .iter()
        .filter(|g| {
            let scope = format!("/subscriptions/{sub}/resourceGroups/{}", g.name);
            rbac::allowed(
                "Microsoft.Resources/subscriptions/resourceGroups/read",
                &scope,
            )
        })
        .map(|g| group_json(sub, g))
        .collect();
    json_response(StatusCode::OK, &json!({ "value": value }))
}

pub(crate) fn group_exists(state: &State, sub: &str, name: &str) -> bool {
    group_location(state, sub, name).is_some()
}

/// The location of a resource group, if it exists.
pub(crate) fn group_location(state: &State, sub: &str, name: &str) -> Option<String> {
    state.subscription(sub).and_then(|s| {
        s.resource_groups
            .iter()
            .find(|g| g.name.eq_ignore_ascii_case(name))
            .map(|g| g.location.clone())
    })
}

pub(crate) fn group_not_found(name: &str) -> Resp {
    arm_error(
        StatusCode::NOT_FOUND,
        "ResourceGroupNotFound",
        &format!("Resource group '{name}' could not be found."),
    )
}

/// Resource group names: 1–90 letters, digits, `_ - . ( )`, not ending in a period.
fn valid_group_name(name: &str) -> bool {
    (1..=90).contains(&name.len())
        && name
            .chars()
            .all(|c| c.is_alphanumeric() || "_-.()".contains(c))
        && !name.ends_with('.')
}

pub(crate) fn resource_group(
    req: &Req,
    method: &Method,
    state: &mut State,
    config: &SandboxConfig,
    sub: &str,
    name: &str,
) -> Resp {
    let existing = state.subscription(sub).and_then(|s| {
        s.resource_groups
            .iter()
            .find(|g| g.name.eq_ignore_ascii_case(name))
            .cloned()
    });
    match (method, existing) {
        (&Method::HEAD, Some(_)) => empty(StatusCode::NO_CONTENT),
        (&Method::HEAD, None) => empty(StatusCode::NOT_FOUND),
        (&Method::GET, Some(group)) => json_response(StatusCode::OK, &group_json(sub, &group)),
        (&Method::GET, None) => group_not_found(name),
        (&Method::PUT, existing) => {
            let location = req
                .json()
                .and_then(|b| b.get("location").and_then(Value::as_str).map(str::to_owned));
            let Some(location) = location.as_deref().and_then(region) else {
                return arm_error(
                    StatusCode::BAD_REQUEST,
                    "LocationNotAvailableForResourceGroup",
                    &format!("The provided location '{}' is not available for resource group. List of available regions is '{}'.",
                        location.unwrap_or_default(), REGIONS.iter().map(|r| r.name).collect::<Vec<_>>().join(",")),
                );
            };
            if !valid_group_name(name) {
                return arm_error(
                    StatusCode::BAD_REQUEST,
                    "InvalidResourceGroupNameFormat",
                    &format!("The resource group name '{name}' is invalid. It can have up to 90 letters, digits, underscores, hyphens, periods and parentheses, and cannot end in a period."),
                );
            }
            match existing {
                Some(group) if group.location != location => arm_error(
                    StatusCode::CONFLICT,
                    "InvalidResourceGroupLocation",
                    &format!("Invalid resource group location '{location}'. The Resource group already exists in location '{}'.", group.location),
                ),
                // PUT replaces a group's tags, as `az group update` relies on.
                Some(group) => {
                    let updated = state::ResourceGroup { tags: tags_of(req), ..group };
                    if let Some(kept) = state
                        .subscription_mut(sub)
                        .and_then(|s| s.resource_groups.iter_mut().find(|g| g.name == updated.name))
                    {
                        *kept = updated.clone();
                    }
                    json_response(StatusCode::OK, &group_json(sub, &updated))
                }
                None => {
                    let group = state::ResourceGroup { name: name.to_owned(), location: location.to_owned(), tags: tags_of(req) };
                    if let Some(s) = state.subscription_mut(sub) {
                        s.resource_groups.push(group.clone());
                    }
                    json_response(StatusCode::CREATED, &group_json(sub, &group))
                }
            }
        }
        (&Method::DELETE, Some(group)) => delete_group(state, config, sub, &group.name),
        (&Method::DELETE, None) => group_not_found(name),
        _ => method_not_allowed(),
    }
}

/// The tags of a group's PUT (none when it has none).
fn tags_of(req: &Req) -> std::collections::BTreeMap<String, String> {
    req.json()
        .and_then(|b| serde_json::from_value(b.get("tags")?.clone()).ok())
        .unwrap_or_default()
}

/// Deletes a group and everything in it, as ARM does: 202 and a `Location` to poll.
fn delete_group(state: &mut State, config: &SandboxConfig, sub: &str, name: &str) -> Resp {
    state.hubs.retain(|_, hub| {
        !(hub.subscription_id == sub && hub.resource_group.eq_ignore_ascii_case(name))
    });
    if let Some(s) = state.subscription_mut(sub) {
        s.resource_groups.retain(|g| g.name != name);
    }
    let id = state::random_hex(16).to_ascii_uppercase();
    state.operations.insert(
        id.clone(),
        Operation {
            subscription_id: sub.to_owned(),
            done_at_ms: now_ms(),
        },
    );
    let location = format!(
        "https://management.{}/subscriptions/{sub}/operationresults/{id}?api-version=2024-11-01",
        config.suffix
    );
    let response = with_header(empty(StatusCode::ACCEPTED), "location", &location);
    with_header(
        response,
        "retry-after",
        &config.retry_after_secs.to_string(),
    )
}

/// A group deletion's progress: 202 while it runs, 200 when done.
pub(crate) fn deletion(state: &State, sub: &str, id: &str) -> Resp {
    match state.operations.get(id) {
        Some(op) if op.subscription_id == sub && now_ms() >= op.done_at_ms => empty(StatusCode::OK),
        Some(op) if op.subscription_id == sub => empty(StatusCode::ACCEPTED),
        _ => arm_error(
            StatusCode::NOT_FOUND,
            "OperationNotFound",
            &format!("The operation '{id}' could not be found."),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn regions_accept_names_and_display_names() {
        assert_eq!(region("West Europe"), Some("westeurope"));
        assert_eq!(region("westeurope"), Some("westeurope"));
        assert_eq!(region("Atlantis"), None);
        assert!(valid_group_name("rg_iot-(prod).1"));
        assert!(!valid_group_name("rg."));
        assert!(!valid_group_name(""));
    }
}
