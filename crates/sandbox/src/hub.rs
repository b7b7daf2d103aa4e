//! The IoT Hub data-plane stand-in (api-version 2021-04-12): the device registry and
//! device-to-cloud messages over HTTPS, with a strict SAS check, policy rights, network
//! settings, the daily quota and the size limit, answering with Azure's codes and body shape.
//! The SAS check and the refusals serve the other protocols too; messages are taken by
//! `messages`, whatever the protocol.

use std::collections::BTreeMap;

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use hubsetup_core::sas::SasToken;
use hubsetup_core::{names, SharedAccessKey, TokenError};
use hyper::{Method, StatusCode};
use serde_json::{json, Value};

use crate::http::{empty, hub_error, json_response, with_header, Req, Resp};
use crate::messages::{accept, Incoming};
use crate::refusal::{device_not_found, unauthorized, Refusal};
use crate::routing::writer::Outbox;
use crate::state::{now_ms, random_base64, Device, Hub, State};
use crate::twins::{self, MethodCall};
use crate::SandboxConfig;

const API_VERSIONS: &[&str] = &[
    "2021-04-12",
    "2020-09-30",
    "2020-03-13",
    "2019-10-01",
    "2018-06-30",
    "2016-11-14",
];

/// What a request needs from its token.
pub(crate) enum Access<'a> {
    RegistryRead,
    RegistryWrite,
    /// Service-side reading, e.g. finding the Event Hub-compatible endpoint over AMQP.
    ServiceConnect,
    DeviceConnect {
        device_id: &'a str,
    },
}

/// What a request to a hub's host gets: an answer now, or a method call to make once the
/// state is unlocked (it waits for the device).
pub(crate) enum Answer {
    Now(Resp),
    CallMethod(MethodCall),
}

impl From<Resp> for Answer {
    fn from(response: Resp) -> Answer {
        Answer::Now(response)
    }
}

pub(crate) fn handle(
    req: &Req,
    hub_name: &str,
    state: &mut State,
    config: &SandboxConfig,
) -> Answer {
    let now = now_ms();
    let outbox = state.outbox.clone();
    let Some(hub) = state
        .hubs
        .get_mut(&hub_name.to_ascii_lowercase())
        .filter(|h| h.is_active(now))
    else {
        return hub_error(
            StatusCode::NOT_FOUND,
            "IotHubNotFound",
            &format!("IotHub {hub_name} not found"),
        )
        .into();
    };
    match req.query("api-version") {
        Some(v) if API_VERSIONS.contains(&v) => {}
        other => {
            return hub_error(
                StatusCode::BAD_REQUEST,
                "InvalidProtocolVersion",
                &format!(
                    "The api-version '{}' is not supported; use 2021-04-12.",
                    other.unwrap_or_default()
                ),
            )
            .into()
        }
    }
    if let Some(reason) = network_refusal(hub) {
        return hub_error(StatusCode::FORBIDDEN, "IpFilterRejected", reason).into();
    }
    let segments = req.segments();
    let access = match (&req.method, segments.as_slice()) {
        (&Method::GET, ["devices"]) | (&Method::GET, ["devices", _]) => Access::RegistryRead,
        (&Method::PUT | &Method::DELETE, ["devices", _]) => Access::RegistryWrite,
        (&Method::POST, ["devices", id, "messages", "events"]) => {
            Access::DeviceConnect { device_id: id }
        }
        (&Method::GET, ["twins", _]) => Access::RegistryRead,
        (&Method::POST, ["twins", _, "methods"]) => Access::ServiceConnect,
        _ => {
            return hub_error(
                StatusCode::NOT_FOUND,
                "ArgumentInvalid",
                "The requested path is not part of the IoT Hub REST API.",
            )
            .into()
        }
    };
    let resource = match segments.as_slice() {
        ["devices", id, ..] => {
            format!("{}/devices/{id}", req.host)
        }
        _ => req.host.clone(),
    };
    if let Err(refusal) = authorize(
        req.header("authorization"),
        hub,
        &access,
        &resource,
        now / 1000,
    ) {
        return refusal.response().into();
    }
    let answer = match (&req.method, segments.as_slice()) {
        (&Method::GET, ["devices"]) => list_devices(req, hub),
        (&Method::GET, ["devices", id]) => match hub.devices.get(*id) {
            Some(device) => device_response(StatusCode::OK, device),
            None => hub_error(
                StatusCode::NOT_FOUND,
                "DeviceNotFound",
                &format!("Device {id} not registered"),
            ),
        },
        (&Method::PUT, ["devices", id]) => put_device(req, hub, id),
        (&Method::DELETE, ["devices", id]) => delete_device(req, hub, id),
        (&Method::POST, ["devices", id, "messages", "events"]) => {
            receive(req, hub, id, now, config, outbox.as_ref())
        }
        (&Method::GET, ["twins", id]) => match hub.devices.get(*id) {
            Some(device) => json_response(StatusCode::OK, &twins::service_document(device)),
            None => hub_error(
                StatusCode::NOT_FOUND,
                "DeviceNotFound",
                &format!("Device {id} not registered"),
            ),
        },
        (&Method::POST, ["twins", id, "methods"]) => {
            return match twins::method_call(req, hub, id) {
                Ok(call) => Answer::CallMethod(call),
                Err(refused) => refused.into(),
            }
        }
        _ => unreachable!("every route was matched above"),
    };
    answer.into()
}

