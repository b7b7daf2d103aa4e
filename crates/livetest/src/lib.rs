//! The live connection test: "does this connection string work?" answered with a real
//! device-to-cloud send, timed stage by stage (DNS → TCP → TLS → SAS token → send → landed),
//! and, when it fails, a diagnosis a person can act on (see [`Failure`]).
//!
//! 429 and 5xx answers are retried with backoff that honours `Retry-After`, and so are dropped
//! connections; connections are kept per hub, so testing a whole fleet reuses them.

mod connect;
mod failure;
mod landing;

use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use futures::{Stream, StreamExt};
use http_body_util::{BodyExt, Full};
use hubsetup_core::ConnectionString;
use hubsetup_net::Network;
use hyper::body::Bytes;
use hyper::{Request, StatusCode};
use percent_encoding::{utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};
use serde::Serialize;
use ts_rs::TS;

pub use failure::{Diagnosis, Failure};
pub use landing::ReadBack;

const API_VERSION: &str = "2021-04-12";
/// Device IDs may hold characters that mean something in a URL path (`%`, `?`, …).
const PATH_SEGMENT: &AsciiSet = &NON_ALPHANUMERIC.remove(b'-').remove(b'.').remove(b'_');

/// The stages of a live test, in order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, TS)]
#[ts(export)]
#[serde(rename_all = "snake_case")]
pub enum Stage {
    Dns,
    Tcp,
    Tls,
    Token,
    Send,
    Landed,
}

impl Stage {
    pub fn label(self) -> &'static str {
        match self {
            Stage::Dns => "DNS lookup",
            Stage::Tcp => "TCP connect",
            Stage::Tls => "TLS handshake",
            Stage::Token => "SAS token",
            Stage::Send => "Send test message",
            Stage::Landed => "Message landed",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, TS)]
#[ts(export)]
#[serde(rename_all = "snake_case")]
pub enum StageStatus {
    Passed,
    Failed,
    /// An open connection to the hub was reused, so the stage did not run again.
    Reused,
    /// The stage could not run without more access (reading the message back needs a key
    /// that may read events).
    NotChecked,
}

/// One stage's outcome with its duration and a short detail for people.
#[derive(Debug, Clone, PartialEq, Serialize, TS)]
#[ts(export)]
pub struct StageResult {
    pub stage: Stage,
    /// The stage's name for people, e.g. `TLS handshake`.
    pub label: String,
    pub status: StageStatus,
    pub millis: f64,
    pub detail: String,
}

impl StageResult {
    fn new(stage: Stage, status: StageStatus, millis: f64, detail: String) -> StageResult {
        StageResult {
            stage,
            label: stage.label().to_owned(),
            status,
            millis,
            detail,
        }
    }

    fn passed(stage: Stage, millis: f64, detail: String) -> StageResult {
        StageResult::new(stage, StageStatus::Passed, millis, detail)
    }

    fn failed(stage: Stage, millis: f64, detail: String) -> StageResult {
        StageResult::new(stage, StageStatus::Failed, millis, detail)
    }
}

/// Whether another protocol's port answers, for partners that do not use HTTPS.
#[derive(Debug, Clone, PartialEq, Serialize, TS)]
#[ts(export)]
pub struct PortProbe {
    pub protocol: String,
    pub port: u16,
    pub reachable: bool,
    pub millis: f64,
    pub detail: String,
}

/// Everything a live test found out. It holds no secret: the string appears masked.
#[derive(Debug, Clone, Serialize, TS)]
#[ts(export)]
pub struct Report {
    /// The connection string, masked.
    pub subject: String,
    pub host: Option<String>,
    pub device_id: Option<String>,
    pub accepted: bool,
    pub stages: Vec<StageResult>,
    pub message_id: Option<String>,
    pub attempts: u32,
    pub total_millis: f64,
    pub failure: Option<Diagnosis>,
    /// Other protocols' ports, when asked for; information only.
    pub probes: Vec<PortProbe>,
    #[serde(skip)]
    #[ts(skip)]
    pub failure_detail: Option<Failure>,
}

impl Report {
    /// A report before any stage has run.
    fn begun(subject: String, host: Option<String>) -> Report {
        Report {
            subject,
            host,
            device_id: None,
            accepted: false,
            stages: Vec::new(),
            message_id: None,
            attempts: 0,
            total_millis: 0.0,
            failure: None,
            probes: Vec::new(),
            failure_detail: None,
        }
    }

