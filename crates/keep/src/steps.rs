//! The steps, in order; see the crate documentation.

use hubsetup_core::rbac::Grant;
use hubsetup_provision::{Azure, Error, HubInfo};
use hubsetup_storage::routing::{self, Authentication, Encoding, StoragePlan};
use reqwest::Method;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use ts_rs::TS;
use zeroize::Zeroizing;

use crate::KeepError;

pub(crate) const STORAGE_API: &str = "2025-08-01";
const AUTHORIZATION_API: &str = "2022-04-01";
/// Storage Blob Data Contributor: write blobs, nothing else.
const BLOB_DATA_CONTRIBUTOR: &str = "ba92f5b4-2d11-453d-a403-e96b0029c9fe";
const DEFAULT_CHUNK_BYTES: u64 = 314_572_800;

/// The storage account the data goes to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AccountChoice {
    /// A new account in the hub's resource group and region.
    Create { name: String },
    /// One the admin has, in any resource group of the hub's subscription.
    Existing {
        name: String,
        resource_group: String,
    },
}

/// What the admin chose.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeepData {
    pub account: AccountChoice,
    pub container: String,
    pub encoding: Encoding,
    pub batch_seconds: u32,
    /// The data streams (device IDs) to keep, each in its own folder.
    pub streams: Vec<String>,
    /// Consent to let Azure's trusted services through the account's firewall, when it keeps
    /// the hub out.
    pub fix_firewall: bool,
    /// How many days the built-in endpoint keeps messages (1 to 7 on paid tiers; Free keeps 1).
    pub retention_days: Option<u32>,
}

/// What was set up, for the summary and the records.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct KeptData {
    pub hub: String,
    /// The hub's resource ID.
    pub hub_id: String,
    pub account: String,
    pub account_id: String,
    pub resource_group: String,
    pub location: String,
    pub container: String,
    /// `JSON` or `Avro`.
    pub encoding: String,
    pub batch_seconds: u32,
    /// The data streams, each with its endpoint and route (named after it).
    pub streams: Vec<String>,
    /// `https://{account}.blob.{suffix}/`
    pub blob_endpoint: String,
    /// `identity` (the hub's managed identity with a data role) or `key`.
    pub authentication: String,
    /// The role assignment's resource id, when the hub writes as its identity.
    pub role_assignment: Option<String>,
    pub endpoints: Vec<String>,
    pub routes: Vec<String>,
}

/// Whether a name can be a new storage account's.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, TS)]
#[ts(export, rename = "StorageNameCheck")]
pub struct NameCheck {
    pub available: bool,
    /// Azure's words when it is not.
    pub message: Option<String>,
}

/// Azure's check of a new storage account name (`Microsoft.Storage/checkNameAvailability`).
pub async fn check_account_name(
    azure: &Azure,
    subscription: &str,
    name: &str,
) -> Result<NameCheck, KeepError> {
    let reply = azure
        .arm_request(
            Method::POST,
            &format!(
                "/subscriptions/{subscription}/providers/Microsoft.Storage/checkNameAvailability"
            ),
            STORAGE_API,
            Some(&json!({ "name": name, "type": "Microsoft.Storage/storageAccounts" })),
            subscription,
        )
        .await?;
    Ok(NameCheck {
        available: reply
            .body
            .get("nameAvailable")
            .and_then(Value::as_bool)
            .unwrap_or(false),
        message: reply
            .body
            .get("message")
            .and_then(Value::as_str)
            .map(str::to_owned),
    })
}

