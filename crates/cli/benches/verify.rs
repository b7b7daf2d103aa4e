//! Prints the live test's figures against an in-process sandbox, each next to a peer measured
//! in the same run:
//! - one `hubsetup verify` (a whole process: start, DNS, TCP, TLS, token, send)
//!   against `curl` making the same authenticated POST (start, TCP, TLS, send): the time, and
//!   the peak memory (resident set) of each process;
//! - the live test over each other protocol (MQTT, AMQP, each on its own port and over
//!   WebSockets, and all five at once) next to HTTPS;
//! - `hubsetup verify --file` on 1,000 strings spread over 10 hubs;
//! - with HUBSETUP_WINDOWS_BIN (the Windows build) and HUBSETUP_WINE_PREFIX, one `hubsetup.exe
//!   verify` under Wine next to the Linux one.
//!
//! Needs HUBSETUP_BIN (a release build of `hubsetup`); `cargo xtask bench` sets all three.

// wait4(2), the one call that gives a child's peak memory with its exit.
#![allow(unsafe_code)]

use std::io::{Read, Write};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use hubsetup_core::{ConnectionString, SharedAccessKey};
use hubsetup_sandbox::state::{random_base64, Device};
use hubsetup_sandbox::{Sandbox, SandboxConfig};

const HUBS: usize = 10;
const DEVICES_PER_HUB: usize = 100;
const RUNS: usize = 15;

fn main() {
    let binary =
        std::env::var_os("HUBSETUP_BIN").expect("set HUBSETUP_BIN to a release build of hubsetup");
    let sandbox = Sandbox::start(SandboxConfig {
        daily_message_quota: Some(u64::MAX / 2),
        ..SandboxConfig::default()
    })
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let description = dir.path().join("sandbox.json");
    std::fs::write(
        &description,
        serde_json::to_string(&sandbox.cloud()).unwrap(),
    )
    .unwrap();
    let ca = dir.path().join("ca.pem");
    std::fs::write(&ca, sandbox.ca_pem()).unwrap();
    let strings = fleet(&sandbox);
    let list = dir.path().join("fleet.txt");
    std::fs::write(
        &list,
        strings
            .iter()
            .map(|s| s.expose().to_string() + "\n")
            .collect::<String>(),
    )
    .unwrap();

    let one = &strings[0];
    let verify_one = median(RUNS, || {
        verify(Command::new(&binary), &description, one, "https")
    });
    let curl_one = median(RUNS, || curl_send(&sandbox, &ca, one));
    println!(
        "one string: hubsetup verify {:.1} ms and {} at its peak, curl POST {:.1} ms and {} \
         (medians of {RUNS}); time ratio {:.2}, memory ratio {:.2}",
        ms(verify_one.took),
        mib(verify_one.peak_kib),
        ms(curl_one.took),
        mib(curl_one.peak_kib),
        verify_one.took.as_secs_f64() / curl_one.took.as_secs_f64(),
        verify_one.peak_kib as f64 / curl_one.peak_kib as f64
    );
    let verify_one = verify_one.took;
    if let (Some(windows), Some(prefix)) = (
        std::env::var_os("HUBSETUP_WINDOWS_BIN"),
        std::env::var_os("HUBSETUP_WINE_PREFIX"),
    ) {
        let under_wine = || {
            let mut wine = Command::new("/usr/lib/wine/wine64");
            wine.arg(&windows)
                .env("WINEPREFIX", &prefix)
                .env("WINEDEBUG", "-all")
                .env("WINEDLLOVERRIDES", "bcryptprimitives=n,b;mscoree,mshtml=");
            wine
        };
        // Wine's server starts with the first program; the figure is for a running Wine.
        verify(under_wine(), &description, one, "https");
        let wine_one = median(RUNS, || verify(under_wine(), &description, one, "https")).took;
        println!(
            "one string: hubsetup.exe verify under Wine {:.1} ms, Linux hubsetup verify {:.1} ms \
             (medians of {RUNS}); ratio {:.2}",
            ms(wine_one),
            ms(verify_one),
            wine_one.as_secs_f64() / verify_one.as_secs_f64()
        );
    }

    for protocol in ["mqtt", "mqtt-ws", "amqp", "amqp-ws", "all"] {
        let over = median(RUNS, || {
            verify(Command::new(&binary), &description, one, protocol)
        })
        .took;
        println!(
            "one string over {protocol}: hubsetup verify {:.1} ms, over https {:.1} ms (medians of {RUNS}); ratio {:.2}",
            ms(over),
            ms(verify_one),
            over.as_secs_f64() / verify_one.as_secs_f64()
        );
    }

    for concurrency in ["8", "32"] {
        let mut best = Duration::MAX;
        for _ in 0..3 {
            let started = Instant::now();
            let status = Command::new(&binary)
                .args(["verify", "--json", "--concurrency", concurrency, "--file"])
                .arg(&list)
                .arg("--sandbox")
                .arg(&description)
                .stdout(Stdio::null())
                .status()
                .unwrap();
            assert!(status.success(), "some strings failed");
            best = best.min(started.elapsed());
        }
        println!(
            "--file, {} strings over {HUBS} hubs, concurrency {concurrency}: best of 3 {:.2} s = {} strings/s",
            hubsetup_locale::count(strings.len() as u64),
            best.as_secs_f64(),
            hubsetup_locale::count((strings.len() as f64 / best.as_secs_f64()) as u64)
        );
    }
}

