//! The hubs' MQTT 3.1.1 endpoint for devices (Azure's port 8883, over TLS), as IoT Hub
//! defines it: the client ID is the device ID, the user name `{hub host}/{device}/?api-version=…`,
//! the password a SAS token checked exactly as the HTTPS side checks it. Devices publish to
//! `devices/{id}/messages/events/{properties}` at QoS 0 or 1; the message goes through the same
//! acceptance as over HTTPS (disabled device, size, quota) and lands on the Event Hub-compatible
//! endpoint. What IoT Hub refuses it refuses the same way: a bad CONNECT gets its CONNACK code,
//! a bad topic, QoS 2 or a refused message closes the connection. Faults for
//! `/devices/{id}/messages/events` on the hub's host apply to every PUBLISH. Twins and methods
//! (`$iothub/…`) are answered by `twins`.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt};
use tokio::sync::mpsc;

use crate::app::{App, Service};
use crate::hub::{authorize, network_refusal, Access};
use crate::messages::{accept, Incoming};
use crate::state::now_ms;
use crate::twins;

use packet::{bytes, push_length, read_packet, string};

pub(crate) mod packet;

/// IoT Hub keeps a connection at most this long without a packet (its maximum keep-alive).
const MAX_KEEP_ALIVE: u16 = 1177;

/// CONNACK return codes (MQTT 3.1.1, 3.2.2.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
enum ConnectCode {
    Accepted = 0,
    BadProtocol = 1,
    BadClientId = 2,
    BadCredentials = 4,
    NotAuthorized = 5,
}

/// Speaks MQTT on an open stream (TLS on 8883, or a WebSocket on 443) to the hub at `host`.
pub(crate) async fn serve_mqtt<S: AsyncRead + AsyncWrite + Unpin>(
    mut stream: S,
    host: String,
    app: Arc<App>,
) {
    let Some(Service::Hub(hub)) = app.service(&host) else {
        return;
    };
    let hub = hub.to_ascii_lowercase();
    let Ok(Some((0x10, body))) = read_packet(&mut stream, Duration::from_secs(30)).await else {
        return;
    };
    let (code, device, keep_alive) = match parse_connect(&body) {
        Err(code) => (code, String::new(), 0),
        Ok(connect) => match admit(&app, &hub, &host, &connect) {
            Ok(()) => (ConnectCode::Accepted, connect.client_id, connect.keep_alive),
            Err(code) => (code, String::new(), 0),
        },
    };
    if send(&mut stream, &[0x20, 2, 0, code as u8]).await.is_err() || code != ConnectCode::Accepted
    {
        return;
    }
    let connected = |up: bool| {
        let mut state = app.state.lock().expect("state lock");
        crate::monitor::connection(&mut state, &hub, &device, up, crate::state::now_ms());
    };
    connected(true);
    // A client silent for one and a half keep-alive periods is gone (MQTT 3.1.1, 3.1.2.10).
    let keep_alive = match keep_alive {
        0 => MAX_KEEP_ALIVE,
        k => k.min(MAX_KEEP_ALIVE),
    };
    let idle = Duration::from_millis(u64::from(keep_alive) * 1500);
    // Answers and the hub's own requests (method calls) share one writer.
    let (mut reader, mut writer) = tokio::io::split(stream);
    let (packets, mut outgoing) = mpsc::unbounded_channel::<Vec<u8>>();
    let reading = async {
        while let Ok(Some((header, body))) = read_packet(&mut reader, idle).await {
            let answer = match header >> 4 {
                3 => {
                    if !survives_faults(&app, &host, &device).await {
                        break;
                    }
                    match publish(&app, &hub, &device, header, &body) {
                        Some(answer) => answer,
                        None => break,
                    }
                }
                8 => {
                    let twins = app
                        .state
                        .lock()
                        .expect("state lock")
                        .hubs
                        .get(&hub)
                        .is_some_and(|h| twins::has_twins(&h.sku));
                    let (answer, methods) = subscribe_ack(&device, &body, twins);
                    if methods {
                        app.sessions.connect(&hub, &device, packets.clone());
                    }
                    answer
                }
                12 => vec![0xd0, 0],
                _ => break,
            };
            if !answer.is_empty() && packets.send(answer).is_err() {
                break;
            }
        }
        app.sessions.disconnect(&hub, &device, &packets);
        drop(packets);
    };
    let writing = async {
        while let Some(packet) = outgoing.recv().await {
            if send(&mut writer, &packet).await.is_err() {
                break;
            }
        }
    };
    tokio::join!(reading, writing);
    connected(false);
}