/// Sets up the storage and the routes for `hub`; each step reads before it writes.
pub async fn keep_data(
    azure: &Azure,
    hub: &HubInfo,
    choice: &KeepData,
) -> Result<KeptData, KeepError> {
    let sub = &hub.subscription_id;
    if let Some(days) = choice.retention_days {
        let (most, longest) = if hub.sku.eq_ignore_ascii_case("F1") {
            (1, "1 day")
        } else {
            (7, "7 days")
        };
        if !(1..=most).contains(&days) {
            return Err(KeepError::Retention {
                days,
                tier: hub.sku.clone(),
                longest,
            });
        }
    }
    // The tier's limits are said before anything is made.
    let current = azure.hub_resource(hub).await?;
    let placeholder = Authentication::Key {
        connection_string: String::new(),
    };
    let planned = routing::apply(
        current
            .pointer("/properties/routing")
            .unwrap_or(&Value::Null),
        &plan_of(choice, placeholder),
        &hub.sku,
    )?;
    // Our route to `events` is added only where the hub has none of its own.
    let adds_built_in_route = planned["routes"]
        .as_array()
        .is_some_and(|r| r.iter().any(|r| r["name"] == routing::BUILT_IN_ROUTE));
    let (name, group) = match &choice.account {
        AccountChoice::Create { name } => (name.clone(), hub.resource_group.clone()),
        AccountChoice::Existing {
            name,
            resource_group,
        } => (name.clone(), resource_group.clone()),
    };
    let account_id = format!("/subscriptions/{sub}/resourceGroups/{group}/providers/Microsoft.Storage/storageAccounts/{name}");
    let account = match existing_account(azure, sub, &account_id).await? {
        Some(account) => account,
        None => create_account(azure, hub, &name, &account_id, &current["tags"]).await?,
    };
    azure
        .arm_request(
            Method::PUT,
            &format!(
                "{account_id}/blobServices/default/containers/{}",
                choice.container
            ),
            STORAGE_API,
            Some(&json!({ "properties": { "publicAccess": "None" } })),
            sub,
        )
        .await?;
    let blob_endpoint = account
        .pointer("/properties/primaryEndpoints/blob")
        .and_then(Value::as_str)
        .map(str::to_owned)
        .unwrap_or_else(|| format!("https://{}/", azure.cloud().blob_host(&name)));
    let may_assign = may_assign_roles(azure, sub, &account_id).await?;
    if firewall_keeps_hub_out(&account) {
        if !may_assign {
            return Err(KeepError::FirewallWithKeys(name));
        }
        if !choice.fix_firewall {
            return Err(KeepError::Firewall(name));
        }
        admit_trusted_services(azure, sub, &account_id, &account).await?;
    }
    let (authentication, role_assignment) = if may_assign {
        let assignment = give_hub_a_data_role(azure, hub, &account_id).await?;
        (
            Authentication::Identity {
                endpoint_uri: blob_endpoint.clone(),
            },
            Some(assignment),
        )
    } else {
        let shared_keys = account
            .pointer("/properties/allowSharedKeyAccess")
            .and_then(Value::as_bool)
            .unwrap_or(true);
        if !shared_keys {
            return Err(KeepError::SharedKeysForbidden(name));
        }
        let key = account_key(azure, sub, &account_id).await?;
        let connection_string = format!(
            "DefaultEndpointsProtocol=https;AccountName={name};AccountKey={};EndpointSuffix={}",
            key.as_str(),
            azure.cloud().storage_suffix
        );
        (Authentication::Key { connection_string }, None)
    };
    let plan = plan_of(choice, authentication);
    // Applied to the hub as it is when the change is sent (its etag guards the rest).
    azure
        .change_hub(
            hub,
            "routes to storage and the built-in endpoint's retention",
            |body| {
                let before = body
                    .pointer("/properties/routing")
                    .cloned()
                    .unwrap_or(Value::Null);
                let mut changed = match routing::apply(&before, &plan, &hub.sku) {
                    Ok(after) if after != before => {
                        body["properties"]["routing"] = after;
                        true
                    }
                    _ => false,
                };
                let retention = "/properties/eventHubEndpoints/events/retentionTimeInDays";
                if let Some(days) = choice.retention_days {
                    if body.pointer(retention).and_then(Value::as_u64) != Some(u64::from(days)) {
                        body["properties"]["eventHubEndpoints"]["events"]["retentionTimeInDays"] =
                            json!(days);
                        changed = true;
                    }
                }
                changed
            },
        )
        .await?;
    Ok(KeptData {
        hub: hub.name.clone(),
        hub_id: hub.id.clone(),
        location: account
            .get("location")
            .and_then(Value::as_str)
            .unwrap_or(&hub.location)
            .to_owned(),
        account: name,
        account_id,
        resource_group: group,
        container: choice.container.clone(),
        encoding: match choice.encoding {
            Encoding::Json => "JSON",
            Encoding::Avro => "Avro",
        }
        .to_owned(),
        batch_seconds: choice.batch_seconds,
        streams: choice.streams.clone(),
        blob_endpoint,
        authentication: if role_assignment.is_some() {
            "identity"
        } else {
            "key"
        }
        .to_owned(),
        role_assignment,
        endpoints: choice
            .streams
            .iter()
            .map(|s| routing::endpoint_name(s))
            .collect(),
        routes: choice
            .streams
            .iter()
            .map(|s| routing::route_name(s))
            .chain(adds_built_in_route.then(|| routing::BUILT_IN_ROUTE.to_owned()))
            .collect(),
    })
}

