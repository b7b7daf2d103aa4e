//! The reader against the sandbox's Event Hub-compatible endpoint (itself checked by
//! Microsoft's azure-eventhub client): real TLS trusting only the sandbox's CA, names resolved
//! through the cloud description, messages sent by a device over HTTPS.

use std::time::{Duration, SystemTime};

use hubsetup_core::{sas, ConnectionString};
use hubsetup_events::{
    watch, Event, EventHubAddress, EventsError, Reader, StartAt, Transport, WatchUpdate,
};
use hubsetup_net::Network;
use hubsetup_sandbox::{Sandbox, SandboxConfig};
use tokio::sync::mpsc;

const HUB: &str = "contoso-plant-hub";
const DEVICE: &str = "io.microshare.contact.unpacked.event";

fn setup() -> (Sandbox, Network) {
    let sandbox = Sandbox::start(SandboxConfig::fast()).expect("sandbox starts");
    let network = Network::new(&sandbox.cloud(), None).expect("network");
    (sandbox, network)
}

/// The sandbox's cloud with AMQP's port 5671 on a port nothing listens on, as behind a
/// firewall that blocks it.
fn amqp_port_blocked(sandbox: &Sandbox) -> Network {
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut cloud = sandbox.cloud();
    cloud.loopback_ports.insert(5671, closed);
    Network::new(&cloud, None).unwrap()
}

fn address(sandbox: &Sandbox, policy: &str) -> EventHubAddress {
    EventHubAddress::parse(&sandbox.event_hub_connection_string(HUB, policy).unwrap()).unwrap()
}

/// Sends `body` from the seeded device over HTTPS with the application property `run`.
async fn send(sandbox: &Sandbox, network: &Network, body: &str, run: &str) {
    let cs: ConnectionString = sandbox.device_connection_string(HUB, DEVICE).unwrap();
    let resource = format!("{}/devices/{DEVICE}", cs.host_name());
    let expiry = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap()
        .as_secs()
        + 300;
    let token = sas::generate(cs.key().unwrap(), &resource, expiry, None);
    let sent = network
        .http_client()
        .unwrap()
        .post(format!(
            "https://{resource}/messages/events?api-version=2021-04-12"
        ))
        .header("authorization", token.expose())
        .header("content-type", "application/json")
        .header("iothub-app-run", run)
        .body(body.to_owned())
        .send()
        .await
        .unwrap();
    assert_eq!(sent.status(), 204);
}

/// The events of `run` among what arrives within `seconds`, until `count` have.
async fn collect_within(
    received: &mut mpsc::Receiver<Result<Event, EventsError>>,
    run: &str,
    count: usize,
    seconds: u64,
) -> Vec<Event> {
    let mut found = Vec::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(seconds);
    while found.len() < count {
        match tokio::time::timeout_at(deadline, received.recv()).await {
            Ok(Some(Ok(event))) if event.properties.get("run").map(String::as_str) == Some(run) => {
                found.push(event)
            }
            Ok(Some(Ok(_))) => {}
            Ok(Some(Err(e))) => panic!("receiving failed: {e}"),
            Ok(None) | Err(_) => break,
        }
    }
    found
}

async fn collect(
    received: &mut mpsc::Receiver<Result<Event, EventsError>>,
    run: &str,
    count: usize,
) -> Vec<Event> {
    collect_within(received, run, count, 10).await
}

