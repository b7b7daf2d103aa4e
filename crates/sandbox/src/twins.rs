//! Device twins and direct methods, as IoT Hub serves them on its Standard and Free tiers (a
//! Basic-tier hub has neither, and closes an MQTT connection that asks for them):
//! - a device reads its twin (`$iothub/twin/GET/?$rid=…`, answered on
//!   `$iothub/twin/res/200/?$rid=…`) and patches its reported properties
//!   (`$iothub/twin/PATCH/properties/reported/?$rid=…`, answered `204` with the new `$version`);
//! - a service reads a twin (`GET /twins/{id}`) and calls a method (`POST /twins/{id}/methods`):
//!   the call goes to the device's MQTT session (`$iothub/methods/POST/{name}/?$rid=…`), and the
//!   device's answer (`$iothub/methods/res/{status}/?$rid=…`) is the HTTP response; a device
//!   that has not subscribed to methods is not online for them.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::Duration;

use hyper::StatusCode;
use serde_json::{json, Map, Value};
use tokio::sync::{mpsc, oneshot};

use crate::http::{json_response, with_header, Req, Resp};
use crate::mqtt::packet::publish_packet;
use crate::state::{Device, Hub, Twin};

/// Whether a hub of this tier has twins and methods: not B1, B2 or B3.
pub(crate) fn has_twins(sku: &str) -> bool {
    !sku.to_ascii_uppercase().starts_with('B')
}

/// Answers a device's publish to `$iothub/{rest}`: the packets to send back, or `None` to close
/// the connection (a topic IoT Hub does not serve).
pub(crate) fn device_request(
    twin: &mut Twin,
    sessions: &Sessions,
    rest: &str,
    payload: &[u8],
) -> Option<Vec<u8>> {
    let (path, query) = rest.split_once('?').unwrap_or((rest, ""));
    let rid = query
        .split('&')
        .find_map(|pair| pair.strip_prefix("$rid="))
        .unwrap_or_default();
    let respond = |status: u16, extra: &str, body: &[u8]| {
        publish_packet(
            &format!("$iothub/twin/res/{status}/?$rid={rid}{extra}"),
            body,
        )
    };
    match path.trim_end_matches('/') {
        "twin/GET" => Some(respond(
            200,
            "",
            device_document(twin).to_string().as_bytes(),
        )),
        "twin/PATCH/properties/reported" => Some(match patch_reported(twin, payload) {
            Some(version) => respond(204, &format!("&$version={version}"), b""),
            None => respond(
                400,
                "",
                br#"{"message":"The reported properties must be a JSON object."}"#,
            ),
        }),
        method if method.starts_with("methods/res/") => {
            let status = method["methods/res/".len()..].parse().ok()?;
            sessions.answer(rid, status, payload.to_vec());
            Some(Vec::new())
        }
        _ => None,
    }
}

/// The twin as a device reads it: desired and reported properties with their versions.
pub(crate) fn device_document(twin: &Twin) -> Value {
    let side = |properties: &Map<String, Value>, version: u64| {
        let mut side = properties.clone();
        side.insert("$version".into(), json!(version));
        Value::Object(side)
    };
    json!({
        "desired": side(&twin.desired, twin.desired_version),
        "reported": side(&twin.reported, twin.reported_version),
    })
}

/// Merges a reported-properties patch (a `null` removes a property); the new version, or `None`
/// when the patch is not a JSON object.
fn patch_reported(twin: &mut Twin, payload: &[u8]) -> Option<u64> {
    let Ok(Value::Object(patch)) = serde_json::from_slice::<Value>(payload) else {
        return None;
    };
    merge(&mut twin.reported, patch);
    twin.reported_version += 1;
    Some(twin.reported_version)
}

fn merge(into: &mut Map<String, Value>, patch: Map<String, Value>) {
    for (name, value) in patch {
        match (value, into.get_mut(&name)) {
            (Value::Null, _) => {
                into.remove(&name);
            }
            (Value::Object(inner), Some(Value::Object(existing))) => merge(existing, inner),
            (value, _) => {
                into.insert(name, value);
            }
        }
    }
}