/// Whether the account's firewall denies by default without letting Azure's trusted services
/// (IoT Hub among them, when it signs in as its identity) through.
pub(crate) fn firewall_keeps_hub_out(account: &Value) -> bool {
    let acls = account.pointer("/properties/networkAcls");
    let text = |key: &str| {
        acls.and_then(|a| a.get(key))
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned()
    };
    text("defaultAction").eq_ignore_ascii_case("Deny")
        && !text("bypass")
            .split(',')
            .any(|b| b.trim().eq_ignore_ascii_case("AzureServices"))
}

/// Adds the trusted-services exception to the account's firewall, keeping its rules.
async fn admit_trusted_services(
    azure: &Azure,
    sub: &str,
    account_id: &str,
    account: &Value,
) -> Result<(), KeepError> {
    let mut acls = account
        .pointer("/properties/networkAcls")
        .cloned()
        .unwrap_or_else(|| json!({}));
    let bypass = acls
        .get("bypass")
        .and_then(Value::as_str)
        .filter(|b| !b.is_empty() && !b.eq_ignore_ascii_case("None"));
    acls["bypass"] = json!(match bypass {
        Some(existing) => format!("{existing}, AzureServices"),
        None => "AzureServices".to_owned(),
    });
    azure
        .arm_request(
            Method::PATCH,
            account_id,
            STORAGE_API,
            Some(&json!({ "properties": { "networkAcls": acls } })),
            sub,
        )
        .await?;
    Ok(())
}

fn plan_of(choice: &KeepData, authentication: Authentication) -> StoragePlan {
    StoragePlan {
        container: choice.container.clone(),
        encoding: choice.encoding,
        batch_seconds: choice.batch_seconds,
        chunk_bytes: DEFAULT_CHUNK_BYTES,
        authentication,
        streams: choice.streams.clone(),
    }
}

async fn existing_account(
    azure: &Azure,
    sub: &str,
    account_id: &str,
) -> Result<Option<Value>, KeepError> {
    match azure
        .arm_request(Method::GET, account_id, STORAGE_API, None, sub)
        .await
    {
        Ok(reply) => Ok(Some(reply.body)),
        Err(Error::Azure { status: 404, .. }) => Ok(None),
        Err(other) => Err(other.into()),
    }
}

/// Creates the account with the hub's tags (its cost center, owner …, which Azure Policy often
/// requires of every resource).
async fn create_account(
    azure: &Azure,
    hub: &HubInfo,
    name: &str,
    account_id: &str,
    tags: &Value,
) -> Result<Value, KeepError> {
    let sub = &hub.subscription_id;
    match check_account_name(azure, sub, name).await {
        Ok(check) if !check.available => {
            return Err(KeepError::AccountName {
                message: check
                    .message
                    .unwrap_or_else(|| format!("The name {name} cannot be used.")),
            })
        }
        Ok(_) => {}
        // An admin with rights on a resource group only may not ask the subscription; the
        // creation itself then says whether the name is free.
        Err(KeepError::Azure(Error::NotAllowed { .. })) => {}
        Err(other) => return Err(other),
    }
    let body = json!({
        "location": hub.location,
        "tags": if tags.is_object() { tags.clone() } else { json!({}) },
        "sku": { "name": "Standard_LRS" },
        "kind": "StorageV2",
        "properties": {
            "supportsHttpsTrafficOnly": true,
            "minimumTlsVersion": "TLS1_2",
            "allowBlobPublicAccess": false,
        },
    });
    let started = match azure
        .arm_request(Method::PUT, account_id, STORAGE_API, Some(&body), sub)
        .await
    {
        Ok(started) => started,
        Err(Error::PolicyDenied {
            assignment,
            requirement,
            ..
        }) => {
            return Err(KeepError::AccountPolicy {
                account: name.to_owned(),
                assignment,
                requirement,
            })
        }
        Err(Error::Azure { code, message, .. })
            if code == "StorageAccountAlreadyTaken" || code == "AccountNameInvalid" =>
        {
            // ARM's message loses its final period in the general error; it is put back.
            return Err(KeepError::AccountName {
                message: format!("{}.", message.trim_end_matches('.')),
            });
        }
        Err(other) => return Err(other.into()),
    };
    Ok(azure.arm_follow(started, sub).await?.body)
}

