//! The test message over HTTPS (`POST /devices/{id}/messages/events`), on a pooled HTTP/1.1
//! connection: 429 and 5xx answers are retried with backoff that honours `Retry-After`, and so
//! are dropped connections; the answer's status and `iothub-errorcode` name the failure.

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use http_body_util::{BodyExt, Full};
use hubsetup_core::ConnectionString;
use hyper::body::Bytes;
use hyper::{Request, StatusCode};
use percent_encoding::{utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};

use crate::connect;
use crate::failure::Failure;
use crate::message::{TestMessage, CONTENT_ENCODING, CONTENT_TYPE, MARK};
use crate::{backoff, ms, Stage, StageResult, Stages, Verifier, API_VERSION};

/// Device IDs may hold characters that mean something in a URL path (`%`, `?`, …).
const PATH_SEGMENT: &AsciiSet = &NON_ALPHANUMERIC.remove(b'-').remove(b'.').remove(b'_');

/// The answer to one request.
struct Answer {
    status: StatusCode,
    error_code: String,
    body: Bytes,
    retry_after: Option<Duration>,
    server_time: Option<SystemTime>,
}

enum Exchange {
    Answered(Answer),
    Dropped,
    TimedOut,
}

impl Verifier {
    /// Sends `message` on `connection` (returned to the pool when it stays open); the number of
    /// attempts it took.
    pub(crate) async fn send_https(
        &self,
        mut connection: connect::Connection,
        cs: &ConnectionString,
        device_id: &str,
        token: &str,
        message: &TestMessage,
        stages: &mut Stages<'_>,
    ) -> Result<u32, Failure> {
        let host = cs.host_name();
        let started = Instant::now();
        let path = format!(
            "/devices/{}/messages/events?api-version={API_VERSION}",
            utf8_percent_encode(device_id, PATH_SEGMENT)
        );
        let mut attempt = 0;
        let answer = loop {
            attempt += 1;
            let request = Request::post(&path)
                .header("host", host)
                .header("authorization", token)
                .header("content-type", CONTENT_TYPE)
                .header("iothub-contenttype", CONTENT_TYPE)
                .header("iothub-contentencoding", CONTENT_ENCODING)
                .header("iothub-messageid", &message.id)
                .header("iothub-creation-time-utc", &message.created)
                .header(format!("iothub-app-{}", MARK.0), MARK.1)
                .body(Full::new(Bytes::from(message.body.clone())))
                .map_err(|e| Failure::Unusable(e.to_string()))?;
            let exchanged = self
                .exchange(&mut connection, request, self.options.stage_timeout)
                .await;
            let retry_wait = match exchanged {
                Exchange::Answered(answer)
                    if is_retryable(answer.status) && attempt < self.options.max_attempts =>
                {
                    answer.retry_after.unwrap_or(backoff(attempt))
                }
                Exchange::Answered(answer) => break answer,
                Exchange::Dropped if attempt < self.options.max_attempts => backoff(attempt),
                Exchange::Dropped => {
                    stages.push(StageResult::failed(
                        Stage::Send,
                        ms(started),
                        "connection closed without an answer".into(),
                    ));
                    return Err(Failure::ConnectionDropped { attempts: attempt });
                }
                Exchange::TimedOut => {
                    stages.push(StageResult::failed(
                        Stage::Send,
                        ms(started),
                        "no answer".into(),
                    ));
                    return Err(Failure::NoAnswer {
                        seconds: self.options.stage_timeout.as_secs(),
                    });
                }
            };
            tokio::time::sleep(retry_wait.min(self.options.max_retry_wait)).await;
            if connection.sender.is_closed() {
                // A reconnection between retries is not a stage of its own.
                let mut reconnect = Stages::new(&|_| {});
                connection = connect::open(
                    &self.network,
                    host,
                    self.options.stage_timeout,
                    &mut reconnect,
                )
                .await?;
            }
        };
        let retried = if attempt > 1 {
            format!(" after {} retries", attempt - 1)
        } else {
            String::new()
        };
        if answer.status != StatusCode::NO_CONTENT {
            let failure = self.classify(&answer, attempt, cs, device_id, host);
            stages.push(StageResult::failed(
                Stage::Send,
                ms(started),
                format!("{} {}{retried}", answer.status.as_u16(), answer.error_code),
            ));
            return Err(failure);
        }
        stages.push(StageResult::passed(
            Stage::Send,
            ms(started),
            format!("accepted (204){retried}, message {}", message.id),
        ));

        self.pool.put(host, connection);
        Ok(attempt)
    }

