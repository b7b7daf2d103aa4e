//! Prints how many QoS 1 publishes per second the sandbox's MQTT endpoint takes from devices
//! (goal: 20,000/s on 2 cores): several TLS connections each keep a window of publishes in
//! flight and count the PUBACKs, for a few seconds. Client and server share the machine's
//! cores, so this is a lower bound of what the server alone sustains. Its peer in the same run
//! is the same message count over one connection, one publish at a time.
//!
//! Run with `cargo xtask bench` (or `cargo bench -p hubsetup-sandbox --bench mqtt`).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use bytes::BytesMut;
use hubsetup_core::sas;
use hubsetup_sandbox::{Sandbox, SandboxConfig};
use rumqttc::mqttbytes::v4::{ConnAck, Connect, ConnectReturnCode, Packet, PubAck, Publish};
use rumqttc::mqttbytes::QoS;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const HUB: &str = "contoso-plant-hub";
const DEVICE: &str = "io.microshare.contact.unpacked.event";
const CONNECTIONS: usize = 4;
const WINDOW: u16 = 200;
const RUN_FOR: Duration = Duration::from_secs(4);
const BODY: &[u8] = br#"{"temperature":21.5,"humidity":48}"#;

type Stream = tokio_rustls::client::TlsStream<tokio::net::TcpStream>;

fn main() {
    let sandbox = Sandbox::start(SandboxConfig {
        daily_message_quota: Some(u64::MAX / 2),
        ..SandboxConfig::default()
    })
    .expect("sandbox starts");
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let (pipelined, elapsed) = runtime.block_on(pipelined(&sandbox));
    let rate = pipelined as f64 / elapsed.as_secs_f64();
    let one_by_one = runtime.block_on(one_at_a_time(&sandbox, 2_000));
    println!(
        "MQTT QoS 1 publishes: {} /s acknowledged ({} in {:.1} s over {CONNECTIONS} TLS connections, {WINDOW} in flight each; goal 20,000/s); one at a time on one connection: {} /s; ratio {:.1}",
        hubsetup_locale::count(rate as u64),
        hubsetup_locale::count(pipelined),
        elapsed.as_secs_f64(),
        hubsetup_locale::count(one_by_one as u64),
        rate / one_by_one
    );
}

/// A connection that has sent CONNECT and had CONNACK 0.
async fn connect(sandbox: &Sandbox) -> Stream {
    let host = sandbox.hub_host(HUB);
    let cs = sandbox.device_connection_string(HUB, DEVICE).unwrap();
    let expiry = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
        + 600;
    let token = sas::generate(
        cs.key().unwrap(),
        &format!("{host}/devices/{DEVICE}"),
        expiry,
        None,
    );
    let mut roots = rustls::RootCertStore::empty();
    roots
        .add(CertificateDer::from_pem_slice(sandbox.ca_pem().as_bytes()).unwrap())
        .unwrap();
    let config = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_root_certificates(roots)
    .with_no_client_auth();
    let tcp = tokio::net::TcpStream::connect(sandbox.mqtt_address())
        .await
        .unwrap();
    tcp.set_nodelay(true).unwrap();
    let mut stream = tokio_rustls::TlsConnector::from(Arc::new(config))
        .connect(ServerName::try_from(host.clone()).unwrap(), tcp)
        .await
        .unwrap();
    let mut connect = Connect::new(DEVICE);
    connect.keep_alive = 60;
    connect.set_login(
        format!("{host}/{DEVICE}/?api-version=2021-04-12"),
        token.expose(),
    );
    stream
        .write_all(&encode(Packet::Connect(connect)))
        .await
        .unwrap();
    let mut connack = [0u8; 4];
    stream.read_exact(&mut connack).await.unwrap();
    assert_eq!(
        connack,
        &encode(Packet::ConnAck(ConnAck::new(
            ConnectReturnCode::Success,
            false
        )))[..],
        "the sandbox accepts the device"
    );
    stream
}

fn publish(packet_id: u16) -> Vec<u8> {
    let mut publish = Publish::new(
        format!("devices/{DEVICE}/messages/events/"),
        QoS::AtLeastOnce,
        BODY,
    );
    publish.pkid = packet_id;
    encode(Packet::Publish(publish))
}

fn puback(packet_id: u16) -> Vec<u8> {
    encode(Packet::PubAck(PubAck::new(packet_id)))
}

/// A packet's bytes, by rumqttc's MQTT 3.1.1 codec.
fn encode(packet: Packet) -> Vec<u8> {
    let mut out = BytesMut::new();
    packet.write(&mut out, usize::MAX).unwrap();
    out.to_vec()
}

/// Publishes on every connection with a window in flight for [`RUN_FOR`]; the PUBACKs counted
/// and the time taken.
async fn pipelined(sandbox: &Sandbox) -> (u64, Duration) {
    let acked = Arc::new(AtomicU64::new(0));
    let mut connections = Vec::new();
    for _ in 0..CONNECTIONS {
        connections.push(connect(sandbox).await);
    }
    let started = Instant::now();
    let mut tasks = Vec::new();
    for stream in connections {
        let acked = acked.clone();
        tasks.push(tokio::spawn(async move {
            let (mut reader, mut writer) = tokio::io::split(stream);
            let sending = tokio::spawn(async move {
                let mut id: u16 = 0;
                let mut batch = Vec::new();
                for _ in 0..WINDOW {
                    id = id % u16::MAX + 1;
                    batch.extend(publish(id));
                }
                writer.write_all(&batch).await.unwrap();
                (writer, id)
            });
            let (mut writer, mut id) = sending.await.unwrap();
            let mut ack = [0u8; 4];
            while started.elapsed() < RUN_FOR {
                reader.read_exact(&mut ack).await.unwrap();
                assert_eq!(ack[0], puback(1)[0], "a PUBACK");
                acked.fetch_add(1, Ordering::Relaxed);
                id = id % u16::MAX + 1;
                writer.write_all(&publish(id)).await.unwrap();
            }
        }));
    }
    for task in tasks {
        task.await.unwrap();
    }
    (acked.load(Ordering::Relaxed), started.elapsed())
}

/// Publishes per second over one connection, waiting for each PUBACK.
async fn one_at_a_time(sandbox: &Sandbox, count: u16) -> f64 {
    let mut stream = connect(sandbox).await;
    let started = Instant::now();
    let mut ack = [0u8; 4];
    for id in 1..=count {
        stream.write_all(&publish(id)).await.unwrap();
        stream.read_exact(&mut ack).await.unwrap();
        assert_eq!(ack[..], puback(id)[..]);
    }
    f64::from(count) / started.elapsed().as_secs_f64()
}
