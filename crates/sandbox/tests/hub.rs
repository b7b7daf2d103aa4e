//! The IoT Hub stand-in: registry, rights, device-to-cloud, faults, and state across restarts.

mod common;

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use common::*;
use hubsetup_core::{ConnectionString, SharedAccessKey};
use hubsetup_sandbox::{Fault, FaultRule, Sandbox, SandboxConfig};
use reqwest::blocking::{Client, RequestBuilder};
use serde_json::{json, Value};

const HUB: &str = "contoso-plant-hub";
const EXISTING: &str = "io.microshare.contact.unpacked.event";

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

fn token(cs: &ConnectionString, valid_for: i64) -> String {
    cs.sas_token(None, (now() as i64 + valid_for) as u64)
        .unwrap()
        .expose()
}

fn hub_url(sandbox: &Sandbox, path: &str) -> String {
    let separator = if path.contains('?') { '&' } else { '?' };
    format!(
        "https://{}{path}{separator}{HUB_API}",
        sandbox.hub_host(HUB)
    )
}

fn policy(sandbox: &Sandbox, name: &str) -> String {
    token(&sandbox.policy_connection_string(HUB, name).unwrap(), 600)
}

fn send(http: &Client, sandbox: &Sandbox, device: &str, auth: &str) -> RequestBuilder {
    http.post(hub_url(
        sandbox,
        &format!("/devices/{device}/messages/events"),
    ))
    .header("Authorization", auth)
    .header("Content-Type", "application/json")
    .body(r#"{"test":true}"#)
}

#[test]
fn registry_create_read_update_delete_with_etags() {
    let sandbox = start(fast_config());
    let http = client(&sandbox, &[HUB]);
    let owner = policy(&sandbox, "iothubowner");
    let device_url = hub_url(&sandbox, "/devices/sensor-1");
    let create = json!({"deviceId": "sensor-1", "status": "enabled", "authentication": {"type": "sas", "symmetricKey": {"primaryKey": null, "secondaryKey": null}}, "capabilities": {"iotEdge": false}});
    let created = http
        .put(&device_url)
        .header("Authorization", &owner)
        .json(&create)
        .send()
        .unwrap();
    assert_eq!(created.status(), 200);
    assert_eq!(created.headers()["etag"], "\"MA==\"");
    let (_, device) = json(created);
    assert_eq!(device["deviceId"], "sensor-1");
    assert_eq!(device["status"], "enabled");
    assert_eq!(device["connectionState"], "Disconnected");
    let primary = device["authentication"]["symmetricKey"]["primaryKey"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(
        SharedAccessKey::from_base64(&primary)
            .unwrap()
            .as_bytes()
            .len(),
        32
    );

    let (status, code, message) = hub_error_code(
        http.put(&device_url)
            .header("Authorization", &owner)
            .json(&create)
            .send()
            .unwrap(),
    );
    assert_eq!((status, code.as_str()), (409, "DeviceAlreadyExists"));
    assert_eq!(
        message,
        "ErrorCode:DeviceAlreadyExists;A device with ID 'sensor-1' is already registered."
    );

    let (status, code, _) = hub_error_code(
        http.put(&device_url)
            .header("Authorization", &owner)
            .header("If-Match", "\"Mg==\"")
            .json(&create)
            .send()
            .unwrap(),
    );
    assert_eq!((status, code.as_str()), (412, "PreconditionFailed"));
    let mut disable = device.clone();
    disable["status"] = json!("disabled");
    let updated = http
        .put(&device_url)
        .header("Authorization", &owner)
        .header("If-Match", "\"MA==\"")
        .json(&disable)
        .send()
        .unwrap();
    assert_eq!(updated.headers()["etag"], "\"MQ==\"");
    let (_, updated) = json(updated);
    assert_eq!(
        updated["authentication"]["symmetricKey"]["primaryKey"],
        primary.as_str(),
        "keys sent back are kept"
    );

    let (status, listed) = json(
        http.get(hub_url(&sandbox, "/devices?top=10"))
            .header("Authorization", &owner)
            .send()
            .unwrap(),
    );
    assert_eq!((status, listed.as_array().unwrap().len()), (200, 2));
    let deleted = http
        .delete(&device_url)
        .header("Authorization", &owner)
        .header("If-Match", "*")
        .send()
        .unwrap();
    assert_eq!(deleted.status(), 204);
    let (status, code, message) = hub_error_code(
        http.get(&device_url)
            .header("Authorization", &owner)
            .send()
            .unwrap(),
    );
    assert_eq!(
        (status, code.as_str(), message.as_str()),
        (
            404,
            "DeviceNotFound",
            "ErrorCode:DeviceNotFound;Device sensor-1 not registered"
        )
    );

    let bad_id = http
        .put(hub_url(&sandbox, "/devices/bad%23id"))
        .header("Authorization", &owner)
        .json(&json!({"deviceId": "bad#id"}))
        .send()
        .unwrap();
    let (status, code, message) = hub_error_code(bad_id);
    assert_eq!((status, code.as_str()), (400, "ArgumentInvalid"));
    assert!(
        message.contains("The device ID contains '#' at position 4"),
        "{message}"
    );
}

#[test]
fn policy_rights_are_enforced() {
    let sandbox = start(fast_config());
    let http = client(&sandbox, &[HUB]);
    let body = json!({"deviceId": "d2"});
    let url = hub_url(&sandbox, "/devices/d2");
    let status_with = |name: &str, write: bool| {
        let auth = policy(&sandbox, name);
        let request = if write {
            http.put(&url).json(&body)
        } else {
            http.get(hub_url(&sandbox, &format!("/devices/{EXISTING}")))
        };
        request
            .header("Authorization", auth)
            .send()
            .unwrap()
            .status()
            .as_u16()
    };
    assert_eq!(
        status_with("registryRead", true),
        401,
        "RegistryRead cannot create"
    );
    assert_eq!(status_with("registryRead", false), 200);
    assert_eq!(
        status_with("device", false),
        401,
        "DeviceConnect alone cannot read the registry"
    );
    assert_eq!(status_with("service", false), 401);
    assert_eq!(status_with("registryReadWrite", true), 200);
    let device_key = token(
        &sandbox.device_connection_string(HUB, EXISTING).unwrap(),
        600,
    );
    let (status, code, message) = hub_error_code(
        http.get(&url)
            .header("Authorization", device_key)
            .send()
            .unwrap(),
    );
    assert_eq!(
        (status, code.as_str(), message.as_str()),
        (
            401,
            "IotHubUnauthorizedAccess",
            "ErrorCode:IotHubUnauthorizedAccess;Unauthorized"
        )
    );
}

#[test]
fn device_to_cloud_lands_with_its_properties() {
    let sandbox = start(fast_config());
    let http = client(&sandbox, &[HUB]);
    let cs = sandbox.device_connection_string(HUB, EXISTING).unwrap();
    let sent = send(&http, &sandbox, EXISTING, &token(&cs, 300))
        .header("iothub-messageid", "connectivity-test-1")
        .header("iothub-creation-time-utc", "2026-11-24T02:00:00Z")
        .header("iothub-contenttype", "application/json")
        .header("iothub-contentencoding", "utf-8")
        .header("iothub-app-hubsetup-test", "connectivity")
        .send()
        .unwrap();
    assert_eq!(sent.status(), 204);
    assert!(sent.headers().contains_key("date"));
    let messages = sandbox.messages(HUB, EXISTING);
    assert_eq!(messages.len(), 1);
    let message = &messages[0];
    assert_eq!(message.message_id.as_deref(), Some("connectivity-test-1"));
    assert_eq!(message.content_type.as_deref(), Some("application/json"));
    assert_eq!(
        message
            .app_properties
            .get("hubsetup-test")
            .map(String::as_str),
        Some("connectivity")
    );
    assert_eq!(message.body_base64, "eyJ0ZXN0Ijp0cnVlfQ==");
    // The sandbox's old read-back path is gone: messages are read from the Event
    // Hub-compatible endpoint, as in Azure.
    let gone = http
        .get(hub_url(
            &sandbox,
            &format!("/sandbox/devices/{EXISTING}/messages"),
        ))
        .header("Authorization", policy(&sandbox, "service"))
        .send()
        .unwrap();
    assert_eq!(gone.status(), 404);
    // A policy with DeviceConnect may send on behalf of a device.
    let device_policy = sandbox.policy_connection_string(HUB, "device").unwrap();
    let scoped = device_policy
        .sas_token(
            Some(&format!("{}/devices/{EXISTING}", sandbox.hub_host(HUB))),
            now() + 60,
        )
        .unwrap()
        .expose();
    assert_eq!(
        send(&http, &sandbox, EXISTING, &scoped)
            .send()
            .unwrap()
            .status(),
        204
    );
}

#[test]
fn device_to_cloud_refusals_have_azure_codes() {
    let sandbox = start(SandboxConfig {
        daily_message_quota: Some(3),
        ..fast_config()
    });
    let http = client(&sandbox, &[HUB]);
    let cs = sandbox.device_connection_string(HUB, EXISTING).unwrap();
    let wrong_key = ConnectionString::for_device(
        &sandbox.hub_host(HUB),
        EXISTING,
        SharedAccessKey::from_bytes(vec![9u8; 32]).unwrap(),
    );
    let (status, code, message) = hub_error_code(
        send(&http, &sandbox, EXISTING, &token(&wrong_key, 300))
            .send()
            .unwrap(),
    );
    assert_eq!((status, code.as_str()), (401, "IotHubUnauthorizedAccess"));
    assert_eq!(message, "ErrorCode:IotHubUnauthorizedAccess;The specified SAS token has an invalid signature. It does not match either the primary or secondary key.");

    let (status, _, message) = hub_error_code(
        send(&http, &sandbox, EXISTING, &token(&cs, -30))
            .send()
            .unwrap(),
    );
    assert_eq!(
        (status, message.as_str()),
        (
            401,
            "ErrorCode:IotHubUnauthorizedAccess;The specified SAS token is expired."
        )
    );

    let other_device = sandbox.device_connection_string(HUB, EXISTING).unwrap();
    let elsewhere = other_device
        .sas_token(
            Some(&format!("{}/devices/other", sandbox.hub_host(HUB))),
            now() + 60,
        )
        .unwrap()
        .expose();
    assert_eq!(
        hub_error_code(send(&http, &sandbox, EXISTING, &elsewhere).send().unwrap()).0,
        401
    );

    let missing = ConnectionString::for_device(
        &sandbox.hub_host(HUB),
        "ghost",
        SharedAccessKey::from_bytes(vec![1u8; 32]).unwrap(),
    );
    let (status, code, message) = hub_error_code(
        send(&http, &sandbox, "ghost", &token(&missing, 60))
            .send()
            .unwrap(),
    );
    assert_eq!((status, code.as_str()), (404, "DeviceNotFound"));
    assert_eq!(message, "ErrorCode:DeviceNotFound;Device ghost not registered or disabled on IotHub contoso-plant-hub");

    let too_big = send(&http, &sandbox, EXISTING, &token(&cs, 60))
        .body(vec![b'x'; 256 * 1024 + 1])
        .send()
        .unwrap();
    let (status, code, _) = hub_error_code(too_big);
    assert_eq!((status, code.as_str()), (413, "MessageTooLarge"));

    for _ in 0..3 {
        assert_eq!(
            send(&http, &sandbox, EXISTING, &token(&cs, 60))
                .send()
                .unwrap()
                .status(),
            204
        );
    }
    let (status, code, message) = hub_error_code(
        send(&http, &sandbox, EXISTING, &token(&cs, 60))
            .send()
            .unwrap(),
    );
    assert_eq!((status, code.as_str()), (403, "IotHubQuotaExceeded"));
    assert!(
        message.contains("Max allowed message count : '3'"),
        "{message}"
    );

    sandbox.disable_device(HUB, EXISTING);
    assert_eq!(
        hub_error_code(
            send(&http, &sandbox, EXISTING, &token(&cs, 60))
                .send()
                .unwrap()
        )
        .1,
        "DeviceNotFound"
    );
}

#[test]
fn hub_network_settings_are_enforced() {
    let sandbox = start(fast_config());
    let http = client(&sandbox, &[HUB]);
    let cs = sandbox.device_connection_string(HUB, EXISTING).unwrap();
    sandbox.with_state(|s| s.hubs.get_mut(HUB).unwrap().network.disable_device_sas = true);
    let (status, _, message) = hub_error_code(
        send(&http, &sandbox, EXISTING, &token(&cs, 60))
            .send()
            .unwrap(),
    );
    assert_eq!(
        (status, message.as_str()),
        (
            401,
            "ErrorCode:IotHubUnauthorizedAccess;Device SAS keys are disabled on this IoT hub."
        )
    );
    sandbox.with_state(|s| {
        let hub = s.hubs.get_mut(HUB).unwrap();
        hub.network.disable_device_sas = false;
        hub.network.public_network_access = "Disabled".into();
    });
    let (status, code, _) = hub_error_code(
        send(&http, &sandbox, EXISTING, &token(&cs, 60))
            .send()
            .unwrap(),
    );
    assert_eq!((status, code.as_str()), (403, "IpFilterRejected"));
    sandbox.with_state(|s| {
        let hub = s.hubs.get_mut(HUB).unwrap();
        hub.network.public_network_access = "Enabled".into();
        hub.network.ip_filter_rules =
            json!([{"filterName": "block-all", "action": "Reject", "ipMask": "0.0.0.0/0"}]);
    });
    assert_eq!(
        hub_error_code(
            send(&http, &sandbox, EXISTING, &token(&cs, 60))
                .send()
                .unwrap()
        )
        .0,
        403
    );
    sandbox.with_state(|s| s.hubs.get_mut(HUB).unwrap().network = Default::default());
    assert_eq!(
        send(&http, &sandbox, EXISTING, &token(&cs, 60))
            .send()
            .unwrap()
            .status(),
        204
    );
}

#[test]
fn faults_throttle_drop_delay_and_break_certificates() {
    let sandbox = start(fast_config());
    let http = client(&sandbox, &[HUB]);
    let cs = sandbox.device_connection_string(HUB, EXISTING).unwrap();
    let host = sandbox.hub_host(HUB);
    sandbox.inject(FaultRule {
        host: host.clone(),
        path_prefix: Some("/devices/".into()),
        fault: Fault::Status {
            status: 429,
            count: 1,
            retry_after_secs: Some(3),
        },
    });
    let throttled = send(&http, &sandbox, EXISTING, &token(&cs, 60))
        .send()
        .unwrap();
    assert_eq!(throttled.headers()["retry-after"], "3");
    assert_eq!(hub_error_code(throttled).1, "ThrottlingException");
    assert_eq!(
        send(&http, &sandbox, EXISTING, &token(&cs, 60))
            .send()
            .unwrap()
            .status(),
        204,
        "one 429, then success"
    );
    sandbox.inject(FaultRule {
        host: host.clone(),
        path_prefix: None,
        fault: Fault::Status {
            status: 503,
            count: 1,
            retry_after_secs: None,
        },
    });
    assert_eq!(
        hub_error_code(
            send(&http, &sandbox, EXISTING, &token(&cs, 60))
                .send()
                .unwrap()
        )
        .1,
        "ServiceUnavailable"
    );

    sandbox.inject(FaultRule {
        host: host.clone(),
        path_prefix: None,
        fault: Fault::DropConnection { count: 1 },
    });
    let dropped = send(&http, &sandbox, EXISTING, &token(&cs, 60))
        .send()
        .unwrap_err();
    assert!(dropped.is_request() || dropped.is_connect(), "{dropped:?}");

    sandbox.inject(FaultRule {
        host: host.clone(),
        path_prefix: None,
        fault: Fault::Latency { millis: 300 },
    });
    let started = Instant::now();
    assert_eq!(
        send(&http, &sandbox, EXISTING, &token(&cs, 60))
            .send()
            .unwrap()
            .status(),
        204
    );
    assert!(started.elapsed() >= Duration::from_millis(300));
    sandbox.clear_faults();

    for fault in [Fault::WrongHostCertificate, Fault::ExpiredCertificate] {
        sandbox.inject(FaultRule {
            host: host.clone(),
            path_prefix: None,
            fault: fault.clone(),
        });
        let fresh = client(&sandbox, &[HUB]);
        let error = send(&fresh, &sandbox, EXISTING, &token(&cs, 60))
            .send()
            .unwrap_err();
        let chain = format!("{:?}", error);
        let expected = if fault == Fault::WrongHostCertificate {
            "NotValidForName"
        } else {
            "Expired"
        };
        assert!(chain.contains(expected), "{fault:?}: {chain}");
        sandbox.clear_faults();
    }
    // Faults can also be set over HTTPS when the sandbox runs as a process.
    let control = format!("https://control.{}/faults", sandbox.config().suffix);
    let rule = json!({"host": host, "fault": {"kind": "status", "status": 500, "count": 1, "retry_after_secs": 1}});
    assert_eq!(
        http.post(&control).json(&rule).send().unwrap().status(),
        204
    );
    assert_eq!(
        hub_error_code(
            send(&http, &sandbox, EXISTING, &token(&cs, 60))
                .send()
                .unwrap()
        )
        .1,
        "ServerError"
    );
    assert_eq!(http.delete(&control).send().unwrap().status(), 204);
}

#[test]
fn state_and_ca_survive_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let config = SandboxConfig {
        state_dir: Some(dir.path().to_owned()),
        ..fast_config()
    };
    let sandbox = start(config.clone());
    let http = client(&sandbox, &[]);
    let (access, _) = sign_in(&sandbox, &http);
    let hub: Value = create_hub(
        &sandbox,
        &http,
        &access,
        PRODUCTION,
        "contoso-iot",
        "kept-hub",
        "S1",
    );
    assert_eq!(hub["name"], "kept-hub");
    let ca = sandbox.ca_pem().to_owned();
    drop(sandbox);

    let restarted = start(config);
    assert_eq!(restarted.ca_pem(), ca, "clients keep trusting the same CA");
    let http = client(&restarted, &[]);
    let (status, hub) = arm_get(
        &restarted,
        &http,
        &access,
        &format!(
            "{}?{IOTHUB_API}",
            hub_path(PRODUCTION, "contoso-iot", "kept-hub")
        ),
    );
    assert_eq!(
        status, 200,
        "tokens issued before the restart stay valid: {hub}"
    );
    assert_eq!(hub["properties"]["provisioningState"], "Succeeded");
}
