//! Microsoft Graph, the little of it that tools call while an admin keeps the data:
//! `directoryObjects/getByIds`, which `az role assignment list` uses to name the principals of
//! role assignments. The directory holds the signed-in user and the hubs' managed identities.

use hyper::{Method, StatusCode};
use serde_json::{json, Value};

use crate::entra;
use crate::http::{json_response, Req, Resp};
use crate::state::{now_ms, State};
use crate::SandboxConfig;

fn graph_error(status: StatusCode, code: &str, message: &str) -> Resp {
    json_response(
        status,
        &json!({ "error": { "code": code, "message": message } }),
    )
}

pub(crate) fn handle(req: &Req, state: &State, config: &SandboxConfig) -> Resp {
    let audience = format!("https://graph.{}/", config.suffix);
    let token = req
        .header("authorization")
        .and_then(|h| h.strip_prefix("Bearer "));
    let claims = match token.map(|t| {
        entra::verify_access_token(
            t.trim(),
            &state.token_signing_key,
            &audience,
            now_ms() / 1000,
        )
    }) {
        Some(Ok(claims)) => claims,
        _ => {
            return graph_error(
                StatusCode::UNAUTHORIZED,
                "InvalidAuthenticationToken",
                "Access token validation failure. Invalid audience.",
            )
        }
    };
    let segments = req.segments();
    match (&req.method, segments.as_slice()) {
        (&Method::POST, ["v1.0", "directoryObjects", "getByIds"]) => {
            let ids: Vec<String> = req
                .json()
                .and_then(|b| b.get("ids").cloned())
                .and_then(|ids| serde_json::from_value(ids).ok())
                .unwrap_or_default();
            let value: Vec<Value> = ids
                .iter()
                .filter_map(|id| object(state, &claims, id))
                .collect();
            json_response(
                StatusCode::OK,
                &json!({ "@odata.context": "https://graph.microsoft.com/v1.0/$metadata#directoryObjects", "value": value }),
            )
        }
        _ => graph_error(
            StatusCode::BAD_REQUEST,
            "BadRequest",
            "This sandbox's Microsoft Graph answers directoryObjects/getByIds only.",
        ),
    }
}

/// A directory object by id: the signed-in user, or a hub's managed identity.
fn object(state: &State, claims: &entra::Claims, id: &str) -> Option<Value> {
    if id.eq_ignore_ascii_case(&claims.oid) {
        return Some(json!({
            "@odata.type": "#microsoft.graph.user",
            "id": claims.oid,
            "displayName": claims.upn,
            "userPrincipalName": claims.upn,
        }));
    }
    let hub = state.hubs.values().find(|h| {
        h.identity
            .as_ref()
            .and_then(|i| i.get("principalId"))
            .and_then(Value::as_str)
            .is_some_and(|p| p.eq_ignore_ascii_case(id))
    })?;
    Some(json!({
        "@odata.type": "#microsoft.graph.servicePrincipal",
        "id": id,
        "displayName": hub.name,
        "servicePrincipalType": "ManagedIdentity",
        "servicePrincipalNames": [format!(
            "/subscriptions/{}/resourceGroups/{}/providers/Microsoft.Devices/IotHubs/{}",
            hub.subscription_id, hub.resource_group, hub.name
        )],
    }))
}
