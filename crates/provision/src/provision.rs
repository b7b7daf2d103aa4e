//! The whole job in one call, as the CLI runs it and the GUI's last screen does: check the
//! choices locally, then subscription → provider → resource group → hub (new or reused) →
//! reachability → devices → policy, with a [`Summary`] at the end. [`Azure::plan`] does the
//! same reads and writes nothing.
//!
//! Decisions that change something the person did not explicitly ask for (registering the
//! resource provider, fixing network settings) go through [`Decide`].

use std::collections::BTreeMap;

use hubsetup_core::names;
use serde::{Deserialize, Serialize};

use crate::arm::Azure;
use crate::catalog::{check_resource_group_name, hub_path, HubInfo, Region, Subscription};
use crate::governance::Need;
use crate::hub::NewHub;
use crate::policy::{check_policy_name, restricted_rights, PolicyCredentials, PolicySummary};
use crate::reach::ReachProblem;
use crate::read_access::ConsumerGroupSummary;
use crate::record::Records;
use crate::registry::{DeviceCredentials, DeviceSummary};
use crate::summary::{GroupSummary, HubSummary, Reachability, Summary};
use crate::tier::Tier;
use crate::Error;

/// What to set up.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Request {
    pub subscription_id: String,
    pub hub: HubChoice,
    /// Device IDs to create or reuse, e.g. the record type in dot notation.
    pub devices: Vec<String>,
    /// The name of a restricted policy to add (RegistryRead, RegistryWrite, DeviceConnect).
    pub policy: Option<String>,
    /// A consumer group to create for reading the hub's messages without disturbing its
    /// other readers (the app's own is `hubsetup-watch`).
    #[serde(default)]
    pub consumer_group: Option<String>,
}

/// A new hub, or one that exists.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum HubChoice {
    New {
        resource_group: String,
        /// Create the group (in `region`) if it does not exist.
        create_resource_group: bool,
        name: String,
        region: String,
        tier: Tier,
        units: u32,
        /// Tags for the hub, over those it inherits from its resource group (a policy may
        /// require some).
        #[serde(default)]
        tags: BTreeMap<String, String>,
    },
    Existing {
        name: String,
    },
}

impl HubChoice {
    pub fn name(&self) -> &str {
        match self {
            HubChoice::New { name, .. } | HubChoice::Existing { name } => name,
        }
    }
}

/// The person's answers to questions that come up on the way.
pub trait Decide: Send + Sync {
    /// The subscription is not registered for IoT Hub (Microsoft.Devices); register it?
    fn register_provider(&self, subscription_id: &str) -> bool;
    /// These settings stop partners from connecting; which of them may be fixed?
    fn fix_reachability(&self, hub: &HubInfo, problems: &[ReachProblem]) -> Vec<ReachProblem>;
}

/// The result: the summary (no secrets) and the credentials to hand over.
#[derive(Debug)]
pub struct Outcome {
    pub summary: Summary,
    pub devices: Vec<DeviceCredentials>,
    pub policy: Option<PolicyCredentials>,
}

impl Request {
    /// Every check that needs no call to Azure.
    pub fn validate(&self) -> Result<(), Error> {
        match &self.hub {
            HubChoice::New {
                resource_group,
                name,
                tier,
                units,
                ..
            } => {
                check_resource_group_name(resource_group)?;
                names::check_hub_name(name).map_err(Error::InvalidHubName)?;
                tier.check_units(*units)?;
            }
            HubChoice::Existing { name } => {
                names::check_hub_name(name).map_err(Error::InvalidHubName)?;
            }
        }
        for (index, id) in self.devices.iter().enumerate() {
            names::check_device_id(id).map_err(Error::InvalidDeviceId)?;
            if self.devices[..index].contains(id) {
                return Err(Error::DuplicateDeviceId(id.clone()));
            }
        }
        if let Some(policy) = &self.policy {
            check_policy_name(policy)?;
        }
        Ok(())
    }
}

/// The region named by its name or display name, among those offering IoT Hub.
fn find_region(regions: &[Region], wanted: &str) -> Result<Region, Error> {
    let squashed = wanted.replace(' ', "").to_ascii_lowercase();
    regions
        .iter()
        .find(|r| {
            r.name.eq_ignore_ascii_case(&squashed) || r.display_name.eq_ignore_ascii_case(wanted)
        })
        .cloned()
        .ok_or_else(|| Error::UnknownRegion {
            region: wanted.to_owned(),
            available: regions
                .iter()
                .map(|r| r.name.as_str())
                .collect::<Vec<_>>()
                .join(", "),
        })
}

