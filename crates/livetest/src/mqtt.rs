//! The test message over MQTT 3.1.1, as IoT Hub defines it: CONNECT with the device ID as client
//! ID, `{host}/{device}/?api-version=…` as user name and the SAS token as password; PUBLISH at
//! QoS 1 to `devices/{id}/messages/events/` with the system properties in the topic's property
//! bag; the PUBACK is the hub's acceptance. When asked, cloud-to-device is checked on the same
//! connection: the device twin read and a reported property written (`$iothub/twin/…`), and a
//! direct method called through the service API and answered (`$iothub/methods/…`). Packets
//! are rumqttc's MQTT 3.1.1 codec; the stream is ours (TLS on 8883, or a WebSocket on 443), so
//! the cloud's trust and names apply.

use std::time::{Duration, Instant};

use bytes::BytesMut;
use futures::future::BoxFuture;
use percent_encoding::{utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};
use rumqttc::mqttbytes::v4::{
    ConnectReturnCode, Packet, Publish, Subscribe, SubscribeFilter, SubscribeReasonCode,
};
use rumqttc::mqttbytes::{Error as CodecError, QoS};
use serde_json::{json, Value};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

use crate::failure::Failure;
use crate::message::{TestMessage, CONTENT_ENCODING, CONTENT_TYPE, MARK};
use crate::{ms, Stage, StageResult, StageStatus, Stages, API_VERSION};

/// IoT Hub's largest message plus the topic: nothing the hub sends back comes near it.
const MAX_PACKET: usize = 256 * 1024 + 16 * 1024;
const KEEP_ALIVE_SECS: u16 = 60;
const PACKET_ID: u16 = 1;
const SUBSCRIBE_ID: u16 = 2;
/// The direct method the live test calls; the device answers it with what it was sent.
pub(crate) const METHOD: &str = "hubsetupPing";
/// The reported property the live test writes.
const REPORTED: &str = "hubsetupLiveTest";
/// What a property bag leaves as it is: URL-unreserved characters (`$.mid` stays `$.mid`
/// because `$` is written as is for system properties only).
const UNRESERVED: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// What one MQTT send needs.
pub(crate) struct MqttSend<'a> {
    pub(crate) host: &'a str,
    pub(crate) device: &'a str,
    pub(crate) token: &'a str,
    pub(crate) label: &'a str,
    pub(crate) timeout: Duration,
}

/// A direct method call through the service API, answered with the JSON IoT Hub returns
/// (`{"status": …, "payload": …}`).
pub(crate) type MethodCall<'a> = BoxFuture<'a, Result<Value, Failure>>;

/// Cloud-to-device, checked after the send.
pub(crate) struct RoundTrip<'a> {
    /// The method call; `None` without a key that may call methods.
    pub(crate) call: Option<MethodCall<'a>>,
}