/// Whether the hub's network settings refuse a sender on the public internet (the sandbox's
/// clients stand for partners outside the customer's network).
pub(crate) fn network_refusal(hub: &Hub) -> Option<&'static str> {
    let client = std::net::Ipv4Addr::LOCALHOST;
    if hub
        .network
        .public_network_access
        .eq_ignore_ascii_case("Disabled")
    {
        return Some("Public network access to this IoT hub is disabled; only private endpoints may connect.");
    }
    let rejected_by_filter = hub.network.ip_filter_rules.as_array().is_some_and(|rules| {
        rules
            .iter()
            .find(|r| {
                r.get("ipMask")
                    .and_then(Value::as_str)
                    .is_some_and(|m| cidr_contains(m, client))
            })
            .is_some_and(|r| r.get("action").and_then(Value::as_str) == Some("Reject"))
    });
    if rejected_by_filter {
        return Some("The hub's IP filter rejects connections from this address.");
    }
    let rules = &hub.network.network_rule_sets;
    if rules.get("defaultAction").and_then(Value::as_str) == Some("Deny") {
        let allowed = rules
            .get("ipRules")
            .and_then(Value::as_array)
            .is_some_and(|ip_rules| {
                ip_rules.iter().any(|r| {
                    r.get("ipMask")
                        .and_then(Value::as_str)
                        .is_some_and(|m| cidr_contains(m, client))
                })
            });
        if !allowed {
            return Some(
                "The hub's network rule set denies connections from this address by default.",
            );
        }
    }
    None
}

fn cidr_contains(mask: &str, address: std::net::Ipv4Addr) -> bool {
    let (network, bits) = mask.split_once('/').unwrap_or((mask, "32"));
    let (Ok(network), Ok(bits)) = (
        network.trim().parse::<std::net::Ipv4Addr>(),
        bits.trim().parse::<u32>(),
    ) else {
        return false;
    };
    let keep = if bits == 0 {
        0
    } else {
        u32::MAX << (32 - bits.min(32))
    };
    u32::from(network) & keep == u32::from(address) & keep
}

