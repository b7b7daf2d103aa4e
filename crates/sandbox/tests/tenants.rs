//! What the real Azure CLI and MSAL need from the sandbox beyond our own clients: ARM's
//! unauthenticated metadata, OpenID Connect discovery and instance discovery, ID tokens and
//! client info, and several tenants (a guest one among them) whose tokens see only their own
//! subscriptions. `tests/python/test_azure_cli.py` runs the real `az` against the same.

mod common;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use common::*;
use serde_json::Value;

const GUEST_TENANT: &str = "9b2e4c1d-0000-4000-8000-fab71ca7e000";
const GUEST_SUBSCRIPTION: &str = "55555555-5555-4555-8555-555555555555";

fn claims(jwt: &str) -> Value {
    let payload = jwt.split('.').nth(1).unwrap();
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).unwrap()).unwrap()
}

/// Renews `refresh` for the tenant `tenant`, as MSAL does for each tenant after sign-in.
fn tokens_for(
    sandbox: &hubsetup_sandbox::Sandbox,
    http: &reqwest::blocking::Client,
    tenant: &str,
    refresh: &str,
    scope: &str,
) -> (u16, Value) {
    json(
        http.post(format!("{}/{tenant}/oauth2/v2.0/token", login(sandbox)))
            .form(&[
                ("client_id", CLIENT_ID),
                ("grant_type", "refresh_token"),
                ("refresh_token", refresh),
                ("scope", scope),
                ("client_info", "1"),
            ])
            .send()
            .unwrap(),
    )
}

#[test]
fn arm_metadata_needs_no_token_and_names_the_sandbox_hosts() {
    let sandbox = start(fast_config());
    let http = client(&sandbox, &[]);
    let suffix = &sandbox.config().suffix;
    let (status, cloud) = json(
        http.get(format!(
            "{}/metadata/endpoints?api-version=2022-09-01",
            arm(&sandbox)
        ))
        .send()
        .unwrap(),
    );
    assert_eq!(status, 200, "{cloud}");
    assert_eq!(
        cloud["resourceManager"],
        format!("https://management.{suffix}/")
    );
    assert_eq!(
        cloud["authentication"]["loginEndpoint"],
        format!("https://login.{suffix}")
    );
    assert_eq!(
        cloud["authentication"]["audiences"][0],
        format!("https://management.{suffix}/")
    );
    let (status, list) = json(
        http.get(format!(
            "{}/metadata/endpoints?api-version=2019-05-01",
            arm(&sandbox)
        ))
        .send()
        .unwrap(),
    );
    assert_eq!(status, 200);
    assert_eq!(list[0], cloud, "older versions list the one cloud");
    let (status, error) = json(
        http.get(format!("{}/metadata/endpoints", arm(&sandbox)))
            .send()
            .unwrap(),
    );
    assert_eq!(
        (status, error["error"]["code"].as_str()),
        (400, Some("MissingApiVersionParameter"))
    );
    // Everything else on ARM still needs a token.
    let (status, _) = json(
        http.get(format!("{}/tenants?api-version=2022-12-01", arm(&sandbox)))
            .send()
            .unwrap(),
    );
    assert_eq!(status, 401);
}

#[test]
fn discovery_documents_are_those_msal_reads() {
    let sandbox = start(fast_config());
    let http = client(&sandbox, &[]);
    let login = login(&sandbox);
    let (status, organizations) = json(
        http.get(format!(
            "{login}/organizations/v2.0/.well-known/openid-configuration"
        ))
        .send()
        .unwrap(),
    );
    assert_eq!(status, 200);
    assert_eq!(
        organizations["issuer"],
        format!("{login}/{{tenantid}}/v2.0")
    );
    assert_eq!(
        organizations["token_endpoint"],
        format!("{login}/organizations/oauth2/v2.0/token")
    );
    let (_, guest) = json(
        http.get(format!(
            "{login}/{GUEST_TENANT}/v2.0/.well-known/openid-configuration"
        ))
        .send()
        .unwrap(),
    );
    assert_eq!(guest["issuer"], format!("{login}/{GUEST_TENANT}/v2.0"));
    assert_eq!(
        guest["device_authorization_endpoint"],
        format!("{login}/{GUEST_TENANT}/oauth2/v2.0/devicecode")
    );

    let authorize = format!("{login}/organizations/oauth2/v2.0/authorize");
    let (status, instance) = json(
        http.get(format!("{login}/common/discovery/instance"))
            .query(&[
                ("api-version", "1.1"),
                ("authorization_endpoint", authorize.as_str()),
            ])
            .send()
            .unwrap(),
    );
    assert_eq!(status, 200, "{instance}");
    assert_eq!(
        instance["tenant_discovery_endpoint"],
        format!("{login}/organizations/v2.0/.well-known/openid-configuration")
    );
    let (status, unknown) = json(
        http.get(format!("{login}/common/discovery/instance"))
            .query(&[
                ("api-version", "1.1"),
                (
                    "authorization_endpoint",
                    "https://login.example.net/x/oauth2/v2.0/authorize",
                ),
            ])
            .send()
            .unwrap(),
    );
    assert_eq!(
        (status, unknown["error"].as_str()),
        (400, Some("invalid_instance"))
    );

    let (status, missing) = json(
        http.get(format!(
            "{login}/nowhere.onmicrosoft.com/v2.0/.well-known/openid-configuration"
        ))
        .send()
        .unwrap(),
    );
    assert_eq!(status, 400);
    assert_eq!(missing["error_codes"][0], 90002, "{missing}");
}

