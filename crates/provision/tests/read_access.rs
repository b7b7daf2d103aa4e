//! Reading a hub's messages when signed in: the endpoint and a key that may read come from
//! ARM, and the app's own consumer group is created and deleted there.

mod common;

use std::time::Duration;

use common::{network, session, start, Events};
use hubsetup_events::{EventsError, Reader, StartAt};
use hubsetup_provision::{Error, OWN_CONSUMER_GROUP};
use hubsetup_sandbox::state::SUBSCRIPTION_PRODUCTION;
use hubsetup_sandbox::SandboxConfig;

const HUB: &str = "contoso-plant-hub";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_endpoint_and_a_reading_key_come_from_azure() {
    let sandbox = start(SandboxConfig::fast());
    let azure = session(&sandbox, &Events::default()).await;
    let hub = azure.find_hub(SUBSCRIPTION_PRODUCTION, HUB).await.unwrap();
    let address = azure.event_hub_address(&hub).await.unwrap();
    assert_eq!(
        address.host,
        format!("iothub-ns-{HUB}.servicebus.sandbox.test")
    );
    assert_eq!(address.entity, HUB);
    // The hub's "service" policy is preferred over the owner's.
    assert_eq!(address.policy, "service");
    let debug = format!("{address:?}");
    sandbox.with_state(|s| {
        for policy in &s.hubs[HUB].policies {
            assert!(!debug.contains(&policy.primary_key));
        }
    });

    // The app's own consumer group: created once, then read on, then deleted.
    azure
        .create_consumer_group(&hub, OWN_CONSUMER_GROUP)
        .await
        .unwrap();
    azure
        .create_consumer_group(&hub, OWN_CONSUMER_GROUP)
        .await
        .unwrap();
    let groups = azure.consumer_groups(&hub).await.unwrap();
    assert_eq!(
        groups.iter().filter(|g| *g == OWN_CONSUMER_GROUP).count(),
        1
    );
    let mut reader = tokio::time::timeout(
        Duration::from_secs(15),
        Reader::open(&network(&sandbox), &address, OWN_CONSUMER_GROUP),
    )
    .await
    .unwrap()
    .unwrap();
    let _events = reader.receive(StartAt::Latest).await.unwrap();
    reader.close().await;
    azure
        .delete_consumer_group(&hub, OWN_CONSUMER_GROUP)
        .await
        .unwrap();
    // Deleting one already gone is fine.
    azure
        .delete_consumer_group(&hub, OWN_CONSUMER_GROUP)
        .await
        .unwrap();
    assert!(!azure
        .consumer_groups(&hub)
        .await
        .unwrap()
        .contains(&OWN_CONSUMER_GROUP.to_owned()));
    let refused = azure
        .delete_consumer_group(&hub, "$Default")
        .await
        .unwrap_err();
    assert!(
        refused.to_string().contains("cannot be deleted"),
        "{refused}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hubs_that_cannot_be_read_with_a_key_say_why() {
    let sandbox = start(SandboxConfig::fast());
    let azure = session(&sandbox, &Events::default()).await;
    let hub = azure.find_hub(SUBSCRIPTION_PRODUCTION, HUB).await.unwrap();

    sandbox.with_state(|s| {
        s.hubs
            .get_mut(HUB)
            .unwrap()
            .policies
            .retain(|p| !p.rights.contains("ServiceConnect"))
    });
    let error = azure.event_hub_address(&hub).await.unwrap_err();
    assert!(
        matches!(&error, Error::Events(EventsError::NoPolicyCanRead { hub }) if hub == HUB),
        "{error:?}"
    );
    assert!(error.to_string().contains("Service connect"), "{error}");

    sandbox.with_state(|s| s.hubs.get_mut(HUB).unwrap().network.disable_local_auth = true);
    let error = azure.event_hub_address(&hub).await.unwrap_err();
    assert!(
        matches!(error, Error::Events(EventsError::LocalAuthDisabled)),
        "{error:?}"
    );
    assert_eq!(error.kind(), "events");
}
