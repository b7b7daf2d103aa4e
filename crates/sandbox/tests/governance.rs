//! What enterprises put between an admin and a new hub: a role on one resource group only,
//! Azure Policy's deny effect, and management locks, each answered in ARM's own words.

mod common;

use common::*;
use reqwest::blocking::Client;
use serde_json::{json, Value};

const SHARED: &str = "66666666-6666-4666-8666-666666666666";
const REGULATED: &str = "77777777-7777-4777-8777-777777777777";

fn put(
    sandbox: &hubsetup_sandbox::Sandbox,
    http: &Client,
    token: &str,
    path: &str,
    api: &str,
    body: Value,
) -> (u16, Value) {
    json(
        http.put(format!("{}{path}?{api}", arm(sandbox)))
            .bearer_auth(token)
            .json(&body)
            .send()
            .unwrap(),
    )
}

fn hub_body(location: &str) -> Value {
    json!({ "location": location, "sku": { "name": "S1", "capacity": 1 } })
}

#[test]
fn a_role_on_one_group_allows_that_group_only() {
    let sandbox = start(fast_config());
    let http = client(&sandbox, &[]);
    let (token, _) = sign_in(&sandbox, &http);

    let (status, groups) = arm_get(
        &sandbox,
        &http,
        &token,
        &format!("/subscriptions/{SHARED}/resourcegroups?api-version=2022-09-01"),
    );
    assert_eq!(status, 200);
    assert_eq!(
        names(&groups),
        ["team-iot", "team-readonly", "team-ops"],
        "a group without a role is not listed"
    );

    let group = format!("/subscriptions/{SHARED}/resourceGroups/new-team");
    let (status, error) = put(
        &sandbox,
        &http,
        &token,
        &group,
        "api-version=2022-09-01",
        json!({ "location": "westeurope" }),
    );
    assert_eq!(status, 403);
    assert_eq!(error["error"]["code"], "AuthorizationFailed");
    assert_eq!(
        error["error"]["message"],
        format!("The client 'admin@contoso.example' with object id '0d5cbd5c-0000-4000-8000-00000000ad01' does not have authorization to perform action 'Microsoft.Resources/subscriptions/resourceGroups/write' over scope '{group}' or the scope is invalid. If access was recently granted, please refresh your credentials.")
    );

    let hub = hub_path(SHARED, "team-readonly", "reader-hub");
    let (status, error) = put(
        &sandbox,
        &http,
        &token,
        &hub,
        IOTHUB_API,
        hub_body("westeurope"),
    );
    assert_eq!(
        (status, error["error"]["code"].as_str()),
        (403, Some("AuthorizationFailed"))
    );
    assert!(error["error"]["message"]
        .as_str()
        .unwrap()
        .contains("'Microsoft.Devices/IotHubs/write' over scope"));

    let (status, error) = json(
        http.post(format!("{}/subscriptions/{SHARED}/providers/Microsoft.Devices/checkNameAvailability?{IOTHUB_API}", arm(&sandbox)))
            .bearer_auth(&token)
            .json(&json!({ "name": "any-name" }))
            .send()
            .unwrap(),
    );
    assert_eq!(
        (status, error["error"]["code"].as_str()),
        (403, Some("AuthorizationFailed")),
        "the name check needs a role on the subscription"
    );

    create_hub(
        &sandbox, &http, &token, SHARED, "team-iot", "team-hub", "S1",
    );
    let (status, permissions) = arm_get(
        &sandbox,
        &http,
        &token,
        &format!("/subscriptions/{SHARED}/resourceGroups/team-iot/providers/Microsoft.Authorization/permissions?api-version=2022-04-01"),
    );
    assert_eq!(status, 200);
    assert_eq!(permissions["value"][0]["actions"], json!(["*"]));
    assert!(permissions["value"][0]["notActions"]
        .as_array()
        .unwrap()
        .contains(&json!("Microsoft.Authorization/*/Write")));
    let (_, reader) = arm_get(
        &sandbox,
        &http,
        &token,
        &format!("/subscriptions/{SHARED}/resourceGroups/team-readonly/providers/Microsoft.Authorization/permissions?api-version=2022-04-01"),
    );
    assert_eq!(reader["value"][0]["actions"], json!(["*/read"]));
}

