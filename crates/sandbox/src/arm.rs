//! The Azure Resource Manager stand-in, one module per service: ARM's own resources
//! (`resources`: subscriptions, regions, resource groups), Microsoft.Devices (`iothub`),
//! Microsoft.Authorization (`rbac`, `locks`, `policy`) and the cloud's metadata. This module
//! checks what ARM checks before a provider sees a request (the bearer token, the api-version as
//! Azure's specifications list them, the subscription's state and registration, role
//! assignments, locks, claims challenges) and dispatches it; every answer goes to the `journal`
//! when a test run checks shapes.

use hyper::{Method, StatusCode};
use serde_json::{json, Value};

use crate::entra::{self, BearerProblem};
use crate::http::{arm_error, json_response, with_header, Req, Resp};
use crate::monitor::alerting;
use crate::state::{self, now_ms, State};
use crate::SandboxConfig;
use api_versions::Place;

mod api_versions;
pub(crate) mod iothub;
mod journal;
mod locks;
mod metadata;
pub(crate) mod policy;
mod rbac;
pub(crate) mod resources;
mod roles;
mod storage;

pub(crate) fn handle(req: &Req, state: &mut State, config: &SandboxConfig) -> Resp {
    let mut response = answer(req, state, config);
    journal::record(req, &mut response);
    response
}

