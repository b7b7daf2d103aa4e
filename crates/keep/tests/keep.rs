//! Keeping the data against the sandbox's ARM: the account, container, identity, role and
//! routes as Azure would hold them, a repeat that changes nothing, and the refusals.

use hubsetup_keep::{find_stored, keep_data, AccountChoice, KeepData, KeepError};
use hubsetup_livetest::{Options, Verifier};
use hubsetup_net::Network;
use hubsetup_sandbox::{Sandbox, SandboxConfig};
use hubsetup_storage::routing::Encoding;
use hubsetup_testsupport::{copy_hub, signed_in as session};
use serde_json::Value;

const PRODUCTION: &str = "11111111-1111-4111-8111-111111111111";
const SHARED: &str = "66666666-6666-4666-8666-666666666666";
const HUB: &str = "contoso-plant-hub";
const DEVICE: &str = "io.microshare.contact.unpacked.event";

fn choice(account: AccountChoice, streams: &[&str]) -> KeepData {
    KeepData {
        account,
        container: "telemetry".into(),
        encoding: Encoding::Json,
        batch_seconds: 60,
        streams: streams.iter().map(|s| (*s).to_owned()).collect(),
        fix_firewall: false,
        retention_days: None,
    }
}

fn routing_of(sandbox: &Sandbox, hub: &str) -> Value {
    sandbox.with_state(|s| {
        s.hubs[hub]
            .other_properties
            .get("routing")
            .cloned()
            .unwrap_or(Value::Null)
    })
}

