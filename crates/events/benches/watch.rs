//! Prints the Event Hub-compatible endpoint's figures against an in-process sandbox, each next
//! to a peer measured in the same run:
//! - send-to-seen: a device message sent over HTTPS until a reader on the endpoint has it
//!   (median of 50), next to the HTTPS send alone, as the live test does it;
//! - how many messages per second `hubsetup watch --json` reads, decodes and prints (goal:
//!   5,000/s on 2 cores), next to how fast the sandbox took them over HTTPS.
//!
//! Needs HUBSETUP_BIN (a release build of `hubsetup`); `cargo xtask bench` sets it.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use futures::StreamExt;
use hubsetup_core::sas;
use hubsetup_events::{EventHubAddress, Reader, StartAt};
use hubsetup_net::Network;
use hubsetup_sandbox::{Sandbox, SandboxConfig};

const HUB: &str = "contoso-plant-hub";
const DEVICE: &str = "io.microshare.contact.unpacked.event";
const LATENCY_RUNS: usize = 50;
const WATCHED: usize = 20_000;
const GROUP: &str = "stream-analytics-prod";

fn main() {
    let binary =
        std::env::var_os("HUBSETUP_BIN").expect("set HUBSETUP_BIN to a release build of hubsetup");
    let sandbox = Sandbox::start(SandboxConfig {
        daily_message_quota: Some(u64::MAX / 2),
        ..SandboxConfig::default()
    })
    .unwrap();
    let network = Network::new(&sandbox.cloud(), None).unwrap();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let sender = Sender::new(&sandbox, &network);
    let events = sandbox.event_hub_connection_string(HUB, "service").unwrap();

    let (send_alone, seen) = runtime.block_on(async {
        let address = EventHubAddress::parse(&events).unwrap();
        let mut reader = Reader::open(&network, &address, GROUP).await.unwrap();
        let mut received = reader.receive(StartAt::Latest).await.unwrap();
        let (mut sends, mut seens) = (Vec::new(), Vec::new());
        for run in 0..=LATENCY_RUNS {
            let started = Instant::now();
            sender.send(&format!("latency-{run}")).await;
            let sent = started.elapsed();
            loop {
                let event = tokio::time::timeout(Duration::from_secs(10), received.recv())
                    .await
                    .expect("the message arrives within 10 s")
                    .unwrap()
                    .unwrap();
                if event.properties.get("run").map(String::as_str)
                    == Some(&format!("latency-{run}"))
                {
                    break;
                }
            }
            // The first round warms connections on both sides.
            if run > 0 {
                sends.push(sent);
                seens.push(started.elapsed());
            }
        }
        reader.close().await;
        (median(sends), median(seens))
    });
    println!(
        "send-to-seen: {:.2} ms from the send to a reader having it, HTTPS send alone {:.2} ms (medians of {LATENCY_RUNS}); ratio {:.2}",
        ms(seen),
        ms(send_alone),
        seen.as_secs_f64() / send_alone.as_secs_f64()
    );

    let sending = Instant::now();
    runtime.block_on(async {
        futures::stream::iter(0..WATCHED)
            .map(|n| sender.send_owned(format!("watch-{n}")))
            .buffer_unordered(16)
            .collect::<Vec<()>>()
            .await;
    });
    let send_rate = WATCHED as f64 / sending.elapsed().as_secs_f64();

    let dir = tempfile::tempdir().unwrap();
    let description = dir.path().join("sandbox.json");
    std::fs::write(
        &description,
        serde_json::to_string(&sandbox.cloud()).unwrap(),
    )
    .unwrap();
    let watching = Instant::now();
    let output = Command::new(&binary)
        .args([
            "watch",
            "--json",
            "--since",
            "start",
            "--consumer-group",
            GROUP,
            "--count",
        ])
        .arg(WATCHED.to_string())
        .env("HUBSETUP_SANDBOX", &description)
        .env("HUBSETUP_CONNECTION_STRING", &events)
        .stdin(Stdio::null())
        .stderr(Stdio::null())
        .output()
        .unwrap();
    let elapsed = watching.elapsed();
    assert!(output.status.success());
    let lines = output.stdout.iter().filter(|b| **b == b'\n').count();
    assert_eq!(lines, WATCHED);
    let watch_rate = WATCHED as f64 / elapsed.as_secs_f64();
    println!(
        "watch --json: {} messages/s read, decoded and printed ({} in {:.2} s, process start included; goal 5,000/s), the sandbox took them over HTTPS at {} messages/s; ratio {:.2}",
        hubsetup_locale::count(watch_rate as u64),
        hubsetup_locale::count(WATCHED as u64),
        elapsed.as_secs_f64(),
        hubsetup_locale::count(send_rate as u64),
        watch_rate / send_rate
    );
}

/// Sends device messages over HTTPS with one kept-alive client, as the live test does.
struct Sender {
    http: reqwest::Client,
    url: String,
    key: hubsetup_core::SharedAccessKey,
    resource: String,
}

impl Sender {
    fn new(sandbox: &Sandbox, network: &Network) -> Sender {
        let cs = sandbox.device_connection_string(HUB, DEVICE).unwrap();
        let resource = format!("{}/devices/{DEVICE}", cs.host_name());
        Sender {
            http: network.http_client().unwrap(),
            url: format!("https://{resource}/messages/events?api-version=2021-04-12"),
            key: cs.key().unwrap().clone(),
            resource,
        }
    }

    async fn send(&self, run: &str) {
        let expiry = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_secs()
            + 300;
        let token = sas::generate(&self.key, &self.resource, expiry, None);
        let sent = self
            .http
            .post(&self.url)
            .header("authorization", token.expose())
            .header("content-type", "application/json")
            .header("iothub-app-run", run)
            .body(r#"{"temperature":21.5,"humidity":40}"#)
            .send()
            .await
            .unwrap();
        assert_eq!(sent.status(), 204);
    }

    async fn send_owned(&self, run: String) {
        self.send(&run).await
    }
}

fn median(mut times: Vec<Duration>) -> Duration {
    times.sort();
    times[times.len() / 2]
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}