/// Applies the faults in force for the device's messages (`/devices/{id}/messages/events` on
/// the hub's host, as for HTTPS and AMQP): latency delays the PUBACK; any error answer or a
/// dropped connection closes the connection unacknowledged, which is how IoT Hub refuses over
/// MQTT 3.1.1 (it has no error codes after CONNACK). False when the connection is to close.
async fn survives_faults(app: &App, host: &str, device: &str) -> bool {
    let plan = app
        .faults
        .plan(host, &format!("/devices/{device}/messages/events"));
    if !plan.delay.is_zero() {
        tokio::time::sleep(plan.delay).await;
    }
    plan.action.is_none()
}

/// Writes a packet and flushes it: a WebSocket holds what is written until then.
async fn send<S: AsyncWrite + Unpin>(stream: &mut S, packet: &[u8]) -> std::io::Result<()> {
    stream.write_all(packet).await?;
    stream.flush().await
}

/// The fields of a CONNECT that IoT Hub looks at.
#[derive(Debug, PartialEq, Eq)]
struct Connect {
    client_id: String,
    user_name: String,
    password: String,
    keep_alive: u16,
}

fn parse_connect(body: &[u8]) -> Result<Connect, ConnectCode> {
    let mut at = 0;
    let protocol = string(body, &mut at).ok_or(ConnectCode::BadProtocol)?;
    let level = *body.get(at).ok_or(ConnectCode::BadProtocol)?;
    if protocol != "MQTT" || level != 4 {
        return Err(ConnectCode::BadProtocol);
    }
    let flags = *body.get(at + 1).ok_or(ConnectCode::BadProtocol)?;
    let keep_alive = u16::from_be_bytes([
        *body.get(at + 2).ok_or(ConnectCode::BadProtocol)?,
        *body.get(at + 3).ok_or(ConnectCode::BadProtocol)?,
    ]);
    at += 4;
    let client_id = string(body, &mut at).ok_or(ConnectCode::BadClientId)?;
    if flags & 0x04 != 0 {
        // A will: topic and message, which IoT Hub ignores.
        string(body, &mut at).ok_or(ConnectCode::BadProtocol)?;
        bytes(body, &mut at).ok_or(ConnectCode::BadProtocol)?;
    }
    let user_name = match flags & 0x80 {
        0 => return Err(ConnectCode::BadCredentials),
        _ => string(body, &mut at).ok_or(ConnectCode::BadCredentials)?,
    };
    let password = match flags & 0x40 {
        0 => return Err(ConnectCode::BadCredentials),
        _ => bytes(body, &mut at)
            .and_then(|b| String::from_utf8(b.to_vec()).ok())
            .ok_or(ConnectCode::BadCredentials)?,
    };
    if client_id.is_empty() {
        return Err(ConnectCode::BadClientId);
    }
    Ok(Connect {
        client_id,
        user_name,
        password,
        keep_alive,
    })
}