/// Checks a SAS token (`header`, as sent) for `access` to `resource` at `now` (seconds).
pub(crate) fn authorize(
    header: Option<&str>,
    hub: &Hub,
    access: &Access<'_>,
    resource: &str,
    now: u64,
) -> Result<(), Refusal> {
    let header = header.ok_or_else(|| unauthorized("Unauthorized"))?;
    let token = SasToken::parse(header).map_err(|_| unauthorized("Unauthorized"))?;
    if hub.network.disable_local_auth {
        return Err(unauthorized(
            "Local (SAS) authentication is disabled on this IoT hub; use Microsoft Entra ID.",
        ));
    }
    let explain = |error: TokenError| {
        match error {
        TokenError::SignatureMismatch => unauthorized(
            "The specified SAS token has an invalid signature. It does not match either the primary or secondary key.",
        ),
        TokenError::Expired { .. } => unauthorized("The specified SAS token is expired."),
        TokenError::OutOfScope { .. } => unauthorized("The SAS token's resource (sr) does not grant access to this resource."),
        _ => unauthorized("Unauthorized"),
    }
    };
    match token.key_name() {
        Some(policy_name) => {
            let policy = hub
                .policy(policy_name)
                .ok_or_else(|| unauthorized("Unauthorized"))?;
            let keys = decode_keys(&policy.primary_key, &policy.secondary_key);
            let key_refs: Vec<&SharedAccessKey> = keys.iter().collect();
            token
                .verify(&key_refs, Some(policy_name), now, resource)
                .map_err(explain)?;
            let allowed = match access {
                Access::RegistryRead => {
                    policy.has_right("RegistryRead") || policy.has_right("RegistryWrite")
                }
                Access::RegistryWrite => policy.has_right("RegistryWrite"),
                Access::ServiceConnect => policy.has_right("ServiceConnect"),
                Access::DeviceConnect { .. } => policy.has_right("DeviceConnect"),
            };
            allowed
                .then_some(())
                .ok_or_else(|| unauthorized("Unauthorized"))
        }
        None => {
            let Access::DeviceConnect { device_id } = access else {
                return Err(unauthorized("Unauthorized"));
            };
            let device = hub
                .devices
                .get(*device_id)
                .ok_or_else(|| device_not_found(hub, device_id))?;
            if hub.network.disable_device_sas {
                return Err(unauthorized(
                    "Device SAS keys are disabled on this IoT hub.",
                ));
            }
            let keys = decode_keys(&device.primary_key, &device.secondary_key);
            let key_refs: Vec<&SharedAccessKey> = keys.iter().collect();
            token
                .verify(&key_refs, None, now, resource)
                .map_err(explain)
        }
    }
}

fn decode_keys(primary: &str, secondary: &str) -> Vec<SharedAccessKey> {
    [primary, secondary]
        .into_iter()
        .filter_map(|k| SharedAccessKey::from_base64(k).ok())
        .collect()
}

fn device_json(device: &Device) -> Value {
    // The registry's "never" is the first instant of year 1.
    let when = |ms: u64| {
        if ms == 0 {
            "0001-01-01T00:00:00Z".to_owned()
        } else {
            crate::arm::iothub::rfc3339(ms)
        }
    };
    let activity = &device.activity;
    json!({
        "deviceId": device.device_id,
        "generationId": device.generation_id,
        "etag": device.etag,
        "connectionState": if activity.connections > 0 { "Connected" } else { "Disconnected" },
        "status": device.status,
        "statusReason": device.status_reason,
        "connectionStateUpdatedTime": when(activity.connection_changed_ms),
        "statusUpdatedTime": "0001-01-01T00:00:00Z",
        "lastActivityTime": when(activity.last_activity_ms),
        "cloudToDeviceMessageCount": 0,
        "authentication": {
            "symmetricKey": { "primaryKey": device.primary_key, "secondaryKey": device.secondary_key },
            "x509Thumbprint": { "primaryThumbprint": null, "secondaryThumbprint": null },
            "type": "sas",
        },
        "capabilities": { "iotEdge": device.iot_edge },
    })
}

fn device_response(status: StatusCode, device: &Device) -> Resp {
    with_header(
        json_response(status, &device_json(device)),
        "etag",
        &format!("\"{}\"", device.etag),
    )
}

