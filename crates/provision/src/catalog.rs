//! What the wizard lists and looks up before creating anything: subscriptions, resource
//! groups, the regions that offer IoT Hub, the Microsoft.Devices registration, hub name
//! availability, and the hubs the user can see.

use std::collections::BTreeMap;

use std::time::Duration;

use hubsetup_core::names;
use reqwest::{Method, StatusCode};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use crate::arm::{ArmFailure, Azure, IOTHUB_API, RESOURCES_API, SUBSCRIPTIONS_API};
use crate::http::{backoff, Repeat};
use crate::progress::Progress;
use crate::Error;

/// Why a taken hub name cannot be used.
pub(crate) const NAME_TAKEN: &str =
    "Another hub already has this name (hub names are unique across all of Azure).";

/// Azure's messages sometimes lack the final period ours have.
pub(crate) fn sentence(text: &str) -> String {
    let text = text.trim();
    if text.ends_with('.') {
        text.to_owned()
    } else {
        format!("{text}.")
    }
}

/// How long registration of the resource provider may take before we give up waiting.
const REGISTRATION_POLLS: u32 = 30;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ts_rs::TS)]
#[ts(export)]
pub struct Subscription {
    pub id: String,
    pub name: String,
    /// `Enabled`, `Disabled`, `Warned`, `PastDue`, `Deleted`, as ARM says.
    pub state: String,
}

/// A Microsoft Entra tenant (directory) the signed-in user may sign in to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ts_rs::TS)]
#[ts(export)]
pub struct Tenant {
    pub id: String,
    pub name: String,
    pub default_domain: String,
    /// Not the account's own directory: the user was invited as a guest.
    pub guest: bool,
    /// The tenant the session is signed in to.
    pub current: bool,
}

impl Subscription {
    /// Whether resources can be created in it (ARM treats other states as read-only).
    pub fn is_usable(&self) -> bool {
        self.state.eq_ignore_ascii_case("Enabled") || self.state.eq_ignore_ascii_case("Warned")
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ts_rs::TS)]
#[ts(export)]
pub struct ResourceGroup {
    pub id: String,
    pub name: String,
    pub location: String,
    /// Tags a new hub in the group inherits (a policy may require them).
    pub tags: BTreeMap<String, String>,
}

/// An Azure region: `westeurope` / `West Europe`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ts_rs::TS)]
#[ts(export)]
pub struct Region {
    pub name: String,
    pub display_name: String,
}

/// The answer to "can I call my hub this?".
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ts_rs::TS)]
#[ts(export)]
pub struct NameCheck {
    pub available: bool,
    /// Why not, in words to show next to the field; for an available name, why it could not
    /// be checked.
    pub reason: Option<String>,
}

/// Why a name was not checked: `checkNameAvailability` needs a role on the subscription.
pub(crate) const NAME_NOT_CHECKED: &str = "Not checked: checking names needs a role on the whole \
     subscription. Azure tells whether the name is free when the hub is created.";

/// A hub as ARM describes it (no keys).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ts_rs::TS)]
#[ts(export)]
pub struct HubInfo {
    pub id: String,
    pub name: String,
    pub subscription_id: String,
    pub resource_group: String,
    pub location: String,
    pub sku: String,
    pub units: u32,
    pub host_name: String,
    /// `Succeeded` once created; `Accepted`, `Activating`, `Updating` … while busy.
    pub provisioning_state: String,
}

impl HubInfo {
    pub(crate) fn from_json(value: &Value) -> Result<HubInfo, Error> {
        let text = |pointer: &str| {
            value
                .pointer(pointer)
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_owned()
        };
        let id = text("/id");
        // /subscriptions/{s}/resourceGroups/{g}/providers/Microsoft.Devices/IotHubs/{name}
        let parts: Vec<&str> = id.split('/').collect();
        let (Some(subscription), Some(group)) = (parts.get(2), parts.get(4)) else {
            return Err(Error::UnexpectedAnswer {
                what: "a hub without a resource ID".to_owned(),
            });
        };
        Ok(HubInfo {
            subscription_id: (*subscription).to_owned(),
            resource_group: (*group).to_owned(),
            name: text("/name"),
            location: text("/location"),
            sku: text("/sku/name"),
            units: value
                .pointer("/sku/capacity")
                .and_then(Value::as_u64)
                .map_or(1, |u| u as u32),
            host_name: text("/properties/hostName"),
            provisioning_state: text("/properties/provisioningState"),
            id,
        })
    }

