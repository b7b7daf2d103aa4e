//! The Azure Resource Manager stand-in: subscriptions, resource groups, the Microsoft.Devices
//! provider (registration, regions, `checkNameAvailability`) and IotHubs at api-version
//! 2023-06-30, with long-running creates and updates, etags, the one-free-hub rule, tier
//! transitions and unit bounds. Bearer tokens from the Entra stand-in are checked on every call.

use hubsetup_core::names;
use hyper::{Method, StatusCode};
use serde_json::{json, Map, Value};

use crate::entra::{self, BearerProblem};
use crate::http::{arm_error, empty, json_response, provider_error, with_header, Req, Resp};
use crate::state::{
    self, now_ms, sku_facts, Hub, Network, Operation, Policy, State, NAMES_TAKEN_ELSEWHERE, REGIONS,
};
use crate::SandboxConfig;

mod consumer_groups;
mod facts;
mod locks;
mod metadata;
pub(crate) mod policy;
mod rbac;

const IOTHUB_API_VERSIONS: &[&str] = &[
    "2023-06-30",
    "2023-06-30-preview",
    "2022-04-30-preview",
    "2021-07-02",
];
const RESOURCES_API_VERSIONS: &[&str] = &["2022-09-01", "2021-04-01"];
const SUBSCRIPTIONS_API_VERSIONS: &[&str] = &["2022-12-01", "2020-01-01"];
/// Permissions (2022-04-01, 2015-07-01), management locks (2020-05-01, 2016-09-01) and Azure
/// Policy (2023-04-01, 2022-06-01, 2021-06-01).
const AUTHORIZATION_API_VERSIONS: &[&str] = &[
    "2023-04-01",
    "2022-06-01",
    "2022-04-01",
    "2021-06-01",
    "2020-05-01",
    "2016-09-01",
    "2015-07-01",
];
const RIGHTS_ORDER: [&str; 4] = [
    "RegistryRead",
    "RegistryWrite",
    "ServiceConnect",
    "DeviceConnect",
];