fn list_devices(req: &Req, hub: &Hub) -> Resp {
    let top = req
        .query("top")
        .and_then(|t| t.parse::<usize>().ok())
        .unwrap_or(1000)
        .min(1000);
    let devices: Vec<Value> = hub.devices.values().take(top).map(device_json).collect();
    json_response(StatusCode::OK, &Value::Array(devices))
}

/// Azure's device etags are base64 of a version number: `MA==` is version 0.
fn next_device_etag(current: &str) -> String {
    let version = STANDARD
        .decode(current)
        .ok()
        .and_then(|b| String::from_utf8(b).ok())
        .and_then(|s| s.parse::<u64>().ok())
        .map_or(0, |v| v + 1);
    STANDARD.encode(version.to_string())
}

fn invalid(detail: &str) -> Refusal {
    Refusal::new(StatusCode::BAD_REQUEST, "ArgumentInvalid", detail)
}

fn put_device(req: &Req, hub: &mut Hub, id: &str) -> Resp {
    let Some(body) = req.json() else {
        return invalid("The request body is not valid JSON.").response();
    };
    if body.get("deviceId").and_then(Value::as_str) != Some(id) {
        return invalid(&format!(
            "The deviceId in the body must equal the deviceId in the URL ('{id}')."
        ))
        .response();
    }
    let if_match = req.header("if-match").map(|v| v.trim().trim_matches('"'));
    match write_device(hub, id, &body, if_match) {
        Ok(device) => device_response(StatusCode::OK, device),
        Err(refusal) => refusal.response(),
    }
}

/// Registers device `id` as `body` describes it (status, keys, capabilities), or replaces it
/// when `if_match` names its etag (or `*`); what it sent and its twin are kept. Shared by the
/// registry's `PUT /devices/{id}` and import jobs.
pub(crate) fn write_device<'h>(
    hub: &'h mut Hub,
    id: &str,
    body: &Value,
    if_match: Option<&str>,
) -> Result<&'h Device, Refusal> {
    if let Err(e) = names::check_device_id(id) {
        return Err(invalid(&format!("DeviceId is invalid: {e}")));
    }
    let status = body
        .get("status")
        .and_then(Value::as_str)
        .unwrap_or("enabled");
    if !["enabled", "disabled"].contains(&status) {
        return Err(invalid("status must be 'enabled' or 'disabled'."));
    }
    let auth_type = body
        .pointer("/authentication/type")
        .and_then(Value::as_str)
        .unwrap_or("sas");
    if auth_type != "sas" {
        return Err(invalid(&format!(
            "The sandbox supports SAS devices only, not '{auth_type}'."
        )));
    }
    let key = |field: &str| -> Result<String, Refusal> {
        match body
            .pointer(&format!("/authentication/symmetricKey/{field}"))
            .and_then(Value::as_str)
        {
            None | Some("") => Ok(random_base64(32)),
            Some(k) => SharedAccessKey::from_base64(k)
                .map(|_| k.to_owned())
                .map_err(|_| invalid(&format!("The {field} must be base64 of 16 to 64 bytes."))),
        }
    };
    let primary_key = key("primaryKey")?;
    let secondary_key = key("secondaryKey")?;
    let existing = hub.devices.get(id);
    let precondition = |detail: String| {
        Refusal::new(
            StatusCode::PRECONDITION_FAILED,
            "PreconditionFailed",
            detail,
        )
    };
    let (etag, generation_id) = match (existing, if_match) {
        (Some(_), None) => {
            return Err(Refusal::new(
                StatusCode::CONFLICT,
                "DeviceAlreadyExists",
                format!("A device with ID '{id}' is already registered."),
            ))
        }
        (Some(device), Some(tag)) if tag != "*" && tag != device.etag => {
            return Err(precondition(format!(
                "Precondition failed: device {id} has changed since it was read (etag mismatch)."
            )))
        }
        (Some(device), Some(_)) => (next_device_etag(&device.etag), device.generation_id.clone()),
        (None, Some(_)) => {
            return Err(precondition(format!(
                "Precondition failed: device {id} does not exist."
            )))
        }
        (None, None) => {
            let generation: u64 = 638_000_000_000_000_000 + u64::from(rand::random::<u32>());
            ("MA==".to_owned(), generation.to_string())
        }
    };
    let messages = existing.map(|d| d.messages.clone()).unwrap_or_default();
    let twin = existing.map(|d| d.twin.clone()).unwrap_or_default();
    let activity = existing.map(|d| d.activity.clone()).unwrap_or_default();
    let device = Device {
        device_id: id.to_owned(),
        generation_id,
        etag,
        status: status.to_owned(),
        status_reason: body
            .get("statusReason")
            .and_then(Value::as_str)
            .map(str::to_owned),
        primary_key,
        secondary_key,
        iot_edge: body
            .pointer("/capabilities/iotEdge")
            .and_then(Value::as_bool)
            .unwrap_or(false),
        messages,
        twin,
        activity,
    };
    hub.devices.insert(id.to_owned(), device);
    Ok(&hub.devices[id])
}