    pub(crate) fn path(&self) -> String {
        hub_path(&self.subscription_id, &self.resource_group, &self.name)
    }
}

pub(crate) fn hub_path(subscription: &str, group: &str, name: &str) -> String {
    format!(
        "/subscriptions/{subscription}/resourceGroups/{group}/providers/Microsoft.Devices/IotHubs/{name}"
    )
}

/// Resource group names: 1–90 letters, digits, `_ - . ( )`, not ending in a period.
pub(crate) fn check_resource_group_name(name: &str) -> Result<(), Error> {
    let valid = (1..=90).contains(&name.chars().count())
        && name
            .chars()
            .all(|c| c.is_alphanumeric() || "_-.()".contains(c))
        && !name.ends_with('.');
    if valid {
        Ok(())
    } else {
        Err(Error::InvalidResourceGroupName(name.to_owned()))
    }
}

impl Azure {
    /// The subscriptions the signed-in user can see.
    pub async fn subscriptions(&self) -> Result<Vec<Subscription>, Error> {
        let url = self.url("/subscriptions", SUBSCRIPTIONS_API);
        let items = self.list(&url, "").await?;
        Ok(items.iter().map(subscription_of).collect())
    }

    /// The tenants the user may sign in to, as ARM lists them; `home` is the account's own
    /// tenant (the one a sign-in to `organizations` lands in), the others are marked guest.
    pub async fn tenants(&self, home: Option<&str>) -> Result<Vec<Tenant>, Error> {
        let url = self.url("/tenants", SUBSCRIPTIONS_API);
        let current = self.credential().tenant().await;
        let items = self.list(&url, "").await?;
        Ok(items
            .iter()
            .map(|item| {
                let id = text(item, "tenantId");
                Tenant {
                    name: text(item, "displayName"),
                    default_domain: text(item, "defaultDomain"),
                    guest: home.is_some_and(|home| !home.eq_ignore_ascii_case(&id)),
                    current: current
                        .as_deref()
                        .is_some_and(|c| c.eq_ignore_ascii_case(&id)),
                    id,
                }
            })
            .collect())
    }

    /// One subscription; an unknown one is [`Error::SubscriptionNotFound`].
    pub async fn subscription(&self, id: &str) -> Result<Subscription, Error> {
        let url = self.url(&format!("/subscriptions/{id}"), SUBSCRIPTIONS_API);
        let answer = self
            .call(Method::GET, &url, None, None, Repeat::Safe)
            .await?;
        match answer.status {
            StatusCode::NOT_FOUND => Err(Error::SubscriptionNotFound(id.to_owned())),
            status if status.is_success() => Ok(subscription_of(&answer.json()?)),
            _ => Err(self.explain(ArmFailure::of(&answer), id).await),
        }
    }

    pub async fn resource_groups(&self, subscription: &str) -> Result<Vec<ResourceGroup>, Error> {
        let url = self.url(
            &format!("/subscriptions/{subscription}/resourcegroups"),
            RESOURCES_API,
        );
        let items = self.list(&url, subscription).await?;
        Ok(items.iter().map(group_of).collect())
    }

    /// Creates the group, or returns it if it already exists in `location`.
    pub async fn create_resource_group(
        &self,
        subscription: &str,
        name: &str,
        location: &str,
    ) -> Result<ResourceGroup, Error> {
        check_resource_group_name(name)?;
        self.report(Progress::CreatingResourceGroup {
            name: name.to_owned(),
            location: location.to_owned(),
        });
        let url = self.url(
            &format!("/subscriptions/{subscription}/resourcegroups/{name}"),
            RESOURCES_API,
        );
        let body = serde_json::to_vec(&json!({ "location": location })).unwrap_or_default();
        // Creating a group is idempotent (PUT of the same location), so it may be repeated.
        let answer = self
            .call(Method::PUT, &url, Some(&body), None, Repeat::Safe)
            .await?;
        if !answer.status.is_success() {
            return Err(self.explain(ArmFailure::of(&answer), subscription).await);
        }
        Ok(group_of(&answer.json()?))
    }

