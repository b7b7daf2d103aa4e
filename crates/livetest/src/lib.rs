//! The live connection test: "does this connection string work?" answered with a real
//! device-to-cloud send, timed stage by stage (DNS → TCP → TLS → SAS token → sign-in → send →
//! landed), over any of the protocols devices use (HTTPS, MQTT, AMQP, and the last two over
//! WebSockets on 443), all at once, and, when one fails, a diagnosis a person can act on (see
//! [`Failure`]) and what the matrix of protocols means for the partner.
//!
//! HTTPS connections are kept per hub, so testing a whole fleet reuses them.

mod amqp;
mod connect;
mod failure;
mod https;
mod landing;
mod message;
mod mqtt;
mod protocol;
mod report;

use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use futures::{Stream, StreamExt};
use hubsetup_core::ConnectionString;
use hubsetup_net::Network;

pub use failure::{Diagnosis, Failure};
pub use landing::ReadBack;
pub use protocol::Protocol;
pub use report::{ProtocolResult, Report, Stage, StageResult, StageStatus};

use message::TestMessage;

const API_VERSION: &str = "2021-04-12";

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
    /// The protocols to send with, all at once; the first one's stages are the report's own
    /// and are told as they end. HTTPS alone by default.
    pub protocols: Vec<Protocol>,
    /// Also check cloud-to-device over the first MQTT protocol tested: the device twin, and a
    /// direct method when `read_back` holds a key that may call one (ServiceConnect).
    pub round_trip: bool,
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
            protocols: vec![Protocol::Https],
            round_trip: false,
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

impl std::fmt::Debug for Verifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Verifier")
            .field("cloud", &self.network.cloud().id)
            .finish_non_exhaustive()
    }
}

/// What every protocol's send shares: the device to send as and its token.
struct Credentials {
    device_id: String,
    token: String,
    expiry: u64,
    /// The token stage's detail: which key, how long, for what.
    detail: String,
}

/// A message the hub took, to be looked for on the Event Hub-compatible endpoint.
pub(crate) struct Sent {
    pub(crate) message: TestMessage,
    attempts: u32,
    pub(crate) began: SystemTime,
}

/// One protocol's send before the read-back.
struct Trial {
    protocol: Protocol,
    /// How long the send took, every stage before the read-back included.
    millis: f64,
    stages: Vec<StageResult>,
    outcome: Result<Sent, Failure>,
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