    /// One request and its answer, within `timeout`.
    async fn exchange(
        &self,
        connection: &mut connect::Connection,
        request: Request<Full<Bytes>>,
        timeout: Duration,
    ) -> Exchange {
        if connection.sender.ready().await.is_err() {
            return Exchange::Dropped;
        }
        let response =
            match tokio::time::timeout(timeout, connection.sender.send_request(request)).await {
                Err(_) => return Exchange::TimedOut,
                Ok(Err(_)) => return Exchange::Dropped,
                Ok(Ok(response)) => response,
            };
        let (parts, body) = response.into_parts();
        let header = |name: &str| {
            parts
                .headers
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned)
        };
        let Ok(body) = body.collect().await.map(|b| b.to_bytes()) else {
            return Exchange::Dropped;
        };
        let error_code = header("iothub-errorcode").unwrap_or_else(|| error_code_from_body(&body));
        Exchange::Answered(Answer {
            status: parts.status,
            error_code,
            retry_after: header("retry-after")
                .and_then(|v| v.trim().parse::<u64>().ok())
                .map(Duration::from_secs),
            server_time: header("date").and_then(|d| httpdate::parse_http_date(&d).ok()),
            body,
        })
    }

    fn classify(
        &self,
        answer: &Answer,
        attempts: u32,
        cs: &ConnectionString,
        device: &str,
        host: &str,
    ) -> Failure {
        let code = answer.error_code.clone();
        match answer.status.as_u16() {
            401 => {
                let skew = answer.server_time.map(|server| {
                    let server =
                        server.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs()) as i64;
                    self.now() as i64 - server
                });
                Failure::Unauthorized {
                    code,
                    clock_skew_secs: skew.filter(|s| s.abs() >= 60),
                    policy: cs.policy_name().map(str::to_owned),
                    device: device.to_owned(),
                }
            }
            404 if code == "IotHubNotFound" => Failure::HubNotFound {
                host: host.to_owned(),
            },
            404 => Failure::DeviceNotFound {
                device: device.to_owned(),
                code: format!("404 {code}"),
            },
            403 if code == "IotHubQuotaExceeded" => Failure::QuotaExceeded {
                code: format!("403 {code}"),
            },
            403 => Failure::NetworkRefused { code },
            413 => Failure::MessageTooLarge {
                code: "413 MessageTooLarge".into(),
            },
            429 => Failure::Throttled {
                attempts,
                code: "429".into(),
            },
            status @ 500..=599 => Failure::ServiceUnavailable { status, attempts },
            status => Failure::Unexpected { status, code },
        }
    }
}

impl Verifier {
    /// Calls the live test's direct method on `device` through the hub's service API with a
    /// service `token`, the device echoing `ping`; IoT Hub's answer (`{"status", "payload"}`).
    pub(crate) async fn call_method(
        &self,
        host: String,
        device: String,
        token: zeroize::Zeroizing<String>,
        ping: String,
    ) -> Result<serde_json::Value, Failure> {
        let timeout = self.options.stage_timeout;
        let mut quiet = Stages::new(&|_| {});
        let mut connection = connect::open(&self.network, &host, timeout, &mut quiet).await?;
        let body = serde_json::json!({
            "methodName": crate::mqtt::METHOD,
            "responseTimeoutInSeconds": timeout.as_secs().clamp(5, 300),
            "payload": { "ping": ping },
        });
        let request = Request::post(format!(
            "/twins/{}/methods?api-version={API_VERSION}",
            utf8_percent_encode(&device, PATH_SEGMENT)
        ))
        .header("host", &host)
        .header("authorization", token.as_str())
        .header("content-type", CONTENT_TYPE)
        .body(Full::new(Bytes::from(body.to_string())))
        .map_err(|e| Failure::Unusable(e.to_string()))?;
        // The hub waits for the device up to the call's own timeout: wait longer for its answer.
        let answer = match self.exchange(&mut connection, request, timeout * 2).await {
            Exchange::Answered(answer) => answer,
            Exchange::Dropped => return Err(Failure::ConnectionDropped { attempts: 1 }),
            Exchange::TimedOut => {
                return Err(Failure::NoAnswer {
                    seconds: timeout.as_secs(),
                })
            }
        };
        if answer.status != StatusCode::OK {
            return Err(Failure::MethodRefused {
                status: answer.status.as_u16(),
                code: answer.error_code,
            });
        }
        serde_json::from_slice(&answer.body).map_err(|_| Failure::MethodAnsweredWrongly {
            detail: "the hub's answer is not JSON".into(),
        })
    }
}

fn is_retryable(status: StatusCode) -> bool {
    status == StatusCode::TOO_MANY_REQUESTS || status.is_server_error()
}

/// `DeviceNotFound` from `{"Message":"ErrorCode:DeviceNotFound;…"}`, when the header is absent.
fn error_code_from_body(body: &[u8]) -> String {
    serde_json::from_slice::<serde_json::Value>(body)
        .ok()
        .and_then(|v| v["Message"].as_str().map(str::to_owned))
        .and_then(|m| {
            m.strip_prefix("ErrorCode:")
                .and_then(|rest| rest.split(';').next())
                .map(str::to_owned)
        })
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_codes_come_from_the_body_when_the_header_is_missing() {
        let body = br#"{"Message":"ErrorCode:DeviceNotFound;Device x not registered","ExceptionMessage":"Tracking ID:1"}"#;
        assert_eq!(error_code_from_body(body), "DeviceNotFound");
        assert_eq!(error_code_from_body(b"not json"), "");
    }
}