    /// Whether Microsoft.Devices is registered in the subscription, and the regions where it
    /// offers IoT hubs.
    pub async fn iot_hub_provider(&self, subscription: &str) -> Result<(bool, Vec<Region>), Error> {
        let provider = self.provider(subscription).await?;
        let registered =
            provider.get("registrationState").and_then(Value::as_str) == Some("Registered");
        let offered: Vec<String> = provider
            .get("resourceTypes")
            .and_then(Value::as_array)
            .and_then(|types| {
                types.iter().find(|t| {
                    t.get("resourceType")
                        .and_then(Value::as_str)
                        .is_some_and(|n| n.eq_ignore_ascii_case("IotHubs"))
                })
            })
            .and_then(|t| t.get("locations"))
            .and_then(Value::as_array)
            .map(|l| {
                l.iter()
                    .filter_map(Value::as_str)
                    .map(str::to_owned)
                    .collect()
            })
            .unwrap_or_default();
        let url = self.url(
            &format!("/subscriptions/{subscription}/locations"),
            SUBSCRIPTIONS_API,
        );
        let known: Vec<Region> = self
            .list(&url, subscription)
            .await?
            .iter()
            .map(|l| Region {
                name: text(l, "name"),
                display_name: text(l, "displayName"),
            })
            .collect();
        let regions = offered
            .iter()
            .map(|display| {
                known
                    .iter()
                    .find(|r| r.display_name.eq_ignore_ascii_case(display))
                    .cloned()
                    .unwrap_or_else(|| Region {
                        name: display.replace(' ', "").to_ascii_lowercase(),
                        display_name: display.clone(),
                    })
            })
            .collect();
        Ok((registered, regions))
    }

    async fn provider(&self, subscription: &str) -> Result<Value, Error> {
        let url = self.url(
            &format!("/subscriptions/{subscription}/providers/Microsoft.Devices"),
            RESOURCES_API,
        );
        self.get_json(&url, subscription).await
    }

    /// Registers Microsoft.Devices in the subscription and waits until ARM says it is done.
    /// Call it only after telling the person (see [`Error::ProviderNotRegistered`]).
    pub async fn register_iot_hub_provider(&self, subscription: &str) -> Result<(), Error> {
        self.report(Progress::RegisteringProvider {
            subscription_id: subscription.to_owned(),
        });
        let url = self.url(
            &format!("/subscriptions/{subscription}/providers/Microsoft.Devices/register"),
            RESOURCES_API,
        );
        let answer = self
            .call(Method::POST, &url, None, None, Repeat::Safe)
            .await?;
        if !answer.status.is_success() {
            return Err(self.explain(ArmFailure::of(&answer), subscription).await);
        }
        for poll in 1..=REGISTRATION_POLLS {
            let state = self.provider(subscription).await?;
            if state.get("registrationState").and_then(Value::as_str) == Some("Registered") {
                return Ok(());
            }
            tokio::time::sleep(backoff(poll).min(Duration::from_secs(10))).await;
        }
        Err(Error::Busy {
            service: "The registration of Microsoft.Devices".to_owned(),
            attempts: REGISTRATION_POLLS,
        })
    }

