//! Helpers for driving provisioning against a sandbox: short waits, sign-in, progress capture,
//! scripted consent, and a real device-to-cloud send to prove a connection string works.

#![allow(dead_code)] // each test file uses its own share of these helpers

use std::sync::{Arc, Mutex};
use std::time::{SystemTime, UNIX_EPOCH};

use hubsetup_core::ConnectionString;
use hubsetup_identity::{sign_in, AzureCli, SignInMethod, SignInOptions, SystemBrowser};
use hubsetup_net::Network;
use hubsetup_provision::{Azure, Decide, HubInfo, Progress, ReachProblem, Reporter};
use hubsetup_sandbox::{Sandbox, SandboxConfig};

pub const PRODUCTION: &str = "11111111-1111-4111-8111-111111111111";
pub const DEV: &str = "22222222-2222-4222-8222-222222222222";
pub const UNREGISTERED: &str = "33333333-3333-4333-8333-333333333333";
pub const EXISTING_HUB: &str = "contoso-plant-hub";
pub const EXISTING_DEVICE: &str = "io.microshare.contact.unpacked.event";

/// A sandbox with short waits.
pub fn fast_config() -> SandboxConfig {
    SandboxConfig::fast()
}

pub fn start(config: SandboxConfig) -> Sandbox {
    Sandbox::start(config).expect("sandbox starts")
}

pub fn network(sandbox: &Sandbox) -> Network {
    Network::new(&sandbox.cloud(), None).expect("network")
}

/// Every progress event, in order.
#[derive(Clone, Default)]
pub struct Events(Arc<Mutex<Vec<Progress>>>);

impl Events {
    pub fn reporter(&self) -> Reporter {
        let events = self.0.clone();
        Arc::new(move |p| events.lock().unwrap().push(p))
    }

    pub fn all(&self) -> Vec<Progress> {
        self.0.lock().unwrap().clone()
    }

    pub fn count(&self, wanted: impl Fn(&Progress) -> bool) -> usize {
        self.all().iter().filter(|p| wanted(p)).count()
    }
}

/// Signs in with a device code (the fast sandbox answers at once) and opens a session.
pub async fn session(sandbox: &Sandbox, events: &Events) -> Azure {
    session_with(sandbox, events.reporter()).await
}

pub async fn session_with(sandbox: &Sandbox, report: Reporter) -> Azure {
    let network = network(sandbox);
    let credential = sign_in(
        SignInMethod::DeviceCode,
        &network,
        &SignInOptions::default(),
        &AzureCli::default(),
        &SystemBrowser,
        &|step| report(step.into()),
    )
    .await
    .expect("device code sign-in");
    Azure::new(&network, credential, report).expect("session")
}

/// Scripted answers to the questions provisioning asks, remembering what was asked.
#[derive(Default)]
pub struct Consent {
    pub register: bool,
    pub fix: bool,
    pub asked: Mutex<Vec<Vec<ReachProblem>>>,
}

impl Consent {
    pub fn yes() -> Consent {
        Consent {
            register: true,
            fix: true,
            ..Consent::default()
        }
    }

    pub fn no() -> Consent {
        Consent::default()
    }
}

impl Decide for Consent {
    fn register_provider(&self, _subscription_id: &str) -> bool {
        self.register
    }

    fn fix_reachability(&self, _hub: &HubInfo, problems: &[ReachProblem]) -> Vec<ReachProblem> {
        self.asked.lock().unwrap().push(problems.to_vec());
        if self.fix {
            problems.to_vec()
        } else {
            vec![]
        }
    }
}

/// Sends one device-to-cloud message with a SAS token made from `cs`, as a device would, and
/// returns the HTTP status.
pub async fn send_d2c(sandbox: &Sandbox, cs: &ConnectionString, body: &str) -> u16 {
    let expiry = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
        + 600;
    let token = cs.sas_token(None, expiry).unwrap();
    let device = cs.device_id().unwrap();
    let mut url = url::Url::parse(&format!("https://{}/", cs.host_name())).unwrap();
    url.path_segments_mut()
        .unwrap()
        .extend(["devices", device, "messages", "events"]);
    url.set_query(Some("api-version=2021-04-12"));
    network(sandbox)
        .http_client()
        .unwrap()
        .post(url)
        .header("authorization", token.expose())
        .header("content-type", "application/json")
        .body(body.to_owned())
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

/// Proves a device string works: it passes the live test, and a message sent with it is
/// received by the sandbox's hub.
pub async fn assert_delivers(sandbox: &Sandbox, cs: &ConnectionString) {
    let verifier =
        hubsetup_livetest::Verifier::new(network(sandbox), hubsetup_livetest::Options::default());
    let report = verifier.verify(cs).await;
    assert!(
        report.accepted,
        "live test of {}: {:?}",
        cs.masked(),
        report.failure
    );
    let body = format!("{{\"probe\":\"{}\"}}", cs.device_id().unwrap());
    assert_eq!(
        send_d2c(sandbox, cs, &body).await,
        204,
        "send with {}",
        cs.masked()
    );
    let received = sandbox.messages(cs.hub_name(), cs.device_id().unwrap());
    let last = received.last().expect("a message arrived");
    use base64::Engine as _;
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(&last.body_base64)
        .unwrap();
    assert_eq!(String::from_utf8(bytes).unwrap(), body);
}

/// Fails if any secret of `strings` appears in `text`.
pub fn assert_no_secret(text: &str, strings: &[&ConnectionString]) {
    for cs in strings {
        let key = cs.key().unwrap().expose_base64();
        assert!(!text.contains(key.as_str()), "a key leaked into: {text}");
        assert!(
            !text.contains(&key[..12]),
            "part of a key leaked into: {text}"
        );
    }
}