/// Checks the user name against the hub and device, and the password (a SAS token) for the
/// device's right to connect.
fn admit(app: &App, hub: &str, host: &str, connect: &Connect) -> Result<(), ConnectCode> {
    let expected = format!("{host}/{}/", connect.client_id);
    let user_ok = connect
        .user_name
        .split_once('?')
        .is_some_and(|(path, query)| {
            path.eq_ignore_ascii_case(&expected) && query.contains("api-version=")
        });
    if !user_ok {
        return Err(ConnectCode::BadCredentials);
    }
    let state = app.state.lock().expect("state lock");
    let now = now_ms();
    let hub = state
        .hubs
        .get(hub)
        .filter(|h| h.is_active(now))
        .ok_or(ConnectCode::NotAuthorized)?;
    if network_refusal(hub).is_some() {
        return Err(ConnectCode::NotAuthorized);
    }
    let device = connect.client_id.as_str();
    match hub.devices.get(device) {
        Some(d) if d.status == "enabled" => {}
        _ => return Err(ConnectCode::NotAuthorized),
    }
    let access = Access::DeviceConnect { device_id: device };
    let resource = format!("{host}/devices/{device}");
    authorize(Some(&connect.password), hub, &access, &resource, now / 1000)
        .map_err(|_| ConnectCode::NotAuthorized)
}

/// Takes a PUBLISH; the answer to send (a PUBACK at QoS 1), or None to close the connection.
fn publish(app: &App, hub: &str, device: &str, header: u8, body: &[u8]) -> Option<Vec<u8>> {
    let qos = (header >> 1) & 0x03;
    if qos > 1 {
        return None;
    }
    let mut at = 0;
    let topic = string(body, &mut at)?;
    let packet_id = match qos {
        1 => {
            let id = body.get(at..at + 2)?;
            at += 2;
            Some([id[0], id[1]])
        }
        _ => None,
    };
    let acknowledgement = match packet_id {
        Some([high, low]) => vec![0x40, 2, high, low],
        None => Vec::new(),
    };
    if let Some(request) = topic.strip_prefix("$iothub/") {
        let mut state = app.state.lock().expect("state lock");
        let hub = state.hubs.get_mut(hub)?;
        // A Basic-tier hub closes the connection of a device that asks for its twin.
        if !twins::has_twins(&hub.sku) {
            return None;
        }
        let twin = &mut hub.devices.get_mut(device)?.twin;
        let answer = twins::device_request(twin, &app.sessions, request, &body[at..])?;
        return Some([acknowledgement, answer].concat());
    }
    let prefix = format!("devices/{device}/messages/events/");
    let properties = topic.strip_prefix(&prefix)?;
    let incoming = incoming(properties, body[at..].to_vec())?;
    let config = &app.config;
    let mut state = app.state.lock().expect("state lock");
    let outbox = state.outbox.clone();
    let hub = state.hubs.get_mut(hub)?;
    accept(hub, device, incoming, now_ms(), config, outbox.as_ref()).ok()?;
    Some(acknowledgement)
}

/// A message from its topic's property bag (`$.mid=…&$.ct=…&name=value`) and payload.
fn incoming(properties: &str, body: Vec<u8>) -> Option<Incoming> {
    let mut app_properties = BTreeMap::new();
    let mut system = BTreeMap::new();
    for pair in properties.split('&').filter(|p| !p.is_empty()) {
        let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
        let name = decode(name)?;
        let value = decode(value)?;
        match name.strip_prefix("$.") {
            Some(system_name) => {
                system.insert(system_name.to_owned(), value);
            }
            None => {
                app_properties.insert(name, value);
            }
        }
    }
    let system_bytes = system.values().map(String::len).sum();
    Some(Incoming {
        body,
        message_id: system.remove("mid"),
        correlation_id: system.remove("cid"),
        content_type: system.remove("ct"),
        content_encoding: system.remove("ce"),
        creation_time_utc: system.remove("ctime"),
        app_properties,
        system_bytes,
    })
}

fn decode(text: &str) -> Option<String> {
    percent_encoding::percent_decode_str(text)
        .decode_utf8()
        .ok()
        .map(|s| s.into_owned())
}

