//! Helpers for talking to a sandbox the way a client would: real TLS trusting only the
//! sandbox's CA, host names resolved to its loopback address.

#![allow(dead_code)] // each test file uses its own share of these helpers

use std::time::Duration;

use hubsetup_sandbox::{Sandbox, SandboxConfig};
use reqwest::blocking::{Client, Response};
use serde_json::Value;

pub const CLIENT_ID: &str = "04b07795-8ddb-461a-bbee-02f9e1bf7b46";
pub const PRODUCTION: &str = "11111111-1111-4111-8111-111111111111";
pub const DEV: &str = "22222222-2222-4222-8222-222222222222";
pub const UNREGISTERED: &str = "33333333-3333-4333-8333-333333333333";
pub const DISABLED: &str = "44444444-4444-4444-8444-444444444444";
pub const IOTHUB_API: &str = "api-version=2023-06-30";
pub const HUB_API: &str = "api-version=2021-04-12";

/// A sandbox with short waits.
pub fn fast_config() -> SandboxConfig {
    SandboxConfig::fast()
}

pub fn start(config: SandboxConfig) -> Sandbox {
    Sandbox::start(config).expect("sandbox starts")
}

/// A client that trusts the sandbox's CA and resolves `hosts` (plus login and management) to it.
pub fn client(sandbox: &Sandbox, hubs: &[&str]) -> Client {
    let ca = reqwest::Certificate::from_pem(sandbox.ca_pem().as_bytes()).unwrap();
    let suffix = &sandbox.config().suffix;
    let mut builder = Client::builder()
        .use_rustls_tls()
        .tls_built_in_root_certs(false)
        .add_root_certificate(ca)
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(20));
    let mut hosts = vec![
        format!("login.{suffix}"),
        format!("management.{suffix}"),
        format!("control.{suffix}"),
    ];
    hosts.extend(hubs.iter().map(|h| sandbox.hub_host(h)));
    for host in hosts {
        builder = builder.resolve(&host, sandbox.address());
    }
    builder.build().unwrap()
}

pub fn login(sandbox: &Sandbox) -> String {
    format!("https://login.{}", sandbox.config().suffix)
}

pub fn arm(sandbox: &Sandbox) -> String {
    format!("https://management.{}", sandbox.config().suffix)
}

pub fn arm_scope(sandbox: &Sandbox) -> String {
    format!(
        "https://management.{}/.default offline_access",
        sandbox.config().suffix
    )
}

pub fn json(response: Response) -> (u16, Value) {
    let status = response.status().as_u16();
    let text = response.text().unwrap();
    (
        status,
        serde_json::from_str(&text).unwrap_or(Value::String(text)),
    )
}

/// Signs in with the device-code flow (the fast config answers at the first poll).
pub fn sign_in(sandbox: &Sandbox, http: &Client) -> (String, Option<String>) {
    sign_in_with(sandbox, http, &[])
}

/// Signs in with the device-code flow, `more` added to the device-code request (`claims`).
pub fn sign_in_with(
    sandbox: &Sandbox,
    http: &Client,
    more: &[(&str, &str)],
) -> (String, Option<String>) {
    let scope = arm_scope(sandbox);
    let mut form = vec![("client_id", CLIENT_ID), ("scope", scope.as_str())];
    form.extend_from_slice(more);
    let (status, code) = json(
        http.post(format!(
            "{}/organizations/oauth2/v2.0/devicecode",
            login(sandbox)
        ))
        .form(&form)
        .send()
        .unwrap(),
    );
    assert_eq!(status, 200, "{code}");
    let (status, tokens) = json(
        http.post(format!(
            "{}/organizations/oauth2/v2.0/token",
            login(sandbox)
        ))
        .form(&[
            ("client_id", CLIENT_ID),
            ("grant_type", "urn:ietf:params:oauth:grant-type:device_code"),
            ("device_code", code["device_code"].as_str().unwrap()),
        ])
        .send()
        .unwrap(),
    );
    assert_eq!(status, 200, "{tokens}");
    (
        tokens["access_token"].as_str().unwrap().to_owned(),
        tokens["refresh_token"].as_str().map(str::to_owned),
    )
}

pub fn arm_get(sandbox: &Sandbox, http: &Client, token: &str, path: &str) -> (u16, Value) {
    json(
        http.get(format!("{}{path}", arm(sandbox)))
            .bearer_auth(token)
            .send()
            .unwrap(),
    )
}

/// The `name` of each item of an ARM list (`{"value": [...]}`), in order.
pub fn names(list: &Value) -> Vec<&str> {
    list["value"]
        .as_array()
        .expect("an ARM list")
        .iter()
        .map(|item| item["name"].as_str().expect("a name"))
        .collect()
}

pub fn hub_path(sub: &str, group: &str, hub: &str) -> String {
    format!("/subscriptions/{sub}/resourceGroups/{group}/providers/Microsoft.Devices/IotHubs/{hub}")
}

/// Creates a hub and waits for its long-running operation to succeed.
pub fn create_hub(
    sandbox: &Sandbox,
    http: &Client,
    token: &str,
    sub: &str,
    group: &str,
    hub: &str,
    sku: &str,
) -> Value {
    let response = http
        .put(format!(
            "{}{}?{IOTHUB_API}",
            arm(sandbox),
            hub_path(sub, group, hub)
        ))
        .bearer_auth(token)
        .json(
            &serde_json::json!({ "location": "westeurope", "sku": { "name": sku, "capacity": 1 } }),
        )
        .send()
        .unwrap();
    let operation = response.headers()["azure-asyncoperation"]
        .to_str()
        .unwrap()
        .to_owned();
    let (status, body) = json(response);
    assert_eq!(status, 201, "{body}");
    wait_for(http, token, &operation);
    body
}

pub fn wait_for(http: &Client, token: &str, operation: &str) {
    for _ in 0..100 {
        let (_, status) = json(http.get(operation).bearer_auth(token).send().unwrap());
        if status["status"] == "Succeeded" {
            return;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    panic!("operation {operation} did not finish");
}

/// The IoT Hub data-plane error code of an answer, from its body and header, which must agree.
pub fn hub_error_code(response: Response) -> (u16, String, String) {
    let status = response.status().as_u16();
    let header = response
        .headers()
        .get("iothub-errorcode")
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default();
    let body: Value = response.json().unwrap();
    let message = body["Message"].as_str().unwrap().to_owned();
    assert!(
        message.starts_with(&format!("ErrorCode:{header};")),
        "header {header} vs body {message}"
    );
    assert!(
        body["ExceptionMessage"]
            .as_str()
            .unwrap()
            .starts_with("Tracking ID:"),
        "{body}"
    );
    (status, header, message)
}