    /// Records why the test failed, with its diagnosis for people.
    fn fail(&mut self, failure: Failure) {
        self.failure = Some(failure.diagnosis());
        self.failure_detail = Some(failure);
    }
}

/// How a live test behaves.
#[derive(Debug, Clone)]
pub struct Options {
    /// How long the test's SAS token is valid.
    pub token_lifetime: Duration,
    /// The longest any one stage may take.
    pub stage_timeout: Duration,
    /// Attempts at the send when the hub throttles, fails or drops the connection.
    pub max_attempts: u32,
    /// The longest wait between attempts, whatever `Retry-After` says.
    pub max_retry_wait: Duration,
    /// The device to send as when the string is a policy's without a DeviceId.
    pub device_id: Option<String>,
    /// Where to read the message back from to confirm it landed: the hub's Event
    /// Hub-compatible endpoint with a key that may read it. Without it the "landed" stage says
    /// it was not checked.
    pub read_back: Option<ReadBack>,
    /// Seconds to add to this computer's clock: only to reproduce a wrong clock in tests.
    pub clock_offset_secs: i64,
    /// Also try TCP connections to the MQTT (8883) and AMQP (5671) ports, for information:
    /// partners may use those protocols instead of HTTPS.
    pub probe_other_ports: bool,
}

impl Default for Options {
    fn default() -> Options {
        Options {
            token_lifetime: Duration::from_secs(300),
            stage_timeout: Duration::from_secs(10),
            max_attempts: 4,
            max_retry_wait: Duration::from_secs(10),
            device_id: None,
            read_back: None,
            clock_offset_secs: 0,
            probe_other_ports: false,
        }
    }
}

/// The stages of one test so far; each is told to the observer as it is recorded.
pub(crate) struct Stages<'o> {
    done: Vec<StageResult>,
    on_stage: &'o (dyn Fn(&StageResult) + Sync),
}

impl<'o> Stages<'o> {
    fn new(on_stage: &'o (dyn Fn(&StageResult) + Sync)) -> Stages<'o> {
        Stages {
            done: Vec::new(),
            on_stage,
        }
    }

    pub(crate) fn push(&mut self, stage: StageResult) {
        (self.on_stage)(&stage);
        self.done.push(stage);
    }
}

/// A string to test, or why it could not be read, with where it came from (e.g. its line).
pub type Entry<O> = (O, Result<ConnectionString, String>);

/// Runs live tests against one cloud, keeping connections per hub between tests.
pub struct Verifier {
    network: Arc<Network>,
    options: Options,
    pool: connect::Pool,
}

/// The answer to one request.
struct Answer {
    status: StatusCode,
    error_code: String,
    retry_after: Option<Duration>,
    server_time: Option<SystemTime>,
}

enum Exchange {
    Answered(Answer),
    Dropped,
    TimedOut,
}

impl std::fmt::Debug for Verifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Verifier")
            .field("cloud", &self.network.cloud().id)
            .finish_non_exhaustive()
    }
}

impl Verifier {
    pub fn new(network: Network, options: Options) -> Verifier {
        Verifier {
            network: Arc::new(network),
            options,
            pool: connect::Pool::default(),
        }
    }