/// One `hubsetup verify --protocol {protocols}` of `string`, given on standard input, which
/// must pass.
fn verify(
    mut hubsetup: Command,
    description: &Path,
    string: &ConnectionString,
    protocols: &str,
) -> Sample {
    let started = Instant::now();
    let mut child = hubsetup
        .args(["verify", "--protocol", protocols, "--sandbox"])
        .arg(description)
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(string.expose().as_bytes())
        .unwrap();
    let (succeeded, sample) = reap(child, started);
    assert!(succeeded, "hubsetup verify failed");
    sample
}

/// How long a process took from its start, and its peak resident set.
#[derive(Debug, Clone, Copy)]
struct Sample {
    took: Duration,
    peak_kib: u64,
}

/// Waits for `child` (with its output already read), and says whether it succeeded.
fn reap(child: Child, started: Instant) -> (bool, Sample) {
    let pid = child.id() as libc::pid_t;
    let mut status = 0;
    // SAFETY: a zeroed rusage is a valid value for wait4 to fill in.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: `pid` is our own child, not yet waited for; both pointers are to live locals.
    let reaped = unsafe { libc::wait4(pid, &mut status, 0, &mut usage) };
    let took = started.elapsed();
    assert_eq!(
        reaped,
        pid,
        "wait4 failed: {}",
        std::io::Error::last_os_error()
    );
    let succeeded = libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0;
    let peak = u64::try_from(usage.ru_maxrss).unwrap_or(0);
    // Linux gives ru_maxrss in KiB, macOS in bytes.
    let peak_kib = if cfg!(target_os = "macos") {
        peak / 1024
    } else {
        peak
    };
    (succeeded, Sample { took, peak_kib })
}

/// Adds 10 hubs with 100 devices each, as copies of the seeded hub.
fn fleet(sandbox: &Sandbox) -> Vec<ConnectionString> {
    let hubs: Vec<(String, Vec<(String, String)>)> = sandbox.with_state(|state| {
        let template = state.hubs["contoso-plant-hub"].clone();
        (0..HUBS)
            .map(|h| {
                let mut hub = template.clone();
                hub.name = format!("bench-hub-{h:02}");
                hub.devices.clear();
                let devices: Vec<(String, String)> = (0..DEVICES_PER_HUB)
                    .map(|d| {
                        let (id, key) = (format!("sensor-{d:03}"), random_base64(32));
                        hub.devices.insert(
                            id.clone(),
                            Device {
                                device_id: id.clone(),
                                generation_id: "1".into(),
                                etag: "MA==".into(),
                                status: "enabled".into(),
                                status_reason: None,
                                primary_key: key.clone(),
                                secondary_key: random_base64(32),
                                iot_edge: false,
                                messages: vec![],
                                twin: Default::default(),
                                activity: Default::default(),
                            },
                        );
                        (id, key)
                    })
                    .collect();
                state.hubs.insert(hub.name.clone(), hub.clone());
                (hub.name, devices)
            })
            .collect()
    });
    hubs.into_iter()
        .flat_map(|(hub, devices)| {
            let host = sandbox.hub_host(&hub);
            devices.into_iter().map(move |(id, key)| {
                ConnectionString::for_device(
                    &host,
                    &id,
                    SharedAccessKey::from_base64(&key).unwrap(),
                )
            })
        })
        .collect()
}

fn curl_send(sandbox: &Sandbox, ca: &Path, cs: &ConnectionString) -> Sample {
    let expiry = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
        + 300;
    let token = cs.sas_token(None, expiry).unwrap().expose();
    let host = cs.host_name();
    let url = format!(
        "https://{host}/devices/{}/messages/events?api-version=2021-04-12",
        cs.device_id().unwrap()
    );
    let started = Instant::now();
    let mut child = Command::new("curl")
        .args([
            "--silent",
            "--show-error",
            "--output",
            "/dev/null",
            "--write-out",
            "%{http_code}",
            "--cacert",
        ])
        .arg(ca)
        .arg("--connect-to")
        .arg(format!("{host}:443:127.0.0.1:{}", sandbox.address().port()))
        .args([
            "-H",
            &format!("Authorization: {token}"),
            "-H",
            "Content-Type: application/json",
            "--data",
            r#"{"hubsetup":"connectivity test"}"#,
        ])
        .arg(url)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("curl runs (apt-get install curl)");
    let (mut said, mut complaint) = (String::new(), String::new());
    child
        .stdout
        .take()
        .unwrap()
        .read_to_string(&mut said)
        .unwrap();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut complaint)
        .unwrap();
    let (_, sample) = reap(child, started);
    assert_eq!(said, "204", "{complaint}");
    sample
}

/// The median time and the median peak memory of `runs` runs, after one that warms the page
/// cache and the sandbox's connection setup.
fn median(runs: usize, mut run: impl FnMut() -> Sample) -> Sample {
    run();
    let samples: Vec<Sample> = (0..runs).map(|_| run()).collect();
    let mut times: Vec<Duration> = samples.iter().map(|s| s.took).collect();
    let mut peaks: Vec<u64> = samples.iter().map(|s| s.peak_kib).collect();
    times.sort();
    peaks.sort();
    Sample {
        took: times[runs / 2],
        peak_kib: peaks[runs / 2],
    }
}

fn mib(kib: u64) -> String {
    format!("{:.1} MiB", kib as f64 / 1024.0)
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}