/// The hub of a plan: one to reuse, or one to create.
enum PlannedHub {
    Existing(HubInfo),
    New(HubSummary),
}

impl NewHub {
    fn new(
        subscription: &str,
        group: &GroupSummary,
        name: &str,
        region: Region,
        (tier, units): (Tier, u32),
        tags: &BTreeMap<String, String>,
    ) -> NewHub {
        let mut all_tags = group.tags.clone();
        all_tags.extend(tags.clone());
        NewHub {
            subscription_id: subscription.to_owned(),
            resource_group: group.name.clone(),
            name: name.to_owned(),
            location: region.name,
            tier,
            units,
            tags: all_tags,
        }
    }
}

/// What a new hub's summary says before it exists.
fn planned_hub(azure: &Azure, new: &NewHub) -> HubSummary {
    HubSummary {
        id: hub_path(&new.subscription_id, &new.resource_group, &new.name),
        name: new.name.clone(),
        host_name: azure.cloud().hub_host(&new.name.to_ascii_lowercase()),
        location: new.location.clone(),
        tier: new.tier.name().to_owned(),
        units: new.units,
        created: true,
    }
}

impl Azure {
    /// What [`Azure::provision`] would do, from reads only: nothing is created or changed.
    pub async fn plan(&self, request: &Request) -> Result<Summary, Error> {
        request.validate()?;
        let sub = &request.subscription_id;
        let subscription = self.subscription(sub).await?;
        let mut notes = Vec::new();
        let (group, registers, hub) = match &request.hub {
            HubChoice::Existing { name } => {
                let hub = self.find_hub(sub, name).await?;
                (
                    GroupSummary::existing(&hub),
                    false,
                    PlannedHub::Existing(hub),
                )
            }
            HubChoice::New {
                resource_group,
                create_resource_group,
                name,
                region,
                tier,
                units,
                tags,
            } => {
                let (registered, region) = self.new_hub_region(sub, &subscription, region).await?;
                let group = self
                    .planned_group(sub, resource_group, *create_resource_group, &region)
                    .await?;
                let missing = self.missing_rights(sub, &group, registered).await;
                notes.extend(missing.iter().map(Error::to_string));
                // Without the provider there can be no hub, and Azure answers no question about one.
                let existing = match registered && !group.created {
                    true => self.get_hub_json(sub, &group.name, name).await?,
                    false => None,
                };
                let new = NewHub::new(sub, &group, name, region, (*tier, *units), tags);
                let hub = match existing {
                    Some(json) => PlannedHub::Existing(HubInfo::from_json(&json)?),
                    None => {
                        if registered {
                            self.refuse_unusable_name(sub, name).await?;
                            if *tier == Tier::F1 {
                                self.refuse_second_free_hub(sub).await?;
                            }
                        } else {
                            notes.push(
                                "The hub name and the free-hub limit are checked once \
                                 Microsoft.Devices is registered."
                                    .to_owned(),
                            );
                        }
                        PlannedHub::New(planned_hub(self, &new))
                    }
                };
                (group, !registered, hub)
            }
        };
        let all_new = || {
            request
                .devices
                .iter()
                .map(|id| DeviceSummary {
                    device_id: id.clone(),
                    created: true,
                    enabled: true,
                })
                .collect::<Vec<_>>()
        };
        // An existing hub is read for what would be reused and fixed; a planned one is all new.
        let mut hub_facts = None;
        let (hub, reachability, devices, policy, consumer_group) = match hub {
            PlannedHub::Existing(hub) => {
                // A courtesy for the decision: a hub whose facts cannot be read is still planned.
                hub_facts = self.hub_facts(&hub).await.ok();
                let remaining = self.reachability(&hub).await?;
                let devices = match self.existing_devices(&hub, &request.devices).await {
                    Ok(exists) => request
                        .devices
                        .iter()
                        .zip(exists)
                        .map(|(id, exists)| DeviceSummary {
                            device_id: id.clone(),
                            created: !exists,
                            enabled: true,
                        })
                        .collect(),
                    Err(Error::HubRefused { detail, .. }) => {
                        notes.push(format!(
                            "Whether the devices exist could not be checked ({detail}); each is created, \
                             or reused if it exists."
                        ));
                        all_new()
                    }
                    Err(other) => return Err(other),
                };
                let policy = match &request.policy {
                    Some(name) => Some(self.planned_policy(&hub, name).await?),
                    None => None,
                };
                let reachability = Reachability {
                    fixed: vec![],
                    remaining,
                };
                let consumer_group = match &request.consumer_group {
                    Some(name) => Some(ConsumerGroupSummary {
                        name: name.clone(),
                        created: !self.has_consumer_group(&hub, name).await?,
                    }),
                    None => None,
                };
                (
                    HubSummary::of(&hub, false),
                    reachability,
                    devices,
                    policy,
                    consumer_group,
                )
            }
            PlannedHub::New(planned) => {
                let policy = request.policy.as_ref().map(|name| PolicySummary {
                    name: name.clone(),
                    rights: restricted_rights(),
                    created: true,
                });
                let consumer_group =
                    request
                        .consumer_group
                        .as_ref()
                        .map(|name| ConsumerGroupSummary {
                            name: name.clone(),
                            created: true,
                        });
                (
                    planned,
                    Reachability::default(),
                    all_new(),
                    policy,
                    consumer_group,
                )
            }
        };
        Ok(Summary {
            planned: true,
            cloud: self.cloud().id.clone(),
            subscription_id: sub.clone(),
            registers_provider: registers,
            resource_group: group,
            hub,
            reachability,
            devices,
            policy,
            consumer_group,
            notes,
            hub_facts,
        })
    }