fn answer(req: &Req, state: &mut State, config: &SandboxConfig) -> Resp {
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
        | ["tenants"] => &api_versions::SUBSCRIPTIONS,
        [.., "providers", "microsoft.authorization", "roleassignments" | "roledefinitions"]
        | [.., "providers", "microsoft.authorization", "roleassignments" | "roledefinitions", _] => {
            &api_versions::ROLES
        }
        [.., "providers", "microsoft.authorization", "permissions" | "locks" | "policyassignments"]
        | ["providers", "microsoft.authorization", "policydefinitions", _] => {
            &api_versions::AUTHORIZATION
        }
        [.., "providers", "microsoft.insights", "metrics" | "metricdefinitions"] => {
            &api_versions::MONITOR
        }
        ["subscriptions", _, "providers", "microsoft.insights", "actiongroups"]
        | ["subscriptions", _, "resourcegroups", _, "providers", "microsoft.insights", "actiongroups", ..] => {
            &api_versions::ACTION_GROUPS
        }
        ["subscriptions", _, "providers", "microsoft.insights", "metricalerts"]
        | ["subscriptions", _, "resourcegroups", _, "providers", "microsoft.insights", "metricalerts", ..] => {
            &api_versions::METRIC_ALERTS
        }
        ["subscriptions", _, "providers", "microsoft.storage", ..]
        | ["subscriptions", _, "resourcegroups", _, "providers", "microsoft.storage", ..] => {
            &api_versions::STORAGE
        }
        [_, _, "providers", "microsoft.devices"]
        | [_, _, "providers", "microsoft.devices", "register"] => &api_versions::RESOURCES,
        ["providers", "microsoft.devices", ..]
        | [_, _, "providers", "microsoft.devices", ..]
        | [_, _, "resourcegroups", _, "providers", ..] => &api_versions::IOTHUB,
        _ => &api_versions::RESOURCES,
    };
    let on_provider = versions == &api_versions::IOTHUB;
    // Where the resource lives matters only to a refusal, so the body is read only then.
    let unlisted = match api_versions::unlisted(req, versions) {
        Ok(unlisted) => unlisted,
        Err(missing) => return missing,
    };
    if let Some(asked) = unlisted {
        let group_location = match original.as_slice() {
            ["subscriptions", sub, "resourceGroups" | "resourcegroups", group, ..] => {
                resources::group_location(state, sub, group)
            }
            _ => None,
        };
        let body_location = req
            .json()
            .and_then(|b| b.get("location").and_then(Value::as_str).map(str::to_owned));
        let location = body_location.as_deref().or(group_location.as_deref());
        return api_versions::refusal(versions, place_of(&lower, &original, location), asked);
    }
    if req.method == Method::GET {
        match lower.as_slice() {
            ["subscriptions"] => return resources::list_subscriptions(state, &claims.tid),
            ["tenants"] => return metadata::tenants(),
            ["providers", "microsoft.devices", "operations"] => return iothub::operations(),
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
    let roles_at = lower.windows(3).position(|w| {
        w[0] == "providers"
            && w[1] == "microsoft.authorization"
            && matches!(w[2], "roleassignments" | "roledefinitions")
    });
    if let Some(at) = roles_at {
        let scope_path = format!("/{}", original[..at].join("/"));
        let kind = lower[at + 2];
        let name = original.get(at + 3).copied();
        if original.len() > at + 4 {
            return method_not_allowed();
        }
        if kind == "roledefinitions" {
            return roles::definitions(req, &scope_path, name);
        }
        if req.method != Method::GET
            && !rbac::allowed("Microsoft.Authorization/roleAssignments/write", &scope_path)
        {
            return rbac::authorization_failed(
                &claims.upn,
                &claims.oid,
                "Microsoft.Authorization/roleAssignments/write",
                &scope_path,
            );
        }
        return roles::assignments(req, state, &scope_path, name, (&claims.tid, &claims.oid));
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
            json_response(StatusCode::OK, &resources::subscription_json(&subscription))
        }
        (&Method::GET, ["subscriptions", _, "locations"]) => resources::locations(sub),
        (&Method::GET, ["subscriptions", _, "resourcegroups"]) => {
            resources::list_groups(state, sub)
        }
        (method, ["subscriptions", _, "resourcegroups", _]) => {
            resources::resource_group(req, method, state, config, sub, original[3])
        }
        (&Method::GET, ["subscriptions", _, "operationresults", _]) => {
            resources::deletion(state, sub, original[3])
        }
        (&Method::GET, ["subscriptions", _, "providers", "microsoft.devices"]) => {
            iothub::provider(state, sub, None)
        }
        (&Method::POST, ["subscriptions", _, "providers", "microsoft.devices", "register"]) => {
            if let Some(s) = state.subscription_mut(sub) {
                s.registered = true;
            }
            iothub::provider(state, sub, Some("Registering"))
        }
        (
            &Method::POST,
            ["subscriptions", _, "providers", "microsoft.devices", "checknameavailability"],
        ) => iothub::check_name(req, state),
        (&Method::GET, ["subscriptions", _, "providers", "microsoft.devices", "usages"]) => {
            iothub::usages(state, sub)
        }
        (&Method::GET, ["subscriptions", _, "providers", "microsoft.devices", "iothubs"]) => {
            iothub::list_hubs(state, config, |h| h.subscription_id == sub)
        }
        (
            &Method::GET,
            ["subscriptions", _, "providers", "microsoft.devices", "locations", _, "operationresults", _],
        ) => iothub::operation(state, sub, original[7]),
        (
            &Method::GET,
            ["subscriptions", _, "resourcegroups", _, "providers", "microsoft.devices", "iothubs"],
        ) => {
            let group = original[3].to_ascii_lowercase();
            iothub::list_hubs(state, config, |h| {
                h.subscription_id == sub && h.resource_group.eq_ignore_ascii_case(&group)
            })
        }
        (
            method,
            ["subscriptions", _, "resourcegroups", _, "providers", "microsoft.devices", "iothubs", _, rest @ ..],
        ) => iothub::hub_request(req, method, rest, &original, state, config, sub),
        (
            &Method::POST,
            ["subscriptions", _, "providers", "microsoft.storage", "checknameavailability"],
        ) => storage::check_name(req, state),
        (
            &Method::GET,
            ["subscriptions", _, "providers", "microsoft.storage", "storageaccounts"],
        ) => storage::list(state, config, sub, None),
        (
            &Method::GET,
            ["subscriptions", _, "providers", "microsoft.storage", "locations", _, "asyncoperations", _],
        ) => storage::creation(state, config, sub, original[7]),
        (
            &Method::GET,
            ["subscriptions", _, "resourcegroups", _, "providers", "microsoft.storage", "storageaccounts"],
        ) => storage::list(state, config, sub, Some(original[3])),
        (
            _,
            ["subscriptions", _, "resourcegroups", _, "providers", "microsoft.storage", "storageaccounts", _, rest @ ..],
        ) => storage::account_request(req, rest, &original, state, config),
        (
            &Method::GET,
            ["subscriptions", _, "providers", "microsoft.insights", kind @ ("actiongroups" | "metricalerts")],
        ) => alerting::list(state, insights_kind(kind), sub, None),
        (
            &Method::GET,
            ["subscriptions", _, "resourcegroups", _, "providers", "microsoft.insights", kind @ ("actiongroups" | "metricalerts")],
        ) => alerting::list(state, insights_kind(kind), sub, Some(original[3])),
        (
            _,
            ["subscriptions", _, "resourcegroups", _, "providers", "microsoft.insights", kind @ ("actiongroups" | "metricalerts"), _, rest @ ..],
        ) => {
            if !resources::group_exists(state, sub, original[3]) {
                return resources::group_not_found(original[3]);
            }
            alerting::resource(
                req,
                state,
                config,
                insights_kind(kind),
                (sub, original[3], original[7]),
                rest,
            )
        }
        _ => arm_error(
            StatusCode::NOT_FOUND,
            "InvalidResourceType",
            "The resource type could not be found in the namespace.",
        ),
    }
}

