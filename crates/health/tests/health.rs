//! A hub's health read from the sandbox, which measures what it really did: the registry's
//! activity of each device, Azure Monitor's metrics, the quota and the verdicts on them.

use std::time::SystemTime;

use hubsetup_health::{read_health, Level};
use hubsetup_livetest::{Options, Verifier};
use hubsetup_net::Network;
use hubsetup_sandbox::{Sandbox, SandboxConfig};
use hubsetup_testsupport::{copy_hub, signed_in as session};

const PRODUCTION: &str = "11111111-1111-4111-8111-111111111111";
const HUB: &str = "contoso-plant-hub";
const DEVICE: &str = "io.microshare.contact.unpacked.event";

#[tokio::test(flavor = "multi_thread")]
async fn a_stream_that_never_sent_is_named_and_a_sent_message_is_counted() {
    let sandbox = Sandbox::start(SandboxConfig::fast()).unwrap();
    let azure = session(&sandbox).await;
    let hub = azure.find_hub(PRODUCTION, HUB).await.unwrap();

    let quiet = read_health(&azure, &hub, SystemTime::now()).await.unwrap();
    assert_eq!(quiet.hourly.len(), 24);
    assert!(quiet.hourly.iter().all(|h| h.sent == 0));
    let stream = quiet
        .streams
        .iter()
        .find(|s| s.device_id == DEVICE)
        .expect("the seeded device");
    assert_eq!(
        (stream.enabled, stream.last_activity.as_deref()),
        (true, None)
    );
    assert_eq!(quiet.verdicts[0].level, Level::Warn);
    assert_eq!(
        quiet.verdicts[0].text,
        format!("No messages from {DEVICE} yet.")
    );

    let device = sandbox.device_connection_string(HUB, DEVICE).unwrap();
    let network = Network::new(&sandbox.cloud(), None).unwrap();
    let report = Verifier::new(network, Options::default())
        .verify(&device)
        .await;
    assert!(report.accepted);

    let arriving = read_health(&azure, &hub, SystemTime::now()).await.unwrap();
    let sent: u64 = arriving.hourly.iter().map(|h| h.sent).sum();
    let attempted: u64 = arriving.hourly.iter().map(|h| h.attempted).sum();
    assert_eq!((sent, attempted), (1, 1));
    assert!(arriving.messages_today >= 1 && arriving.daily_quota == 400_000);
    let stream = arriving
        .streams
        .iter()
        .find(|s| s.device_id == DEVICE)
        .unwrap();
    assert!(
        stream.last_activity.is_some(),
        "the registry shows the send"
    );
    // "since 14:00 UTC", or "between 13:00 UTC and 14:00 UTC" just after the hour turned.
    assert_eq!(arriving.verdicts.len(), 1, "{:?}", arriving.verdicts);
    assert_eq!(arriving.verdicts[0].level, Level::Good);
    assert!(
        arriving.verdicts[0]
            .text
            .starts_with("Data is arriving: 1 message "),
        "{}",
        arriving.verdicts[0].text
    );
    assert!(
        arriving.routing.is_none(),
        "no custom endpoints, no routing part"
    );
    let json = serde_json::to_string(&arriving).unwrap();
    assert!(!json.contains("SharedAccessKey") && !json.contains("primaryKey"));
}

#[tokio::test(flavor = "multi_thread")]
async fn without_a_monitoring_right_the_role_to_ask_for_is_said_first() {
    const SHARED: &str = "66666666-6666-4666-8666-666666666666";
    let sandbox = Sandbox::start(SandboxConfig::fast()).unwrap();
    // A hub in the group where the admin runs hubs with a custom role that has no Azure Monitor.
    copy_hub(&sandbox, HUB, "ops-hub", SHARED, "team-ops");
    let azure = session(&sandbox).await;
    let hub = azure.find_hub(SHARED, "ops-hub").await.unwrap();
    let refused = read_health(&azure, &hub, SystemTime::now())
        .await
        .unwrap_err();
    assert_eq!(
        refused.to_string(),
        "You may not read the metrics of hub 'ops-hub'. Ask for the role \"Monitoring Reader\" (or Reader) on the hub or its resource group."
    );
}
