//! Prints the sandbox's figures: start time (in-process, and as the `hubsetup sandbox` process
//! when HUBSETUP_BIN names the binary) and authenticated device-to-cloud sends per second over
//! HTTPS with keep-alive connections. Client and server share this machine's cores, so the
//! throughput is a lower bound of what the server alone sustains.
//!
//! Run with `cargo xtask bench` (or `cargo bench -p hubsetup-sandbox`).

use std::io::BufRead;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use hubsetup_sandbox::{Sandbox, SandboxConfig};

const HUB: &str = "contoso-plant-hub";
const DEVICE: &str = "io.microshare.contact.unpacked.event";
const CONNECTIONS: usize = 16;
const RUN_FOR: Duration = Duration::from_secs(5);

fn main() {
    let starts: Vec<Duration> = (0..5)
        .map(|_| {
            let started = Instant::now();
            let sandbox = Sandbox::start(SandboxConfig::default()).expect("sandbox starts");
            let elapsed = started.elapsed();
            drop(sandbox);
            elapsed
        })
        .collect();
    let best = starts.iter().min().unwrap();
    let worst = starts.iter().max().unwrap();
    println!(
        "sandbox start, in-process: best {:.1} ms, worst {:.1} ms (5 starts)",
        ms(*best),
        ms(*worst)
    );

    if let Some(binary) = std::env::var_os("HUBSETUP_BIN") {
        let started = Instant::now();
        let mut child = std::process::Command::new(binary)
            .args(["sandbox", "--json"])
            .stdout(std::process::Stdio::piped())
            .spawn()
            .expect("hubsetup starts");
        let mut line = String::new();
        std::io::BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let elapsed = started.elapsed();
        let _ = child.kill();
        let _ = child.wait();
        assert!(line.contains("\"loopback\""), "unexpected output: {line}");
        println!(
            "`hubsetup sandbox` process, spawn to cloud description printed: {:.1} ms",
            ms(elapsed)
        );
    }

    let sandbox = Sandbox::start(SandboxConfig {
        daily_message_quota: Some(u64::MAX / 2),
        ..SandboxConfig::default()
    })
    .unwrap();
    let cs = sandbox.device_connection_string(HUB, DEVICE).unwrap();
    let expiry = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
        + 3600;
    let token = cs.sas_token(None, expiry).unwrap().expose();
    let url = format!(
        "https://{}/devices/{DEVICE}/messages/events?api-version=2021-04-12",
        sandbox.hub_host(HUB)
    );
    let client = reqwest::Client::builder()
        .use_rustls_tls()
        .tls_built_in_root_certs(false)
        .add_root_certificate(reqwest::Certificate::from_pem(sandbox.ca_pem().as_bytes()).unwrap())
        .resolve(&sandbox.hub_host(HUB), sandbox.address())
        .pool_max_idle_per_host(CONNECTIONS)
        .build()
        .unwrap();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let sent = Arc::new(AtomicU64::new(0));
    let elapsed = runtime.block_on(async {
        let deadline = Instant::now() + RUN_FOR;
        let started = Instant::now();
        let workers: Vec<_> = (0..CONNECTIONS)
            .map(|_| {
                let (client, url, token, sent) =
                    (client.clone(), url.clone(), token.clone(), sent.clone());
                tokio::spawn(async move {
                    while Instant::now() < deadline {
                        let response = client
                            .post(&url)
                            .header("Authorization", &token)
                            .header("Content-Type", "application/json")
                            .body(r#"{"temperature":21.5,"humidity":40}"#)
                            .send()
                            .await
                            .expect("send");
                        assert_eq!(response.status(), 204);
                        sent.fetch_add(1, Ordering::Relaxed);
                    }
                })
            })
            .collect();
        for worker in workers {
            worker.await.unwrap();
        }
        started.elapsed()
    });
    let count = sent.load(Ordering::Relaxed);
    println!(
        "device-to-cloud: {count} authenticated sends in {:.2} s over {CONNECTIONS} connections = {:.0} sends/s",
        elapsed.as_secs_f64(),
        count as f64 / elapsed.as_secs_f64()
    );
    let landed = sandbox.messages(HUB, DEVICE).len();
    println!("messages kept for the tests' look (capped at 1000 per device): {landed}");
}

fn ms(duration: Duration) -> f64 {
    duration.as_secs_f64() * 1000.0
}
