//! Every cause the live test diagnoses, reproduced against the sandbox, with its exact words.

use std::time::Duration;

use hubsetup_core::{ConnectionString, SharedAccessKey};
use hubsetup_events::{EventHubAddress, EventsError};
use hubsetup_livetest::{Failure, Options, ReadBack, Report, Stage, StageStatus, Verifier};
use hubsetup_net::Network;
use hubsetup_sandbox::{Fault, FaultRule, Sandbox, SandboxConfig};

const HUB: &str = "contoso-plant-hub";
const DEVICE: &str = "io.microshare.contact.unpacked.event";

fn sandbox(config: SandboxConfig) -> Sandbox {
    Sandbox::start(config).unwrap()
}

fn verifier(sandbox: &Sandbox, options: Options) -> Verifier {
    Verifier::new(Network::new(&sandbox.cloud(), None).unwrap(), options)
}

fn quick() -> Options {
    Options {
        max_retry_wait: Duration::from_millis(200),
        stage_timeout: Duration::from_secs(5),
        ..Options::default()
    }
}

/// Reading back with the hub's `service` policy on a consumer group of the test's own.
fn reading_back(sandbox: &Sandbox, group: &str) -> Options {
    let text = sandbox.event_hub_connection_string(HUB, "service").unwrap();
    Options {
        read_back: Some(ReadBack {
            address: EventHubAddress::parse(&text).unwrap(),
            consumer_group: group.to_owned(),
        }),
        ..quick()
    }
}

fn device(sandbox: &Sandbox) -> ConnectionString {
    sandbox.device_connection_string(HUB, DEVICE).unwrap()
}

fn failure(report: &Report) -> &Failure {
    assert!(!report.accepted, "expected a failure: {report:?}");
    report.failure_detail.as_ref().unwrap()
}

fn statuses(report: &Report) -> Vec<(Stage, StageStatus)> {
    report.stages.iter().map(|s| (s.stage, s.status)).collect()
}

