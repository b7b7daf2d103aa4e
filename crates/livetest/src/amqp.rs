//! The test message over AMQP 1.0, as IoT Hub's device SDKs send it: no SASL, the device's SAS
//! token put on `$cbs` for `{host}/devices/{id}`, then a sender link to
//! `/devices/{id}/messages/events`; the disposition is the hub's answer, and a rejection's
//! error condition names the reason (`amqp:not-found`, `com.microsoft:device-container-throttled`,
//! …). The stream is ours (TLS on 5671, or a WebSocket on 443).

use std::time::{Duration, Instant};

use fe2o3_amqp::link::{DetachError, LinkStateError, SendError, SenderAttachError};
use fe2o3_amqp::types::definitions::{
    AmqpError, Error as AmqpErrorFrame, ErrorCondition, LinkError,
};
use fe2o3_amqp::types::messaging::{
    ApplicationProperties, Data, Message, MessageId, Outcome, Properties,
};
use fe2o3_amqp::types::primitives::{Binary, SimpleValue, Symbol};
use fe2o3_amqp::{Connection, Sender, Session};
use hubsetup_events::{put_token, Node};

use crate::failure::Failure;
use crate::message::{TestMessage, CONTENT_ENCODING, CONTENT_TYPE, MARK};
use crate::{backoff, ms, Stage, StageResult, Stages};

/// What one AMQP send needs.
pub(crate) struct AmqpSend<'a> {
    pub(crate) host: &'a str,
    pub(crate) device: &'a str,
    pub(crate) token: &'a str,
    pub(crate) expiry_secs: u64,
    pub(crate) timeout: Duration,
    pub(crate) max_attempts: u32,
    pub(crate) max_retry_wait: Duration,
}

/// Signs in and sends `message`, adding the sign-in and send stages; the number of attempts.
pub(crate) async fn send<S>(
    stream: S,
    sending: &AmqpSend<'_>,
    message: &TestMessage,
    stages: &mut Stages<'_>,
) -> Result<u32, Failure>
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + std::fmt::Debug + Send + Unpin + 'static,
{
    let started = Instant::now();
    let signed_in = tokio::time::timeout(sending.timeout, sign_in(stream, sending)).await;
    let (mut connection, mut session) = match signed_in {
        Ok(Ok(open)) => open,
        Ok(Err((detail, failure))) => {
            stages.push(StageResult::failed(Stage::SignIn, ms(started), detail));
            return Err(failure);
        }
        Err(_) => {
            stages.push(StageResult::failed(
                Stage::SignIn,
                ms(started),
                "no answer".into(),
            ));
            return Err(Failure::NoAnswer {
                seconds: sending.timeout.as_secs(),
            });
        }
    };
    stages.push(StageResult::passed(
        Stage::SignIn,
        ms(started),
        format!(
            "token for {}/devices/{} taken on $cbs (200)",
            sending.host, sending.device
        ),
    ));

    let started = Instant::now();
    let outcome = deliver(&mut session, sending, message).await;
    let _ = session.end().await;
    let _ = connection.close().await;
    match outcome {
        Ok(attempts) => {
            let retried = match attempts {
                1 => String::new(),
                n => format!(" after {} retries", n - 1),
            };
            stages.push(StageResult::passed(
                Stage::Send,
                ms(started),
                format!("accepted{retried}, message {}", message.id),
            ));
            Ok(attempts)
        }
        Err((detail, failure)) => {
            stages.push(StageResult::failed(Stage::Send, ms(started), detail));
            Err(failure)
        }
    }
}

type Refusal = (String, Failure);

async fn sign_in<S>(
    stream: S,
    sending: &AmqpSend<'_>,
) -> Result<
    (
        fe2o3_amqp::connection::ConnectionHandle<()>,
        fe2o3_amqp::session::SessionHandle<()>,
    ),
    Refusal,