/// Signs in and publishes `message`, adding the sign-in and send stages, then the twin and
/// method stages when `round_trip` is given.
pub(crate) async fn send<S: AsyncRead + AsyncWrite + Unpin>(
    stream: &mut S,
    sending: &MqttSend<'_>,
    message: &TestMessage,
    round_trip: Option<RoundTrip<'_>>,
    stages: &mut Stages<'_>,
) -> Result<(), Failure> {
    let mut wire = Wire {
        stream,
        unread: BytesMut::new(),
        timeout: sending.timeout,
    };
    let started = Instant::now();
    let mut connect = rumqttc::mqttbytes::v4::Connect::new(sending.device);
    connect.keep_alive = KEEP_ALIVE_SECS;
    connect.set_login(
        format!(
            "{}/{}/?api-version={API_VERSION}",
            sending.host, sending.device
        ),
        sending.token,
    );
    let answer = match wire.write(Packet::Connect(connect)).await {
        Ok(()) => wire.read().await,
        Err(e) => Err(e),
    };
    let fail = |stages: &mut Stages<'_>, stage, started, detail: String, failure| {
        stages.push(StageResult::failed(stage, ms(started), detail));
        Err(failure)
    };
    match answer {
        Ok(Some(Packet::ConnAck(ack))) if ack.code == ConnectReturnCode::Success => {
            stages.push(StageResult::passed(
                Stage::SignIn,
                ms(started),
                "CONNACK 0 (accepted)".into(),
            ));
        }
        Ok(Some(Packet::ConnAck(ack))) => {
            let code = ack.code as u8;
            let failure = Failure::MqttSignInRefused {
                code,
                device: sending.device.to_owned(),
            };
            return fail(
                stages,
                Stage::SignIn,
                started,
                format!("CONNACK {code}"),
                failure,
            );
        }
        Ok(_) | Err(WireError::Closed) => {
            let failure = Failure::ConnectionDropped { attempts: 1 };
            return fail(
                stages,
                Stage::SignIn,
                started,
                "closed before CONNACK".into(),
                failure,
            );
        }
        Err(WireError::TimedOut) => {
            let failure = Failure::NoAnswer {
                seconds: sending.timeout.as_secs(),
            };
            return fail(stages, Stage::SignIn, started, "no CONNACK".into(), failure);
        }
        Err(WireError::Broken(detail)) => {
            let failure = Failure::Unexpected {
                status: 0,
                code: detail.clone(),
            };
            return fail(stages, Stage::SignIn, started, detail, failure);
        }
    }

    let started = Instant::now();
    let mut publish = Publish::new(
        topic(sending.device, message),
        QoS::AtLeastOnce,
        message.body.as_bytes().to_vec(),
    );
    publish.pkid = PACKET_ID;
    if wire.write(Packet::Publish(publish)).await.is_err() {
        let failure = closed(sending.label);
        return fail(
            stages,
            Stage::Send,
            started,
            "closed before the PUBLISH".into(),
            failure,
        );
    }
    loop {
        match wire.read().await {
            Ok(Some(Packet::PubAck(ack))) if ack.pkid == PACKET_ID => break,
            Ok(Some(_)) => continue,
            Ok(None) | Err(WireError::Closed) => {
                let failure = closed(sending.label);
                return fail(
                    stages,
                    Stage::Send,
                    started,
                    "closed without PUBACK".into(),
                    failure,
                );
            }
            Err(WireError::TimedOut) => {
                let failure = Failure::NoAnswer {
                    seconds: sending.timeout.as_secs(),
                };
                return fail(stages, Stage::Send, started, "no PUBACK".into(), failure);
            }
            Err(WireError::Broken(detail)) => {
                let failure = closed(sending.label);
                return fail(stages, Stage::Send, started, detail, failure);
            }
        }
    }
    stages.push(StageResult::passed(
        Stage::Send,
        ms(started),
        format!("acknowledged (PUBACK), message {}", message.id),
    ));
    if let Some(round_trip) = round_trip {
        twin(&mut wire, message, stages).await?;
        method(&mut wire, round_trip, message, stages).await?;
    }
    // A polite goodbye; the test has its answer whatever happens now.
    let _ = wire.write(Packet::Disconnect).await;
    Ok(())
}

/// Reads the device twin and writes a reported property, as the "Device twin" stage. A
/// Basic-tier hub refuses the subscription or closes the connection.
async fn twin<S: AsyncRead + AsyncWrite + Unpin>(
    wire: &mut Wire<'_, S>,
    message: &TestMessage,
    stages: &mut Stages<'_>,
) -> Result<(), Failure> {
    let started = Instant::now();
    let outcome = async {
        let mut subscribe = Subscribe::new_many([
            SubscribeFilter::new("$iothub/twin/res/#".into(), QoS::AtMostOnce),
            SubscribeFilter::new("$iothub/methods/POST/#".into(), QoS::AtMostOnce),
        ]);
        subscribe.pkid = SUBSCRIBE_ID;
        wire.write(Packet::Subscribe(subscribe)).await?;
        let granted = loop {
            match wire.read().await? {
                Some(Packet::SubAck(ack)) if ack.pkid == SUBSCRIBE_ID => break ack.return_codes,
                Some(_) => continue,
                None => return Err(WireError::Closed),
            }
        };
        if granted.contains(&SubscribeReasonCode::Failure) {
            return Err(WireError::Closed);
        }
        let (_, document) = twin_request(wire, "$iothub/twin/GET/?$rid=1", "1", b"").await?;
        let document: Value = serde_json::from_slice(&document).unwrap_or_default();
        let patch = json!({ REPORTED: { "lastTest": message.created, "messageId": message.id } });
        let (version, _) = twin_request(
            wire,
            "$iothub/twin/PATCH/properties/reported/?$rid=2",
            "2",
            patch.to_string().as_bytes(),
        )
        .await?;
        Ok(format!(
            "read (desired version {}, reported version {}); reported property {REPORTED} written (version {version})",
            document["desired"]["$version"],
            document["reported"]["$version"],
        ))
    }
    .await;
    match outcome {
        Ok(detail) => {
            stages.push(StageResult::passed(Stage::Twin, ms(started), detail));
            Ok(())
        }
        Err(error) => {
            let (detail, failure) = match error {
                WireError::TimedOut => (
                    "no answer".to_owned(),
                    Failure::NoAnswer {
                        seconds: wire.timeout.as_secs(),
                    },
                ),
                WireError::Broken(detail) => (
                    detail.clone(),
                    Failure::Unexpected {
                        status: 0,
                        code: detail,
                    },
                ),
                WireError::Closed => (
                    "refused or closed by the hub".to_owned(),
                    Failure::NoTwinsOnThisTier,
                ),
            };
            stages.push(StageResult::failed(Stage::Twin, ms(started), detail));
            Err(failure)
        }
    }
}

