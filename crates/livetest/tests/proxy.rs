//! The live test through an HTTP proxy (`CONNECT`), as on corporate networks: a small real
//! proxy on loopback that tunnels to the sandbox, and one that refuses.

use std::net::SocketAddr;

use hubsetup_livetest::{Failure, Options, Protocol, Stage, StageStatus, Verifier};
use hubsetup_net::{Network, ProxySettings};
use hubsetup_sandbox::{Sandbox, SandboxConfig};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};

const HUB: &str = "contoso-plant-hub";
const DEVICE: &str = "io.microshare.contact.unpacked.event";

/// Answers each `CONNECT` with `answer`; on `200` it tunnels to `upstream`, wherever the
/// client asked to go (the sandbox's hosts have no public DNS).
async fn proxy(answer: &'static str, upstream: SocketAddr) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((client, _)) = listener.accept().await {
            tokio::spawn(async move {
                let mut client = BufReader::new(client);
                let mut request = String::new();
                client.read_line(&mut request).await.unwrap();
                assert!(
                    request
                        .starts_with("CONNECT contoso-plant-hub.azure-devices.sandbox.test:443 "),
                    "{request}"
                );
                loop {
                    let mut header = String::new();
                    if client.read_line(&mut header).await.unwrap() == 0 || header == "\r\n" {
                        break;
                    }
                }
                let mut client = client.into_inner();
                client
                    .write_all(format!("HTTP/1.1 {answer}\r\n\r\n").as_bytes())
                    .await
                    .unwrap();
                if answer.starts_with("200") {
                    let mut server = TcpStream::connect(upstream).await.unwrap();
                    let _ = tokio::io::copy_bidirectional(&mut client, &mut server).await;
                }
            });
        }
    });
    address
}