fn assert_words(report: &Report, summary: &str, cause: &str, fix: &str) {
    let diagnosis = report.failure.as_ref().expect("a diagnosis");
    assert_eq!(diagnosis.summary, summary);
    assert_eq!(diagnosis.cause, cause);
    assert_eq!(diagnosis.fix, fix);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_good_string_passes_every_stage_and_the_message_lands() {
    let sandbox = sandbox(SandboxConfig::default());
    let verifier = verifier(&sandbox, reading_back(&sandbox, "stream-analytics-prod"));
    let cs = device(&sandbox);
    let report = verifier.verify(&cs).await;
    assert!(report.accepted, "{report:?}");
    use Stage::*;
    use StageStatus::*;
    assert_eq!(
        statuses(&report),
        [
            (Dns, Passed),
            (Tcp, Passed),
            (Tls, Passed),
            (Token, Passed),
            (Send, Passed),
            (Landed, Passed)
        ]
    );
    assert!(
        report.stages[2].detail.starts_with(
            "TLSv1.3, certificate valid for contoso-plant-hub.azure-devices.sandbox.test"
        ),
        "{:?}",
        report.stages[2]
    );
    assert_eq!(report.stages[3].detail, format!("device key, valid 5 min, for contoso-plant-hub.azure-devices.sandbox.test/devices/{DEVICE}"));
    assert!(
        report.stages[5]
            .detail
            .starts_with("read back from partition ")
            && report.stages[5]
                .detail
                .contains(" of the Event Hub-compatible endpoint; enqueued ")
            && report.stages[5]
                .detail
                .ends_with(" ms after the send began"),
        "{:?}",
        report.stages[5]
    );
    let landed = sandbox.messages(HUB, DEVICE);
    let message = landed
        .iter()
        .find(|m| m.message_id == report.message_id)
        .expect("landed");
    assert_eq!(
        message
            .app_properties
            .get("hubsetup-test")
            .map(String::as_str),
        Some("connectivity")
    );
    assert_eq!(message.content_type.as_deref(), Some("application/json"));

    let again = verifier.verify(&cs).await;
    assert!(again.accepted);
    assert_eq!(
        &statuses(&again)[..3],
        [(Dns, Reused), (Tcp, Reused), (Tls, Reused)],
        "the open connection is reused"
    );

    let json = serde_json::to_string(&[&report, &again]).unwrap();
    let key = cs.key().unwrap().expose_base64();
    assert!(
        !json.contains(key.as_str()) && !json.contains(&key[..12]),
        "the key must not appear in reports"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn wrong_key_and_policy_key() {
    let sandbox = sandbox(SandboxConfig::default());
    let verifier = verifier(&sandbox, quick());
    let wrong = ConnectionString::for_device(
        &sandbox.hub_host(HUB),
        DEVICE,
        SharedAccessKey::from_bytes(vec![7u8; 32]).unwrap(),
    );
    let report = verifier.verify(&wrong).await;
    assert_words(
        &report,
        "The hub refused the credentials (401 IotHubUnauthorizedAccess).",
        &format!("The key is wrong or was regenerated since the string was copied, or it belongs to another device than '{DEVICE}' or to a shared access policy."),
        &format!("Copy the Primary Connection String again from IoT Hub → Devices → {DEVICE}, then test again."),
    );
    assert_eq!(
        report.stages.last().unwrap().detail,
        "401 IotHubUnauthorizedAccess"
    );

    let registry_only = sandbox
        .policy_connection_string(HUB, "registryRead")
        .unwrap();
    let options = Options {
        device_id: Some(DEVICE.into()),
        ..quick()
    };
    let report = Verifier::new(
        Network::new(&sandbox.cloud(), None).unwrap(),
        options.clone(),
    )
    .verify(&registry_only)
    .await;
    assert_eq!(
        report.failure.as_ref().unwrap().cause,
        "The key of policy 'registryRead' is wrong or was regenerated, the policy lacks the DeviceConnect permission, or a device's key was pasted where the policy's belongs."
    );
    let device_policy = sandbox.policy_connection_string(HUB, "device").unwrap();
    let report = Verifier::new(Network::new(&sandbox.cloud(), None).unwrap(), options)
        .verify(&device_policy)
        .await;
    assert!(
        report.accepted,
        "a DeviceConnect policy may send for the device: {report:?}"
    );
    assert!(report.stages[3]
        .detail
        .starts_with("policy 'device', valid 5 min"));

    let without_device = verifier.verify(&device_policy).await;
    assert_eq!(
        failure(&without_device).to_string(),
        "This is a policy connection string without a DeviceId: give the device to send as (--device-id)."
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn unknown_and_disabled_devices() {
    let sandbox = sandbox(SandboxConfig::default());
    let verifier = verifier(&sandbox, quick());
    let ghost = ConnectionString::for_device(
        &sandbox.hub_host(HUB),
        "ghost-device",
        SharedAccessKey::from_bytes(vec![1u8; 32]).unwrap(),
    );
    assert_words(
        &verifier.verify(&ghost).await,
        "The hub does not know device 'ghost-device', or the device is disabled (404 DeviceNotFound).",
        "The DeviceId is misspelt (IDs are case-sensitive), the device entry was deleted, or it is disabled.",
        "Check that 'ghost-device' is listed and enabled under IoT Hub → Devices; create or enable it, or correct the DeviceId.",
    );
    sandbox.disable_device(HUB, DEVICE);
    assert_eq!(
        failure(&verifier.verify(&device(&sandbox)).await),
        &Failure::DeviceNotFound {
            device: DEVICE.into(),
            code: "404 DeviceNotFound".into()
        }
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_wrong_clock_is_named_with_its_size() {
    let sandbox = sandbox(SandboxConfig::default());
    let verifier = verifier(
        &sandbox,
        Options {
            clock_offset_secs: -3600,
            ..quick()
        },
    );
    assert_words(
        &verifier.verify(&device(&sandbox)).await,
        "The hub refused the credentials (401 IotHubUnauthorizedAccess).",
        "This computer's clock is 60 minutes behind the hub's, so the hub saw the short-lived token as expired or not yet valid.",
        "Set this computer's clock to the correct time (turn on automatic date and time), then test again.",
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn quota_network_and_missing_hub() {
    let sandbox = sandbox(SandboxConfig {
        daily_message_quota: Some(1),
        ..SandboxConfig::default()
    });
    let verifier = verifier(&sandbox, quick());
    assert!(verifier.verify(&device(&sandbox)).await.accepted);
    assert_words(
        &verifier.verify(&device(&sandbox)).await,
        "The hub's daily message quota is used up (403 IotHubQuotaExceeded).",
        "All of today's messages for this hub's tier and units have been used; the quota resets at midnight UTC.",
        "Wait until after midnight UTC, or add units or choose a larger tier (IoT Hub → Pricing and scale).",
    );
    sandbox.with_state(|s| {
        s.hubs.get_mut(HUB).unwrap().network.public_network_access = "Disabled".into()
    });
    assert_eq!(
        failure(&verifier.verify(&device(&sandbox)).await),
        &Failure::NetworkRefused {
            code: "IpFilterRejected".into()
        }
    );

    let missing = ConnectionString::for_device(
        "no-such-hub.azure-devices.sandbox.test",
        DEVICE,
        SharedAccessKey::from_bytes(vec![1u8; 32]).unwrap(),
    );
    let report = verifier.verify(&missing).await;
    assert_words(
        &report,
        "The host no-such-hub.azure-devices.sandbox.test could not be found (DNS).",
        "The hub name in HostName is misspelt, the hub was deleted, or this network's DNS blocks Azure's names.",
        "Compare HostName with the hub's Overview page in the Azure portal; if it is right, try from another network.",
    );
    assert_eq!(statuses(&report), [(Stage::Dns, StageStatus::Failed)]);
}

#[tokio::test(flavor = "multi_thread")]
async fn throttling_and_service_errors_are_retried() {
    let sandbox = sandbox(SandboxConfig::default());
    let verifier = verifier(&sandbox, quick());
    let host = sandbox.hub_host(HUB);
    sandbox.inject(FaultRule {
        host: host.clone(),
        path_prefix: Some("/devices/".into()),
        fault: Fault::Status {
            status: 429,
            count: 1,
            retry_after_secs: Some(1),
        },
    });
    let report = verifier.verify(&device(&sandbox)).await;
    assert!(report.accepted, "{report:?}");
    assert_eq!(report.attempts, 2);
    assert!(
        report.stages[4]
            .detail
            .starts_with("accepted (204) after 1 retries"),
        "{:?}",
        report.stages[4]
    );

    sandbox.inject(FaultRule {
        host: host.clone(),
        path_prefix: None,
        fault: Fault::Status {
            status: 503,
            count: 1,
            retry_after_secs: None,
        },
    });
    let report = verifier.verify(&device(&sandbox)).await;
    assert!(report.accepted && report.attempts == 2, "{report:?}");

    sandbox.inject(FaultRule {
        host: host.clone(),
        path_prefix: None,
        fault: Fault::Status {
            status: 429,
            count: 10,
            retry_after_secs: Some(1),
        },
    });
    assert_words(
        &verifier.verify(&device(&sandbox)).await,
        "The hub was still throttling after 4 attempts (429).",
        "The hub is sending more messages than its tier and units allow per second.",
        "Test again in a minute; if it persists, add units or choose a larger tier.",
    );
    sandbox.clear_faults();
    sandbox.inject(FaultRule {
        host,
        path_prefix: None,
        fault: Fault::Status {
            status: 503,
            count: 10,
            retry_after_secs: None,
        },
    });
    let report = verifier.verify(&device(&sandbox)).await;
    assert_eq!(
        failure(&report),
        &Failure::ServiceUnavailable {
            status: 503,
            attempts: 4
        }
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn dropped_connections_are_retried_then_reported() {
    let sandbox = sandbox(SandboxConfig::default());
    let verifier = verifier(
        &sandbox,
        Options {
            max_attempts: 2,
            ..quick()
        },
    );
    let host = sandbox.hub_host(HUB);
    sandbox.inject(FaultRule {
        host: host.clone(),
        path_prefix: None,
        fault: Fault::DropConnection { count: 1 },
    });
    assert!(
        verifier.verify(&device(&sandbox)).await.accepted,
        "one drop, then success"
    );
    sandbox.inject(FaultRule {
        host,
        path_prefix: None,
        fault: Fault::DropConnection { count: 5 },
    });
    assert_words(
        &verifier.verify(&device(&sandbox)).await,
        "The connection was closed before the hub answered, 2 times in a row.",
        "A proxy, firewall or unstable network cuts the connection.",
        "Test again; if it keeps happening, try another network or ask the network administrator about the proxy or firewall.",
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn certificate_problems() {
    let sandbox = sandbox(SandboxConfig::default());
    let host = sandbox.hub_host(HUB);
    let proxy_fix = "Ask the network administrator for the proxy's root certificate and trust it with --ca-bundle FILE.pem, or exempt *.azure-devices.net from TLS inspection.";
    sandbox.inject(FaultRule {
        host: host.clone(),
        path_prefix: None,
        fault: Fault::WrongHostCertificate,
    });
    let report = verifier(&sandbox, quick()).verify(&device(&sandbox)).await;
    assert_words(
        &report,
        &format!("The certificate presented for {host} was issued for a different host."),
        "A proxy or security product answers in the hub's place, or DNS sends the hub's name to another server.",
        proxy_fix,
    );
    assert_eq!(
        report.stages.last().map(|s| (s.stage, s.status)),
        Some((Stage::Tls, StageStatus::Failed))
    );
    sandbox.clear_faults();
    sandbox.inject(FaultRule {
        host: host.clone(),
        path_prefix: None,
        fault: Fault::ExpiredCertificate,
    });
    assert_eq!(
        failure(&verifier(&sandbox, quick()).verify(&device(&sandbox)).await),
        &Failure::CertificateExpired { host: host.clone() }
    );
    sandbox.clear_faults();
    let mut untrusting = sandbox.cloud();
    untrusting.extra_root_ca_pem = None;
    let report = Verifier::new(Network::new(&untrusting, None).unwrap(), quick())
        .verify(&device(&sandbox))
        .await;
    assert_words(
        &report,
        &format!(
            "The certificate presented for {host} is not signed by an authority this computer \
             trusts (it was issued by 'CN=IoT Hub Setup sandbox CA,O=IoT Hub Setup (local test CA)')."
        ),
        "A TLS-inspecting proxy or security product on this network (CN=IoT Hub Setup sandbox \
         CA,O=IoT Hub Setup (local test CA)) replaces Azure's certificate with its own.",
        proxy_fix,
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_closed_port_is_a_refused_connection() {
    let sandbox = sandbox(SandboxConfig::default());
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let mut cloud = sandbox.cloud();
    cloud.loopback = Some(closed);
    let report = Verifier::new(Network::new(&cloud, None).unwrap(), quick())
        .verify(&device(&sandbox))
        .await;
    assert_words(
        &report,
        &format!("The connection to {closed} was refused."),
        "Something on the way (a firewall, or nothing listening at that address) refuses connections to port 443.",
        "Ask the network administrator to allow outgoing HTTPS (port 443) to *.azure-devices.net, or set HTTPS_PROXY if the network needs a proxy.",
    );
    assert_eq!(
        statuses(&report),
        [
            (Stage::Dns, StageStatus::Passed),
            (Stage::Tcp, StageStatus::Failed)
        ]
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn many_strings_stream_their_reports() {
    use futures::StreamExt;
    let sandbox = sandbox(SandboxConfig::default());
    let verifier = verifier(&sandbox, quick());
    let x509 = ConnectionString::parse(&format!(
        "HostName={};DeviceId=cam;x509=true",
        sandbox.hub_host(HUB)
    ))
    .unwrap();
    let entries = vec![
        ("line 1".to_owned(), Ok(device(&sandbox))),
        (
            "line 2".to_owned(),
            Err("The connection string is empty.".to_owned()),
        ),
        ("line 3".to_owned(), Ok(x509)),
    ];
    let mut reports: Vec<(String, Report)> = verifier.verify_all(entries, 4).collect().await;
    reports.sort_by(|a, b| a.0.cmp(&b.0));
    let origins: Vec<&str> = reports.iter().map(|(origin, _)| origin.as_str()).collect();
    assert_eq!(origins, ["line 1", "line 2", "line 3"]);
    assert!(reports[0].1.accepted);
    assert_eq!(reports[1].1.failure.as_ref().unwrap().kind, "unusable");
    assert_eq!(
        failure(&reports[1].1).to_string(),
        "The connection string is empty."
    );
    assert!(failure(&reports[2].1)
        .to_string()
        .starts_with("This string authenticates with an X.509 certificate"));
}

#[tokio::test(flavor = "multi_thread")]
async fn an_observer_hears_each_stage_as_it_ends_and_the_failure_too() {
    let sandbox = sandbox(SandboxConfig::default());
    let verifier = verifier(&sandbox, quick());
    let heard = std::sync::Mutex::new(Vec::new());
    let observe = |stage: &hubsetup_livetest::StageResult| {
        heard.lock().unwrap().push((stage.stage, stage.status));
    };
    let passed = verifier.verify_observed(&device(&sandbox), &observe).await;
    assert_eq!(*heard.lock().unwrap(), statuses(&passed));
    assert_eq!(heard.lock().unwrap().len(), 6);

    heard.lock().unwrap().clear();
    let wrong_key = ConnectionString::parse(&format!(
        "HostName={HUB}.azure-devices.sandbox.test;DeviceId={DEVICE};SharedAccessKey=c29tZSBvdGhlciBrZXkgb2YgMzIgYnl0ZXMhISEhISE="
    ))
    .unwrap();
    let refused = verifier.verify_observed(&wrong_key, &observe).await;
    assert_eq!(*heard.lock().unwrap(), statuses(&refused));
    assert_eq!(
        heard.lock().unwrap().last(),
        Some(&(Stage::Send, StageStatus::Failed))
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn without_read_access_landing_is_not_checked_and_says_how_to_check_it() {
    let sandbox = sandbox(SandboxConfig::fast());
    let report = verifier(&sandbox, quick()).verify(&device(&sandbox)).await;
    assert!(report.accepted, "{report:?}");
    let landed = report.stages.last().unwrap();
    assert_eq!(
        (landed.stage, landed.status),
        (Stage::Landed, StageStatus::NotChecked)
    );
    assert_eq!(
        landed.detail,
        "accepted by the hub; sign in or paste a service connection string to see it arrive"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn reading_back_on_a_missing_consumer_group_fails_the_landed_stage_in_words() {
    let sandbox = sandbox(SandboxConfig::fast());
    let report = verifier(&sandbox, reading_back(&sandbox, "hubsetup-livetest"))
        .verify(&device(&sandbox))
        .await;
    assert_eq!(
        failure(&report),
        &Failure::CannotReadBack(EventsError::ConsumerGroupMissing {
            group: "hubsetup-livetest".into()
        })
    );
    assert_words(
        &report,
        "The hub accepted the message, but reading it back failed: The consumer group \"hubsetup-livetest\" does not exist on this hub. Create it (in the portal under \"Built-in endpoints\", or let the app create one), or name one that exists.",
        "The key or consumer group given for reading back does not allow reading the hub's Event Hub-compatible endpoint, or this network keeps the app from reaching it.",
        "Do what the message above says, or test without reading back: the send itself worked.",
    );
    let landed = report.stages.last().unwrap();
    assert_eq!(
        (landed.stage, landed.status),
        (Stage::Landed, StageStatus::Failed)
    );
    // The send itself passed.
    assert_eq!(report.stages[4].status, StageStatus::Passed);
}