#[tokio::test(flavor = "multi_thread")]
async fn a_new_account_is_written_by_the_hubs_identity_and_a_repeat_changes_nothing() {
    let sandbox = Sandbox::start(SandboxConfig::fast()).unwrap();
    let azure = session(&sandbox).await;
    let hub = azure.find_hub(PRODUCTION, HUB).await.unwrap();
    let wanted = choice(
        AccountChoice::Create {
            name: "contosoplantdata".into(),
        },
        &[DEVICE],
    );

    let kept = keep_data(&azure, &hub, &wanted).await.unwrap();
    assert_eq!(kept.authentication, "identity");
    assert_eq!(
        kept.blob_endpoint,
        "https://contosoplantdata.blob.core.sandbox.test/"
    );
    assert_eq!(
        kept.routes,
        [format!("store-{DEVICE}"), "hubsetup-built-in".to_owned()]
    );
    let (account, assignments, identity) = sandbox.with_state(|s| {
        (
            s.storage_accounts["contosoplantdata"].clone(),
            s.role_assignments.clone(),
            s.hubs[HUB].identity.clone(),
        )
    });
    assert_eq!(
        (
            account.location.as_str(),
            account.sku.as_str(),
            account.kind.as_str()
        ),
        ("westeurope", "Standard_LRS", "StorageV2")
    );
    assert_eq!(account.settings["minimumTlsVersion"], "TLS1_2");
    assert_eq!(account.settings["allowBlobPublicAccess"], false);
    assert!(account.containers.contains_key("telemetry"));
    let principal = identity.unwrap()["principalId"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(assignments.len(), 1);
    assert_eq!(
        (
            assignments[0].principal_id.as_str(),
            assignments[0].role.as_str()
        ),
        (principal.as_str(), "ba92f5b4-2d11-453d-a403-e96b0029c9fe")
    );
    let routing = routing_of(&sandbox, HUB);
    let endpoint = &routing["endpoints"]["storageContainers"][0];
    assert_eq!(endpoint["authenticationType"], "identityBased");
    assert_eq!(
        endpoint["fileNameFormat"],
        format!("{DEVICE}/{{iothub}}/{{partition}}/{{YYYY}}/{{MM}}/{{DD}}/{{HH}}/{{mm}}")
    );

    let week = KeepData {
        retention_days: Some(7),
        ..wanted.clone()
    };
    keep_data(&azure, &hub, &week).await.unwrap();
    assert_eq!(sandbox.with_state(|s| s.hubs[HUB].retention_days), 7);
    let wanted = week;
    let etag = sandbox.with_state(|s| s.hubs[HUB].etag.clone());
    let again = keep_data(&azure, &hub, &wanted).await.unwrap();
    assert_eq!(again, kept);
    assert_eq!(
        sandbox.with_state(|s| (s.hubs[HUB].etag.clone(), s.role_assignments.len())),
        (etag, 1),
        "nothing sent twice"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn without_the_right_to_assign_roles_the_hub_writes_with_the_account_key() {
    let sandbox = Sandbox::start(SandboxConfig::fast()).unwrap();
    team_hub(&sandbox);
    let azure = session(&sandbox).await;
    let hub = azure.find_hub(SHARED, "team-hub").await.unwrap();
    let kept = keep_data(
        &azure,
        &hub,
        &choice(
            AccountChoice::Create {
                name: "teamdata".into(),
            },
            &[DEVICE],
        ),
    )
    .await
    .unwrap();
    assert_eq!(
        (
            kept.authentication.as_str(),
            kept.role_assignment.as_deref()
        ),
        ("key", None)
    );
    let key = sandbox.with_state(|s| s.storage_accounts["teamdata"].keys[0].clone());
    let routing = routing_of(&sandbox, "team-hub");
    let connection = routing["endpoints"]["storageContainers"][0]["connectionString"]
        .as_str()
        .unwrap();
    assert!(
        connection.contains(&format!("AccountKey={key}"))
            && connection.ends_with("EndpointSuffix=core.sandbox.test")
    );
    assert!(
        sandbox.with_state(|s| s.hubs["team-hub"].identity.is_none()),
        "no identity turned on for nothing"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_taken_name_and_the_free_tiers_limit_are_refused_before_anything_changes() {
    let sandbox = Sandbox::start(SandboxConfig::fast()).unwrap();
    let azure = session(&sandbox).await;
    let hub = azure.find_hub(PRODUCTION, HUB).await.unwrap();
    keep_data(
        &azure,
        &hub,
        &choice(
            AccountChoice::Create {
                name: "takenname".into(),
            },
            &[DEVICE],
        ),
    )
    .await
    .unwrap();
    sandbox.with_state(|s| {
        let mut free = s.hubs[HUB].clone();
        free.name = "free-hub".into();
        free.sku = "F1".into();
        free.identity = None;
        free.other_properties.remove("routing");
        s.hubs.insert("free-hub".into(), free);
    });
    let free = azure.find_hub(PRODUCTION, "free-hub").await.unwrap();
    let error = keep_data(
        &azure,
        &free,
        &choice(
            AccountChoice::Create {
                name: "Taken-Name".into(),
            },
            &[DEVICE],
        ),
    )
    .await
    .unwrap_err();
    assert_eq!(
        error.to_string(),
        "Taken-Name is not a valid storage account name. Storage account name must be between 3 and 24 characters in length and use numbers and lower-case letters only. Choose another name for the storage account."
    );
    let existing = AccountChoice::Existing {
        name: "takenname".into(),
        resource_group: "contoso-iot".into(),
    };
    let error = keep_data(&azure, &free, &choice(existing, &["a", "b"]))
        .await
        .unwrap_err();
    assert!(
        matches!(
            error,
            KeepError::Plan(hubsetup_storage::StorageError::TierLimit { fit: 1, .. })
        ),
        "{error}"
    );
    assert_eq!(
        routing_of(&sandbox, "free-hub"),
        Value::Null,
        "the free hub's routing is untouched"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_firewall_that_keeps_the_hub_out_is_fixed_only_with_consent() {
    let sandbox = Sandbox::start(SandboxConfig::fast()).unwrap();
    let azure = session(&sandbox).await;
    let hub = azure.find_hub(PRODUCTION, HUB).await.unwrap();
    let existing = AccountChoice::Existing {
        name: "walled".into(),
        resource_group: "contoso-iot".into(),
    };
    keep_data(
        &azure,
        &hub,
        &choice(
            AccountChoice::Create {
                name: "walled".into(),
            },
            &[DEVICE],
        ),
    )
    .await
    .unwrap();
    sandbox.with_state(|s| {
        let acls = serde_json::json!({ "defaultAction": "Deny", "bypass": "Logging", "ipRules": [{ "value": "203.0.113.0/24" }] });
        s.storage_accounts.get_mut("walled").unwrap().settings.insert("networkAcls".into(), acls);
    });
    let refused = keep_data(&azure, &hub, &choice(existing.clone(), &[DEVICE]))
        .await
        .unwrap_err();
    assert!(
        matches!(&refused, KeepError::Firewall(name) if name == "walled"),
        "{refused}"
    );
    assert!(refused.to_string().contains("--fix-storage-firewall"));
    assert_eq!(
        sandbox
            .with_state(|s| s.storage_accounts["walled"].settings["networkAcls"]["bypass"].clone()),
        "Logging"
    );

    let consent = KeepData {
        fix_firewall: true,
        ..choice(existing, &[DEVICE])
    };
    keep_data(&azure, &hub, &consent).await.unwrap();
    let acls = sandbox.with_state(|s| s.storage_accounts["walled"].settings["networkAcls"].clone());
    assert_eq!(acls["bypass"], "Logging, AzureServices");
    assert_eq!(
        acls["ipRules"][0]["value"], "203.0.113.0/24",
        "its own rules are kept"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_container_deleted_later_is_named_by_the_stored_stage_with_what_to_do() {
    let sandbox = Sandbox::start(SandboxConfig {
        // A 60-second batch is written after one second.
        routing_time_scale: 60,
        ..SandboxConfig::fast()
    })
    .unwrap();
    let azure = session(&sandbox).await;
    let hub = azure.find_hub(PRODUCTION, HUB).await.unwrap();
    let kept = keep_data(
        &azure,
        &hub,
        &choice(
            AccountChoice::Create {
                name: "plantdeleted".into(),
            },
            &[DEVICE],
        ),
    )
    .await
    .unwrap();
    // Someone deletes the container afterwards (here through ARM, as the portal does).
    azure
        .arm_request(
            reqwest::Method::DELETE,
            &format!(
                "{}/blobServices/default/containers/telemetry",
                kept.account_id
            ),
            "2025-08-01",
            None,
            PRODUCTION,
        )
        .await
        .unwrap();

    let device = sandbox.device_connection_string(HUB, DEVICE).unwrap();
    let network = Network::new(&sandbox.cloud(), None).unwrap();
    let report = Verifier::new(network, Options::default())
        .verify(&device)
        .await;
    assert!(report.accepted, "{:?}", report.failure);
    let refused = find_stored(
        &azure,
        &kept,
        DEVICE,
        report.message_id.as_deref().unwrap(),
        std::time::SystemTime::now(),
        // Far longer than the write takes: the stage ends at the hub's error, not here.
        std::time::Duration::from_secs(120),
        &|_| {},
    )
    .await
    .unwrap_err();
    assert!(matches!(refused, KeepError::NotWritten { .. }), "{refused}");
    assert_eq!(
        refused.to_string(),
        format!("The hub could not write the data of {DEVICE} into storage account 'plantdeleted': ContainerNotFound: The specified container does not exist. The container 'telemetry' no longer exists: run Keep the data again (it makes the container), or create it in the storage account.")
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn azure_policy_that_denies_the_accounts_settings_is_said_and_nothing_is_made() {
    const REGULATED: &str = "77777777-7777-4777-8777-777777777777";
    let sandbox = Sandbox::start(SandboxConfig::fast()).unwrap();
    // A hub in the group whose policies also demand storage firewalls that deny by default.
    copy_hub(&sandbox, HUB, "eu-hub", REGULATED, "regulated-eu");
    // The group's other policy requires the tag of every resource: the account gets the hub's.
    sandbox.with_state(|s| {
        s.hubs.get_mut("eu-hub").unwrap().tags = serde_json::json!({ "costCenter": "4711" })
    });
    let azure = session(&sandbox).await;
    let hub = azure.find_hub(REGULATED, "eu-hub").await.unwrap();
    let refused = keep_data(
        &azure,
        &hub,
        &choice(
            AccountChoice::Create {
                name: "eudata".into(),
            },
            &[DEVICE],
        ),
    )
    .await
    .unwrap_err();
    assert_eq!(
        refused.to_string(),
        "Azure Policy does not allow the storage account 'eudata' as IoT Hub Setup creates it: the assignment 'Storage accounts must restrict network access' requires a firewall that denies network access by default. Create the account with the settings the policy asks for (or ask your Azure administrators for an exemption), then choose it as an existing account; the hub writes to it as a trusted service."
    );
    assert!(
        sandbox.with_state(|s| !s.storage_accounts.contains_key("eudata")
            && s.hubs["eu-hub"].other_properties.get("routing").is_none()),
        "nothing made, the hub unchanged"
    );
}

/// The team's hub in the group where the admin is only Contributor (no right to assign roles).
fn team_hub(sandbox: &Sandbox) {
    copy_hub(sandbox, HUB, "team-hub", SHARED, "team-iot");
}

#[tokio::test(flavor = "multi_thread")]
async fn an_account_that_forbids_keys_is_refused_with_whom_to_ask_when_no_role_may_be_given() {
    let sandbox = Sandbox::start(SandboxConfig::fast()).unwrap();
    team_hub(&sandbox);
    let azure = session(&sandbox).await;
    let hub = azure.find_hub(SHARED, "team-hub").await.unwrap();
    keep_data(
        &azure,
        &hub,
        &choice(
            AccountChoice::Create {
                name: "teamkeys".into(),
            },
            &[DEVICE],
        ),
    )
    .await
    .unwrap();
    // Another account of the team's, whose owner turned shared keys off.
    sandbox.with_state(|s| {
        let mut account = s.storage_accounts["teamkeys"].clone();
        account.name = "teamnokeys".into();
        account
            .settings
            .insert("allowSharedKeyAccess".into(), serde_json::json!(false));
        s.storage_accounts.insert("teamnokeys".into(), account);
    });
    let before = routing_of(&sandbox, "team-hub");
    let existing = AccountChoice::Existing {
        name: "teamnokeys".into(),
        resource_group: "team-iot".into(),
    };
    let refused = keep_data(&azure, &hub, &choice(existing, &[DEVICE]))
        .await
        .unwrap_err();
    assert_eq!(
        refused.to_string(),
        "The storage account 'teamnokeys' does not allow its keys to be used, and you may not give the hub's identity a role on it. Ask an owner of the account for the role \"Role Based Access Control Administrator\" (or \"Owner\") there, or to allow key access."
    );
    assert_eq!(
        routing_of(&sandbox, "team-hub"),
        before,
        "the routes unchanged"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_reused_hubs_own_routes_survive_untouched_beside_ours() {
    let sandbox = Sandbox::start(SandboxConfig::fast()).unwrap();
    let azure = session(&sandbox).await;
    let hub = azure.find_hub(PRODUCTION, HUB).await.unwrap();
    let theirs = serde_json::json!({ "name": "alarms", "source": "DeviceMessages", "condition": "$body.alarm = true", "endpointNames": ["events"], "isEnabled": true });
    azure
        .change_hub(&hub, "the customer's own route", |body| {
            body["properties"]["routing"] = serde_json::json!({
                "routes": [theirs.clone()],
                "fallbackRoute": { "name": "$fallback", "source": "DeviceMessages", "condition": "true", "endpointNames": ["events"], "isEnabled": false },
            });
            true
        })
        .await
        .unwrap();
    let before = routing_of(&sandbox, HUB);

    let kept = keep_data(
        &azure,
        &hub,
        &choice(
            AccountChoice::Create {
                name: "reuseddata".into(),
            },
            &[DEVICE],
        ),
    )
    .await
    .unwrap();
    // Their route sends some messages only: ours to `events` still carries every message.
    assert_eq!(
        kept.routes,
        [format!("store-{DEVICE}"), "hubsetup-built-in".to_owned()]
    );
    let after = routing_of(&sandbox, HUB);
    assert_eq!(after["routes"][0], before["routes"][0], "theirs as it was");
    assert_eq!(after["fallbackRoute"], before["fallbackRoute"]);
    let names: Vec<&str> = after["routes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        ["alarms", &format!("store-{DEVICE}"), "hubsetup-built-in"]
    );
}
