//! End-to-end provisioning against the sandbox: new and reused hubs, devices and the policy,
//! refusals with their exact messages, retries, restarts and consent to network fixes.

mod common;

use common::*;
use hubsetup_provision::{
    ConsumerGroupSummary, HubChoice, Progress, Records, Request, Tier, DEFAULT_DEVICE_ID,
    DEFAULT_POLICY_NAME, OWN_CONSUMER_GROUP,
};
use hubsetup_sandbox::{Fault, FaultRule};

fn new_hub(subscription: &str, group: &str, name: &str, tier: Tier) -> Request {
    Request {
        subscription_id: subscription.into(),
        hub: HubChoice::New {
            resource_group: group.into(),
            create_resource_group: true,
            name: name.into(),
            region: "West Europe".into(),
            tier,
            units: 1,
            tags: Default::default(),
        },
        devices: vec![
            DEFAULT_DEVICE_ID.into(),
            "io.microshare.feedback.unpacked".into(),
        ],
        policy: Some(DEFAULT_POLICY_NAME.into()),
        consumer_group: Some(OWN_CONSUMER_GROUP.into()),
    }
}

fn reuse(name: &str, devices: &[&str], policy: Option<&str>) -> Request {
    Request {
        subscription_id: PRODUCTION.into(),
        hub: HubChoice::Existing { name: name.into() },
        devices: devices.iter().map(|d| d.to_string()).collect(),
        policy: policy.map(str::to_owned),
        consumer_group: Some(OWN_CONSUMER_GROUP.into()),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_s1_hub_with_two_devices_and_the_policy() {
    let sandbox = start(fast_config());
    let events = Events::default();
    let azure = session(&sandbox, &events).await;
    let records_dir = tempfile::tempdir().unwrap();
    let records = Records::new(records_dir.path());
    let request = new_hub(PRODUCTION, "plant-iot", "plant-7-hub", Tier::S1);

    let plan = azure.plan(&request).await.unwrap();
    assert!(plan.planned && plan.hub.created && plan.resource_group.created);
    assert!(
        sandbox.with_state(|s| !s.hubs.contains_key("plant-7-hub")),
        "a plan creates nothing"
    );

    let outcome = azure
        .provision(&request, &records, &Consent::no())
        .await
        .unwrap();
    let summary = &outcome.summary;
    assert_eq!(
        summary.hub.id,
        format!("/subscriptions/{PRODUCTION}/resourceGroups/plant-iot/providers/Microsoft.Devices/IotHubs/plant-7-hub")
    );
    assert_eq!(
        (
            summary.hub.tier.as_str(),
            summary.hub.units,
            summary.hub.created
        ),
        ("S1", 1, true)
    );
    assert_eq!(summary.hub.location, "westeurope");
    assert!(summary.resource_group.created);
    assert_eq!(
        summary
            .devices
            .iter()
            .filter(|d| d.created && d.enabled)
            .count(),
        2
    );
    let policy = outcome.policy.as_ref().unwrap();
    assert_eq!(
        policy.summary().rights,
        "RegistryRead, RegistryWrite, DeviceConnect"
    );
    assert!(records.pending().unwrap().is_empty());
    assert_eq!(
        events.count(|p| matches!(p, Progress::CreatingHub { .. })),
        1
    );

    for device in &outcome.devices {
        assert_eq!(
            device.connection_string.host_name(),
            sandbox.hub_host("plant-7-hub")
        );
        assert_delivers(&sandbox, &device.connection_string).await;
    }
    assert_eq!(
        policy.connection_string.expose().as_str(),
        sandbox
            .policy_connection_string("plant-7-hub", DEFAULT_POLICY_NAME)
            .unwrap()
            .expose()
            .as_str()
    );
    let policy_rights = sandbox.with_state(|s| {
        s.hubs["plant-7-hub"]
            .policy(DEFAULT_POLICY_NAME)
            .unwrap()
            .rights
            .clone()
    });
    assert_eq!(policy_rights, "RegistryRead, RegistryWrite, DeviceConnect");

    let secrets: Vec<_> = outcome
        .devices
        .iter()
        .map(|d| &d.connection_string)
        .chain([&policy.connection_string])
        .collect();
    let printed = format!(
        "{}{}{}{}{:?}{:?}",
        summary.to_text(),
        serde_json::to_string(summary).unwrap(),
        summary.az_commands(),
        summary.arm_template(),
        outcome,
        events.all()
    );
    assert_no_secret(&printed, &secrets);
    assert!(summary.az_commands().contains(
        "\naz iot hub create --name plant-7-hub --resource-group plant-iot --location westeurope --sku S1 --unit 1\n"
    ));

    // The consumer group for watching: planned, created, and in every record of the setup.
    let created_group = Some(ConsumerGroupSummary {
        name: OWN_CONSUMER_GROUP.into(),
        created: true,
    });
    assert_eq!(plan.consumer_group, created_group);
    assert_eq!(summary.consumer_group, created_group);
    assert!(sandbox.with_state(|s| s.hubs["plant-7-hub"]
        .consumer_groups
        .contains(&OWN_CONSUMER_GROUP.to_owned())));
    assert!(summary
        .to_text()
        .contains("Consumer group  hubsetup-watch, for reading the hub's messages (created)"));
    assert!(summary.az_commands().contains(
        "\naz iot hub consumer-group create --hub-name plant-7-hub --resource-group plant-iot --name hubsetup-watch\n"
    ));
    let template = summary.arm_template();
    let group_resource = &template["resources"][1];
    assert_eq!(
        group_resource["type"],
        "Microsoft.Devices/IotHubs/eventHubEndpoints/ConsumerGroups"
    );
    assert_eq!(
        group_resource["name"],
        "[concat(parameters('hubName'), '/events/hubsetup-watch')]"
    );
    assert_eq!(
        group_resource["dependsOn"][0],
        "[resourceId('Microsoft.Devices/IotHubs', parameters('hubName'))]"
    );

    // Provisioning again reuses it.
    let again = azure
        .provision(&request, &records, &Consent::no())
        .await
        .unwrap();
    assert_eq!(again.summary.consumer_group.map(|g| g.created), Some(false));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_existing_hub_and_device_are_reused_with_their_keys() {
    let sandbox = start(fast_config());
    let azure = session(&sandbox, &Events::default()).await;
    let device_before = sandbox
        .device_connection_string(EXISTING_HUB, EXISTING_DEVICE)
        .unwrap();
    let owner_before = sandbox
        .policy_connection_string(EXISTING_HUB, "iothubowner")
        .unwrap();
    let records_dir = tempfile::tempdir().unwrap();
    let request = reuse(EXISTING_HUB, &[EXISTING_DEVICE, "line-2"], Some("partner"));

    let plan = azure.plan(&request).await.unwrap();
    assert!(!plan.hub.created);
    assert_eq!(
        plan.devices
            .iter()
            .map(|d| (d.device_id.as_str(), d.created))
            .collect::<Vec<_>>(),
        [(EXISTING_DEVICE, false), ("line-2", true)]
    );

    let outcome = azure
        .provision(&request, &Records::new(records_dir.path()), &Consent::no())
        .await
        .unwrap();
    assert!(!outcome.summary.hub.created && !outcome.summary.resource_group.created);
    assert_eq!(outcome.summary.resource_group.name, "contoso-iot");
    let reused = &outcome.devices[0];
    assert!(!reused.created);
    assert_eq!(
        reused.connection_string.expose().as_str(),
        device_before.expose().as_str()
    );
    assert_eq!(
        sandbox
            .device_connection_string(EXISTING_HUB, EXISTING_DEVICE)
            .unwrap()
            .expose()
            .as_str(),
        device_before.expose().as_str(),
        "keys unchanged"
    );
    assert!(outcome.devices[1].created);
    assert_eq!(
        sandbox
            .policy_connection_string(EXISTING_HUB, "iothubowner")
            .unwrap()
            .expose()
            .as_str(),
        owner_before.expose().as_str(),
        "adding the policy re-keyed no other policy"
    );
    for device in &outcome.devices {
        assert_delivers(&sandbox, &device.connection_string).await;
    }

    // A second run reuses everything, the policy included.
    let again = azure
        .provision(&request, &Records::new(records_dir.path()), &Consent::no())
        .await
        .unwrap();
    assert!(again.devices.iter().all(|d| !d.created));
    assert!(!again.policy.unwrap().created);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn taken_invalid_and_second_free_hubs_are_refused_with_the_way_out() {
    let sandbox = start(fast_config());
    let azure = session(&sandbox, &Events::default()).await;
    let records_dir = tempfile::tempdir().unwrap();
    let records = Records::new(records_dir.path());

    let taken = azure.check_hub_name(PRODUCTION, "my-hub").await.unwrap();
    assert_eq!(
        taken.reason.as_deref(),
        Some("Another hub already has this name (hub names are unique across all of Azure).")
    );
    assert!(
        azure
            .check_hub_name(PRODUCTION, "plant-7-hub")
            .await
            .unwrap()
            .available
    );
    assert_eq!(
        azure.check_hub_name(PRODUCTION, "my_hub").await.unwrap().reason.as_deref(),
        Some("The hub name contains '_' at position 3, which Azure does not allow. Use only letters, digits and hyphens.")
    );

    let request = new_hub(PRODUCTION, "contoso-iot", "my-hub", Tier::S1);
    let message =
        "The hub name 'my-hub' cannot be used. Another hub already has this name (hub names \
                   are unique across all of Azure). Choose another name.";
    assert_eq!(azure.plan(&request).await.unwrap_err().to_string(), message);
    assert_eq!(
        azure
            .provision(&request, &records, &Consent::no())
            .await
            .unwrap_err()
            .to_string(),
        message
    );

    let invalid = new_hub(PRODUCTION, "contoso-iot", "-plant", Tier::S1);
    assert_eq!(
        azure
            .provision(&invalid, &records, &Consent::no())
            .await
            .unwrap_err()
            .to_string(),
        "The hub name starts with a hyphen; it must start with a letter or digit."
    );

    let free = new_hub(DEV, "contoso-dev", "dev-free-2", Tier::F1);
    let error = azure
        .provision(&free, &records, &Consent::no())
        .await
        .unwrap_err();
    assert_eq!(error.kind(), "free_hub_limit");
    assert_eq!(
        error.to_string(),
        "The subscription already has its one free (F1) hub, 'contoso-dev-free' (resource group \
         contoso-dev); Azure allows only one per subscription. Reuse that hub, choose a paid tier \
         (S1 suits most installations under 1,000 devices; B1 if devices only send data), or use \
         another subscription."
    );
    assert_eq!(
        azure.plan(&free).await.unwrap_err().kind(),
        "free_hub_limit"
    );
    assert!(sandbox.with_state(|s| !s.hubs.contains_key("dev-free-2")));
    assert!(records.pending().unwrap().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn throttling_and_outages_during_creation_are_waited_out() {
    let sandbox = std::sync::Arc::new(start(fast_config()));
    let management = format!("management.{}", sandbox.config().suffix);
    let hub_path = format!("/subscriptions/{PRODUCTION}/resourceGroups/contoso-iot/providers/Microsoft.Devices/IotHubs/busy-hub");
    let status = |status, path: &str| FaultRule {
        host: management.clone(),
        path_prefix: Some(path.to_owned()),
        fault: Fault::Status {
            status,
            count: 1,
            retry_after_secs: Some(1),
        },
    };
    // The first read of the hub is throttled; the create request meets an outage (injected
    // as it is about to be sent); the first status poll is throttled, then dropped.
    sandbox.inject(status(429, &hub_path));
    let events = Events::default();
    let on_create = {
        let (sandbox, events, rule) = (sandbox.clone(), events.reporter(), status(503, &hub_path));
        let once = std::sync::Once::new();
        std::sync::Arc::new(move |p: Progress| {
            if matches!(p, Progress::CreatingHub { .. }) {
                once.call_once(|| sandbox.inject(rule.clone()));
            }
            events(p)
        })
    };
    let polls = format!("/subscriptions/{PRODUCTION}/providers/Microsoft.Devices/locations/");
    sandbox.inject(status(503, &polls));
    sandbox.inject(FaultRule {
        host: management.clone(),
        path_prefix: Some(polls.clone()),
        fault: Fault::DropConnection { count: 1 },
    });
    let azure = session_with(&sandbox, on_create).await;
    let records_dir = tempfile::tempdir().unwrap();
    let mut request = new_hub(PRODUCTION, "contoso-iot", "busy-hub", Tier::S1);
    request.policy = None;

    let outcome = azure
        .provision(&request, &Records::new(records_dir.path()), &Consent::no())
        .await
        .unwrap();
    assert!(outcome.summary.hub.created);
    assert_eq!(
        events.count(|p| matches!(p, Progress::CreatingHub { .. })),
        2,
        "{:?}",
        events.all()
    );
    let waits: Vec<String> = events
        .all()
        .into_iter()
        .filter_map(|p| match p {
            Progress::Retrying {
                reason,
                after_secs: 1,
            } => Some(reason),
            _ => None,
        })
        .collect();
    assert!(
        waits.contains(&format!("{management} asked to slow down.")),
        "{waits:?}"
    );
    assert!(
        waits.contains(
            &"Azure is busy (HTTP 503); checking the hub before asking again.".to_owned()
        ),
        "{waits:?}"
    );
    assert!(
        waits.contains(&format!("{management} is busy (HTTP 503).")),
        "{waits:?}"
    );
    assert_eq!(
        sandbox.with_state(|s| s.hubs.keys().filter(|k| k.starts_with("busy-hub")).count()),
        1
    );
    assert_delivers(&sandbox, &outcome.devices[0].connection_string).await;
}
