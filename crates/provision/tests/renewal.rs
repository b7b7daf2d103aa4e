//! Renewing keys: a device's through the registry (guarded by its etag), a policy's through ARM.
//! The live test proves each step: the new string works, the replaced one is refused at once.

mod common;

use common::{session, start, Events};
use hubsetup_core::ConnectionString;
use hubsetup_livetest::{Options, Verifier};
use hubsetup_net::Network;
use hubsetup_provision::{Error, RenewKey};
use hubsetup_sandbox::state::SUBSCRIPTION_PRODUCTION;
use hubsetup_sandbox::{Sandbox, SandboxConfig};

const HUB: &str = "contoso-plant-hub";
const DEVICE: &str = "io.microshare.contact.unpacked.event";

async fn accepted(sandbox: &Sandbox, string: &ConnectionString) -> (bool, String) {
    let network = Network::new(&sandbox.cloud(), None).unwrap();
    // A policy's string sends as one of the hub's devices.
    let options = Options {
        device_id: string.policy_name().map(|_| DEVICE.to_owned()),
        ..Options::default()
    };
    let report = Verifier::new(network, options).verify(string).await;
    let cause = report.failure.map(|f| f.cause).unwrap_or_default();
    (report.accepted, cause)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_device_key_is_rotated_without_downtime_then_the_old_one_is_refused() {
    let sandbox = start(SandboxConfig::fast());
    let azure = session(&sandbox, &Events::default()).await;
    let hub = azure.find_hub(SUBSCRIPTION_PRODUCTION, HUB).await.unwrap();
    let handed_off = sandbox.device_connection_string(HUB, DEVICE).unwrap();

    // The secondary first: the partner's string keeps working while they switch.
    let renewed = azure
        .renew_device_keys(&hub, DEVICE, RenewKey::Secondary)
        .await
        .unwrap();
    let same = renewed.primary.expose() == handed_off.expose();
    assert!(same, "renewing the secondary changed the primary");
    assert!(accepted(&sandbox, &handed_off).await.0);
    assert!(accepted(&sandbox, &renewed.secondary).await.0);

    // Then the primary: the string handed off stops working at once.
    let after = azure
        .renew_device_keys(&hub, DEVICE, RenewKey::Primary)
        .await
        .unwrap();
    let kept = after.secondary.expose() == renewed.secondary.expose();
    assert!(kept, "renewing the primary changed the secondary");
    let (old_works, cause) = accepted(&sandbox, &handed_off).await;
    assert!(!old_works);
    assert!(
        cause.starts_with("The key is wrong or was regenerated"),
        "{cause}"
    );
    assert!(accepted(&sandbox, &after.secondary).await.0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_policy_key_is_renewed_through_arm() {
    let sandbox = start(SandboxConfig::fast());
    let azure = session(&sandbox, &Events::default()).await;
    let hub = azure.find_hub(SUBSCRIPTION_PRODUCTION, HUB).await.unwrap();
    let policy = azure
        .ensure_restricted_policy(&hub, "partner-registry")
        .await
        .unwrap();
    let before = accepted(&sandbox, &policy.connection_string).await;
    assert!(before.0, "{}", before.1);
    let renewed = azure
        .renew_policy_keys(&hub, "partner-registry", RenewKey::Both)
        .await
        .unwrap();
    let (old_works, cause) = accepted(&sandbox, &policy.connection_string).await;
    assert!(!old_works);
    assert!(
        cause.starts_with("The key of policy 'partner-registry' is wrong or was regenerated"),
        "{cause}"
    );
    assert!(accepted(&sandbox, &renewed.primary).await.0);
    assert!(accepted(&sandbox, &renewed.secondary).await.0);

    let gone = azure
        .renew_policy_keys(&hub, "no-such-policy", RenewKey::Primary)
        .await
        .unwrap_err();
    assert_eq!(
        gone.to_string(),
        "Hub 'contoso-plant-hub' has no shared access policy named 'no-such-policy' any more: it was deleted after its string was handed off, so that string works no longer. Nothing was changed."
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_device_deleted_or_changed_meanwhile_is_said_and_nothing_changes() {
    let sandbox = start(SandboxConfig::fast());
    let azure = session(&sandbox, &Events::default()).await;
    let hub = azure.find_hub(SUBSCRIPTION_PRODUCTION, HUB).await.unwrap();
    let gone = azure
        .renew_device_keys(&hub, "deleted-meanwhile", RenewKey::Secondary)
        .await
        .unwrap_err();
    assert!(matches!(gone, Error::DeviceGone { .. }));
    assert_eq!(
        gone.to_string(),
        "Device 'deleted-meanwhile' is no longer in hub 'contoso-plant-hub': it was deleted after its string was handed off, so whoever holds that string is cut off already. Nothing was changed."
    );
    assert_eq!(
        Error::DeviceChanged { hub: HUB.into(), device: DEVICE.into() }.to_string(),
        "Device 'io.microshare.contact.unpacked.event' of hub 'contoso-plant-hub' was changed by someone else while its key was being renewed. Nothing was changed: look at the device, then renew again."
    );
}