fn delete_device(req: &Req, hub: &mut Hub, id: &str) -> Resp {
    let Some(device) = hub.devices.get(id) else {
        return hub_error(
            StatusCode::NOT_FOUND,
            "DeviceNotFound",
            &format!("Device {id} not registered"),
        );
    };
    if let Some(tag) = req.header("if-match").map(|v| v.trim().trim_matches('"')) {
        if tag != "*" && tag != device.etag {
            return hub_error(StatusCode::PRECONDITION_FAILED, "PreconditionFailed", &format!("Precondition failed: device {id} has changed since it was read (etag mismatch)."));
        }
    }
    hub.devices.remove(id);
    empty(StatusCode::NO_CONTENT)
}

fn receive(
    req: &Req,
    hub: &mut Hub,
    id: &str,
    now: u64,
    config: &SandboxConfig,
    outbox: Option<&Outbox>,
) -> Resp {
    let system = |name: &str| req.header(name).map(str::to_owned);
    let app_properties: BTreeMap<String, String> = req
        .headers
        .iter()
        .filter_map(|(name, value)| {
            let key = name.as_str().strip_prefix("iothub-app-")?;
            Some((key.to_owned(), value.to_str().ok()?.to_owned()))
        })
        .collect();
    let system_bytes: usize = req
        .headers
        .iter()
        .filter(|(n, _)| {
            n.as_str().starts_with("iothub-") && !n.as_str().starts_with("iothub-app-")
        })
        .map(|(_, v)| v.len())
        .sum();
    let incoming = Incoming {
        body: req.body.to_vec(),
        message_id: system("iothub-messageid"),
        correlation_id: system("iothub-correlationid"),
        content_type: system("iothub-contenttype").or_else(|| system("content-type")),
        content_encoding: system("iothub-contentencoding").or_else(|| system("content-encoding")),
        creation_time_utc: system("iothub-creation-time-utc"),
        app_properties,
        system_bytes,
    };
    match accept(hub, id, incoming, now, config, outbox) {
        Ok(()) => empty(StatusCode::NO_CONTENT),
        Err(refusal) => refusal.response(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn device_etags_count_up_in_base64() {
        assert_eq!(next_device_etag("MA=="), "MQ==");
        assert_eq!(next_device_etag("OQ=="), "MTA=");
        assert_eq!(next_device_etag("garbage"), "MA==");
    }

    #[test]
    fn cidr_matching() {
        let local = std::net::Ipv4Addr::LOCALHOST;
        assert!(cidr_contains("0.0.0.0/0", local));
        assert!(cidr_contains("127.0.0.0/8", local));
        assert!(cidr_contains("127.0.0.1", local));
        assert!(!cidr_contains("10.0.0.0/8", local));
        assert!(!cidr_contains("not an address", local));
    }
}