>
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + std::fmt::Debug + Send + Unpin + 'static,
{
    let lost = |e: String| (e.clone(), Failure::ConnectionDropped { attempts: 1 });
    let mut connection = Connection::builder()
        .container_id(format!("hubsetup-test-{}", sending.device))
        .hostname(sending.host)
        .max_frame_size(65_536)
        .open_with_stream(stream)
        .await
        .map_err(|e| lost(format!("the AMQP handshake failed: {e}")))?;
    let mut session = Session::begin(&mut connection)
        .await
        .map_err(|e| lost(e.to_string()))?;
    let mut cbs = Node::attach(&mut session, "$cbs")
        .await
        .map_err(|e| lost(e.to_string()))?;
    let audience = format!("{}/devices/{}", sending.host, sending.device);
    let (code, description) = put_token(&mut cbs, &audience, sending.token, sending.expiry_secs)
        .await
        .map_err(|e| lost(e.to_string()))?;
    match code {
        200..=299 => Ok((connection, session)),
        401 => Err((
            format!("$cbs answered 401 {description}"),
            Failure::Unauthorized {
                code: if description.is_empty() {
                    "Unauthorized".into()
                } else {
                    description
                },
                clock_skew_secs: None,
                policy: None,
                device: sending.device.to_owned(),
            },
        )),
        other => Err((
            format!("$cbs answered {other} {description}"),
            Failure::AmqpRefused {
                condition: format!("$cbs status {other}"),
                description,
            },
        )),
    }
}

/// Sends on a new link, retrying what the hub asks to retry (throttling, its own errors).
async fn deliver(
    session: &mut fe2o3_amqp::session::SessionHandle<()>,
    sending: &AmqpSend<'_>,
    message: &TestMessage,
) -> Result<u32, Refusal> {
    let target = format!("/devices/{}/messages/events", sending.device);
    let attached = tokio::time::timeout(
        sending.timeout,
        Sender::attach(session, format!("hubsetup-test-{}", message.id), target),
    )
    .await;
    let mut sender = match attached {
        Err(_) => return Err(no_answer(sending)),
        Ok(Err(SenderAttachError::RemoteClosedWithError(error))) => {
            return Err(refusal(&error, sending.device, 1))
        }
        Ok(Err(e)) => return Err((e.to_string(), Failure::ConnectionDropped { attempts: 1 })),
        Ok(Ok(sender)) => sender,
    };
    let mut attempt = 0;
    let result = loop {
        attempt += 1;
        let sent = tokio::time::timeout(sending.timeout, sender.send(amqp_message(message))).await;
        let error = match sent {
            Err(_) => break Err(no_answer(sending)),
            Ok(Ok(Outcome::Accepted(_))) => break Ok(attempt),
            Ok(Ok(Outcome::Rejected(rejected))) => rejected.error.unwrap_or_else(|| {
                AmqpErrorFrame::new(
                    ErrorCondition::AmqpError(AmqpError::InternalError),
                    None,
                    None,
                )
            }),
            Ok(Ok(other)) => AmqpErrorFrame::new(
                ErrorCondition::Custom(Symbol::from(format!("{other:?}"))),
                Some("the message was not accepted".into()),
                None,
            ),
            Ok(Err(SendError::LinkStateError(LinkStateError::RemoteClosedWithError(error))))
            | Ok(Err(SendError::Detached(DetachError::RemoteClosedWithError(error)))) => {
                // The hub detached the link with its reason instead of settling.
                break Err(refusal(&error, sending.device, attempt));
            }
            Ok(Err(e)) => {
                break Err((
                    e.to_string(),
                    Failure::ConnectionDropped { attempts: attempt },
                ))
            }
        };
        let retryable = matches!(
            condition_text(&error).as_str(),
            THROTTLED | "amqp:internal-error" | "com.microsoft:server-busy"
        );
        if !retryable || attempt >= sending.max_attempts {
            break Err(refusal(&error, sending.device, attempt));
        }
        tokio::time::sleep(backoff(attempt).min(sending.max_retry_wait)).await;
    };
    let _ = sender.close().await;
    result
}

