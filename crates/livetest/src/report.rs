//! What a live test reports: each stage with its time and detail, each protocol's result, and
//! the diagnosis of a failure. Nothing here holds a secret: the string appears masked.

use serde::Serialize;
use ts_rs::TS;

use crate::{Diagnosis, Failure, Protocol};

/// The stages of a live test, in order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, TS)]
#[ts(export)]
#[serde(rename_all = "snake_case")]
pub enum Stage {
    Dns,
    Tcp,
    Tls,
    /// The upgrade to a WebSocket, for MQTT and AMQP over port 443.
    WebSocket,
    Token,
    /// MQTT's CONNECT, or AMQP's put-token on `$cbs`.
    SignIn,
    Send,
    /// The device twin read and a reported property written (MQTT, when asked for).
    Twin,
    /// A direct method called through the service API and answered by the device.
    Method,
    Landed,
}

impl Stage {
    pub fn label(self) -> &'static str {
        match self {
            Stage::Dns => "DNS lookup",
            Stage::Tcp => "TCP connect",
            Stage::Tls => "TLS handshake",
            Stage::WebSocket => "WebSocket upgrade",
            Stage::Token => "SAS token",
            Stage::SignIn => "Device sign-in",
            Stage::Send => "Send test message",
            Stage::Twin => "Device twin",
            Stage::Method => "Direct method",
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
    pub(crate) fn new(
        stage: Stage,
        status: StageStatus,
        millis: f64,
        detail: String,
    ) -> StageResult {
        StageResult {
            stage,
            label: stage.label().to_owned(),
            status,
            millis,
            detail,
        }
    }

    pub(crate) fn passed(stage: Stage, millis: f64, detail: String) -> StageResult {
        StageResult::new(stage, StageStatus::Passed, millis, detail)
    }

    pub(crate) fn failed(stage: Stage, millis: f64, detail: String) -> StageResult {
        StageResult::new(stage, StageStatus::Failed, millis, detail)
    }
}

/// One protocol's test: its stages and whether the hub took the message over it.
#[derive(Debug, Clone, Serialize, TS)]
#[ts(export)]
pub struct ProtocolResult {
    pub protocol: Protocol,
    /// The protocol's name for people, e.g. `MQTT over WebSockets`.
    pub label: String,
    /// Azure's port for it.
    pub port: u16,
    pub accepted: bool,
    /// False when this network could not try it by design: MQTT's and AMQP's own ports behind
    /// a proxy, which carries HTTPS only. Such a protocol does not fail the run.
    pub tried: bool,
    pub stages: Vec<StageResult>,
    pub total_millis: f64,
    pub failure: Option<Diagnosis>,
    #[serde(skip)]
    #[ts(skip)]
    pub failure_detail: Option<Failure>,
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
    /// The protocol of the stages above: the first one asked for.
    pub protocol: Protocol,
    /// Every protocol tested, the first included, as a matrix of what works from here.
    pub protocols: Vec<ProtocolResult>,
    /// What to tell the partner, when more than one protocol was tested.
    pub advice: Vec<String>,
    #[serde(skip)]
    #[ts(skip)]
    pub failure_detail: Option<Failure>,
}

impl Report {
    /// A report before any stage has run.
    pub(crate) fn begun(subject: String, host: Option<String>) -> Report {
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
            protocol: Protocol::Https,
            protocols: Vec::new(),
            advice: Vec::new(),
            failure_detail: None,
        }
    }

    /// Records why the test failed, with its diagnosis for people.
    pub(crate) fn fail(&mut self, failure: Failure) {
        self.failure = Some(failure.diagnosis());
        self.failure_detail = Some(failure);
    }
}