/// The twin as a service reads it (`GET /twins/{id}`).
pub(crate) fn service_document(device: &Device) -> Value {
    let document = device_document(&device.twin);
    json!({
        "deviceId": device.device_id,
        "etag": device.etag,
        "deviceEtag": device.etag,
        "status": device.status,
        "version": device.twin.desired_version + device.twin.reported_version,
        "properties": document,
        "capabilities": { "iotEdge": device.iot_edge },
    })
}

/// A method call to make once the state is no longer locked.
#[derive(Debug)]
pub(crate) struct MethodCall {
    hub: String,
    device: String,
    method: String,
    payload: Vec<u8>,
    timeout: Duration,
}

/// Reads `POST /twins/{id}/methods`, or answers why it cannot be made.
pub(crate) fn method_call(req: &Req, hub: &Hub, device: &str) -> Result<MethodCall, Resp> {
    let argument =
        |message: &str| crate::http::hub_error(StatusCode::BAD_REQUEST, "ArgumentInvalid", message);
    if !hub.devices.contains_key(device) {
        return Err(crate::http::hub_error(
            StatusCode::NOT_FOUND,
            "DeviceNotFound",
            &format!("Device {device} not registered"),
        ));
    }
    let body: Value = serde_json::from_slice(&req.body)
        .map_err(|_| argument("The request body must be a JSON object with methodName."))?;
    let method = body["methodName"]
        .as_str()
        .filter(|m| !m.is_empty())
        .ok_or_else(|| argument("methodName is required."))?;
    let seconds = body["responseTimeoutInSeconds"].as_u64().unwrap_or(30);
    if !(5..=300).contains(&seconds) {
        return Err(argument(
            "responseTimeoutInSeconds must be between 5 and 300.",
        ));
    }
    Ok(MethodCall {
        hub: hub.name.to_ascii_lowercase(),
        device: device.to_owned(),
        method: method.to_owned(),
        payload: serde_json::to_vec(&body["payload"]).unwrap_or_default(),
        timeout: Duration::from_secs(seconds),
    })
}

/// Why a method call got no answer.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum CallError {
    NotOnline,
    TimedOut,
}

/// A session's outgoing packets.
type Packets = mpsc::UnboundedSender<Vec<u8>>;
/// A device's answer to a call: its status and payload.
type CallAnswer = (u16, Vec<u8>);

/// Devices whose MQTT sessions take method calls (by hub and device), and the calls waiting
/// for their answers (by request ID).
#[derive(Debug, Default)]
pub(crate) struct Sessions {
    devices: Mutex<HashMap<(String, String), Packets>>,
    calls: Mutex<HashMap<String, oneshot::Sender<CallAnswer>>>,
    next_call: AtomicU64,
}

impl Sessions {
    /// The device's session takes method calls from now on (it replaces an older one, as a new
    /// connection replaces an older one at IoT Hub).
    pub(crate) fn connect(&self, hub: &str, device: &str, packets: mpsc::UnboundedSender<Vec<u8>>) {
        self.devices
            .lock()
            .expect("sessions lock")
            .insert((hub.to_owned(), device.to_owned()), packets);
    }

    /// The session ended; a newer session of the same device stays.
    pub(crate) fn disconnect(
        &self,
        hub: &str,
        device: &str,
        packets: &mpsc::UnboundedSender<Vec<u8>>,
    ) {
        let mut devices = self.devices.lock().expect("sessions lock");
        let key = (hub.to_owned(), device.to_owned());
        if devices.get(&key).is_some_and(|p| p.same_channel(packets)) {
            devices.remove(&key);
        }
    }

    fn answer(&self, rid: &str, status: u16, body: Vec<u8>) {
        if let Some(waiting) = self.calls.lock().expect("calls lock").remove(rid) {
            let _ = waiting.send((status, body));
        }
    }