    fn now(&self) -> u64 {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs()) as i64;
        (now + self.options.clock_offset_secs).max(0) as u64
    }

    /// Tests one connection string.
    pub async fn verify(&self, connection_string: &ConnectionString) -> Report {
        self.verify_observed(connection_string, &|_| {}).await
    }

    /// Tests one connection string, telling `on_stage` of each stage as it ends, so that a
    /// person watching sees the test advance.
    pub async fn verify_observed(
        &self,
        connection_string: &ConnectionString,
        on_stage: &(dyn Fn(&StageResult) + Sync),
    ) -> Report {
        let started = Instant::now();
        let host = connection_string.host_name().to_owned();
        let mut report = Report::begun(connection_string.masked(), Some(host.clone()));
        let mut stages = Stages::new(on_stage);
        let outcome = self.run(connection_string, &mut report, &mut stages).await;
        report.stages = stages.done;
        if self.options.probe_other_ports {
            report.probes = self.probe_ports(&host).await;
        }
        report.total_millis = started.elapsed().as_secs_f64() * 1000.0;
        report.accepted = outcome.is_ok();
        if let Err(failure) = outcome {
            report.fail(failure);
        }
        report
    }

    /// Tests several strings, `concurrency` at a time, yielding each report with its origin
    /// (e.g. `line 12`) as it finishes; an entry that is not a usable string yields a report
    /// saying why.
    pub fn verify_all<'a, O: Clone + 'a>(
        &'a self,
        entries: Vec<Entry<O>>,
        concurrency: usize,
    ) -> impl Stream<Item = (O, Report)> + 'a {
        futures::stream::iter(entries)
            .map(move |(origin, parsed)| async move {
                let report = match parsed {
                    Ok(cs) => self.verify(&cs).await,
                    Err(reason) => unusable_report(reason),
                };
                (origin, report)
            })
            .buffer_unordered(concurrency.max(1))
    }

    async fn run(
        &self,
        cs: &ConnectionString,
        report: &mut Report,
        stages: &mut Stages<'_>,
    ) -> Result<(), Failure> {
        if cs.key().is_none() {
            return Err(Failure::Unusable(
                hubsetup_core::ConnectionStringError::X509HasNoKey.to_string(),
            ));
        }
        let device_id = cs
            .device_id()
            .map(str::to_owned)
            .or_else(|| self.options.device_id.clone())
            .ok_or_else(|| Failure::Unusable("This is a policy connection string without a DeviceId: give the device to send as (--device-id).".into()))?;
        report.device_id = Some(device_id.clone());
        let host = cs.host_name().to_owned();
        let mut connection = match self.pool.take(&host) {
            Some(connection) => {
                for stage in [Stage::Dns, Stage::Tcp, Stage::Tls] {
                    stages.push(StageResult::new(
                        stage,
                        StageStatus::Reused,
                        0.0,
                        "open connection reused".into(),
                    ));
                }
                connection
            }
            None => connect::open(&self.network, &host, self.options.stage_timeout, stages).await?,
        };

        let started = Instant::now();
        let resource = format!("{host}/devices/{device_id}");
        let expiry = self.now() + self.options.token_lifetime.as_secs();
        let token = cs
            .sas_token(Some(&resource), expiry)
            .map_err(|e| Failure::Unusable(e.to_string()))?
            .expose();
        let key_kind = match cs.policy_name() {
            Some(policy) => format!("policy '{policy}'"),
            None => "device key".to_owned(),
        };
        stages.push(StageResult::passed(
            Stage::Token,
            started.elapsed().as_secs_f64() * 1000.0,
            format!(
                "{key_kind}, valid {} min, for {resource}",
                self.options.token_lifetime.as_secs() / 60
            ),
        ));

        let message_id = format!("hubsetup-test-{:016x}", rand::random::<u64>());
        report.message_id = Some(message_id.clone());
        let started = Instant::now();
        let send_began = SystemTime::now();
        let path = format!(
            "/devices/{}/messages/events?api-version={API_VERSION}",
            utf8_percent_encode(&device_id, PATH_SEGMENT)
        );
        let body = serde_json::json!({
            "hubsetup": "connectivity test",
            "sentAt": now_rfc3339(),
            "tool": concat!("IoT Hub Setup ", env!("CARGO_PKG_VERSION")),
        })
        .to_string();
        let mut attempt = 0;
        let answer = loop {
            attempt += 1;
            report.attempts = attempt;
            let request = Request::post(&path)
                .header("host", &host)
                .header("authorization", &token)
                .header("content-type", "application/json")
                .header("iothub-contenttype", "application/json")
                .header("iothub-contentencoding", "utf-8")
                .header("iothub-messageid", &message_id)
                .header("iothub-creation-time-utc", now_rfc3339())
                .header("iothub-app-hubsetup-test", "connectivity")
                .body(Full::new(Bytes::from(body.clone())))
                .map_err(|e| Failure::Unusable(e.to_string()))?;
            let retry_wait = match self.exchange(&mut connection, request).await {
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
                    &host,
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
            let failure = self.classify(&answer, attempt, cs, &device_id, &host);
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
            format!("accepted (204){retried}, message {message_id}"),
        ));

        self.pool.put(&host, connection);
        match &self.options.read_back {
            Some(read_back) => {
                let started = Instant::now();
                let event = landing::confirm(
                    &self.network,
                    read_back,
                    &device_id,
                    &message_id,
                    send_began,
                    self.options.stage_timeout,
                )
                .await;
                match event {
                    Ok(event) => stages.push(StageResult::passed(
                        Stage::Landed,
                        ms(started),
                        format!(
                            "read back from partition {} of the Event Hub-compatible endpoint; enqueued {} after the send began",
                            event.partition,
                            landing::latency_text(&event, send_began)
                        ),
                    )),
                    Err(failure) => {
                        stages.push(StageResult::failed(
                            Stage::Landed,
                            ms(started),
                            match &failure {
                                Failure::NotLanded { seconds } => {
                                    format!("not on the Event Hub-compatible endpoint within {seconds} s")
                                }
                                other => other.to_string(),
                            },
                        ));
                        return Err(failure);
                    }
                }
            }
            None => stages.push(StageResult::new(
                Stage::Landed,
                StageStatus::NotChecked,
                0.0,
                "accepted by the hub; sign in or paste a service connection string to see it arrive".into(),
            )),
        }
        Ok(())
    }

    /// Tries MQTT's and AMQP's ports on the hub's address.
    async fn probe_ports(&self, host: &str) -> Vec<PortProbe> {
        let Ok(addresses) = self.network.resolve(host).await else {
            return Vec::new();
        };
        let Some(address) = addresses.first().copied() else {
            return Vec::new();
        };
        let mut probes = Vec::new();
        for (protocol, port) in [("MQTT", 8883u16), ("AMQP", 5671u16)] {
            let target = std::net::SocketAddr::new(address.ip(), port);
            let started = Instant::now();
            let connecting = tokio::net::TcpStream::connect(target);
            let (reachable, detail) = match tokio::time::timeout(Duration::from_secs(3), connecting).await {
                Ok(Ok(_)) => (true, format!("{target} accepts connections")),
                Ok(Err(e)) => (false, format!("{target}: {e}; partners using {protocol} will not connect from here")),
                Err(_) => (false, format!("{target}: no answer in 3 s; partners using {protocol} will not connect from here")),
            };
            probes.push(PortProbe {
                protocol: protocol.to_owned(),
                port,
                reachable,
                millis: ms(started),
                detail,
            });
        }
        probes
    }

    async fn exchange(
        &self,
        connection: &mut connect::Connection,
        request: Request<Full<Bytes>>,
    ) -> Exchange {
        if connection.sender.ready().await.is_err() {
            return Exchange::Dropped;
        }
        let response = match tokio::time::timeout(
            self.options.stage_timeout,
            connection.sender.send_request(request),
        )
        .await
        {
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
            },
            403 if code == "IotHubQuotaExceeded" => Failure::QuotaExceeded,
            403 => Failure::NetworkRefused { code },
            413 => Failure::MessageTooLarge,
            429 => Failure::Throttled { attempts },
            status @ 500..=599 => Failure::ServiceUnavailable { status, attempts },
            status => Failure::Unexpected { status, code },
        }
    }
}

fn unusable_report(reason: String) -> Report {
    let mut report = Report::begun("(not a usable connection string)".to_owned(), None);
    report.fail(Failure::Unusable(reason));
    report
}

fn is_retryable(status: StatusCode) -> bool {
    status == StatusCode::TOO_MANY_REQUESTS || status.is_server_error()
}

/// 1 s, 2 s, 4 s … when the hub gives no `Retry-After`.
fn backoff(attempt: u32) -> Duration {
    Duration::from_secs(1u64 << attempt.saturating_sub(1).min(5))
}

fn ms(since: Instant) -> f64 {
    since.elapsed().as_secs_f64() * 1000.0
}

fn now_rfc3339() -> String {
    time::OffsetDateTime::now_utc()
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
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

    #[test]
    fn backoff_doubles_and_is_bounded() {
        assert_eq!(backoff(1), Duration::from_secs(1));
        assert_eq!(backoff(3), Duration::from_secs(4));
        assert_eq!(backoff(40), Duration::from_secs(32));
    }
}
