//! Prints the Stored stage's time on the sandbox next to the batch window it waited for: the
//! live test's message sent, routed into its stream's folder in Azurite when the hub's window
//! ends, and found there by the stage through the Blob REST API. The sandbox's routing clock
//! runs 60 times faster than Azure's, so a 60-second batch window lasts one second; the stage's
//! own cost is what it adds to that.
//!
//! Needs Azurite (`HUBSETUP_AZURITE`, which `cargo xtask bench` sets). Run with
//! `cargo xtask bench` (or `cargo bench -p hubsetup-keep --bench stored`).

use std::time::{Duration, SystemTime};

use hubsetup_keep::{find_stored, keep_data, AccountChoice, KeepData};
use hubsetup_livetest::{Options, Verifier};
use hubsetup_net::Network;
use hubsetup_sandbox::{Sandbox, SandboxConfig};
use hubsetup_storage::routing::Encoding;

const PRODUCTION: &str = "11111111-1111-4111-8111-111111111111";
const HUB: &str = "contoso-plant-hub";
const DEVICE: &str = "io.microshare.contact.unpacked.event";
const TIME_SCALE: u32 = 60;
const BATCH_SECONDS: u32 = 60;
const RUNS: usize = 5;

#[tokio::main(flavor = "multi_thread")]
async fn main() {
    let Some(azurite) = hubsetup_sandbox::find_azurite(None) else {
        panic!(
            "the Stored stage needs Azurite. {}",
            hubsetup_sandbox::WITHOUT_AZURITE
        );
    };
    let sandbox = Sandbox::start(SandboxConfig {
        routing_time_scale: TIME_SCALE,
        azurite: Some(azurite),
        ..SandboxConfig::fast()
    })
    .expect("sandbox");
    let azure = hubsetup_testsupport::signed_in(&sandbox).await;
    let network = Network::new(&sandbox.cloud(), None).expect("network");
    let hub = azure.find_hub(PRODUCTION, HUB).await.expect("hub");
    let kept = keep_data(
        &azure,
        &hub,
        &KeepData {
            account: AccountChoice::Create {
                name: "benchstored".into(),
            },
            container: "iot-data".into(),
            encoding: Encoding::Json,
            batch_seconds: BATCH_SECONDS,
            streams: vec![DEVICE.into()],
            fix_firewall: false,
            retention_days: None,
        },
    )
    .await
    .expect("keep the data");
    let device = sandbox
        .device_connection_string(HUB, DEVICE)
        .expect("device");
    let verifier = Verifier::new(network, Options::default());
    let window = f64::from(BATCH_SECONDS) / f64::from(TIME_SCALE);
    let mut times = Vec::new();
    for _ in 0..RUNS {
        let report = verifier.verify(&device).await;
        let sent = SystemTime::now();
        let message_id = report.message_id.expect("the hub accepted the message");
        let stored = find_stored(
            &azure,
            &kept,
            DEVICE,
            &message_id,
            sent,
            Duration::from_secs(120),
            &|_| {},
        )
        .await
        .expect("stored");
        times.push(stored.after_secs);
    }
    times.sort_by(f64::total_cmp);
    let median = times[RUNS / 2];
    println!(
        "Stored stage on the sandbox: found {median:.2} s after the send (median of {RUNS}; {:.2}–{:.2} s) ÷ the batch window it waited for ({BATCH_SECONDS} s at {TIME_SCALE}× = {window:.2} s) = {:.2}",
        times[0],
        times[RUNS - 1],
        median / window
    );
}