/// SUBACK: IoT Hub's own topics for this device are granted at QoS 1 at most (twins' and
/// methods' only when the hub's tier has them), others refused; and whether methods were
/// granted, so that the session takes method calls.
fn subscribe_ack(device: &str, body: &[u8], twins: bool) -> (Vec<u8>, bool) {
    let (Some(high), Some(low)) = (body.first(), body.get(1)) else {
        return (Vec::new(), false);
    };
    let mut methods = false;
    let mut at = 2;
    let mut codes = Vec::new();
    while at < body.len() {
        let Some(filter) = string(body, &mut at) else {
            break;
        };
        let wanted = body.get(at).copied().unwrap_or(0) & 0x03;
        at += 1;
        let is_methods = filter.starts_with("$iothub/methods/");
        let ours = filter.starts_with(&format!("devices/{device}/messages/devicebound/"))
            || (twins && (filter.starts_with("$iothub/twin/") || is_methods));
        methods |= ours && is_methods;
        codes.push(if ours { wanted.min(1) } else { 0x80 });
    }
    let mut answer = vec![0x90];
    push_length(&mut answer, 2 + codes.len());
    answer.extend([*high, *low]);
    answer.extend(codes);
    (answer, methods)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with_length(items: &[&[u8]]) -> Vec<u8> {
        items
            .iter()
            .flat_map(|item| {
                let mut out = (item.len() as u16).to_be_bytes().to_vec();
                out.extend_from_slice(item);
                out
            })
            .collect()
    }

    fn connect(flags: u8, client: &str) -> Vec<u8> {
        let mut body = with_length(&[b"MQTT"]);
        body.extend([4, flags, 0, 60]);
        body.extend(with_length(&[client.as_bytes()]));
        if flags & 0x80 != 0 {
            body.extend(with_length(&[
                b"h.azure-devices.net/d1/?api-version=2021-04-12",
            ]));
        }
        if flags & 0x40 != 0 {
            body.extend(with_length(&[b"SharedAccessSignature sr=x"]));
        }
        body
    }

    #[test]
    fn connect_needs_mqtt_3_1_1_a_client_id_and_credentials() {
        let parsed = parse_connect(&connect(0xc2, "d1")).unwrap();
        assert_eq!(parsed.client_id, "d1");
        assert_eq!(parsed.keep_alive, 60);
        assert_eq!(parsed.password, "SharedAccessSignature sr=x");
        assert_eq!(
            parse_connect(&connect(0x02, "d1")),
            Err(ConnectCode::BadCredentials)
        );
        assert_eq!(
            parse_connect(&connect(0xc2, "")),
            Err(ConnectCode::BadClientId)
        );
        let mut mqtt_3_1 = connect(0xc2, "d1");
        mqtt_3_1[6] = 3;
        assert_eq!(parse_connect(&mqtt_3_1), Err(ConnectCode::BadProtocol));
    }

    #[test]
    fn topic_properties_become_system_and_application_properties() {
        let message = incoming(
            "%24.mid=m-1&%24.ct=application%2Fjson&$.ce=utf-8&run=a%20b",
            b"{}".to_vec(),
        )
        .unwrap();
        assert_eq!(message.message_id.as_deref(), Some("m-1"));
        assert_eq!(message.content_type.as_deref(), Some("application/json"));
        assert_eq!(message.content_encoding.as_deref(), Some("utf-8"));
        assert_eq!(message.app_properties["run"], "a b");
        assert_eq!(message.system_bytes, "m-1application/jsonutf-8".len());
    }

    #[test]
    fn only_the_devices_own_hub_topics_are_granted() {
        let mut body = vec![0, 7];
        body.extend(with_length(&[b"devices/d1/messages/devicebound/#"]));
        body.push(1);
        body.extend(with_length(&[b"devices/d2/messages/devicebound/#"]));
        body.push(1);
        body.extend(with_length(&[b"$iothub/twin/res/#"]));
        body.push(2);
        assert_eq!(
            subscribe_ack("d1", &body, true),
            (vec![0x90, 5, 0, 7, 1, 0x80, 1], false)
        );
        // A Basic-tier hub has no twins or methods.
        let mut methods = vec![0, 8];
        methods.extend(with_length(&[b"$iothub/methods/POST/#"]));
        methods.push(0);
        assert_eq!(
            subscribe_ack("d1", &methods, true),
            (vec![0x90, 3, 0, 8, 0], true)
        );
        assert_eq!(
            subscribe_ack("d1", &methods, false),
            (vec![0x90, 3, 0, 8, 0x80], false)
        );
    }
}