    /// Tests one connection string over every protocol asked for at once, telling `on_stage`
    /// of each of the first protocol's stages as it ends, so that a person watching sees the
    /// test advance.
    pub async fn verify_observed(
        &self,
        connection_string: &ConnectionString,
        on_stage: &(dyn Fn(&StageResult) + Sync),
    ) -> Report {
        let started = Instant::now();
        let host = connection_string.host_name().to_owned();
        let mut report = Report::begun(connection_string.masked(), Some(host));
        let protocols = match self.options.protocols.as_slice() {
            [] => vec![Protocol::Https],
            list => list.to_vec(),
        };
        report.protocol = protocols[0];
        let credentials = match self.credentials(connection_string) {
            Ok(credentials) => credentials,
            Err(failure) => {
                report.fail(failure);
                report.total_millis = ms(started);
                return report;
            }
        };
        report.device_id = Some(credentials.device_id.clone());

        // Only the first protocol's stages are told as they end; the others come with the report.
        let quiet = |_: &StageResult| {};
        let trials =
            futures::future::join_all(protocols.iter().enumerate().map(|(i, protocol)| {
                let observer: &(dyn Fn(&StageResult) + Sync) =
                    if i == 0 { on_stage } else { &quiet };
                self.trial(*protocol, connection_string, &credentials, observer)
            }))
            .await;

        let landed = self.read_back(&credentials.device_id, &trials).await;
        let waited = self.options.stage_timeout.as_secs();
        let mut results = Vec::new();
        for (index, mut trial) in trials.into_iter().enumerate() {
            let attempts = trial.attempts();
            let message_id = trial.outcome.as_ref().ok().map(|s| s.message.id.clone());
            let mut outcome = trial.outcome.as_ref().map(|_| ()).map_err(Clone::clone);
            let mut landing_millis = 0.0;
            if let Some((stage, failure)) = trial
                .outcome
                .as_ref()
                .ok()
                .map(|sent| landing::stage(sent, landed.as_ref(), waited))
            {
                if index == 0 {
                    on_stage(&stage);
                }
                landing_millis = stage.millis;
                trial.stages.push(stage);
                if let Some(failure) = failure {
                    outcome = Err(failure);
                }
            }
            if index == 0 {
                report.stages = trial.stages.clone();
                report.attempts = attempts;
                report.message_id = message_id;
                report.accepted = outcome.is_ok();
                if let Err(failure) = &outcome {
                    report.fail(failure.clone());
                }
            }
            results.push(ProtocolResult {
                protocol: trial.protocol,
                label: trial.protocol.label().to_owned(),
                port: trial.protocol.port(),
                accepted: outcome.is_ok(),
                tried: !matches!(outcome, Err(Failure::OwnPortBehindProxy { .. })),
                stages: trial.stages,
                total_millis: trial.millis + landing_millis,
                failure: outcome.as_ref().err().map(Failure::diagnosis),
                failure_detail: outcome.err(),
            });
        }
        if results.len() > 1 {
            let outcomes: Vec<(Protocol, bool, bool)> = results
                .iter()
                .map(|r| {
                    let blocked = r
                        .failure_detail
                        .as_ref()
                        .is_some_and(Failure::is_network_blocked);
                    (r.protocol, r.accepted, blocked)
                })
                .collect();
            report.advice = protocol::advice(&outcomes);
        }
        report.protocols = results;
        report.total_millis = ms(started);
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

    /// The device to send as and a token for it, or why the string cannot be tested.
    fn credentials(&self, cs: &ConnectionString) -> Result<Credentials, Failure> {
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
        let resource = format!("{}/devices/{device_id}", cs.host_name());
        let expiry = self.now() + self.options.token_lifetime.as_secs();
        let token = cs
            .sas_token(Some(&resource), expiry)
            .map_err(|e| Failure::Unusable(e.to_string()))?
            .expose();
        let key_kind = match cs.policy_name() {
            Some(policy) => format!("policy '{policy}'"),
            None => "device key".to_owned(),
        };
        Ok(Credentials {
            detail: format!(
                "{key_kind}, valid {} min, for {resource}",
                self.options.token_lifetime.as_secs() / 60
            ),
            device_id,
            token,
            expiry,
        })
    }

    /// Sends the test message over one protocol, stage by stage, telling `observer` of each.
    async fn trial(
        &self,
        protocol: Protocol,
        cs: &ConnectionString,
        credentials: &Credentials,
        observer: &(dyn Fn(&StageResult) + Sync),
    ) -> Trial {
        let started = Instant::now();
        let mut stages = Stages::new(observer);
        let outcome = self.send(protocol, cs, credentials, &mut stages).await;
        Trial {
            protocol,
            millis: ms(started),
            stages: stages.done,
            outcome,
        }
    }

    async fn send(
        &self,
        protocol: Protocol,
        cs: &ConnectionString,
        credentials: &Credentials,
        stages: &mut Stages<'_>,
    ) -> Result<Sent, Failure> {
        let host = cs.host_name();
        let timeout = self.options.stage_timeout;
        let message = TestMessage::new();
        let token_stage = |stages: &mut Stages<'_>| {
            stages.push(StageResult::passed(
                Stage::Token,
                0.0,
                credentials.detail.clone(),
            ));
        };
        let began = SystemTime::now();
        let attempts = match protocol {
            Protocol::Https => {
                let connection = match self.pool.take(host) {
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
                    None => connect::open(&self.network, host, timeout, stages).await?,
                };
                token_stage(stages);
                self.send_https(
                    connection,
                    cs,
                    &credentials.device_id,
                    &credentials.token,
                    &message,
                    stages,
                )
                .await?
            }
            Protocol::Mqtt | Protocol::MqttWs => {
                let tls = connect::open_tls(&self.network, host, protocol.port(), timeout, stages)
                    .await?;
                let sending = mqtt::MqttSend {
                    host,
                    device: &credentials.device_id,
                    token: &credentials.token,
                    label: protocol.label(),
                    timeout,
                };
                let round_trip = self.round_trip(protocol, host, credentials, &message);
                match protocol.websocket() {
                    Some(subprotocol) => {
                        let mut socket =
                            connect::upgrade(tls, host, subprotocol, timeout, stages).await?;
                        token_stage(stages);
                        mqtt::send(&mut socket, &sending, &message, round_trip, stages).await?;
                    }
                    None => {
                        let mut tls = tls;
                        token_stage(stages);
                        mqtt::send(&mut tls, &sending, &message, round_trip, stages).await?;
                    }
                }
                1
            }
            Protocol::Amqp | Protocol::AmqpWs => {
                let tls = connect::open_tls(&self.network, host, protocol.port(), timeout, stages)
                    .await?;
                let sending = amqp::AmqpSend {
                    host,
                    device: &credentials.device_id,
                    token: &credentials.token,
                    expiry_secs: credentials.expiry,
                    timeout,
                    max_attempts: self.options.max_attempts,
                    max_retry_wait: self.options.max_retry_wait,
                };
                match protocol.websocket() {
                    Some(subprotocol) => {
                        let socket =
                            connect::upgrade(tls, host, subprotocol, timeout, stages).await?;
                        token_stage(stages);
                        amqp::send(socket, &sending, &message, stages).await?
                    }
                    None => {
                        token_stage(stages);
                        amqp::send(tls, &sending, &message, stages).await?
                    }
                }
            }
        };
        Ok(Sent {
            message,
            attempts,
            began,
        })
    }