fn insights_kind(segment: &str) -> alerting::Kind {
    if segment == "actiongroups" {
        alerting::Kind::ActionGroups
    } else {
        alerting::Kind::MetricAlerts
    }
}

/// Where a request's resource lives, as a refusal of its api-version names it: a hub at the
/// location of its body or resource group, an operation result at its location.
fn place_of<'a>(lower: &[&str], original: &[&'a str], location: Option<&'a str>) -> Place<'a> {
    let Some(at) = lower.iter().position(|s| *s == "microsoft.devices") else {
        return Place::Unlocated { resource_type: "" };
    };
    match (&lower[at + 1..], location) {
        (["locations", _, "operationresults", ..], _) => Place::Located {
            resource_type: "locations/operationResults",
            location: original[at + 2],
        },
        (["iothubs", ..], Some(location)) => Place::Located {
            resource_type: "IotHubs",
            location,
        },
        ([_, ..], _) => Place::Unlocated {
            resource_type: original[at + 1],
        },
        ([], _) => Place::Unlocated { resource_type: "" },
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
        [_, _, _, _, _, _, "iothubs", _, "providers", "microsoft.insights", "metrics"] => {
            ("Microsoft.Insights/metrics/read".to_owned(), 8)
        }
        [_, _, _, _, _, _, "iothubs", _, "providers", "microsoft.insights", "metricdefinitions"] => {
            ("Microsoft.Insights/metricDefinitions/read".to_owned(), 8)
        }
        ["subscriptions", _, "providers", "microsoft.storage", "checknameavailability"] => {
            ("Microsoft.Storage/checknameavailability/read".to_owned(), 2)
        }
        ["subscriptions", _, "resourcegroups", _, "providers", "microsoft.storage", "storageaccounts", _] => {
            (format!("Microsoft.Storage/storageAccounts/{verb}"), 8)
        }
        [_, _, _, _, _, "microsoft.storage", "storageaccounts", _, "listkeys"] => (
            "Microsoft.Storage/storageAccounts/listkeys/action".to_owned(),
            8,
        ),
        [_, _, _, _, _, "microsoft.storage", "storageaccounts", _, "regeneratekey"] => (
            "Microsoft.Storage/storageAccounts/regeneratekey/action".to_owned(),
            8,
        ),
        [_, _, _, _, _, "microsoft.storage", "storageaccounts", _, "blobservices", _, "containers", ..] => {
            (
                format!("Microsoft.Storage/storageAccounts/blobServices/containers/{verb}"),
                8,
            )
        }
        [_, _, _, _, _, _, "iothubs", _, "certificates", _, action @ ("generateverificationcode" | "verify")] => {
            (
                format!(
                    "Microsoft.Devices/IotHubs/certificates/{}/action",
                    if *action == "verify" {
                        "verify"
                    } else {
                        "generateVerificationCode"
                    }
                ),
                8,
            )
        }
        [_, _, _, _, _, _, "iothubs", _, "certificates", ..] => {
            (format!("Microsoft.Devices/IotHubs/certificates/{verb}"), 8)
        }
        ["subscriptions", _, "resourcegroups", _, "providers", "microsoft.insights", "actiongroups", _, "createnotifications"] => {
            ("Microsoft.Insights/ActionGroups/write".to_owned(), 8)
        }
        ["subscriptions", _, "resourcegroups", _, "providers", "microsoft.insights", kind @ ("actiongroups" | "metricalerts"), _] => {
            (
                format!(
                    "Microsoft.Insights/{}/{verb}",
                    if *kind == "actiongroups" {
                        "ActionGroups"
                    } else {
                        "metricAlerts"
                    }
                ),
                8,
            )
        }
        [_, _, _, _, _, _, "iothubs", _, "exportdevices"] => (
            "Microsoft.Devices/IotHubs/exportDevices/action".to_owned(),
            8,
        ),
        [_, _, _, _, _, _, "iothubs", _, "importdevices"] => (
            "Microsoft.Devices/IotHubs/importDevices/action".to_owned(),
            8,
        ),
        [_, _, _, _, _, _, "iothubs", _, "failover"] => {
            ("Microsoft.Devices/IotHubs/failover/action".to_owned(), 8)
        }
        [_, _, _, _, _, _, "iothubs", _, "routing", "routes", test @ ("$testall" | "$testnew")] => {
            (
                format!("Microsoft.Devices/IotHubs/routing/routes/{test}/Action"),
                8,
            )
        }
        [_, _, _, _, _, _, "iothubs", _, "privateendpointconnections", ..] => (
            format!("Microsoft.Devices/IotHubs/privateEndpointConnections/{verb}"),
            8,
        ),
        [_, _, _, _, _, _, "iothubs", _, "privatelinkresources", ..] => (
            "Microsoft.Devices/IotHubs/privateLinkResources/read".to_owned(),
            8,
        ),
        [_, _, _, _, _, _, "iothubs", _, "eventhubendpoints", _, "consumergroups", ..] => (
            format!("Microsoft.Devices/IotHubs/eventHubEndpoints/consumerGroups/{verb}"),
            8,
        ),
        _ => return None,
    };
    Some((action, scope_of(segments)))
}