/// Whether the signed-in admin may assign roles at `scope` (a storage account or the resource
/// group a new one goes to), checked before asking.
pub(crate) async fn may_assign_roles(
    azure: &Azure,
    sub: &str,
    scope: &str,
) -> Result<bool, KeepError> {
    let reply = azure
        .arm_request(
            Method::GET,
            &format!("{scope}/providers/Microsoft.Authorization/permissions"),
            AUTHORIZATION_API,
            None,
            sub,
        )
        .await?;
    let grants = reply
        .body
        .get("value")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let strings = |v: &Value, k: &str| -> Vec<String> {
        v.get(k)
            .and_then(Value::as_array)
            .map(|a| {
                a.iter()
                    .filter_map(|s| s.as_str().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default()
    };
    Ok(grants.iter().any(|g| {
        Grant {
            actions: strings(g, "actions"),
            not_actions: strings(g, "notActions"),
        }
        .allows("Microsoft.Authorization/roleAssignments/write")
    }))
}

/// Turns on the hub's system-assigned identity (keeping user-assigned ones) and gives it
/// Storage Blob Data Contributor on the account; the assignment's id.
async fn give_hub_a_data_role(
    azure: &Azure,
    hub: &HubInfo,
    account_id: &str,
) -> Result<String, KeepError> {
    azure
        .change_hub(hub, "a managed identity for writing to storage", |body| {
            let kind = body
                .pointer("/identity/type")
                .and_then(Value::as_str)
                .unwrap_or("None")
                .to_owned();
            if kind.contains("SystemAssigned") {
                return false;
            }
            let wanted = if kind.contains("UserAssigned") {
                "SystemAssigned, UserAssigned"
            } else {
                "SystemAssigned"
            };
            body["identity"]["type"] = json!(wanted);
            true
        })
        .await?;
    let current = azure.hub_resource(hub).await?;
    let principal = current
        .pointer("/identity/principalId")
        .and_then(Value::as_str)
        .ok_or_else(|| KeepError::NoIdentity(hub.name.clone()))?
        .to_owned();
    let sub = &hub.subscription_id;
    let name = assignment_name(&principal, account_id);
    let path = format!("{account_id}/providers/Microsoft.Authorization/roleAssignments/{name}");
    let body = json!({ "properties": {
        "roleDefinitionId": format!("/subscriptions/{sub}/providers/Microsoft.Authorization/roleDefinitions/{BLOB_DATA_CONTRIBUTOR}"),
        "principalId": principal,
        // Said, so that a new identity is not refused while the directory catches up.
        "principalType": "ServicePrincipal",
    }});
    match azure
        .arm_request(Method::PUT, &path, AUTHORIZATION_API, Some(&body), sub)
        .await
    {
        Ok(_) => Ok(path),
        // Given before (by us, or by the admin under another name): as good.
        Err(Error::Azure { code, .. }) if code == "RoleAssignmentExists" => Ok(path),
        Err(other) => Err(other.into()),
    }
}

/// The same name for the same principal and account every time, so a repeated step finds its
/// assignment instead of making another.
fn assignment_name(principal: &str, account_id: &str) -> String {
    let digest = Sha256::digest(format!(
        "{principal}|{}|{BLOB_DATA_CONTRIBUTOR}",
        account_id.to_ascii_lowercase()
    ));
    let hex: String = digest.iter().take(16).map(|b| format!("{b:02x}")).collect();
    format!(
        "{}-{}-{}-{}-{}",
        &hex[..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..32]
    )
}

pub(crate) async fn account_key(
    azure: &Azure,
    sub: &str,
    account_id: &str,
) -> Result<Zeroizing<String>, KeepError> {
    let reply = azure
        .arm_request(
            Method::POST,
            &format!("{account_id}/listKeys"),
            STORAGE_API,
            None,
            sub,
        )
        .await?;
    let key = reply
        .body
        .pointer("/keys/0/value")
        .and_then(Value::as_str)
        .map(|k| Zeroizing::new(k.to_owned()))
        .ok_or_else(|| Error::UnexpectedAnswer {
            what: "a storage account without keys".to_owned(),
        })?;
    Ok(key)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn assignment_names_are_guids_stable_per_principal_and_account() {
        let one = assignment_name(
            "p1",
            "/subscriptions/s/resourceGroups/g/providers/Microsoft.Storage/storageAccounts/a",
        );
        assert_eq!(
            one,
            assignment_name(
                "p1",
                "/SUBSCRIPTIONS/s/resourceGroups/g/providers/Microsoft.Storage/storageAccounts/a"
            )
        );
        assert_ne!(
            one,
            assignment_name(
                "p2",
                "/subscriptions/s/resourceGroups/g/providers/Microsoft.Storage/storageAccounts/a"
            )
        );
        assert!(one.len() == 36 && one.chars().filter(|c| *c == '-').count() == 4);
    }
}