#[test]
fn openid_scopes_bring_an_id_token_and_msal_gets_its_client_info() {
    let sandbox = start(fast_config());
    let http = client(&sandbox, &[]);
    let (_, refresh) = sign_in(&sandbox, &http);
    let arm_default = format!("https://management.{}//.default", sandbox.config().suffix);
    let (status, tokens) = tokens_for(
        &sandbox,
        &http,
        "organizations",
        &refresh.unwrap(),
        &format!("{arm_default} openid profile offline_access"),
    );
    assert_eq!(status, 200, "{tokens}");
    let id = claims(tokens["id_token"].as_str().unwrap());
    assert_eq!(id["aud"], CLIENT_ID);
    assert_eq!(id["preferred_username"], "admin@contoso.example");
    assert_eq!(id["tid"], "72f988bf-0000-4000-8000-5a4d60c0ffee");
    let info: Value = serde_json::from_slice(
        &URL_SAFE_NO_PAD
            .decode(tokens["client_info"].as_str().unwrap())
            .unwrap(),
    )
    .unwrap();
    assert_eq!(info["utid"], "72f988bf-0000-4000-8000-5a4d60c0ffee");
    assert_eq!(info["uid"], id["oid"]);
    assert!(
        tokens["scope"]
            .as_str()
            .unwrap()
            .split(' ')
            .any(|s| s == arm_default),
        "the scope asked for is granted by name, so MSAL finds the token in its cache: {}",
        tokens["scope"]
    );
}

#[test]
fn each_tenant_sees_its_own_subscriptions_and_a_wrong_one_is_told_where_to_go() {
    let sandbox = start(fast_config());
    let http = client(&sandbox, &[]);
    let (home_token, refresh) = sign_in(&sandbox, &http);
    let (status, tenants) = arm_get(
        &sandbox,
        &http,
        &home_token,
        "/tenants?api-version=2022-12-01",
    );
    assert_eq!(status, 200, "{tenants}");
    let names: Vec<&str> = tenants["value"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["displayName"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["Contoso", "Fabrikam Partners", "Northwind Traders"]);

    let (status, guest) = tokens_for(
        &sandbox,
        &http,
        GUEST_TENANT,
        &refresh.unwrap(),
        &arm_scope(&sandbox),
    );
    assert_eq!(status, 200, "{guest}");
    let guest_token = guest["access_token"].as_str().unwrap();
    assert_eq!(claims(guest_token)["tid"], GUEST_TENANT);
    let (_, subscriptions) = arm_get(
        &sandbox,
        &http,
        guest_token,
        "/subscriptions?api-version=2022-12-01",
    );
    let ids: Vec<&str> = subscriptions["value"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["subscriptionId"].as_str().unwrap())
        .collect();
    assert_eq!(ids, [GUEST_SUBSCRIPTION]);
    let (_, subscriptions) = arm_get(
        &sandbox,
        &http,
        &home_token,
        "/subscriptions?api-version=2022-12-01",
    );
    assert_eq!(subscriptions["value"].as_array().unwrap().len(), 6);

    let response = http
        .get(format!(
            "{}/subscriptions/{GUEST_SUBSCRIPTION}/resourcegroups?api-version=2022-09-01",
            arm(&sandbox)
        ))
        .bearer_auth(&home_token)
        .send()
        .unwrap();
    let challenge = response.headers()["www-authenticate"]
        .to_str()
        .unwrap()
        .to_owned();
    let (status, error) = json(response);
    assert_eq!(status, 401);
    assert_eq!(error["error"]["code"], "InvalidAuthenticationTokenTenant");
    assert!(
        challenge.contains(&format!(
            "authorization_uri=\"{}/{GUEST_TENANT}\"",
            login(&sandbox)
        )),
        "{challenge}"
    );
}