    /// What a new hub needs of its subscription before anything is created: that it is
    /// usable, whether it has IoT Hub's provider registered, and the region asked for.
    async fn new_hub_region(
        &self,
        id: &str,
        subscription: &Subscription,
        wanted: &str,
    ) -> Result<(bool, Region), Error> {
        if !subscription.is_usable() {
            return Err(Error::SubscriptionDisabled(id.to_owned()));
        }
        let (registered, regions) = self.iot_hub_provider(id).await?;
        Ok((registered, find_region(&regions, wanted)?))
    }

    /// The resource group as it is, or as it will be when `create` allows creating it.
    async fn planned_group(
        &self,
        subscription: &str,
        name: &str,
        create: bool,
        region: &Region,
    ) -> Result<GroupSummary, Error> {
        let groups = self.resource_groups(subscription).await?;
        match groups
            .into_iter()
            .find(|g| g.name.eq_ignore_ascii_case(name))
        {
            Some(group) => Ok(GroupSummary::of(&group, false)),
            None if create => Ok(GroupSummary {
                id: format!("/subscriptions/{subscription}/resourceGroups/{name}"),
                name: name.to_owned(),
                location: region.name.clone(),
                tags: BTreeMap::new(),
                created: true,
            }),
            None => Err(Error::ResourceGroupNotFound {
                subscription: subscription.to_owned(),
                group: name.to_owned(),
            }),
        }
    }

    /// The refusals Azure would give, for what a new hub in `group` needs and the user's roles
    /// do not allow, before any write: a plan lists them, provisioning stops at the first.
    /// When the permissions cannot be read there are none: Azure's own refusal will say it.
    async fn missing_rights(
        &self,
        sub: &str,
        group: &GroupSummary,
        registered: bool,
    ) -> Vec<Error> {
        let Ok(permissions) = self
            .permissions(sub, (!group.created).then_some(&group.name))
            .await
        else {
            return vec![];
        };
        Need::for_new_hub(group.created, registered)
            .into_iter()
            .filter_map(|need| permissions.refuse(need).err())
            .collect()
    }

    async fn planned_policy(&self, hub: &HubInfo, name: &str) -> Result<PolicySummary, Error> {
        let existing = self.restricted_policy(hub, name).await?;
        Ok(PolicySummary {
            name: name.to_owned(),
            rights: restricted_rights(),
            created: existing.is_none(),
        })
    }