async fn first_error(received: &mut mpsc::Receiver<Result<Event, EventsError>>) -> EventsError {
    loop {
        match tokio::time::timeout(Duration::from_secs(10), received.recv()).await {
            Ok(Some(Err(e))) => return e,
            Ok(Some(Ok(_))) => continue,
            other => panic!("expected a refusal, got {other:?}"),
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reads_what_a_device_sent_with_the_hubs_annotations() {
    let (sandbox, network) = setup();
    for n in 0..3 {
        send(&sandbox, &network, &format!("{{\"n\":{n}}}"), "first").await;
    }
    let mut reader = Reader::open(&network, &address(&sandbox, "service"), "$Default")
        .await
        .unwrap();
    assert_eq!(reader.partition_ids().await.unwrap(), ["0", "1", "2", "3"]);
    let mut received = reader.receive(StartAt::Beginning).await.unwrap();
    let events = collect(&mut received, "first", 3).await;
    let bodies: Vec<String> = events
        .iter()
        .map(|e| String::from_utf8(e.body.clone()).unwrap())
        .collect();
    assert_eq!(bodies, [r#"{"n":0}"#, r#"{"n":1}"#, r#"{"n":2}"#]);
    assert!(events
        .iter()
        .all(|e| e.device_id.as_deref() == Some(DEVICE)));
    assert!(events
        .windows(2)
        .all(|w| w[1].sequence_number == w[0].sequence_number + 1));
    assert!(events.iter().all(|e| e.partition == events[0].partition));
    let now_ms = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64;
    assert!((now_ms - events[0].enqueued_ms).abs() < 60_000);
    assert_eq!(
        events[0].system_properties["content-type"],
        "application/json"
    );
    assert_eq!(
        events[0].system_properties["iothub-message-source"],
        "Telemetry"
    );
    reader.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn latest_sees_only_what_arrives_after_it_starts() {
    let (sandbox, network) = setup();
    send(&sandbox, &network, "{}", "before").await;
    let mut reader = Reader::open(
        &network,
        &address(&sandbox, "iothubowner"),
        "stream-analytics-prod",
    )
    .await
    .unwrap();
    let mut received = reader.receive(StartAt::Latest).await.unwrap();
    send(&sandbox, &network, "{}", "after").await;
    send(&sandbox, &network, "{}", "before").await;
    let after = collect(&mut received, "after", 1).await;
    assert_eq!(after.len(), 1);
    // Only the one sent after the start: the earlier "before" must not come.
    let before = collect_within(&mut received, "before", 2, 2).await;
    assert_eq!(before.len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keys_and_rights_that_cannot_read_are_refused_in_words() {
    let (sandbox, network) = setup();
    let good = address(&sandbox, "service");
    let text = sandbox.event_hub_connection_string(HUB, "service").unwrap();
    let key = text
        .split("SharedAccessKey=")
        .nth(1)
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_owned();
    let wrong = EventHubAddress::parse(&text.replace(&key, &"A".repeat(44))).unwrap();
    let refused = Reader::open(&network, &wrong, "$Default")
        .await
        .unwrap_err();
    assert_eq!(refused, EventsError::WrongKey);
    assert_eq!(
        refused.to_string(),
        "The endpoint refused the key: the signature is not valid. Copy the connection string again; the key may have been regenerated."
    );

    let mut device_policy = Reader::open(&network, &address(&sandbox, "device"), "$Default")
        .await
        .unwrap();
    let no_right = device_policy.partition_ids().await.unwrap_err();
    assert_eq!(
        no_right,
        EventsError::NoReadRight {
            policy: "device".into()
        }
    );
    assert_eq!(
        no_right.to_string(),
        "The policy \"device\" may not read events: it lacks the ServiceConnect right. Use the hub's \"service\" or \"iothubowner\" policy, or a policy with ServiceConnect."
    );

    sandbox.with_state(|s| s.hubs.get_mut(HUB).unwrap().network.disable_local_auth = true);
    assert_eq!(
        Reader::open(&network, &good, "$Default").await.unwrap_err(),
        EventsError::LocalAuthDisabled
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_missing_consumer_group_is_named() {
    let (sandbox, network) = setup();
    let mut reader = Reader::open(&network, &address(&sandbox, "service"), "no-such-group")
        .await
        .unwrap();
    let mut received = reader.receive(StartAt::Latest).await.unwrap();
    let error = first_error(&mut received).await;
    assert_eq!(
        error,
        EventsError::ConsumerGroupMissing {
            group: "no-such-group".into()
        }
    );
    assert_eq!(
        error.to_string(),
        "The consumer group \"no-such-group\" does not exist on this hub. Create it (in the portal under \"Built-in endpoints\", or let the app create one), or name one that exists."
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sixth_reader_on_a_group_is_refused_with_the_limit() {
    let (sandbox, network) = setup();
    let mut open = Vec::new();
    for _ in 0..5 {
        let mut reader = Reader::open(&network, &address(&sandbox, "service"), "$Default")
            .await
            .unwrap();
        let received = reader.receive(StartAt::Latest).await.unwrap();
        open.push((reader, received));
    }
    let mut sixth = Reader::open(&network, &address(&sandbox, "service"), "$Default")
        .await
        .unwrap();
    let mut received = sixth.receive(StartAt::Latest).await.unwrap();
    let refused = first_error(&mut received).await;
    let EventsError::TooManyReaders { group, partition } = &refused else {
        panic!("expected the five-readers refusal, got {refused}");
    };
    assert_eq!(group, "$Default");
    assert_eq!(
        refused.to_string(),
        format!("Five readers already read partition {partition} in consumer group \"$Default\", the most Event Hubs allows. Read with a consumer group of your own, or stop one of the other readers.")
    );
    // Another consumer group is not affected.
    let mut own = Reader::open(
        &network,
        &address(&sandbox, "service"),
        "stream-analytics-prod",
    )
    .await
    .unwrap();
    let mut own_events = own.receive(StartAt::Latest).await.unwrap();
    send(&sandbox, &network, "{}", "own").await;
    assert_eq!(collect(&mut own_events, "own", 1).await.len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_blocked_amqp_port_falls_back_to_websockets_on_443_and_says_so() {
    let sandbox = Sandbox::start(SandboxConfig::fast()).expect("sandbox starts");
    let network = amqp_port_blocked(&sandbox);
    let mut reader = Reader::open(&network, &address(&sandbox, "service"), "$Default")
        .await
        .unwrap();
    let transport = reader.transport().to_string();
    assert!(
        transport.starts_with("AMQP over WebSockets on port 443, because AMQP's port 5671 is blocked from this network ("),
        "{transport}"
    );
    let mut received = reader.receive(StartAt::Latest).await.unwrap();
    send(&sandbox, &network, r#"{"over":"websockets"}"#, "ws").await;
    let events = collect(&mut received, "ws", 1).await;
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].body, br#"{"over":"websockets"}"#);
    reader.close().await;

    // With AMQP's port open, AMQP is used directly.
    let direct = Network::new(&sandbox.cloud(), None).unwrap();
    let reader = Reader::open(&direct, &address(&sandbox, "service"), "$Default")
        .await
        .unwrap();
    assert_eq!(reader.transport().to_string(), "AMQP on port 5671");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn many_events_flow_without_stalling() {
    let (sandbox, network) = setup();
    for chunk in 0..30 {
        let sends = (0..100).map(|n| {
            let (sandbox, network) = (&sandbox, &network);
            async move {
                send(
                    sandbox,
                    network,
                    &format!("{{\"n\":{}}}", chunk * 100 + n),
                    "bulk",
                )
                .await
            }
        });
        futures::future::join_all(sends).await;
    }
    let mut reader = Reader::open(&network, &address(&sandbox, "service"), "$Default")
        .await
        .unwrap();
    let mut received = reader.receive(StartAt::Beginning).await.unwrap();
    let events = collect(&mut received, "bulk", 3000).await;
    assert_eq!(events.len(), 3000);
}

/// A loopback relay standing for the network path to the endpoint: `cut` drops every
/// connection through it, as a flaky Wi-Fi or a NAT timeout does; new ones go through.
struct Relay {
    port: u16,
    connections: std::sync::Arc<std::sync::Mutex<Vec<tokio::task::AbortHandle>>>,
}

impl Relay {
    async fn to(target: u16) -> Relay {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let connections = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let kept = connections.clone();
        tokio::spawn(async move {
            while let Ok((mut inbound, _)) = listener.accept().await {
                let task = tokio::spawn(async move {
                    let mut outbound = tokio::net::TcpStream::connect(("127.0.0.1", target))
                        .await
                        .unwrap();
                    let _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
                });
                kept.lock().unwrap().push(task.abort_handle());
            }
        });
        Relay { port, connections }
    }

    fn cut(&self) {
        for connection in self.connections.lock().unwrap().drain(..) {
            connection.abort();
        }
    }
}

/// The next update that is not an event of another run, within 15 s.
async fn next_update(updates: &mut mpsc::Receiver<WatchUpdate>) -> WatchUpdate {
    tokio::time::timeout(Duration::from_secs(15), updates.recv())
        .await
        .expect("an update within 15 s")
        .expect("the watch goes on")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_watch_reconnects_after_a_dropped_connection_without_duplicates() {
    let sandbox = Sandbox::start(SandboxConfig::fast()).expect("sandbox starts");
    let mut cloud = sandbox.cloud();
    let relay = Relay::to(cloud.loopback_ports[&5671]).await;
    cloud.loopback_ports.insert(5671, relay.port);
    let network = Network::new(&cloud, None).unwrap();
    let mut updates = watch(
        network.clone(),
        address(&sandbox, "service"),
        "$Default".into(),
        StartAt::Latest,
    );
    assert_eq!(
        next_update(&mut updates).await,
        WatchUpdate::Connected {
            transport: Transport::Amqp
        }
    );
    let mut numbers = Vec::new();
    for n in 0..3 {
        send(&sandbox, &network, &format!("{{\"n\":{n}}}"), "relay").await;
    }
    while numbers.len() < 3 {
        if let WatchUpdate::Event(event) = next_update(&mut updates).await {
            numbers.push(event.body.clone());
        }
    }

    relay.cut();
    let WatchUpdate::Reconnecting {
        reason, attempt, ..
    } = next_update(&mut updates).await
    else {
        panic!("a cut connection is reported before the watch reconnects");
    };
    assert_eq!(attempt, 1);
    assert!(matches!(reason, EventsError::Lost(_)), "{reason:?}");
    assert_eq!(
        next_update(&mut updates).await,
        WatchUpdate::Connected {
            transport: Transport::Amqp
        }
    );
    for n in 3..5 {
        send(&sandbox, &network, &format!("{{\"n\":{n}}}"), "relay").await;
    }
    // The reconnect reads again from shortly before the last event: the first three come
    // again from the endpoint and are dropped, so exactly the five arrive, in order.
    while numbers.len() < 5 {
        match next_update(&mut updates).await {
            WatchUpdate::Event(event) => numbers.push(event.body.clone()),
            other => panic!("only events after reconnecting, got {other:?}"),
        }
    }
    let expected: Vec<Vec<u8>> = (0..5)
        .map(|n| format!("{{\"n\":{n}}}").into_bytes())
        .collect();
    assert_eq!(numbers, expected);
    assert!(
        tokio::time::timeout(Duration::from_millis(500), updates.recv())
            .await
            .is_err(),
        "nothing is delivered twice"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_watch_ends_with_a_refusal_another_try_cannot_fix() {
    let (sandbox, network) = setup();
    let mut updates = watch(
        network,
        address(&sandbox, "service"),
        "no-such-group".into(),
        StartAt::Latest,
    );
    loop {
        match next_update(&mut updates).await {
            WatchUpdate::Connected { .. } => continue,
            WatchUpdate::Ended(error) => {
                assert_eq!(
                    error,
                    EventsError::ConsumerGroupMissing {
                        group: "no-such-group".into()
                    }
                );
                break;
            }
            other => panic!("a missing group ends the watch, got {other:?}"),
        }
    }
    assert!(updates.recv().await.is_none(), "nothing follows the end");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hubs_service_string_finds_the_endpoint_through_the_hubs_redirect() {
    let (sandbox, network) = setup();
    let service = sandbox.policy_connection_string(HUB, "service").unwrap();
    let found = EventHubAddress::resolve(&network, &service.expose())
        .await
        .unwrap();
    let given = address(&sandbox, "service");
    assert_eq!(
        (&found.host, &found.entity, &found.policy),
        (&given.host, &given.entity, &given.policy)
    );
    // The hub's policy key reads its endpoint.
    let mut reader = Reader::open(&network, &found, "$Default").await.unwrap();
    let mut received = reader.receive(StartAt::Latest).await.unwrap();
    send(&sandbox, &network, r#"{"via":"redirect"}"#, "redirect").await;
    assert_eq!(collect(&mut received, "redirect", 1).await.len(), 1);

    // An Event Hub-compatible string is taken as it is.
    let text = sandbox.event_hub_connection_string(HUB, "service").unwrap();
    let same = EventHubAddress::resolve(&network, &text).await.unwrap();
    assert_eq!(same.host, given.host);

    // Over a WebSocket on the hub's host when 5671 is blocked.
    let over_443 = EventHubAddress::resolve(&amqp_port_blocked(&sandbox), &service.expose())
        .await
        .unwrap();
    assert_eq!(over_443.host, given.host);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn service_strings_that_cannot_read_are_refused_in_words() {
    let (sandbox, network) = setup();
    let device_policy = sandbox.policy_connection_string(HUB, "device").unwrap();
    let refused = EventHubAddress::resolve(&network, &device_policy.expose())
        .await
        .unwrap_err();
    assert_eq!(
        refused,
        EventsError::HubStringRefused {
            policy: "device".into()
        }
    );
    let service = sandbox.policy_connection_string(HUB, "service").unwrap();
    let key = service.key().unwrap().expose_base64();
    let wrong = service
        .expose()
        .replace(key.as_str(), "c2VjcmV0LWtleS1mb3ItdGVzdHMtMDEyMzQ1Njc4OTA=");
    let refused = EventHubAddress::resolve(&network, &wrong)
        .await
        .unwrap_err();
    assert_eq!(
        refused,
        EventsError::HubStringRefused {
            policy: "service".into()
        }
    );
    let text = refused.to_string();
    assert!(
        text.contains("ServiceConnect") && !text.contains(key.as_str()),
        "{text}"
    );
    let device = sandbox.device_connection_string(HUB, DEVICE).unwrap();
    assert_eq!(
        EventHubAddress::resolve(&network, &device.expose())
            .await
            .unwrap_err(),
        EventsError::DeviceStringCannotRead
    );
}
