//! End-to-end recovery: a process killed mid-creation, a token that expires during a long
//! creation, a policy update racing another change, hubs partners cannot reach (fixed only
//! with consent), and a subscription that is not registered for IoT Hub.

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::*;
use hubsetup_provision::{HubChoice, Progress, ReachProblem, Records, Request, Tier};
use hubsetup_sandbox::SandboxConfig;

fn request(subscription: &str, group: &str, hub: &str) -> Request {
    Request {
        subscription_id: subscription.into(),
        hub: HubChoice::New {
            resource_group: group.into(),
            create_resource_group: true,
            name: hub.into(),
            region: "westeurope".into(),
            tier: Tier::S1,
            units: 2,
            tags: Default::default(),
        },
        devices: vec!["io.microshare.contact.unpacked.event".into()],
        policy: None,
        consumer_group: None,
    }
}

fn reuse(devices: &[&str]) -> Request {
    Request {
        subscription_id: PRODUCTION.into(),
        hub: HubChoice::Existing {
            name: EXISTING_HUB.into(),
        },
        devices: devices.iter().map(|d| d.to_string()).collect(),
        policy: None,
        consumer_group: None,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_creation_killed_midway_is_followed_after_a_restart_never_repeated() {
    let state_dir = tempfile::tempdir().unwrap();
    let records_dir = tempfile::tempdir().unwrap();
    let config = SandboxConfig {
        state_dir: Some(state_dir.path().to_owned()),
        hub_provisioning_time: Duration::from_secs(3),
        ..fast_config()
    };
    let wanted = request(PRODUCTION, "contoso-iot", "resumed-hub");
    {
        let sandbox = start(config.clone());
        let (polling, mut polled) = tokio::sync::mpsc::unbounded_channel();
        let report: hubsetup_provision::Reporter = Arc::new(move |p| {
            if matches!(p, Progress::HubProvisioning { .. }) {
                let _ = polling.send(());
            }
        });
        let azure = session_with(&sandbox, report).await;
        let records = Records::new(records_dir.path());
        let request = wanted.clone();
        let run =
            tokio::spawn(async move { azure.provision(&request, &records, &Consent::no()).await });
        polled.recv().await.expect("the creation is being followed");
        run.abort();
        assert!(run.await.unwrap_err().is_cancelled());
        // The sandbox goes down with the app, as a laptop closing would have it.
    }
    let pending = Records::new(records_dir.path()).pending().unwrap();
    assert_eq!(pending.len(), 1);
    assert_eq!(
        (pending[0].hub_name.as_str(), pending[0].units),
        ("resumed-hub", 2)
    );
    assert!(pending[0].operation_url.is_some());

    let sandbox = start(config);
    assert!(
        sandbox.with_state(|s| s.hubs["resumed-hub"].creating),
        "still being created"
    );
    let events = Events::default();
    let azure = session(&sandbox, &events).await;
    let outcome = azure
        .provision(&wanted, &Records::new(records_dir.path()), &Consent::no())
        .await
        .unwrap();
    assert!(
        outcome.summary.hub.created,
        "the creation started before the restart"
    );
    assert_eq!(
        events.count(|p| matches!(p, Progress::CreatingHub { .. })),
        0,
        "no second create"
    );
    assert!(events.count(|p| matches!(p, Progress::HubProvisioning { .. })) >= 1);
    let hubs = sandbox.with_state(|s| {
        s.hubs
            .values()
            .filter(|h| h.resource_group == "contoso-iot")
            .map(|h| h.name.clone())
            .collect::<Vec<_>>()
    });
    assert_eq!(hubs, ["contoso-plant-hub", "resumed-hub"]);
    assert!(Records::new(records_dir.path())
        .pending()
        .unwrap()
        .is_empty());
    assert_delivers(&sandbox, &outcome.devices[0].connection_string).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_token_that_expires_during_a_long_creation_is_renewed() {
    let sandbox = start(SandboxConfig {
        access_token_lifetime: Duration::from_secs(2),
        hub_provisioning_time: Duration::from_secs(5),
        ..fast_config()
    });
    let refresh_tokens =
        || sandbox.with_state(|s| s.refresh_tokens.keys().cloned().collect::<Vec<_>>());
    let azure = session(&sandbox, &Events::default()).await;
    let after_sign_in = refresh_tokens();
    assert_eq!(after_sign_in.len(), 1);
    let records_dir = tempfile::tempdir().unwrap();
    let outcome = azure
        .provision(
            &request(PRODUCTION, "contoso-iot", "slow-hub"),
            &Records::new(records_dir.path()),
            &Consent::no(),
        )
        .await
        .unwrap();
    assert!(outcome.summary.hub.created);
    let now = refresh_tokens();
    assert_eq!(
        now.len(),
        1,
        "each renewal used up the previous refresh token"
    );
    assert_ne!(
        now, after_sign_in,
        "the session was renewed with its refresh token"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_policy_update_that_meets_a_stale_etag_reads_again_and_retries() {
    let sandbox = Arc::new(start(fast_config()));
    let events = Events::default();
    // Just before the first update is sent, someone else changes the hub (its etag moves on).
    let racing = {
        let (sandbox, events) = (sandbox.clone(), events.reporter());
        Arc::new(move |p: Progress| {
            if let Progress::UpdatingHub { attempt: 1, .. } = p {
                sandbox.with_state(|s| {
                    let etag = s.next_etag();
                    s.hubs.get_mut(EXISTING_HUB).unwrap().etag = etag;
                });
            }
            events(p)
        })
    };
    let azure = session_with(&sandbox, racing).await;
    let owner_before = sandbox
        .policy_connection_string(EXISTING_HUB, "iothubowner")
        .unwrap();
    let mut request = reuse(&[]);
    request.policy = Some("partner".into());
    let records_dir = tempfile::tempdir().unwrap();
    let outcome = azure
        .provision(&request, &Records::new(records_dir.path()), &Consent::no())
        .await
        .unwrap();

    assert!(outcome.policy.as_ref().unwrap().created);
    let updates: Vec<u32> = events
        .all()
        .into_iter()
        .filter_map(|p| match p {
            Progress::UpdatingHub { attempt, change, .. } => {
                assert_eq!(change, "Add the shared access policy 'partner' (RegistryRead, RegistryWrite, DeviceConnect).");
                Some(attempt)
            }
            _ => None,
        })
        .collect();
    assert_eq!(updates, [1, 2]);
    assert!(events.all().contains(&Progress::Retrying {
        reason: "The hub was changed by someone else meanwhile; reading it again.".into(),
        after_secs: 0,
    }));
    let names = sandbox.with_state(|s| {
        s.hubs[EXISTING_HUB]
            .policies
            .iter()
            .map(|p| p.key_name.clone())
            .collect::<Vec<_>>()
    });
    assert_eq!(
        names,
        [
            "iothubowner",
            "service",
            "device",
            "registryRead",
            "registryReadWrite",
            "partner"
        ]
    );
    assert_eq!(
        sandbox
            .policy_connection_string(EXISTING_HUB, "iothubowner")
            .unwrap()
            .expose()
            .as_str(),
        owner_before.expose().as_str()
    );
    let policy = &outcome.policy.unwrap();
    assert_eq!(
        policy.connection_string.expose().as_str(),
        sandbox
            .policy_connection_string(EXISTING_HUB, "partner")
            .unwrap()
            .expose()
            .as_str()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hub_closed_to_the_public_is_fixed_only_after_consent() {
    let sandbox = start(fast_config());
    sandbox.with_state(|s| {
        s.hubs
            .get_mut(EXISTING_HUB)
            .unwrap()
            .network
            .public_network_access = "Disabled".into()
    });
    let azure = session(&sandbox, &Events::default()).await;
    let records_dir = tempfile::tempdir().unwrap();
    let records = Records::new(records_dir.path());
    let request = reuse(&[EXISTING_DEVICE]);

    let plan = azure.plan(&request).await.unwrap();
    assert_eq!(
        plan.reachability.remaining,
        [ReachProblem::PublicNetworkAccessDisabled]
    );
    assert!(plan.to_text().contains(
        "  NOT FIXED       Public network access is disabled: only devices inside the company's \
         private network can connect, so the partner's devices will be refused. To fix it: \
         Enable public network access.\n"
    ));

    let declined = Consent::no();
    let error = azure
        .provision(&request, &records, &declined)
        .await
        .unwrap_err();
    assert_eq!(
        *declined.asked.lock().unwrap(),
        [vec![ReachProblem::PublicNetworkAccessDisabled]]
    );
    assert_eq!(
        error.to_string(),
        "The hub 'contoso-plant-hub' refused the connection: Public network access to this IoT hub \
         is disabled; only private endpoints may connect. Fix the hub's network or authentication \
         settings (IoT Hub Setup offers to), then try again."
    );
    let etag_before = sandbox.with_state(|s| s.hubs[EXISTING_HUB].etag.clone());
    assert_eq!(
        sandbox.with_state(|s| s.hubs[EXISTING_HUB].network.public_network_access.clone()),
        "Disabled"
    );
    assert_eq!(
        sandbox.with_state(|s| s.hubs[EXISTING_HUB].etag.clone()),
        etag_before,
        "nothing changed"
    );

    let outcome = azure
        .provision(&request, &records, &Consent::yes())
        .await
        .unwrap();
    assert_eq!(
        outcome.summary.reachability.fixed,
        [ReachProblem::PublicNetworkAccessDisabled]
    );
    assert!(outcome.summary.reachability.remaining.is_empty());
    assert!(outcome.summary.az_commands().contains(
        "\naz iot hub update --name contoso-plant-hub --resource-group contoso-iot --set properties.publicNetworkAccess=Enabled\n"
    ));
    assert_eq!(
        sandbox.with_state(|s| s.hubs[EXISTING_HUB].network.public_network_access.clone()),
        "Enabled"
    );
    assert_delivers(&sandbox, &outcome.devices[0].connection_string).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hub_without_device_keys_is_reported_and_fixed_only_after_consent() {
    let sandbox = start(fast_config());
    sandbox.with_state(|s| {
        s.hubs
            .get_mut(EXISTING_HUB)
            .unwrap()
            .network
            .disable_device_sas = true
    });
    let azure = session(&sandbox, &Events::default()).await;
    let records_dir = tempfile::tempdir().unwrap();
    let records = Records::new(records_dir.path());
    let request = reuse(&[EXISTING_DEVICE]);

    let declined = azure
        .provision(&request, &records, &Consent::no())
        .await
        .unwrap();
    assert_eq!(
        declined.summary.reachability.remaining,
        [ReachProblem::DeviceSasDisabled]
    );
    assert!(declined.summary.reachability.fixed.is_empty());
    assert!(
        sandbox.with_state(|s| s.hubs[EXISTING_HUB].network.disable_device_sas),
        "unchanged"
    );
    let cs = &declined.devices[0].connection_string;
    assert_eq!(
        send_d2c(&sandbox, cs, "{}").await,
        401,
        "the string does not work yet"
    );

    let agreed = azure
        .provision(&request, &records, &Consent::yes())
        .await
        .unwrap();
    assert_eq!(
        agreed.summary.reachability.fixed,
        [ReachProblem::DeviceSasDisabled]
    );
    assert!(!sandbox.with_state(|s| s.hubs[EXISTING_HUB].network.disable_device_sas));
    assert_eq!(
        agreed.devices[0].connection_string.expose().as_str(),
        cs.expose().as_str()
    );
    assert_delivers(&sandbox, cs).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unregistered_subscription_is_registered_only_after_consent() {
    let sandbox = start(fast_config());
    let events = Events::default();
    let azure = session(&sandbox, &events).await;
    let records_dir = tempfile::tempdir().unwrap();
    let records = Records::new(records_dir.path());
    let wanted = request(UNREGISTERED, "new-projects", "new-projects-hub");

    let plan = azure.plan(&wanted).await.unwrap();
    assert!(plan.registers_provider);
    assert!(plan
        .to_text()
        .contains("  Provider        Microsoft.Devices (to be registered)\n"));

    let error = azure
        .provision(&wanted, &records, &Consent::no())
        .await
        .unwrap_err();
    assert_eq!(
        error.to_string(),
        format!(
            "The subscription '{UNREGISTERED}' is not yet registered for IoT Hub (resource provider \
             Microsoft.Devices). Allow IoT Hub Setup to register it (a one-time step that costs \
             nothing), or run `az provider register --namespace Microsoft.Devices`."
        )
    );
    assert!(sandbox.with_state(|s| !s.subscription(UNREGISTERED).unwrap().registered));

    let outcome = azure
        .provision(&wanted, &records, &Consent::yes())
        .await
        .unwrap();
    assert!(outcome.summary.registers_provider && outcome.summary.resource_group.created);
    assert_eq!(
        events.count(|p| matches!(p, Progress::RegisteringProvider { subscription_id } if subscription_id == UNREGISTERED)),
        1
    );
    assert_delivers(&sandbox, &outcome.devices[0].connection_string).await;
}