const THROTTLED: &str = "com.microsoft:device-container-throttled";

fn no_answer(sending: &AmqpSend<'_>) -> Refusal {
    (
        "no answer".into(),
        Failure::NoAnswer {
            seconds: sending.timeout.as_secs(),
        },
    )
}

fn amqp_message(message: &TestMessage) -> Message<Data> {
    Message::builder()
        .properties(Properties {
            message_id: Some(MessageId::String(message.id.clone())),
            content_type: Some(Symbol::from(CONTENT_TYPE)),
            content_encoding: Some(Symbol::from(CONTENT_ENCODING)),
            ..Default::default()
        })
        .application_properties(
            ApplicationProperties::builder()
                .insert(MARK.0, SimpleValue::String(MARK.1.into()))
                .build(),
        )
        .data(Binary::from(message.body.as_bytes().to_vec()))
        .build()
}

fn condition_text(error: &AmqpErrorFrame) -> String {
    match &error.condition {
        ErrorCondition::AmqpError(e) => Symbol::from(e).0,
        ErrorCondition::LinkError(e) => Symbol::from(e).0,
        ErrorCondition::ConnectionError(e) => Symbol::from(e).0,
        ErrorCondition::SessionError(e) => Symbol::from(e).0,
        ErrorCondition::Custom(symbol) => symbol.0.clone(),
    }
}

/// A rejection or a refused link as a failure, by its error condition.
fn refusal(error: &AmqpErrorFrame, device: &str, attempts: u32) -> Refusal {
    let condition = condition_text(error);
    let description = error.description.clone().unwrap_or_default();
    let failure = match (&error.condition, condition.as_str()) {
        (ErrorCondition::AmqpError(AmqpError::NotFound), _) => Failure::DeviceNotFound {
            device: device.to_owned(),
            code: condition.clone(),
        },
        (ErrorCondition::AmqpError(AmqpError::UnauthorizedAccess), _) => Failure::Unauthorized {
            code: format!("{condition}: {description}"),
            clock_skew_secs: None,
            policy: None,
            device: device.to_owned(),
        },
        (ErrorCondition::AmqpError(AmqpError::ResourceLimitExceeded), _) => {
            Failure::QuotaExceeded {
                code: condition.clone(),
            }
        }
        (ErrorCondition::LinkError(LinkError::MessageSizeExceeded), _) => {
            Failure::MessageTooLarge {
                code: condition.clone(),
            }
        }
        (_, THROTTLED) => Failure::Throttled {
            attempts,
            code: condition.clone(),
        },
        _ => Failure::AmqpRefused {
            condition: condition.clone(),
            description: description.clone(),
        },
    };
    (format!("{condition}: {description}"), failure)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rejected(condition: ErrorCondition) -> Failure {
        refusal(
            &AmqpErrorFrame::new(condition, Some("why".into()), None),
            "d1",
            4,
        )
        .1
    }

    #[test]
    fn rejections_become_the_failures_https_answers_map_to() {
        assert_eq!(
            rejected(ErrorCondition::AmqpError(AmqpError::NotFound)).to_string(),
            "The hub does not know device 'd1', or the device is disabled (amqp:not-found)."
        );
        assert_eq!(
            rejected(ErrorCondition::Custom(Symbol::from(THROTTLED))).to_string(),
            "The hub was still throttling after 4 attempts (com.microsoft:device-container-throttled)."
        );
        assert_eq!(
            rejected(ErrorCondition::LinkError(LinkError::MessageSizeExceeded)).to_string(),
            "The hub found the test message too large (amqp:link:message-size-exceeded)."
        );
        assert_eq!(
            rejected(ErrorCondition::AmqpError(AmqpError::ResourceLimitExceeded)).kind(),
            "quota_exceeded"
        );
        assert_eq!(
            rejected(ErrorCondition::Custom(Symbol::from("com.microsoft:odd"))).to_string(),
            "The hub refused the test message over AMQP (com.microsoft:odd: why)."
        );
    }
}