pub(crate) fn method_not_allowed() -> Resp {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_action_the_sandbox_authorizes_is_in_the_providers_operation_list() {
        let hub = "subscriptions/s/resourceGroups/g/providers/Microsoft.Devices/IotHubs/h";
        let paths = [
            "subscriptions/s/providers/Microsoft.Devices/register".to_owned(),
            "subscriptions/s/providers/Microsoft.Devices/checkNameAvailability".to_owned(),
            hub.to_owned(),
            format!("{hub}/listkeys"),
            format!("{hub}/IotHubKeys/iothubowner/listkeys"),
            format!("{hub}/IotHubStats"),
            format!("{hub}/quotaMetrics"),
            format!("{hub}/skus"),
            format!("{hub}/eventHubEndpoints/events/ConsumerGroups/c"),
        ];
        let listed: Vec<String> = iothub::listed_operations()
            .iter()
            .map(|o| o.to_ascii_lowercase())
            .collect();
        for path in &paths {
            let original: Vec<&str> = path.split('/').collect();
            let lower: Vec<String> = original.iter().map(|s| s.to_ascii_lowercase()).collect();
            let lower: Vec<&str> = lower.iter().map(String::as_str).collect();
            for method in [Method::GET, Method::PUT, Method::DELETE] {
                if let Some((action, _)) = required_action(&method, &lower, &original) {
                    let action = action.to_ascii_lowercase();
                    let devices = action.starts_with("microsoft.devices/");
                    assert!(
                        !devices || listed.contains(&action),
                        "{action} is not listed"
                    );
                }
            }
        }
    }
}