    /// The cloud-to-device check, for the first MQTT protocol tested when it is asked for.
    fn round_trip(
        &self,
        protocol: Protocol,
        host: &str,
        credentials: &Credentials,
        message: &TestMessage,
    ) -> Option<mqtt::RoundTrip<'_>> {
        let first_mqtt = self
            .options
            .protocols
            .iter()
            .find(|p| matches!(p, Protocol::Mqtt | Protocol::MqttWs));
        if !self.options.round_trip || first_mqtt != Some(&protocol) {
            return None;
        }
        let token = self
            .options
            .read_back
            .as_ref()
            .and_then(|read| read.address.hub_service_token(host, credentials.expiry));
        let call = token.map(|token| {
            Box::pin(self.call_method(
                host.to_owned(),
                credentials.device_id.clone(),
                token,
                message.id.clone(),
            )) as mqtt::MethodCall<'_>
        });
        Some(mqtt::RoundTrip { call })
    }

    /// Looks for every message the hub took, with one reader; `None` without read access.
    async fn read_back(&self, device_id: &str, trials: &[Trial]) -> Option<landing::Landed> {
        let read_back = self.options.read_back.as_ref()?;
        let sent: Vec<&Sent> = trials
            .iter()
            .filter_map(|t| t.outcome.as_ref().ok())
            .collect();
        let began = sent.iter().map(|s| s.began).min()?;
        let ids: Vec<&str> = sent.iter().map(|s| s.message.id.as_str()).collect();
        let started = Instant::now();
        let found = landing::confirm(
            &self.network,
            read_back,
            device_id,
            &ids,
            began,
            self.options.stage_timeout,
        )
        .await;
        Some((found, ms(started)))
    }
}

impl Trial {
    fn attempts(&self) -> u32 {
        match &self.outcome {
            Ok(sent) => sent.attempts,
            Err(Failure::Throttled { attempts, .. })
            | Err(Failure::ServiceUnavailable { attempts, .. })
            | Err(Failure::ConnectionDropped { attempts }) => *attempts,
            Err(_) if self.stages.iter().any(|s| s.stage == Stage::Send) => 1,
            Err(_) => 0,
        }
    }
}

fn unusable_report(reason: String) -> Report {
    let mut report = Report::begun("(not a usable connection string)".to_owned(), None);
    report.fail(Failure::Unusable(reason));
    report
}

/// 1 s, 2 s, 4 s … when the hub gives no `Retry-After`.
fn backoff(attempt: u32) -> Duration {
    Duration::from_secs(1u64 << attempt.saturating_sub(1).min(5))
}

fn ms(since: Instant) -> f64 {
    since.elapsed().as_secs_f64() * 1000.0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_and_is_bounded() {
        assert_eq!(backoff(1), Duration::from_secs(1));
        assert_eq!(backoff(3), Duration::from_secs(4));
        assert_eq!(backoff(40), Duration::from_secs(32));
    }
}