/// Publishes a twin request and waits for its response (`$iothub/twin/res/{status}/?$rid=…`):
/// the response's `$version` (for a patch) and body. A status other than 2xx is broken.
async fn twin_request<S: AsyncRead + AsyncWrite + Unpin>(
    wire: &mut Wire<'_, S>,
    topic: &str,
    rid: &str,
    payload: &[u8],
) -> Result<(String, Vec<u8>), WireError> {
    wire.write(Packet::Publish(Publish::new(
        topic,
        QoS::AtMostOnce,
        payload.to_vec(),
    )))
    .await?;
    loop {
        let Some(packet) = wire.read().await? else {
            return Err(WireError::Closed);
        };
        let Packet::Publish(response) = packet else {
            continue;
        };
        let Some(rest) = response.topic.strip_prefix("$iothub/twin/res/") else {
            continue;
        };
        let (status, query) = rest.split_once("/?").unwrap_or((rest, ""));
        let field = |name: &str| {
            query
                .split('&')
                .find_map(|pair| pair.strip_prefix(name))
                .unwrap_or_default()
                .to_owned()
        };
        if field("$rid=") != rid {
            continue;
        }
        if !status.starts_with('2') {
            return Err(WireError::Broken(format!(
                "the hub answered {status} to {topic}"
            )));
        }
        return Ok((field("$version="), response.payload.to_vec()));
    }
}

/// Calls the live test's method through the service API while the device answers it, as the
/// "Direct method" stage.
async fn method<S: AsyncRead + AsyncWrite + Unpin>(
    wire: &mut Wire<'_, S>,
    round_trip: RoundTrip<'_>,
    message: &TestMessage,
    stages: &mut Stages<'_>,
) -> Result<(), Failure> {
    let Some(call) = round_trip.call else {
        stages.push(StageResult::new(
            Stage::Method,
            StageStatus::NotChecked,
            0.0,
            "calling a method needs a key with ServiceConnect: sign in, or give the hub's service connection string".into(),
        ));
        return Ok(());
    };
    let started = Instant::now();
    let answering = async {
        loop {
            let Some(packet) = wire.read().await? else {
                return Err(WireError::Closed);
            };
            let Packet::Publish(request) = packet else {
                continue;
            };
            let Some(rid) = request
                .topic
                .strip_prefix(&format!("$iothub/methods/POST/{METHOD}/?$rid="))
                .map(str::to_owned)
            else {
                continue;
            };
            let asked: Value = serde_json::from_slice(&request.payload).unwrap_or_default();
            let answer = json!({ "pong": asked["ping"] });
            wire.write(Packet::Publish(Publish::new(
                format!("$iothub/methods/res/200/?$rid={rid}"),
                QoS::AtMostOnce,
                answer.to_string().into_bytes(),
            )))
            .await?;
            return Ok(());
        }
    };
    let (answer, answered) = tokio::join!(call, answering);
    let outcome = match (answer, answered) {
        (Err(failure), _) => Err(failure),
        (Ok(_), Err(_)) => Err(Failure::MethodAnsweredWrongly {
            detail: "the device never saw the call".into(),
        }),
        (Ok(body), Ok(()))
            if body["status"] == 200 && body["payload"]["pong"] == message.id.as_str() =>
        {
            Ok(())
        }
        (Ok(body), Ok(())) => Err(Failure::MethodAnsweredWrongly {
            detail: format!("the hub returned {body}"),
        }),
    };
    match outcome {
        Ok(()) => {
            stages.push(StageResult::passed(
                Stage::Method,
                ms(started),
                format!("{METHOD} called through the service API and answered by the device (status 200)"),
            ));
            Ok(())
        }
        Err(failure) => {
            stages.push(StageResult::failed(
                Stage::Method,
                ms(started),
                failure.to_string(),
            ));
            Err(failure)
        }
    }
}