    /// Checks a hub name: Azure's rules locally, then `checkNameAvailability` (callers
    /// debounce while the person types).
    pub async fn check_hub_name(&self, subscription: &str, name: &str) -> Result<NameCheck, Error> {
        if let Err(problem) = names::check_hub_name(name) {
            return Ok(NameCheck {
                available: false,
                reason: Some(problem.to_string()),
            });
        }
        let url = self.url(
            &format!(
                "/subscriptions/{subscription}/providers/Microsoft.Devices/checkNameAvailability"
            ),
            IOTHUB_API,
        );
        let body = serde_json::to_vec(&json!({ "name": name })).unwrap_or_default();
        let answer = self
            .call(Method::POST, &url, Some(&body), None, Repeat::Safe)
            .await?;
        if !answer.status.is_success() {
            return match self.explain(ArmFailure::of(&answer), subscription).await {
                // A role on a resource group alone does not allow the check; creating tells.
                Error::NotAllowed { .. } => Ok(NameCheck {
                    available: true,
                    reason: Some(NAME_NOT_CHECKED.to_owned()),
                }),
                other => Err(other),
            };
        }
        let result = answer.json()?;
        let available = result.get("nameAvailable").and_then(Value::as_bool) == Some(true);
        let reason = (!available).then(|| match result.get("reason").and_then(Value::as_str) {
            Some("AlreadyExists") => NAME_TAKEN.to_owned(),
            _ => {
                let message = text(&result, "message");
                if message.is_empty() {
                    "Azure does not accept this name.".to_owned()
                } else {
                    sentence(&message)
                }
            }
        });
        Ok(NameCheck { available, reason })
    }

    /// The hubs of a subscription the user can see.
    pub async fn hubs(&self, subscription: &str) -> Result<Vec<HubInfo>, Error> {
        let url = self.url(
            &format!("/subscriptions/{subscription}/providers/Microsoft.Devices/IotHubs"),
            IOTHUB_API,
        );
        self.list(&url, subscription)
            .await?
            .iter()
            .map(HubInfo::from_json)
            .collect()
    }

    /// The hub's host name, as ARM gave it or as the cloud names hubs.
    pub(crate) fn hub_host(&self, hub: &HubInfo) -> String {
        if hub.host_name.is_empty() {
            self.cloud().hub_host(&hub.name.to_ascii_lowercase())
        } else {
            hub.host_name.clone()
        }
    }

    /// A hub to reuse, by name, wherever it is in the subscription.
    pub async fn find_hub(&self, subscription: &str, name: &str) -> Result<HubInfo, Error> {
        self.hubs(subscription)
            .await?
            .into_iter()
            .find(|h| h.name.eq_ignore_ascii_case(name))
            .ok_or_else(|| Error::HubNotFound {
                name: name.to_owned(),
                subscription: subscription.to_owned(),
            })
    }
}

/// The strings of a JSON array (none when it is not one).
pub(crate) fn strings(value: &Value) -> Vec<String> {
    value
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .map(str::to_owned)
        .collect()
}

fn text(value: &Value, field: &str) -> String {
    value
        .get(field)
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned()
}

fn subscription_of(value: &Value) -> Subscription {
    Subscription {
        id: text(value, "subscriptionId"),
        name: text(value, "displayName"),
        state: text(value, "state"),
    }
}

fn group_of(value: &Value) -> ResourceGroup {
    ResourceGroup {
        id: text(value, "id"),
        name: text(value, "name"),
        location: text(value, "location"),
        tags: value
            .get("tags")
            .and_then(|t| serde_json::from_value(t.clone()).ok())
            .unwrap_or_default(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hub_info_reads_the_resource_id() {
        let hub = HubInfo::from_json(&json!({
            "id": "/subscriptions/s1/resourceGroups/rg1/providers/Microsoft.Devices/IotHubs/h1",
            "name": "h1", "location": "westeurope",
            "sku": { "name": "S1", "capacity": 2 },
            "properties": { "hostName": "h1.azure-devices.net", "provisioningState": "Succeeded" }
        }))
        .unwrap();
        assert_eq!(
            (hub.subscription_id.as_str(), hub.resource_group.as_str()),
            ("s1", "rg1")
        );
        assert_eq!((hub.sku.as_str(), hub.units), ("S1", 2));
        assert_eq!(
            hub.path(),
            "/subscriptions/s1/resourceGroups/rg1/providers/Microsoft.Devices/IotHubs/h1"
        );
        assert!(HubInfo::from_json(&json!({})).is_err());
    }

    #[test]
    fn resource_group_names_follow_azure_rules() {
        assert!(check_resource_group_name("rg_iot-(prod).1").is_ok());
        assert!(check_resource_group_name("rg.").is_err());
        assert!(check_resource_group_name("").is_err());
        assert!(check_resource_group_name(&"g".repeat(91)).is_err());
    }
}