pub(crate) fn handle(req: &Req, state: &mut State, config: &SandboxConfig) -> Resp {
    let original = req.segments();
    let lower: Vec<String> = original.iter().map(|s| s.to_ascii_lowercase()).collect();
    let lower: Vec<&str> = lower.iter().map(String::as_str).collect();
    // The one ARM request Azure answers without a token: how to reach this cloud.
    if req.method == Method::GET && lower.as_slice() == ["metadata", "endpoints"] {
        return metadata::endpoints(req, config);
    }
    let claims = match authenticate(req, state, config) {
        Ok(claims) => claims,
        Err(refusal) => return refusal,
    };
    let versions = match lower.as_slice() {
        ["subscriptions"]
        | ["subscriptions", _]
        | ["subscriptions", _, "locations"]
        | ["tenants"] => SUBSCRIPTIONS_API_VERSIONS,
        [.., "providers", "microsoft.authorization", "permissions" | "locks" | "policyassignments"]
        | ["providers", "microsoft.authorization", "policydefinitions", _] => {
            AUTHORIZATION_API_VERSIONS
        }
        [_, _, "providers", "microsoft.devices"]
        | [_, _, "providers", "microsoft.devices", "register"] => RESOURCES_API_VERSIONS,
        [_, _, "providers", "microsoft.devices", ..]
        | [_, _, "resourcegroups", _, "providers", ..] => IOTHUB_API_VERSIONS,
        _ => RESOURCES_API_VERSIONS,
    };
    let on_provider = versions == IOTHUB_API_VERSIONS;
    if let Err(refusal) = check_api_version(req, versions) {
        return refusal;
    }
    if req.method == Method::GET {
        match lower.as_slice() {
            ["subscriptions"] => return list_subscriptions(state, &claims.tid),
            ["tenants"] => return metadata::tenants(),
            ["providers", "microsoft.authorization", "policydefinitions", id] => {
                return policy::definition(id)
            }
            _ => {}
        }
    }
    let Some(sub_id) = original.get(1).copied() else {
        return arm_error(
            StatusCode::NOT_FOUND,
            "InvalidResourceType",
            "The resource type could not be found.",
        );
    };
    let Some(subscription) = state.subscription(sub_id).cloned() else {
        return arm_error(
            StatusCode::NOT_FOUND,
            "SubscriptionNotFound",
            &format!("The subscription '{sub_id}' could not be found."),
        );
    };
    if !subscription.tenant_id.eq_ignore_ascii_case(&claims.tid) {
        return wrong_tenant(config, &claims.tid, &subscription.tenant_id);
    }
    let writes = !matches!(req.method, Method::GET | Method::HEAD);
    let is_read_only_action = lower
        .last()
        .is_some_and(|l| ["listkeys", "checknameavailability"].contains(l));
    if writes && !is_read_only_action && subscription.state != "Enabled" {
        return arm_error(
            StatusCode::CONFLICT,
            "ReadOnlyDisabledSubscription",
            &format!(
                "The subscription '{sub_id}' is disabled and therefore marked as read only. You cannot perform any write actions on this subscription until it is re-enabled."
            ),
        );
    }
    if on_provider && !subscription.registered {
        return json_response(
            StatusCode::CONFLICT,
            &json!({ "error": {
                "code": "MissingSubscriptionRegistration",
                "message": "The subscription is not registered to use namespace 'Microsoft.Devices'. See https://aka.ms/rps-not-found for how to register subscriptions.",
                "details": [{ "code": "MissingSubscriptionRegistration", "target": "Microsoft.Devices",
                    "message": "The subscription is not registered to use namespace 'Microsoft.Devices'. See https://aka.ms/rps-not-found for how to register subscriptions." }]
            }}),
        );
    }
    let path = format!("/{}", original.join("/"));
    if let Some(challenge) =
        entra::claims::arm_challenge(config, &claims.tid, writes, &path, &claims.acrs)
    {
        return challenge;
    }
    if let [scope @ .., "providers", "microsoft.authorization", what] = lower.as_slice() {
        let scope = &path[..original[..scope.len()]
            .iter()
            .map(|s| s.len() + 1)
            .sum::<usize>()];
        return match (&req.method, *what) {
            (&Method::GET, "permissions") => rbac::permissions(scope),
            (&Method::GET, "locks")
                if !rbac::allowed("Microsoft.Authorization/locks/read", scope) =>
            {
                rbac::authorization_failed(
                    &claims.upn,
                    &claims.oid,
                    "Microsoft.Authorization/locks/read",
                    scope,
                )
            }
            (&Method::GET, "locks") => locks::list(scope),
            (&Method::GET, "policyassignments") => policy::assignments(scope),
            _ => method_not_allowed(),
        };
    }
    if let Some((action, scope)) = required_action(&req.method, &lower, &original) {
        if !rbac::allowed(&action, &scope) {
            return rbac::authorization_failed(&claims.upn, &claims.oid, &action, &scope);
        }
    }
    let checks_name = lower.last() == Some(&"checknameavailability");
    if let Some(refusal) = locks::refuse(&req.method, &path, checks_name) {
        return refusal;
    }
    let sub = subscription.id.as_str();
    match (&req.method, lower.as_slice()) {
        (&Method::GET, ["subscriptions", _]) => {
            json_response(StatusCode::OK, &subscription_json(&subscription))
        }
        (&Method::GET, ["subscriptions", _, "locations"]) => locations(sub),
        (&Method::GET, ["subscriptions", _, "resourcegroups"]) => list_groups(state, sub),
        (method, ["subscriptions", _, "resourcegroups", _]) => {
            resource_group(req, method, state, sub, original[3])
        }
        (&Method::GET, ["subscriptions", _, "providers", "microsoft.devices"]) => {
            provider(state, sub, None)
        }
        (&Method::POST, ["subscriptions", _, "providers", "microsoft.devices", "register"]) => {
            if let Some(s) = state.subscription_mut(sub) {
                s.registered = true;
            }
            provider(state, sub, Some("Registering"))
        }
        (
            &Method::POST,
            ["subscriptions", _, "providers", "microsoft.devices", "checknameavailability"],
        ) => check_name(req, state),
        (&Method::GET, ["subscriptions", _, "providers", "microsoft.devices", "iothubs"]) => {
            list_hubs(state, config, |h| h.subscription_id == sub)
        }
        (
            &Method::GET,
            ["subscriptions", _, "providers", "microsoft.devices", "locations", _, "operationresults", _],
        ) => operation(state, sub, original[7]),
        (
            &Method::GET,
            ["subscriptions", _, "resourcegroups", _, "providers", "microsoft.devices", "iothubs"],
        ) => {
            let group = original[3].to_ascii_lowercase();
            list_hubs(state, config, |h| {
                h.subscription_id == sub && h.resource_group.eq_ignore_ascii_case(&group)
            })
        }
        (
            method,
            ["subscriptions", _, "resourcegroups", _, "providers", "microsoft.devices", "iothubs", _, rest @ ..],
        ) => {
            let (group, name) = (original[3], original[7]);
            if !group_exists(state, sub, group) {
                return group_not_found(group);
            }
            match (method, rest) {
                (&Method::PUT, []) => put_hub(req, state, config, sub, group, name),
                (&Method::GET, []) => with_hub(state, sub, group, name, |hub| {
                    json_response(StatusCode::OK, &hub_json(hub, config))
                }),
                (&Method::DELETE, []) => delete_hub(state, config, sub, group, name),
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
        _ => arm_error(
            StatusCode::NOT_FOUND,
            "InvalidResourceType",
            "The resource type could not be found in the namespace.",
        ),
    }
}

/// The action ARM authorizes a request as, and at which scope (as the request spells it);
/// `None` for reads any role in the subscription allows, and for lists, which show only what
/// the user may read.
fn required_action(method: &Method, lower: &[&str], original: &[&str]) -> Option<(String, String)> {
    let scope_of = |segments: usize| format!("/{}", original[..segments].join("/"));
    let verb = match *method {
        Method::GET | Method::HEAD => "read",
        Method::DELETE => "delete",
        _ => "write",
    };
    let (action, segments) = match lower {
        ["subscriptions", _, "resourcegroups", _] => (
            format!("Microsoft.Resources/subscriptions/resourceGroups/{verb}"),
            4,
        ),
        ["subscriptions", _, "providers", "microsoft.devices", "register"] => {
            ("Microsoft.Devices/register/action".to_owned(), 2)
        }
        ["subscriptions", _, "providers", "microsoft.devices", "checknameavailability"] => (
            "Microsoft.Devices/checkNameAvailability/action".to_owned(),
            2,
        ),
        ["subscriptions", _, "resourcegroups", _, "providers", "microsoft.devices", "iothubs"] => {
            ("Microsoft.Devices/IotHubs/read".to_owned(), 4)
        }
        ["subscriptions", _, "resourcegroups", _, "providers", "microsoft.devices", "iothubs", _] => {
            (format!("Microsoft.Devices/IotHubs/{verb}"), 8)
        }
        [_, _, _, _, _, _, "iothubs", _, "listkeys"] => {
            ("Microsoft.Devices/IotHubs/listkeys/action".to_owned(), 8)
        }
        [_, _, _, _, _, _, "iothubs", _, "iothubkeys", _, "listkeys"] => (
            "Microsoft.Devices/IotHubs/IotHubKeys/listkeys/action".to_owned(),
            8,
        ),
        [_, _, _, _, _, _, "iothubs", _, "iothubstats"] => {
            ("Microsoft.Devices/IotHubs/IotHubStats/read".to_owned(), 8)
        }
        [_, _, _, _, _, _, "iothubs", _, "quotametrics"] => {
            ("Microsoft.Devices/IotHubs/quotaMetrics/read".to_owned(), 8)
        }
        [_, _, _, _, _, _, "iothubs", _, "skus"] => {
            ("Microsoft.Devices/IotHubs/skus/read".to_owned(), 8)
        }
        [_, _, _, _, _, _, "iothubs", _, "eventhubendpoints", _, "consumergroups", ..] => (
            format!("Microsoft.Devices/IotHubs/eventHubEndpoints/consumerGroups/{verb}"),
            8,
        ),
        _ => return None,
    };
    Some((action, scope_of(segments)))
}

fn method_not_allowed() -> Resp {
    arm_error(
        StatusCode::METHOD_NOT_ALLOWED,
        "MethodNotAllowed",
        "The requested method is not supported for this resource.",
    )
}

/// A token from one tenant for a subscription of another: 401 with the authority to use, in
/// ARM's words and `WWW-Authenticate` header.
fn wrong_tenant(config: &SandboxConfig, token_tenant: &str, subscription_tenant: &str) -> Resp {
    let login = format!("https://login.{}", config.suffix);
    let header = format!(
        "Bearer authorization_uri=\"{login}/{subscription_tenant}\", error=\"invalid_token\", error_description=\"The access token is from the wrong issuer.\""
    );
    with_header(
        arm_error(
            StatusCode::UNAUTHORIZED,
            "InvalidAuthenticationTokenTenant",
            &format!(
                "The access token is from the wrong issuer '{}'. It must match the tenant '{}' associated with this subscription. Please use the authority (URL) '{login}/{subscription_tenant}' to get the token. Note, if the subscription is transferred to another tenant there is no impact to the services, but information about new tenant could take time to propagate (up to an hour). If you just transferred your subscription and see this error message, please try back later.",
                entra::issuer(config, token_tenant),
                entra::issuer(config, subscription_tenant),
            ),
        ),
        "www-authenticate",
        &header,
    )
}

fn authenticate(req: &Req, state: &State, config: &SandboxConfig) -> Result<entra::Claims, Resp> {
    let audience = format!("https://management.{}/", config.suffix);
    let challenge = |error: &str, description: &str, code: &str, message: &str| {
        let header = format!(
            "Bearer authorization_uri=\"https://login.{}/{}\", error=\"{error}\", error_description=\"{description}\"",
            config.suffix,
            state::TENANT_ID
        );
        with_header(
            arm_error(StatusCode::UNAUTHORIZED, code, message),
            "www-authenticate",
            &header,
        )
    };
    let Some(header) = req.header("authorization") else {
        return Err(challenge(
            "invalid_token",
            "The authentication failed because of missing 'Authorization' header.",
            "AuthenticationFailed",
            "Authentication failed. The 'Authorization' header is missing.",
        ));
    };
    let Some(token) = header.strip_prefix("Bearer ") else {
        return Err(challenge(
            "invalid_token",
            "The authentication scheme is not supported.",
            "AuthenticationFailed",
            "Authentication failed. The 'Authorization' header is provided in an invalid format.",
        ));
    };
    let now = now_ms() / 1000;
    match entra::verify_access_token(token.trim(), &state.token_signing_key, &audience, now) {
        Ok(claims) => Ok(claims),
        Err(BearerProblem::Expired { exp }) => Err(challenge(
            "invalid_token",
            "The access token has expired.",
            "ExpiredAuthenticationToken",
            &format!(
                "The access token expiry UTC time '{}' is earlier than current UTC time '{}'.",
                arm_time(exp),
                arm_time(now)
            ),
        )),
        Err(BearerProblem::WrongAudience { aud }) => Err(challenge(
            "invalid_token",
            "The access token is for another audience.",
            "InvalidAuthenticationTokenAudience",
            &format!("The access token has been obtained for wrong audience or resource '{aud}'. It should exactly match with one of the allowed audiences '{audience}'."),
        )),
        Err(BearerProblem::Malformed | BearerProblem::BadSignature) => Err(challenge(
            "invalid_token",
            "The access token is invalid.",
            "InvalidAuthenticationToken",
            "The access token is invalid.",
        )),
    }
}

fn arm_time(secs: u64) -> String {
    time::OffsetDateTime::from_unix_timestamp(secs as i64)
        .ok()
        .and_then(|t| {
            t.format(time::macros::format_description!(
                "[month padding:none]/[day padding:none]/[year] [hour]:[minute]:[second]"
            ))
            .ok()
        })
        .unwrap_or_default()
}

fn check_api_version(req: &Req, supported: &[&str]) -> Result<(), Resp> {
    match req.query("api-version") {
        None => Err(arm_error(
            StatusCode::BAD_REQUEST,
            "MissingApiVersionParameter",
            "The api-version query parameter (?api-version=) is required for all requests.",
        )),
        Some(v) if supported.contains(&v) => Ok(()),
        Some(v) => Err(arm_error(
            StatusCode::BAD_REQUEST,
            "InvalidApiVersionParameter",
            &format!(
                "The api-version '{v}' is invalid. The supported versions are '{}'.",
                supported.join(",")
            ),
        )),
    }
}

fn subscription_json(s: &state::Subscription) -> Value {
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
fn list_subscriptions(state: &State, tenant: &str) -> Resp {
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

fn locations(sub: &str) -> Resp {
    let value: Vec<Value> = REGIONS
        .iter()
        .map(|(name, display, lat, long)| {
            json!({
                "id": format!("/subscriptions/{sub}/locations/{name}"),
                "name": name,
                "displayName": display,
                "regionalDisplayName": display,
                "metadata": { "regionType": "Physical", "latitude": lat, "longitude": long },
            })
        })
        .collect();
    json_response(StatusCode::OK, &json!({ "value": value }))
}

/// The region's canonical name, from either `westeurope` or `West Europe`.
fn region(location: &str) -> Option<&'static str> {
    let squashed: String = location
        .chars()
        .filter(|c| !c.is_whitespace())
        .collect::<String>()
        .to_ascii_lowercase();
    REGIONS
        .iter()
        .find(|(name, ..)| *name == squashed)
        .map(|(name, ..)| *name)
}

fn region_display(name: &str) -> &'static str {
    REGIONS
        .iter()
        .find(|(n, ..)| *n == name)
        .map_or("", |(_, display, ..)| display)
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

fn list_groups(state: &State, sub: &str) -> Resp {
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

fn group_exists(state: &State, sub: &str, name: &str) -> bool {
    state.subscription(sub).is_some_and(|s| {
        s.resource_groups
            .iter()
            .any(|g| g.name.eq_ignore_ascii_case(name))
    })
}

fn group_not_found(name: &str) -> Resp {
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

fn resource_group(req: &Req, method: &Method, state: &mut State, sub: &str, name: &str) -> Resp {
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
                        location.unwrap_or_default(), REGIONS.iter().map(|r| r.0).collect::<Vec<_>>().join(",")),
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
                Some(group) => json_response(StatusCode::OK, &group_json(sub, &group)),
                None => {
                    let tags = req
                        .json()
                        .and_then(|b| serde_json::from_value(b.get("tags")?.clone()).ok())
                        .unwrap_or_default();
                    let group = state::ResourceGroup { name: name.to_owned(), location: location.to_owned(), tags };
                    if let Some(s) = state.subscription_mut(sub) {
                        s.resource_groups.push(group.clone());
                    }
                    json_response(StatusCode::CREATED, &group_json(sub, &group))
                }
            }
        }
        _ => method_not_allowed(),
    }
}

fn provider(state: &State, sub: &str, transitional: Option<&str>) -> Resp {
    let registered = state.subscription(sub).is_some_and(|s| s.registered);
    let registration = transitional.unwrap_or(if registered {
        "Registered"
    } else {
        "NotRegistered"
    });
    let locations: Vec<&str> = REGIONS.iter().map(|r| r.1).collect();
    json_response(
        StatusCode::OK,
        &json!({
            "id": format!("/subscriptions/{sub}/providers/Microsoft.Devices"),
            "namespace": "Microsoft.Devices",
            "registrationState": registration,
            "registrationPolicy": "RegistrationRequired",
            "resourceTypes": [
                { "resourceType": "IotHubs", "locations": locations, "apiVersions": IOTHUB_API_VERSIONS },
                { "resourceType": "checkNameAvailability", "locations": [], "apiVersions": IOTHUB_API_VERSIONS },
                { "resourceType": "locations/operationResults", "locations": locations, "apiVersions": IOTHUB_API_VERSIONS },
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

fn check_name(req: &Req, state: &State) -> Resp {
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

fn hub_id(hub: &Hub) -> String {
    format!(
        "/subscriptions/{}/resourceGroups/{}/providers/Microsoft.Devices/IotHubs/{}",
        hub.subscription_id, hub.resource_group, hub.name
    )
}

pub(crate) fn hub_host(hub: &Hub, config: &SandboxConfig) -> String {
    format!(
        "{}.azure-devices.{}",
        hub.name.to_ascii_lowercase(),
        config.suffix
    )
}

fn hub_json(hub: &Hub, config: &SandboxConfig) -> Value {
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
                "retentionTimeInDays": 1, "partitionCount": partitions,
                "partitionIds": (0..partitions).map(|i| i.to_string()).collect::<Vec<_>>(),
                "path": crate::eventhubs::entity_path(&hub.name),
                "endpoint": format!("sb://{}/", crate::eventhubs::namespace_host(&hub.name, &config.suffix)),
            }}),
        ),
        ("features", json!("None")),
        (
            "locations",
            json!([{ "location": region_display(&hub.location), "role": "primary" }]),
        ),
    ] {
        if !value.is_null() {
            properties.insert(key.into(), value);
        }
    }
    json!({
        "id": hub_id(hub),
        "name": hub.name,
        "type": "Microsoft.Devices/IotHubs",
        "location": hub.location,
        "tags": hub.tags,
        "etag": hub.etag.trim_matches('"'),
        "sku": { "name": hub.sku, "tier": tier, "capacity": hub.capacity },
        "properties": Value::Object(properties),
    })
}

fn list_hubs(state: &State, config: &SandboxConfig, keep: impl Fn(&Hub) -> bool) -> Resp {
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
    match state.hubs.get_mut(&name.to_ascii_lowercase()) {
        Some(hub)
            if hub.subscription_id == sub && hub.resource_group.eq_ignore_ascii_case(group) =>
        {
            action(hub)
        }
        _ => hub_not_found(group, name),
    }
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

fn operation(state: &State, sub: &str, id: &str) -> Resp {
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

fn put_hub(
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
    if let Some(refusal) = policy::deny_hub(sub, group, name, &body) {
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
                REGIONS.iter().map(|r| r.0).collect::<Vec<_>>().join(",")
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
            if sku == "F1"
                && state
                    .hubs
                    .values()
                    .any(|h| h.subscription_id == sub && h.sku == "F1")
            {
                return provider_error(
                    StatusCode::BAD_REQUEST,
                    "400019",
                    &format!(
                        "Max number of Iot Hubs exceeded for sku = Free, Max Allowed = 1, Current = 1. If you contact a support representative please include this correlation identifier: {}, timestamp: {}, errorcode: IH400019.",
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
                quota_day: 0,
                messages_today: 0,
                consumer_groups: state::default_consumer_groups(),
                events: Default::default(),
            }
        }
    };
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

fn delete_hub(
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
            state.hubs.remove(&key);
            let done_at = now_ms() + config.hub_provisioning_time.as_millis() as u64;
            async_headers(
                empty(StatusCode::ACCEPTED),
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
