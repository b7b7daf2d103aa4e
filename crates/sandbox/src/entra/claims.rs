//! Conditional Access step-up as Entra ID and ARM play it: ARM demands an authentication
//! context (`c1`, "multi-factor authentication") for writes to a sensitive resource group and
//! answers a token without it with a claims challenge in `WWW-Authenticate`; a client signs in
//! again interactively with those `claims`, and the token it gets carries `acrs: ["c1"]`. A
//! refresh token cannot step up by itself: Entra answers `interaction_required` (AADSTS50076).

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use hyper::StatusCode;
use serde_json::{json, Value};

use crate::http::{arm_error, json_response, with_header, Resp};
use crate::state::SUBSCRIPTION_DEV;
use crate::SandboxConfig;

/// The authentication context the sensitive resource group requires.
const MFA_CONTEXT: &str = "c1";
/// The resource group whose writes require [`MFA_CONTEXT`].
const SENSITIVE_GROUP: &str = "contoso-sensitive";

/// The authentication contexts a `claims` request parameter asks for:
/// `{"access_token":{"acrs":{"essential":true,"value":"c1"}}}` or `"values":["c1",…]`.
pub(crate) fn requested_contexts(claims: &str) -> Vec<String> {
    let Ok(value) = serde_json::from_str::<Value>(claims) else {
        return Vec::new();
    };
    let acrs = &value["access_token"]["acrs"];
    let mut contexts: Vec<String> = acrs["values"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .map(str::to_owned)
        .collect();
    contexts.extend(acrs["value"].as_str().map(str::to_owned));
    contexts
}

/// The claims a challenge asks for, as JSON text.
fn challenge_claims() -> String {
    json!({ "access_token": { "acrs": { "essential": true, "value": MFA_CONTEXT } } }).to_string()
}

/// ARM's challenge when a write under the sensitive group comes with a token that lacks the
/// authentication context; `None` when it needs none or has it.
pub(crate) fn arm_challenge(
    config: &SandboxConfig,
    tenant: &str,
    writes: bool,
    path: &str,
    token_contexts: &[String],
) -> Option<Resp> {
    let sensitive = format!("/subscriptions/{SUBSCRIPTION_DEV}/resourcegroups/{SENSITIVE_GROUP}");
    let path = path.to_ascii_lowercase();
    let under = path == sensitive || path.starts_with(&format!("{sensitive}/"));
    if !writes || !under || token_contexts.iter().any(|c| c == MFA_CONTEXT) {
        return None;
    }
    let header = format!(
        "Bearer authorization_uri=\"https://login.{}/{tenant}\", error=\"insufficient_claims\", claims=\"{}\"",
        config.suffix,
        STANDARD.encode(challenge_claims())
    );
    Some(with_header(
        arm_error(
            StatusCode::UNAUTHORIZED,
            "InvalidAuthenticationToken",
            "The access token does not satisfy the Conditional Access policy of this resource group: it requires multi-factor authentication (authentication context c1). Sign in again with the claims in the WWW-Authenticate header.",
        ),
        "www-authenticate",
        &header,
    ))
}

/// Entra's answer to a refresh that asks for contexts the refresh token does not have.
pub(crate) fn interaction_required(resource: &str, claims: &str) -> Resp {
    json_response(
        StatusCode::BAD_REQUEST,
        &json!({
            "error": "interaction_required",
            "error_description": format!("AADSTS50076: Due to a configuration change made by your administrator, or because you moved to a new location, you must use multi-factor authentication to access '{resource}'."),
            "error_codes": [50076],
            "suberror": "basic_action",
            "claims": claims,
        }),
    )
}
