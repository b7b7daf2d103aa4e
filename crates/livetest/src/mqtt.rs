//! The test message over MQTT 3.1.1, as IoT Hub defines it: CONNECT with the device ID as client
//! ID, `{host}/{device}/?api-version=…` as user name and the SAS token as password; PUBLISH at
//! QoS 1 to `devices/{id}/messages/events/` with the system properties in the topic's property
//! bag; the PUBACK is the hub's acceptance. Packets are rumqttc's MQTT 3.1.1 codec; the stream
//! is ours (TLS on 8883, or a WebSocket on 443), so the cloud's trust and names apply.

use std::time::{Duration, Instant};

use bytes::BytesMut;
use percent_encoding::{utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};
use rumqttc::mqttbytes::v4::{ConnectReturnCode, Packet, Publish};
use rumqttc::mqttbytes::{Error as CodecError, QoS};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

use crate::failure::Failure;
use crate::message::{TestMessage, CONTENT_ENCODING, CONTENT_TYPE, MARK};
use crate::{ms, Stage, StageResult, Stages, API_VERSION};

/// IoT Hub's largest message plus the topic: nothing the hub sends back comes near it.
const MAX_PACKET: usize = 256 * 1024 + 16 * 1024;
const KEEP_ALIVE_SECS: u16 = 60;
const PACKET_ID: u16 = 1;
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

/// Signs in and publishes `message`, adding the sign-in and send stages.
pub(crate) async fn send<S: AsyncRead + AsyncWrite + Unpin>(
    stream: &mut S,
    sending: &MqttSend<'_>,
    message: &TestMessage,
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
    // A polite goodbye; the test has its answer whatever happens now.
    let _ = wire.write(Packet::Disconnect).await;
    Ok(())
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