fn closed(label: &str) -> Failure {
    Failure::ClosedWithoutAcknowledgement {
        protocol: label.to_owned(),
    }
}

/// `devices/{id}/messages/events/$.mid=…&$.ct=…&$.ce=…&$.ctime=…&hubsetup-test=connectivity`.
fn topic(device: &str, message: &TestMessage) -> String {
    let encode = |text: &str| utf8_percent_encode(text, UNRESERVED).to_string();
    let properties = [
        ("$.mid", message.id.as_str()),
        ("$.ct", CONTENT_TYPE),
        ("$.ce", CONTENT_ENCODING),
        ("$.ctime", message.created.as_str()),
        MARK,
    ]
    .iter()
    .map(|(name, value)| {
        let name = match name.strip_prefix("$.") {
            Some(system) => format!("$.{}", encode(system)),
            None => encode(name),
        };
        format!("{name}={}", encode(value))
    })
    .collect::<Vec<_>>()
    .join("&");
    format!("devices/{device}/messages/events/{properties}")
}

enum WireError {
    Closed,
    TimedOut,
    Broken(String),
}

/// Packets over a byte stream.
struct Wire<'s, S> {
    stream: &'s mut S,
    unread: BytesMut,
    timeout: Duration,
}

impl<S: AsyncRead + AsyncWrite + Unpin> Wire<'_, S> {
    async fn write(&mut self, packet: Packet) -> Result<(), WireError> {
        let mut out = BytesMut::new();
        packet
            .write(&mut out, MAX_PACKET)
            .map_err(|e| WireError::Broken(e.to_string()))?;
        let written = async {
            self.stream.write_all(&out).await?;
            self.stream.flush().await
        };
        match tokio::time::timeout(self.timeout, written).await {
            Err(_) => Err(WireError::TimedOut),
            Ok(Err(_)) => Err(WireError::Closed),
            Ok(Ok(())) => Ok(()),
        }
    }

    /// The next packet; `None` when the hub closed the connection between packets.
    async fn read(&mut self) -> Result<Option<Packet>, WireError> {
        loop {
            match Packet::read(&mut self.unread, MAX_PACKET) {
                Ok(packet) => return Ok(Some(packet)),
                Err(CodecError::InsufficientBytes(_)) => {}
                Err(e) => return Err(WireError::Broken(e.to_string())),
            }
            let mut chunk = [0u8; 4096];
            match tokio::time::timeout(self.timeout, self.stream.read(&mut chunk)).await {
                Err(_) => return Err(WireError::TimedOut),
                Ok(Ok(0)) if self.unread.is_empty() => return Ok(None),
                Ok(Ok(0)) | Ok(Err(_)) => return Err(WireError::Closed),
                Ok(Ok(n)) => self.unread.extend_from_slice(&chunk[..n]),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_topic_carries_system_properties_as_iot_hub_reads_them() {
        let message = TestMessage {
            id: "hubsetup-test-1".into(),
            body: "{}".into(),
            created: "2026-12-03T05:00:00Z".into(),
        };
        assert_eq!(
            topic("d1", &message),
            "devices/d1/messages/events/$.mid=hubsetup-test-1&$.ct=application%2Fjson&$.ce=utf-8&$.ctime=2026-12-03T05%3A00%3A00Z&hubsetup-test=connectivity"
        );
    }
}
