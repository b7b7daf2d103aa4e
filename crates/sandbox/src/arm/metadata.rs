//! What ARM tells about itself and the signed-in user's directories: the cloud's endpoints
//! (`/metadata/endpoints`, the one ARM request that needs no token, which `az cloud register`
//! reads) and the tenants the user may sign in to (`/tenants`).

use hyper::StatusCode;
use serde_json::{json, Value};

use super::api_versions::{self, Place, Versions};
use crate::http::{json_response, Req, Resp};
use crate::state::TENANTS;
use crate::SandboxConfig;

/// 2022-09-01 answers with one cloud; the older versions with a list of clouds.
const METADATA: Versions = Versions {
    namespace: None,
    listed: &["2022-09-01", "2020-06-01", "2019-05-01"],
};

/// The name `az cloud list` shows for the sandbox, unless it is registered under another.
const CLOUD_NAME: &str = "HubSetupSandbox";

pub(crate) fn endpoints(req: &Req, config: &SandboxConfig) -> Resp {
    if let Err(refusal) = api_versions::check(
        req,
        &METADATA,
        Place::Unlocated {
            resource_type: "metadata",
        },
    ) {
        return refusal;
    }
    let cloud = cloud(config);
    let body = if req.query("api-version") == Some("2022-09-01") {
        cloud
    } else {
        json!([cloud])
    };
    json_response(StatusCode::OK, &body)
}

/// The cloud as ARM's metadata describes Azure's, with the sandbox's hosts. Services the
/// sandbox does not play are left out, as sovereign clouds leave out what they lack.
fn cloud(config: &SandboxConfig) -> Value {
    let suffix = &config.suffix;
    json!({
        "name": CLOUD_NAME,
        "portal": format!("https://portal.{suffix}"),
        "resourceManager": format!("https://management.{suffix}/"),
        "authentication": {
            "loginEndpoint": format!("https://login.{suffix}"),
            "audiences": [format!("https://management.{suffix}/")],
            "tenant": "common",
            "identityProvider": "AAD",
        },
        "graph": format!("https://graph.{suffix}/"),
        "graphAudience": format!("https://graph.{suffix}/"),
        "microsoftGraphResourceId": format!("https://graph.{suffix}/"),
        "suffixes": {
            "storage": format!("core.{suffix}"),
            "keyVaultDns": format!("vault.{suffix}"),
        },
    })
}

pub(crate) fn tenants() -> Resp {
    let value: Vec<Value> = TENANTS
        .iter()
        .map(|t| {
            json!({
                "id": format!("/tenants/{}", t.id),
                "tenantId": t.id,
                "countryCode": "DE",
                "displayName": t.display_name,
                "domains": [t.default_domain],
                "defaultDomain": t.default_domain,
                "tenantCategory": "Home",
                "tenantType": "AAD",
            })
        })
        .collect();
    json_response(StatusCode::OK, &json!({ "value": value }))
}