    /// Sets everything up; safe to run again after an interruption (nothing is created
    /// twice, existing devices and policies are reused with their keys).
    pub async fn provision(
        &self,
        request: &Request,
        records: &Records,
        decide: &dyn Decide,
    ) -> Result<Outcome, Error> {
        request.validate()?;
        let sub = &request.subscription_id;
        let subscription = self.subscription(sub).await?;
        let mut registers = false;
        let (group, hub_summary, hub) = match &request.hub {
            HubChoice::Existing { name } => {
                let hub = self.find_hub(sub, name).await?;
                (
                    GroupSummary::existing(&hub),
                    HubSummary::of(&hub, false),
                    hub,
                )
            }
            HubChoice::New {
                resource_group,
                create_resource_group,
                name,
                region,
                tier,
                units,
                tags,
            } => {
                let (registered, region) = self.new_hub_region(sub, &subscription, region).await?;
                let mut group = self
                    .planned_group(sub, resource_group, *create_resource_group, &region)
                    .await?;
                if let Some(refusal) = self
                    .missing_rights(sub, &group, registered)
                    .await
                    .into_iter()
                    .next()
                {
                    return Err(refusal);
                }
                if !registered {
                    if !decide.register_provider(sub) {
                        return Err(Error::ProviderNotRegistered(sub.clone()));
                    }
                    self.register_iot_hub_provider(sub).await?;
                    registers = true;
                }
                if group.created {
                    let created = self
                        .create_resource_group(sub, &group.name, &region.name)
                        .await?;
                    group = GroupSummary::of(&created, true);
                }
                let new = NewHub::new(sub, &group, name, region, (*tier, *units), tags);
                let creation = self.create_hub(&new, records).await?;
                (
                    group,
                    HubSummary::of(&creation.hub, creation.created),
                    creation.hub,
                )
            }
        };
        let problems = self.reachability(&hub).await?;
        let mut reachability = Reachability::default();
        if !problems.is_empty() {
            // A setting a policy keeps (a Modify undoes the fix, a Deny refuses it) makes the
            // hub unusable with connection strings, for this app as for the partner.
            let kept = self.policies_keeping(&hub, &problems).await;
            if let Some((problem, policy)) = kept.into_iter().next() {
                return Err(Error::KeptByPolicy {
                    hub: hub.name.clone(),
                    problem: problem.to_string(),
                    policy,
                });
            }
            let agreed: Vec<ReachProblem> = decide
                .fix_reachability(&hub, &problems)
                .into_iter()
                .filter(|p| problems.contains(p))
                .collect();
            self.fix_reachability(&hub, &agreed).await?;
            reachability.remaining = problems
                .into_iter()
                .filter(|p| !agreed.contains(p))
                .collect();
            reachability.fixed = agreed;
        }
        let devices = self.ensure_devices(&hub, &request.devices).await?;
        let policy = match &request.policy {
            Some(name) => Some(self.ensure_restricted_policy(&hub, name).await?),
            None => None,
        };
        let consumer_group = match &request.consumer_group {
            Some(name) => Some(self.ensure_consumer_group(&hub, name).await?),
            None => None,
        };
        Ok(Outcome {
            summary: Summary {
                planned: false,
                cloud: self.cloud().id.clone(),
                subscription_id: sub.clone(),
                registers_provider: registers,
                resource_group: group,
                hub: hub_summary,
                reachability,
                devices: devices.iter().map(DeviceCredentials::summary).collect(),
                policy: policy.as_ref().map(PolicyCredentials::summary),
                consumer_group,
                notes: vec![],
                hub_facts: None,
            },
            devices,
            policy,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request() -> Request {
        Request {
            subscription_id: "s".into(),
            hub: HubChoice::New {
                resource_group: "rg".into(),
                create_resource_group: false,
                name: "plant-hub".into(),
                region: "westeurope".into(),
                tier: Tier::S1,
                units: 1,
                tags: BTreeMap::new(),
            },
            devices: vec!["io.microshare.contact.unpacked.event".into()],
            policy: Some("partner-registry".into()),
            consumer_group: None,
        }
    }

    #[test]
    fn choices_are_checked_before_azure_is_asked() {
        assert!(request().validate().is_ok());
        let with = |change: fn(&mut Request)| {
            let mut r = request();
            change(&mut r);
            r.validate().unwrap_err().to_string()
        };
        assert_eq!(
            with(|r| r.hub = HubChoice::Existing { name: "my_hub".into() }),
            "The hub name contains '_' at position 3, which Azure does not allow. Use only letters, digits and hyphens."
        );
        assert_eq!(
            with(|r| r.devices = vec!["a".into(), "b".into(), "a".into()]),
            "The device ID 'a' is listed twice. List each device once."
        );
        assert!(
            with(|r| r.devices = vec!["sensor#1".into()]).starts_with("The device ID contains '#'")
        );
        assert!(
            with(|r| if let HubChoice::New { units, tier, .. } = &mut r.hub {
                *tier = Tier::F1;
                *units = 2;
            })
            .starts_with("F1 allows 1 to 1 units; 2 were asked for.")
        );
        assert!(with(|r| r.policy = Some("".into())).starts_with("The policy name '' is invalid"));
    }

    #[test]
    fn regions_are_found_by_name_or_display_name() {
        let regions = vec![
            Region {
                name: "westeurope".into(),
                display_name: "West Europe".into(),
            },
            Region {
                name: "eastus".into(),
                display_name: "East US".into(),
            },
        ];
        assert_eq!(
            find_region(&regions, "West Europe").unwrap().name,
            "westeurope"
        );
        assert_eq!(find_region(&regions, "EASTUS").unwrap().name, "eastus");
        assert_eq!(
            find_region(&regions, "atlantis").unwrap_err().to_string(),
            "Azure does not offer IoT Hub in the region 'atlantis' for this subscription. Choose one of: westeurope, eastus."
        );
    }
}