    /// Sends the call to the device's session and waits for its answer.
    pub(crate) async fn call(&self, call: &MethodCall) -> Result<(u16, Vec<u8>), CallError> {
        let rid = format!("{:x}", self.next_call.fetch_add(1, Ordering::Relaxed) + 1);
        let (answered, answer) = oneshot::channel();
        self.calls
            .lock()
            .expect("calls lock")
            .insert(rid.clone(), answered);
        let request = publish_packet(
            &format!("$iothub/methods/POST/{}/?$rid={rid}", call.method),
            &call.payload,
        );
        let sent = self
            .devices
            .lock()
            .expect("sessions lock")
            .get(&(call.hub.clone(), call.device.clone()))
            .is_some_and(|session| session.send(request).is_ok());
        let outcome = match sent {
            false => Err(CallError::NotOnline),
            true => match tokio::time::timeout(call.timeout, answer).await {
                Ok(Ok(answer)) => Ok(answer),
                Ok(Err(_)) => Err(CallError::NotOnline),
                Err(_) => Err(CallError::TimedOut),
            },
        };
        self.calls.lock().expect("calls lock").remove(&rid);
        outcome
    }
}

/// The HTTP answer to a method call: the device's status and payload, or IoT Hub's error for a
/// device that is not online or did not answer in time.
pub(crate) fn call_response(outcome: Result<(u16, Vec<u8>), CallError>) -> Resp {
    let failure = |status: StatusCode, code: u32, name: &str, message: &str| {
        let body = json!({
            "errorCode": code,
            "trackingId": crate::state::random_hex(16),
            "message": message,
            "info": {},
            "timestampUtc": time::OffsetDateTime::now_utc()
                .format(&time::format_description::well_known::Rfc3339)
                .unwrap_or_default(),
        });
        with_header(json_response(status, &body), "iothub-errorcode", name)
    };
    match outcome {
        Ok((status, payload)) => {
            let payload = serde_json::from_slice::<Value>(&payload).unwrap_or(Value::Null);
            json_response(
                StatusCode::OK,
                &json!({ "status": status, "payload": payload }),
            )
        }
        Err(CallError::NotOnline) => failure(
            StatusCode::NOT_FOUND,
            404103,
            "DeviceNotOnline",
            "Timed out waiting for device to connect.",
        ),
        Err(CallError::TimedOut) => failure(
            StatusCode::GATEWAY_TIMEOUT,
            504101,
            "GatewayTimeout",
            "Timed out waiting for the response from device.",
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reported_patches_merge_and_count_versions() {
        let mut twin = Twin::default();
        assert_eq!(
            patch_reported(
                &mut twin,
                br#"{"fw":{"version":"1.2","channel":"beta"},"x":1}"#
            ),
            Some(2)
        );
        assert_eq!(
            patch_reported(&mut twin, br#"{"fw":{"channel":null},"x":null}"#),
            Some(3)
        );
        assert_eq!(
            Value::Object(twin.reported.clone()),
            json!({"fw": {"version": "1.2"}})
        );
        assert_eq!(patch_reported(&mut twin, b"[1]"), None);
        assert_eq!(
            device_document(&twin),
            json!({"desired": {"$version": 1}, "reported": {"fw": {"version": "1.2"}, "$version": 3}})
        );
    }

    #[test]
    fn basic_tiers_have_no_twins() {
        assert!(has_twins("S1") && has_twins("F1"));
        assert!(!has_twins("B1") && !has_twins("b3"));
    }

    #[tokio::test]
    async fn a_call_reaches_the_session_and_its_answer_comes_back() {
        let sessions = Sessions::default();
        let call = MethodCall {
            hub: "plant".into(),
            device: "d1".into(),
            method: "reboot".into(),
            payload: b"{}".to_vec(),
            timeout: Duration::from_secs(5),
        };
        assert_eq!(sessions.call(&call).await, Err(CallError::NotOnline));
        let (packets, mut outgoing) = mpsc::unbounded_channel();
        sessions.connect("plant", "d1", packets);
        let waiting = sessions.call(&call);
        let answering = async {
            let request = outgoing.recv().await.unwrap();
            let topic = String::from_utf8_lossy(&request);
            assert!(
                topic.contains("$iothub/methods/POST/reboot/?$rid=2"),
                "{topic}"
            );
            let mut twin = Twin::default();
            device_request(
                &mut twin,
                &sessions,
                "methods/res/200/?$rid=2",
                br#"{"ok":true}"#,
            );
        };
        let (answer, ()) = tokio::join!(waiting, answering);
        assert_eq!(answer, Ok((200, br#"{"ok":true}"#.to_vec())));
    }
}