/// The sandbox as a cloud reached only through a proxy: no loopback address, no name server.
fn behind_proxy(sandbox: &Sandbox, proxy: SocketAddr) -> Network {
    let mut cloud = sandbox.cloud();
    cloud.loopback = None;
    cloud.dns_server = None;
    let settings =
        ProxySettings::parse(Some(&format!("http://{proxy}")), Some("localhost")).unwrap();
    Network::with_proxy(&cloud, None, settings).unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_string_is_tested_through_a_proxy_tunnel() {
    let sandbox = Sandbox::start(SandboxConfig::default()).unwrap();
    let proxy = proxy("200 Connection established", sandbox.address()).await;
    let verifier = Verifier::new(behind_proxy(&sandbox, proxy), Options::default());
    let report = verifier
        .verify(&sandbox.device_connection_string(HUB, DEVICE).unwrap())
        .await;
    assert!(report.accepted, "{report:?}");
    assert_eq!(
        report.stages[0].detail,
        format!("127.0.0.1 → 127.0.0.1 (proxy {proxy})")
    );
    assert_eq!(report.stages[1].detail, format!("{proxy} (proxy {proxy})"));
    assert_eq!(
        sandbox.messages(HUB, DEVICE).len(),
        1,
        "the message went through the tunnel"
    );
}

async fn failure_through(
    answer: &'static str,
) -> (SocketAddr, Sandbox, Failure, Option<(Stage, StageStatus)>) {
    let sandbox = Sandbox::start(SandboxConfig::default()).unwrap();
    let proxy = proxy(answer, sandbox.address()).await;
    let verifier = Verifier::new(behind_proxy(&sandbox, proxy), Options::default());
    let report = verifier
        .verify(&sandbox.device_connection_string(HUB, DEVICE).unwrap())
        .await;
    let last = report.stages.last().map(|s| (s.stage, s.status));
    (
        proxy,
        sandbox,
        report.failure_detail.expect("refused"),
        last,
    )
}

#[tokio::test(flavor = "multi_thread")]
async fn through_a_proxy_mqtt_and_amqp_go_over_websockets_and_their_own_ports_are_not_tried() {
    let sandbox = Sandbox::start(SandboxConfig::default()).unwrap();
    let proxy = proxy("200 Connection established", sandbox.address()).await;
    let options = Options {
        protocols: Protocol::ALL.to_vec(),
        ..Options::default()
    };
    let verifier = Verifier::new(behind_proxy(&sandbox, proxy), options);
    let report = verifier
        .verify(&sandbox.device_connection_string(HUB, DEVICE).unwrap())
        .await;
    let outcomes: Vec<(Protocol, bool)> = report
        .protocols
        .iter()
        .map(|r| (r.protocol, r.accepted))
        .collect();
    assert_eq!(
        outcomes,
        [
            (Protocol::Https, true),
            (Protocol::Mqtt, false),
            (Protocol::MqttWs, true),
            (Protocol::Amqp, false),
            (Protocol::AmqpWs, true),
        ]
    );
    let mqtt = report.protocols[1].failure.as_ref().unwrap();
    assert_eq!(
        mqtt.summary,
        format!("MQTT on port 8883 was not tried: this network goes out through the proxy {proxy}, which carries HTTPS only.")
    );
    assert_eq!(
        mqtt.cause,
        "Azure's device SDKs take MQTT through a proxy only over WebSockets on port 443; its own port 8883 needs a direct connection, which networks with a proxy rarely allow."
    );
    assert_eq!(
        mqtt.fix,
        "Set the client's transport to MQTT_WS and give it the proxy, or test from a network without a proxy."
    );
    assert_eq!(
        report.advice[1],
        "AMQP on 5671 is blocked from this network; AMQP over WebSockets on 443 works: set the client's transport to AMQP_WS."
    );
    assert_eq!(
        sandbox.messages(HUB, DEVICE).len(),
        3,
        "three went through the tunnel"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_proxy_that_forbids_the_host_is_named() {
    let (proxy, sandbox, failure, last) = failure_through("403 Forbidden").await;
    assert_eq!(
        failure,
        Failure::ProxyForbidden {
            proxy: proxy.to_string(),
            host: sandbox.hub_host(HUB),
            port: 443,
        }
    );
    assert_eq!(
        failure.to_string(),
        format!(
            "The proxy {proxy} does not allow connections to {} on port 443 (403 Forbidden).",
            sandbox.hub_host(HUB)
        )
    );
    assert_eq!(last, Some((Stage::Tcp, StageStatus::Failed)));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_proxy_that_refuses_the_tunnel_otherwise_is_named() {
    let (proxy, sandbox, failure, _) = failure_through("400 Bad Request").await;
    assert_eq!(
        failure.to_string(),
        format!(
            "The proxy {proxy} would not open a tunnel to {} (HTTP/1.1 400 Bad Request).",
            sandbox.hub_host(HUB)
        )
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_proxy_that_asks_for_credentials_says_which() {
    let (proxy, _sandbox, failure, _) = failure_through(
        "407 Proxy Authentication Required\r\nProxy-Authenticate: Basic realm=\"Contoso\"",
    )
    .await;
    assert_eq!(
        failure.to_string(),
        format!("The proxy {proxy} asks for a user name and password (Basic; 407 Proxy Authentication Required).")
    );
    assert_eq!(
        failure.fix(),
        "Sign in to the proxy with your network user name and password (the app asks; in a terminal run `hubsetup proxy sign-in`); they are kept in the system's credential store. Then test again."
    );
    assert_eq!(
        failure.kind(),
        "proxy_needs_credentials",
        "the wizard asks for them"
    );

    let (_, _sandbox, failure, _) = failure_through(
        "407 Proxy Authentication Required\r\nProxy-Authenticate: Negotiate\r\nProxy-Authenticate: NTLM",
    )
    .await;
    assert_eq!(
        failure.cause(),
        "The proxy wants your Windows sign-in (NTLM or Kerberos), which IoT Hub Setup cannot give it yet."
    );
    assert!(
        failure.to_string().contains("(Negotiate, NTLM; 407"),
        "{failure}"
    );
    assert_eq!(
        failure.kind(),
        "proxy_needs_windows_sign_in",
        "no user name and password would help"
    );
}