#[test]
fn policies_deny_in_arms_words_with_their_details() {
    let sandbox = start(fast_config());
    let http = client(&sandbox, &[]);
    let (token, _) = sign_in(&sandbox, &http);

    let (status, error) = put(
        &sandbox,
        &http,
        &token,
        &hub_path(REGULATED, "regulated-eu", "us-hub"),
        IOTHUB_API,
        hub_body("eastus"),
    );
    assert_eq!(status, 403, "{error}");
    let error = &error["error"];
    assert_eq!(error["code"], "RequestDisallowedByPolicy");
    assert_eq!(error["target"], "us-hub");
    assert!(error["message"].as_str().unwrap().starts_with("Resource 'us-hub' was disallowed by policy. Policy identifiers: '[{\"policyAssignment\":{\"name\":\"EU data residency: allowed locations\""));
    let violations = error["additionalInfo"].as_array().unwrap();
    assert_eq!(
        violations.len(),
        2,
        "the location and the missing tag: {violations:?}"
    );
    assert_eq!(violations[0]["type"], "PolicyViolation");
    assert_eq!(
        violations[0]["info"]["policyAssignmentParameters"]["listOfAllowedLocations"]["value"],
        json!(["westeurope", "northeurope"])
    );
    assert_eq!(
        violations[1]["info"]["evaluationDetails"]["evaluatedExpressions"][0]["path"],
        "tags[costCenter]"
    );

    let mut tagged = hub_body("westeurope");
    tagged["tags"] = json!({ "costCenter": "4711" });
    let response = http
        .put(format!(
            "{}{}?{IOTHUB_API}",
            arm(&sandbox),
            hub_path(REGULATED, "regulated-eu", "eu-hub")
        ))
        .bearer_auth(&token)
        .json(&tagged)
        .send()
        .unwrap();
    assert_eq!(
        response.status().as_u16(),
        201,
        "a compliant hub is created"
    );

    let (status, error) = put(
        &sandbox,
        &http,
        &token,
        &hub_path(REGULATED, "regulated-private", "open-hub"),
        IOTHUB_API,
        hub_body("westeurope"),
    );
    assert_eq!(status, 403);
    let expression = &error["error"]["additionalInfo"][0]["info"]["evaluationDetails"]
        ["evaluatedExpressions"][0];
    assert_eq!(expression["path"], "properties.publicNetworkAccess");
    let (status, error) = put(
        &sandbox,
        &http,
        &token,
        &hub_path(REGULATED, "regulated-entra-only", "sas-hub"),
        IOTHUB_API,
        hub_body("westeurope"),
    );
    assert_eq!(status, 403);
    assert_eq!(
        error["error"]["additionalInfo"][0]["info"]["policyDefinitionDisplayName"],
        "Azure IoT Hub should have local authentication methods disabled for Service Apis"
    );
}

#[test]
fn a_read_only_lock_stops_writes_and_key_listing_and_is_listed() {
    let sandbox = start(fast_config());
    let http = client(&sandbox, &[]);
    let (token, _) = sign_in(&sandbox, &http);
    let hub = hub_path(DEV, "contoso-locked", "frozen-hub");
    let (status, error) = put(
        &sandbox,
        &http,
        &token,
        &hub,
        IOTHUB_API,
        hub_body("northeurope"),
    );
    assert_eq!(status, 409);
    assert_eq!(error["error"]["code"], "ScopeLocked");
    assert_eq!(
        error["error"]["message"],
        format!("The scope '{hub}' cannot perform write operation because following scope(s) are locked: '/subscriptions/{DEV}/resourceGroups/contoso-locked'. Please remove the lock and try again.")
    );
    let (status, locks) = arm_get(
        &sandbox,
        &http,
        &token,
        &format!("/subscriptions/{DEV}/resourceGroups/contoso-locked/providers/Microsoft.Authorization/locks?api-version=2016-09-01"),
    );
    assert_eq!(status, 200);
    assert_eq!(locks["value"][0]["name"], "freeze-for-audit");
    assert_eq!(locks["value"][0]["properties"]["level"], "ReadOnly");
    let (_, none) = arm_get(
        &sandbox,
        &http,
        &token,
        &format!("/subscriptions/{DEV}/resourceGroups/contoso-dev/providers/Microsoft.Authorization/locks?api-version=2016-09-01"),
    );
    assert_eq!(none["value"], json!([]));
}

#[test]
fn a_sensitive_group_asks_for_more_proof_and_an_interactive_sign_in_gives_it() {
    use base64::Engine as _;
    let sandbox = start(fast_config());
    let http = client(&sandbox, &[]);
    let (token, refresh) = sign_in(&sandbox, &http);
    let hub = hub_path(DEV, "contoso-sensitive", "sensitive-hub");
    let response = http
        .put(format!("{}{hub}?{IOTHUB_API}", arm(&sandbox)))
        .bearer_auth(&token)
        .json(&hub_body("northeurope"))
        .send()
        .unwrap();
    assert_eq!(response.status().as_u16(), 401);
    let challenge = response.headers()["www-authenticate"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(
        challenge.contains("error=\"insufficient_claims\""),
        "{challenge}"
    );
    let encoded = challenge
        .split("claims=\"")
        .nth(1)
        .unwrap()
        .split('"')
        .next()
        .unwrap();
    let claims = String::from_utf8(
        base64::engine::general_purpose::STANDARD
            .decode(encoded)
            .unwrap(),
    )
    .unwrap();
    assert_eq!(
        claims,
        r#"{"access_token":{"acrs":{"essential":true,"value":"c1"}}}"#
    );
    // Reads need no more proof.
    let (status, _) = arm_get(
        &sandbox,
        &http,
        &token,
        &format!("/subscriptions/{DEV}/resourceGroups/contoso-sensitive?api-version=2022-09-01"),
    );
    assert_eq!(status, 200);

    // A refresh token cannot step up: Entra wants the person.
    let (status, refused) = json(
        http.post(format!(
            "{}/organizations/oauth2/v2.0/token",
            login(&sandbox)
        ))
        .form(&[
            ("client_id", CLIENT_ID),
            ("grant_type", "refresh_token"),
            ("refresh_token", refresh.as_deref().unwrap()),
            ("scope", &arm_scope(&sandbox)),
            ("claims", &claims),
        ])
        .send()
        .unwrap(),
    );
    assert_eq!(
        (status, refused["error"].as_str()),
        (400, Some("interaction_required"))
    );
    assert!(refused["error_description"]
        .as_str()
        .unwrap()
        .starts_with("AADSTS50076: "));

    // A device code asked for with the claims, once entered, gives a token that passes.
    let (stepped_up, _) = sign_in_with(&sandbox, &http, &[("claims", &claims)]);
    let (status, created) = put(
        &sandbox,
        &http,
        &stepped_up,
        &hub,
        IOTHUB_API,
        hub_body("northeurope"),
    );
    assert_eq!(status, 201, "{created}");
}
