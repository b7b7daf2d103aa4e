//! The live test over every protocol devices use, against the sandbox's MQTT and AMQP
//! endpoints (their own ports and WebSockets on 443): what passes, and each protocol's
//! failures with their exact words, side by side with HTTPS's.

use std::time::Duration;

use hubsetup_core::{ConnectionString, SharedAccessKey};
use hubsetup_events::EventHubAddress;
use hubsetup_livetest::{Failure, Options, Protocol, ReadBack, Report, Stage, Verifier};
use hubsetup_net::Network;
use hubsetup_sandbox::{Fault, FaultRule, Sandbox, SandboxConfig};

const HUB: &str = "contoso-plant-hub";
const DEVICE: &str = "io.microshare.contact.unpacked.event";

fn every_protocol() -> Options {
    Options {
        max_retry_wait: Duration::from_millis(100),
        stage_timeout: Duration::from_secs(5),
        protocols: Protocol::ALL.to_vec(),
        ..Options::default()
    }
}

/// `options`, reading back with the hub's `service` policy (which may also call methods).
fn reading_back(sandbox: &Sandbox, options: Options) -> Options {
    let text = sandbox.event_hub_connection_string(HUB, "service").unwrap();
    Options {
        read_back: Some(ReadBack {
            address: EventHubAddress::parse(&text).unwrap(),
            consumer_group: "$Default".into(),
        }),
        ..options
    }
}

fn verifier(sandbox: &Sandbox, options: Options) -> Verifier {
    Verifier::new(Network::new(&sandbox.cloud(), None).unwrap(), options)
}

fn device(sandbox: &Sandbox) -> ConnectionString {
    sandbox.device_connection_string(HUB, DEVICE).unwrap()
}

/// Each protocol's failure, in the matrix's order.
fn failures(report: &Report) -> Vec<(Protocol, Option<Failure>)> {
    report
        .protocols
        .iter()
        .map(|r| (r.protocol, r.failure_detail.clone()))
        .collect()
}

fn failure_of(report: &Report, protocol: Protocol) -> Failure {
    let result = report
        .protocols
        .iter()
        .find(|r| r.protocol == protocol)
        .unwrap();
    assert!(
        !result.accepted,
        "{protocol} should have failed: {result:?}"
    );
    result.failure_detail.clone().unwrap()
}

