//! Provisioning where an enterprise's Azure says no: a role on one resource group only, Azure
//! Policy's deny effect and a management lock. Each refusal is checked word for word, and
//! nothing is created half-way.

mod common;

use std::collections::BTreeMap;

use common::*;
use hubsetup_provision::{HubChoice, Records, Request, Tier, DEFAULT_DEVICE_ID};

const SHARED: &str = "66666666-6666-4666-8666-666666666666";
const REGULATED: &str = "77777777-7777-4777-8777-777777777777";

fn new_hub(subscription: &str, group: &str, name: &str, region: &str) -> Request {
    Request {
        subscription_id: subscription.into(),
        hub: HubChoice::New {
            resource_group: group.into(),
            create_resource_group: false,
            name: name.into(),
            region: region.into(),
            tier: Tier::S1,
            units: 1,
            tags: BTreeMap::new(),
        },
        devices: vec![DEFAULT_DEVICE_ID.into()],
        policy: None,
        consumer_group: None,
    }
}

async fn provision_error(
    sandbox: &hubsetup_sandbox::Sandbox,
    request: Request,
) -> hubsetup_provision::Error {
    let azure = session(sandbox, &Events::default()).await;
    let records = Records::new(tempfile::tempdir().unwrap().path().join("creations"));
    azure
        .provision(&request, &records, &Consent::yes())
        .await
        .unwrap_err()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn permissions_are_read_before_any_write() {
    let sandbox = start(fast_config());
    let azure = session(&sandbox, &Events::default()).await;
    let reader = azure
        .permissions(SHARED, Some("team-readonly"))
        .await
        .unwrap();
    let allowed: Vec<(&str, bool)> = reader
        .abilities
        .iter()
        .map(|a| (a.what.as_str(), a.allowed))
        .collect();
    assert_eq!(
        allowed,
        [
            ("create or change IoT hubs", false),
            ("create resource groups", false),
            ("read IoT hubs' access keys", false),
            ("create consumer groups", false),
            ("register the IoT Hub resource provider", false),
        ]
    );
    assert_eq!(
        reader.abilities[0].ask_for.as_deref(),
        Some("the Contributor role on the resource group 'team-readonly'")
    );
    assert_eq!(
        reader.abilities[1].ask_for.as_deref(),
        Some(format!("the Contributor role on the subscription '{SHARED}'").as_str())
    );
    let contributor = azure.permissions(SHARED, Some("team-iot")).await.unwrap();
    let allowed: Vec<bool> = contributor.abilities.iter().map(|a| a.allowed).collect();
    assert_eq!(allowed, [true, false, true, true, false]);

    let error = provision_error(
        &sandbox,
        new_hub(SHARED, "team-readonly", "reader-hub", "westeurope"),
    )
    .await;
    assert_eq!(
        error.to_string(),
        format!(
            "You may not create or change IoT hubs here: Azure refused the action \
             Microsoft.Devices/IotHubs/write on the resource group 'team-readonly' (scope \
             /subscriptions/{SHARED}/resourceGroups/team-readonly). Ask an owner of it (or of its \
             resource group or subscription) for the Contributor role there, or a custom role \
             that allows this action; or choose a place where you have that role."
        )
    );
    assert!(azure
        .hubs(SHARED)
        .await
        .unwrap()
        .iter()
        .all(|h| h.name != "reader-hub"));

    let mut new_group = new_hub(SHARED, "team-new", "new-group-hub", "westeurope");
    if let HubChoice::New {
        create_resource_group,
        ..
    } = &mut new_group.hub
    {
        *create_resource_group = true;
    }
    let error = provision_error(&sandbox, new_group).await;
    assert_eq!(error.kind(), "not_allowed");
    assert!(
        error
            .to_string()
            .starts_with("You may not create resource groups here"),
        "{error}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_role_on_the_group_alone_is_enough_to_create_a_hub() {
    let sandbox = start(fast_config());
    let azure = session(&sandbox, &Events::default()).await;
    let records = Records::new(tempfile::tempdir().unwrap().path().join("creations"));
    // The name cannot be checked without a role on the subscription: creating tells.
    let outcome = azure
        .provision(
            &new_hub(SHARED, "team-iot", "team-plant-hub", "westeurope"),
            &records,
            &Consent::yes(),
        )
        .await
        .unwrap();
    assert!(outcome.summary.hub.created);
    assert_delivers(&sandbox, &outcome.devices[0].connection_string).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn policy_denials_name_the_assignment_and_what_it_requires() {
    let sandbox = start(fast_config());
    let error = provision_error(
        &sandbox,
        new_hub(REGULATED, "regulated-eu", "us-hub", "East US"),
    )
    .await;
    assert_eq!(
        error.to_string(),
        "Azure Policy does not allow the hub 'us-hub': the assignment 'EU data residency: allowed \
         locations' requires hubs in westeurope, northeurope only. Choose one of these regions: \
         westeurope, northeurope."
    );
    assert_eq!(error.kind(), "policy_denied");

    let error = provision_error(
        &sandbox,
        new_hub(REGULATED, "regulated-private", "open-hub", "westeurope"),
    )
    .await;
    assert_eq!(
        error.to_string(),
        "Azure Policy does not allow the hub 'open-hub': the assignment 'IoT hubs must not be \
         reachable from the internet' requires IoT hubs without public network access. A partner \
         outside your network could not reach such a hub with a connection string, so IoT Hub \
         Setup does not create one. Ask your Azure administrators for a policy exemption for this \
         hub, or choose a resource group where the policy does not apply."
    );
    let error = provision_error(
        &sandbox,
        new_hub(REGULATED, "regulated-entra-only", "sas-hub", "westeurope"),
    )
    .await;
    assert!(
        error.to_string().starts_with(
            "Azure Policy does not allow the hub 'sas-hub': the assignment 'IoT hubs must use \
             Microsoft Entra ID only' requires IoT hubs with local (shared access key) \
             authentication turned off. Connection strings do not work on such a hub"
        ),
        "{error}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_required_tag_is_inherited_from_the_resource_group() {
    let sandbox = start(fast_config());
    let azure = session(&sandbox, &Events::default()).await;
    let records = Records::new(tempfile::tempdir().unwrap().path().join("creations"));
    let outcome = azure
        .provision(
            &new_hub(REGULATED, "regulated-eu", "eu-plant-hub", "westeurope"),
            &records,
            &Consent::yes(),
        )
        .await
        .unwrap();
    assert_eq!(
        outcome
            .summary
            .resource_group
            .tags
            .get("costCenter")
            .map(String::as_str),
        Some("4711")
    );
    assert!(outcome.summary.hub.created);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lock_is_named_with_its_note() {
    let sandbox = start(fast_config());
    let error = provision_error(
        &sandbox,
        new_hub(DEV, "contoso-locked", "frozen-hub", "northeurope"),
    )
    .await;
    assert_eq!(
        error.to_string(),
        "Azure refused the change because the resource group 'contoso-locked' is locked by a \
         ReadOnly lock 'freeze-for-audit' (\"Frozen for the annual audit until 31 January 2027. \
         Ask platform@contoso.example.\"). Ask its owner to remove the lock, or choose another \
         resource group."
    );
    assert_eq!(error.kind(), "locked");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_claims_challenge_leads_to_a_new_sign_in_not_an_error() {
    use hubsetup_identity::{SignInMethod, SignInProgress};
    use hubsetup_provision::Progress;
    let sandbox = start(fast_config());
    let events = Events::default();
    let azure = session(&sandbox, &events).await;
    let records = Records::new(tempfile::tempdir().unwrap().path().join("creations"));
    let outcome = azure
        .provision(
            &new_hub(DEV, "contoso-sensitive", "sensitive-hub", "northeurope"),
            &records,
            &Consent::yes(),
        )
        .await
        .unwrap();
    assert!(outcome.summary.hub.created);
    let all = events.all();
    let asked = all
        .iter()
        .position(|p| {
            *p == Progress::SignIn(SignInProgress::MoreProofNeeded {
                method: SignInMethod::DeviceCode,
            })
        })
        .expect("the person is told why they sign in again");
    assert!(
        matches!(
            all[asked + 1],
            Progress::SignIn(SignInProgress::DeviceCode { .. })
        ),
        "{all:?}"
    );
    assert_eq!(
        all[asked + 2],
        Progress::SignIn(SignInProgress::SignedIn {
            method: SignInMethod::DeviceCode
        })
    );
    assert_eq!(
        all.iter()
            .filter(|p| matches!(p, Progress::SignIn(SignInProgress::MoreProofNeeded { .. })))
            .count(),
        1,
        "one step-up serves the rest of the session"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_existing_hub_is_described_by_what_azure_says_of_it() {
    let sandbox = start(hubsetup_sandbox::SandboxConfig {
        daily_message_quota: Some(10),
        ..fast_config()
    });
    let azure = session(&sandbox, &Events::default()).await;
    let plant = azure.find_hub(PRODUCTION, EXISTING_HUB).await.unwrap();
    let device = sandbox
        .device_connection_string(EXISTING_HUB, EXISTING_DEVICE)
        .unwrap();
    for _ in 0..9 {
        assert_eq!(send_d2c(&sandbox, &device, "{}").await, 204);
    }
    let facts = azure.hub_facts(&plant).await.unwrap();
    assert_eq!(
        facts.lines,
        [
            "1 device (1 enabled)",
            "9 of 10 messages used today (90%); the count starts again at midnight UTC",
            "It may move to S2, S3",
            "Consumer groups: $Default, stream-analytics-prod",
        ]
    );
    assert!(facts
        .quota_warning
        .unwrap()
        .starts_with("The hub has used 9 of its 10 messages today"));

    let free = azure.find_hub(DEV, "contoso-dev-free").await.unwrap();
    let facts = azure.hub_facts(&free).await.unwrap();
    assert!(facts.tiers_allowed.is_empty());
    assert_eq!(
        facts.lines[2],
        "Its tier cannot be changed (a free hub stays free)"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_modify_policy_that_makes_hubs_private_is_named_and_not_fought() {
    let sandbox = start(fast_config());
    let azure = session(&sandbox, &Events::default()).await;
    let records = Records::new(tempfile::tempdir().unwrap().path().join("creations"));
    let consent = Consent::yes();
    let error = azure
        .provision(
            &new_hub(
                REGULATED,
                "regulated-modify",
                "made-private-hub",
                "westeurope",
            ),
            &records,
            &consent,
        )
        .await
        .unwrap_err();
    assert_eq!(
        error.to_string(),
        "Public network access is disabled: only devices inside the company's private network \
         can connect, so the partner's devices will be refused. Azure Policy 'IoT hubs are made \
         private' keeps it so and would undo a change, so neither IoT Hub Setup nor the partner \
         can use the hub 'made-private-hub' with a connection string. Ask your Azure \
         administrators for a policy exemption for this hub (it exists and is left as it is), or \
         choose a resource group where the policy does not apply."
    );
    assert!(
        consent.asked.lock().unwrap().is_empty(),
        "no fix is offered that the policy would undo"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn policy_requirements_are_read_before_creating() {
    let sandbox = start(fast_config());
    let azure = session(&sandbox, &Events::default()).await;
    let eu = azure.policy_requirements(REGULATED, "regulated-eu").await;
    assert_eq!(
        eu.allowed_regions.as_deref(),
        Some(["westeurope".to_owned(), "northeurope".to_owned()].as_slice())
    );
    assert_eq!(
        eu.regions_policy.as_deref(),
        Some("EU data residency: allowed locations")
    );
    assert_eq!(
        eu.required_tags,
        [hubsetup_provision::RequiredTag {
            name: "costCenter".into(),
            policy: "Every resource needs a costCenter tag".into()
        }]
    );
    assert_eq!(
        azure.policy_requirements(PRODUCTION, "contoso-iot").await,
        hubsetup_provision::PolicyRequirements::default()
    );
}
