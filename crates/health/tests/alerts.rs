//! The alarm for when the data stops, set up in the sandbox's Azure Monitor: the rights checked
//! first, the action group and rules written (and a repeat that changes nothing), a test e-mail
//! that reaches the outbox, the rule firing once the hub's messages stop, and removal.

use std::time::{Duration, SystemTime};

use hubsetup_health::{
    read_alerts, read_health, remove_alerts, send_test_email, set_up_alerts, AlertChoice,
};
use hubsetup_livetest::{Options, Verifier};
use hubsetup_net::Network;
use hubsetup_sandbox::{Sandbox, SandboxConfig};
use hubsetup_testsupport::{copy_hub, signed_in as session};

const PRODUCTION: &str = "11111111-1111-4111-8111-111111111111";
const HUB: &str = "contoso-plant-hub";
const DEVICE: &str = "io.microshare.contact.unpacked.event";

fn choice(quota_warning: bool) -> AlertChoice {
    AlertChoice {
        emails: vec!["admin@contoso.com".into(), "support@partner.example".into()],
        quiet_minutes: 60,
        quota_warning,
        dropped_warning: false,
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn the_alert_is_set_up_tested_fires_when_data_stops_and_is_removed() {
    let sandbox = Sandbox::start(SandboxConfig::fast()).unwrap();
    let azure = session(&sandbox).await;
    let hub = azure.find_hub(PRODUCTION, HUB).await.unwrap();
    let device = sandbox.device_connection_string(HUB, DEVICE).unwrap();
    let network = Network::new(&sandbox.cloud(), None).unwrap();
    assert!(
        Verifier::new(network, Options::default())
            .verify(&device)
            .await
            .accepted
    );

    let set_up = set_up_alerts(&azure, &hub, &choice(true), 400_000)
        .await
        .unwrap();
    assert_eq!(
        set_up
            .rules
            .iter()
            .map(|r| r.name.as_str())
            .collect::<Vec<_>>(),
        ["contoso-plant-hub-no-data", "contoso-plant-hub-quota-80"]
    );
    // Asked again without the quota warning: the same group, one rule fewer.
    set_up_alerts(&azure, &hub, &choice(false), 400_000)
        .await
        .unwrap();
    let shown = read_alerts(&azure, &hub).await.unwrap().expect("set up");
    assert_eq!(
        shown.emails,
        ["admin@contoso.com", "support@partner.example"]
    );
    assert_eq!(shown.rules.len(), 1);
    assert_eq!(
        shown.rules[0].watches,
        "No messages from any device for 1 hour"
    );
    assert!(!shown.rules[0].firing);

    let reached = send_test_email(&azure, &hub).await.unwrap();
    assert_eq!(reached, ["admin@contoso.com", "support@partner.example"]);
    let tests: Vec<_> = sandbox
        .mail()
        .into_iter()
        .filter(|m| m.kind == "test")
        .collect();
    assert_eq!(tests.len(), 2);

    // The device stops: an hour and more later the rule has fired, once, to both people.
    sandbox.let_time_pass(HUB, Duration::from_secs(65 * 60));
    let fired: Vec<_> = sandbox
        .mail()
        .into_iter()
        .filter(|m| m.kind == "alert")
        .collect();
    assert_eq!(fired.len(), 2, "{fired:?}");
    assert!(fired[0].subject.starts_with(
        "Fired:Sev2 Azure Monitor Alert contoso-plant-hub-no-data on contoso-plant-hub"
    ));
    assert!(read_alerts(&azure, &hub).await.unwrap().unwrap().rules[0].firing);
    let mail = serde_json::to_string(&sandbox.mail()).unwrap();
    assert!(!mail.contains("SharedAccessKey"), "no key in any e-mail");
    let health = read_health(&azure, &hub, SystemTime::now()).await.unwrap();
    assert!(serde_json::to_string(&health).is_ok());

    remove_alerts(&azure, &hub).await.unwrap();
    assert_eq!(read_alerts(&azure, &hub).await.unwrap(), None);
}

#[tokio::test(flavor = "multi_thread")]
async fn without_the_right_to_write_alerts_the_role_to_ask_for_is_said_first() {
    const SHARED: &str = "66666666-6666-4666-8666-666666666666";
    let sandbox = Sandbox::start(SandboxConfig::fast()).unwrap();
    copy_hub(&sandbox, HUB, "ops-hub", SHARED, "team-ops");
    let azure = session(&sandbox).await;
    let hub = azure.find_hub(SHARED, "ops-hub").await.unwrap();
    let refused = set_up_alerts(&azure, &hub, &choice(false), 400_000)
        .await
        .unwrap_err();
    assert_eq!(
        refused.to_string(),
        "You may not set up alerts in resource group 'team-ops'. Ask for the role \"Monitoring Contributor\" on the resource group (it may write action groups and alert rules)."
    );
    assert!(
        sandbox.with_state(|s| s.alerting.action_groups.is_empty()),
        "nothing was written"
    );
}