fn stages_of(report: &Report, protocol: Protocol) -> Vec<Stage> {
    report
        .protocols
        .iter()
        .find(|r| r.protocol == protocol)
        .unwrap()
        .stages
        .iter()
        .map(|s| s.stage)
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn every_protocol_sends_a_message_that_lands() {
    let sandbox = Sandbox::start(SandboxConfig::default()).unwrap();
    let options = reading_back(&sandbox, every_protocol());
    let report = verifier(&sandbox, options).verify(&device(&sandbox)).await;
    assert!(
        report.protocols.iter().all(|r| r.accepted),
        "{:#?}",
        failures(&report)
    );
    assert_eq!(report.protocol, Protocol::Https);
    use Stage::*;
    assert_eq!(
        stages_of(&report, Protocol::Mqtt),
        [Dns, Tcp, Tls, Token, SignIn, Send, Landed]
    );
    assert_eq!(
        stages_of(&report, Protocol::AmqpWs),
        [Dns, Tcp, Tls, WebSocket, Token, SignIn, Send, Landed]
    );
    assert_eq!(
        report.advice,
        ["Every protocol tested works from this network (HTTPS, MQTT, MQTT over WebSockets, AMQP, AMQP over WebSockets)."]
    );
    let arrived = sandbox.messages(HUB, DEVICE);
    assert_eq!(arrived.len(), 5, "one message per protocol");
    for message in &arrived {
        assert_eq!(message.content_type.as_deref(), Some("application/json"));
        assert_eq!(message.app_properties["hubsetup-test"], "connectivity");
        assert!(message
            .message_id
            .as_deref()
            .is_some_and(|id| id.starts_with("hubsetup-test-")));
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn blocked_ports_are_named_with_the_transport_that_works() {
    let sandbox = Sandbox::start(SandboxConfig::default()).unwrap();
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let mut cloud = sandbox.cloud();
    cloud.loopback_ports.insert(8883, closed.port());
    cloud.loopback_ports.insert(5671, closed.port());
    let report = Verifier::new(Network::new(&cloud, None).unwrap(), every_protocol())
        .verify(&device(&sandbox))
        .await;
    assert!(report.accepted, "HTTPS still works");
    let mqtt = failure_of(&report, Protocol::Mqtt).diagnosis();
    assert_eq!(
        mqtt.summary,
        format!("The connection to {closed} was refused.")
    );
    assert_eq!(
        mqtt.cause,
        "Something on the way (a firewall, or nothing listening at that address) refuses connections to port 8883."
    );
    assert_eq!(
        mqtt.fix,
        "Ask the network administrator to allow outgoing MQTT (port 8883) to *.azure-devices.net, or set the client's transport to MQTT_WS, which uses port 443."
    );
    assert_eq!(
        failure_of(&report, Protocol::Amqp).diagnosis().fix,
        "Ask the network administrator to allow outgoing AMQP (port 5671) to *.azure-devices.net, or set the client's transport to AMQP_WS, which uses port 443."
    );
    assert_eq!(
        report.advice,
        [
            "MQTT on 8883 is blocked from this network; MQTT over WebSockets on 443 works: set the client's transport to MQTT_WS.",
            "AMQP on 5671 is blocked from this network; AMQP over WebSockets on 443 works: set the client's transport to AMQP_WS.",
        ]
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn intercepted_tls_is_named_on_every_protocol() {
    let sandbox = Sandbox::start(SandboxConfig::default()).unwrap();
    let host = sandbox.hub_host(HUB);
    sandbox.inject(FaultRule {
        host: host.clone(),
        path_prefix: None,
        fault: Fault::WrongHostCertificate,
    });
    let report = verifier(&sandbox, every_protocol())
        .verify(&device(&sandbox))
        .await;
    for (protocol, failure) in failures(&report) {
        assert_eq!(
            failure,
            Some(Failure::CertificateWrongHost { host: host.clone() }),
            "{protocol}"
        );
    }
    assert_eq!(report.advice.len(), 5, "{:?}", report.advice);
    assert_eq!(
        report.advice[1],
        "MQTT on 8883 is blocked from this network; ask the network administrator to allow outgoing port 8883 to *.azure-devices.net for clients that use MQTT."
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_wrong_key_and_a_disabled_device_in_each_protocols_words() {
    let sandbox = Sandbox::start(SandboxConfig::default()).unwrap();
    let verifier = verifier(&sandbox, every_protocol());
    let wrong = ConnectionString::for_device(
        &sandbox.hub_host(HUB),
        DEVICE,
        SharedAccessKey::from_bytes(vec![7u8; 32]).unwrap(),
    );
    let report = verifier.verify(&wrong).await;
    let mqtt = failure_of(&report, Protocol::Mqtt);
    assert_eq!(
        mqtt.to_string(),
        "The hub refused the device's MQTT sign-in (CONNACK 5: not authorized)."
    );
    assert_eq!(
        mqtt.cause(),
        format!("The key is wrong or was regenerated, the token expired (check this computer's clock), device '{DEVICE}' is disabled or not registered, or the hub's network settings refuse this address; MQTT does not say which.")
    );
    assert_eq!(failure_of(&report, Protocol::MqttWs), mqtt);
    let amqp = failure_of(&report, Protocol::Amqp);
    assert_eq!(
        amqp.to_string(),
        "The hub refused the credentials (401 The specified SAS token has an invalid signature. It does not match either the primary or secondary key.)."
    );
    assert_eq!(
        amqp.cause(),
        format!("The key is wrong or was regenerated since the string was copied, or it belongs to another device than '{DEVICE}' or to a shared access policy.")
    );
    assert_eq!(failure_of(&report, Protocol::AmqpWs), amqp);
    assert!(
        report.advice.is_empty(),
        "not the network: {:?}",
        report.advice
    );
    let text = format!("{report:?}");
    let key = wrong.key().unwrap().expose_base64();
    assert!(!text.contains(key.as_str()), "the key never shows");

    sandbox.disable_device(HUB, DEVICE);
    let report = verifier.verify(&device(&sandbox)).await;
    assert_eq!(
        failure_of(&report, Protocol::Amqp).to_string(),
        format!(
            "The hub does not know device '{DEVICE}', or the device is disabled (amqp:not-found)."
        )
    );
    assert_eq!(
        failure_of(&report, Protocol::Mqtt).to_string(),
        "The hub refused the device's MQTT sign-in (CONNACK 5: not authorized)."
    );
    assert_eq!(
        failure_of(&report, Protocol::Https).kind(),
        "device_not_found"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn throttling_and_a_message_too_large_in_each_protocols_words() {
    let sandbox = Sandbox::start(SandboxConfig::default()).unwrap();
    let verifier = verifier(&sandbox, every_protocol());
    let host = sandbox.hub_host(HUB);
    let refuse = |status| {
        sandbox.clear_faults();
        sandbox.inject(FaultRule {
            host: host.clone(),
            path_prefix: Some("/devices/".into()),
            fault: Fault::Status {
                status,
                count: 100,
                retry_after_secs: None,
            },
        });
    };
    refuse(429);
    let report = verifier.verify(&device(&sandbox)).await;
    assert_eq!(
        failure_of(&report, Protocol::Https).to_string(),
        "The hub was still throttling after 4 attempts (429)."
    );
    assert_eq!(
        failure_of(&report, Protocol::Amqp).to_string(),
        "The hub was still throttling after 4 attempts (com.microsoft:device-container-throttled)."
    );
    let mqtt = failure_of(&report, Protocol::Mqtt).diagnosis();
    assert_eq!(
        mqtt.summary,
        "The hub closed the MQTT connection instead of acknowledging the test message."
    );
    assert_eq!(
        mqtt.cause,
        "MQTT gives no reason: the device or hub is throttled, the hub's daily quota is used up, the message is too large, or the device was disabled."
    );
    assert_eq!(
        mqtt.fix,
        "Look at the HTTPS or AMQP test's result, which names the hub's reason; test again in a minute."
    );

    refuse(413);
    let report = verifier.verify(&device(&sandbox)).await;
    assert_eq!(
        failure_of(&report, Protocol::Https).to_string(),
        "The hub found the test message too large (413 MessageTooLarge)."
    );
    assert_eq!(
        failure_of(&report, Protocol::AmqpWs).to_string(),
        "The hub found the test message too large (amqp:link:message-size-exceeded)."
    );
    assert_eq!(
        failure_of(&report, Protocol::MqttWs).to_string(),
        "The hub closed the MQTT over WebSockets connection instead of acknowledging the test message."
    );
    assert!(sandbox.messages(HUB, DEVICE).is_empty());
}

#[tokio::test(flavor = "multi_thread")]
async fn the_first_protocol_asked_for_is_the_reports_own() {
    let sandbox = Sandbox::start(SandboxConfig::default()).unwrap();
    let options = Options {
        protocols: vec![Protocol::MqttWs],
        ..every_protocol()
    };
    let heard = std::sync::Mutex::new(Vec::new());
    let report = verifier(&sandbox, options)
        .verify_observed(&device(&sandbox), &|stage| {
            heard.lock().unwrap().push(stage.stage)
        })
        .await;
    assert!(report.accepted, "{report:?}");
    assert_eq!(report.protocol, Protocol::MqttWs);
    assert_eq!(report.protocols.len(), 1);
    assert!(report.advice.is_empty());
    use Stage::*;
    assert_eq!(
        *heard.lock().unwrap(),
        [Dns, Tcp, Tls, WebSocket, Token, SignIn, Send, Landed]
    );
    assert_eq!(sandbox.messages(HUB, DEVICE).len(), 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn cloud_to_device_over_mqtt_reads_the_twin_and_calls_a_method() {
    let sandbox = Sandbox::start(SandboxConfig::default()).unwrap();
    let options = reading_back(
        &sandbox,
        Options {
            round_trip: true,
            ..every_protocol()
        },
    );
    let report = verifier(&sandbox, options).verify(&device(&sandbox)).await;
    assert!(
        report.protocols.iter().all(|r| r.accepted),
        "{:#?}",
        failures(&report)
    );
    use Stage::*;
    assert_eq!(
        stages_of(&report, Protocol::Mqtt),
        [Dns, Tcp, Tls, Token, SignIn, Send, Twin, Method, Landed],
        "the first MQTT protocol checks cloud-to-device"
    );
    assert_eq!(
        stages_of(&report, Protocol::MqttWs),
        [Dns, Tcp, Tls, WebSocket, Token, SignIn, Send, Landed],
        "once is enough"
    );
    let mqtt = &report.protocols[1];
    assert_eq!(
        mqtt.stages[6].detail,
        "read (desired version 1, reported version 1); reported property hubsetupLiveTest written (version 2)"
    );
    assert_eq!(
        mqtt.stages[7].detail,
        "hubsetupPing called through the service API and answered by the device (status 200)"
    );
    let reported = sandbox.with_state(|s| s.hubs[HUB].devices[DEVICE].twin.reported.clone());
    let sent = sandbox
        .messages(HUB, DEVICE)
        .into_iter()
        .filter_map(|m| m.message_id)
        .collect::<Vec<_>>();
    assert!(
        sent.contains(
            &reported["hubsetupLiveTest"]["messageId"]
                .as_str()
                .unwrap()
                .to_owned()
        ),
        "the reported property names the MQTT test's message: {reported:?}"
    );

    // Without a key that may call methods, the method is not checked, and says how to check it.
    let options = Options {
        round_trip: true,
        protocols: vec![Protocol::MqttWs],
        ..every_protocol()
    };
    let report = verifier(&sandbox, options).verify(&device(&sandbox)).await;
    assert!(report.accepted, "{report:?}");
    let method = report.stages.iter().find(|s| s.stage == Method).unwrap();
    assert_eq!(method.status, hubsetup_livetest::StageStatus::NotChecked);
    assert_eq!(
        method.detail,
        "calling a method needs a key with ServiceConnect: sign in, or give the hub's service connection string"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_basic_tier_hub_has_no_twins_and_says_so() {
    let sandbox = Sandbox::start(SandboxConfig::default()).unwrap();
    sandbox.with_state(|s| s.hubs.get_mut(HUB).unwrap().sku = "B1".into());
    let options = Options {
        round_trip: true,
        protocols: vec![Protocol::Mqtt, Protocol::Https],
        ..every_protocol()
    };
    let report = verifier(&sandbox, options).verify(&device(&sandbox)).await;
    let diagnosis = report.failure.as_ref().expect("the twin is refused");
    assert_eq!(
        diagnosis.summary,
        "The hub refused the device twin over MQTT: this hub has no twins or direct methods."
    );
    assert_eq!(
        diagnosis.cause,
        "The hub is on a Basic tier (B1, B2 or B3), which carries device-to-cloud messages only: no device twins, direct methods or cloud-to-device messages."
    );
    assert_eq!(
        diagnosis.fix,
        "If the partner needs twins, methods or cloud-to-device messages, change the hub to a Standard tier (IoT Hub → Pricing and scale); device-to-cloud messages work as they are."
    );
    let send = report
        .stages
        .iter()
        .find(|s| s.stage == Stage::Send)
        .unwrap();
    assert_eq!(
        send.status,
        hubsetup_livetest::StageStatus::Passed,
        "the message itself went through"
    );
    assert!(report.protocols[1].accepted, "HTTPS is not affected");
    assert_eq!(sandbox.messages(HUB, DEVICE).len(), 2);
}
