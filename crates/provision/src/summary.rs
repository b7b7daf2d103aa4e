//! What was set up (or, for a plan, what would be), with no secret in it: resource IDs,
//! tier, region, device IDs, the policy's name. For the admin's records it can also be
//! written as the equivalent `az` commands and as an ARM template.

use std::collections::BTreeMap;

use hubsetup_core::names::DEFAULT_HUB_POLICIES;
use serde::Serialize;
use serde_json::{json, Value};

use crate::arm::IOTHUB_API;
use crate::catalog::{HubInfo, ResourceGroup};
use crate::facts::HubFacts;
use crate::policy::{PolicySummary, RESTRICTED_RIGHTS};
use crate::reach::ReachProblem;
use crate::read_access::ConsumerGroupSummary;
use crate::registry::DeviceSummary;

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Summary {
    /// A plan: nothing has been created or changed.
    pub planned: bool,
    pub cloud: String,
    pub subscription_id: String,
    /// Microsoft.Devices was (or will be) registered in the subscription.
    pub registers_provider: bool,
    pub resource_group: GroupSummary,
    pub hub: HubSummary,
    pub reachability: Reachability,
    pub devices: Vec<DeviceSummary>,
    pub policy: Option<PolicySummary>,
    /// The consumer group made for reading the hub's messages.
    pub consumer_group: Option<ConsumerGroupSummary>,
    /// What could not be checked, and what happens then.
    pub notes: Vec<String>,
    /// An existing hub's devices, quota use, tiers and consumer groups, when they could be read.
    pub hub_facts: Option<HubFacts>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct GroupSummary {
    pub id: String,
    pub name: String,
    pub location: String,
    /// The group's tags, which a new hub in it inherits.
    pub tags: BTreeMap<String, String>,
    pub created: bool,
}

impl GroupSummary {
    pub(crate) fn of(group: &ResourceGroup, created: bool) -> GroupSummary {
        GroupSummary {
            id: group.id.clone(),
            name: group.name.clone(),
            location: group.location.clone(),
            tags: group.tags.clone(),
            created,
        }
    }

    /// The group of a reused hub, as far as the hub tells.
    pub(crate) fn existing(hub: &HubInfo) -> GroupSummary {
        GroupSummary {
            id: format!(
                "/subscriptions/{}/resourceGroups/{}",
                hub.subscription_id, hub.resource_group
            ),
            name: hub.resource_group.clone(),
            location: String::new(),
            tags: BTreeMap::new(),
            created: false,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct HubSummary {
    pub id: String,
    pub name: String,
    pub host_name: String,
    pub location: String,
    pub tier: String,
    pub units: u32,
    pub created: bool,
}

impl HubSummary {
    pub(crate) fn of(hub: &HubInfo, created: bool) -> HubSummary {
        HubSummary {
            id: hub.id.clone(),
            name: hub.name.clone(),
            host_name: hub.host_name.clone(),
            location: hub.location.clone(),
            tier: hub.sku.clone(),
            units: hub.units,
            created,
        }
    }
}

/// Settings that stopped partners from connecting: fixed with consent, or left as they were.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Reachability {
    pub fixed: Vec<ReachProblem>,
    pub remaining: Vec<ReachProblem>,
}

/// Quotes a value for POSIX shells when it holds anything but `[A-Za-z0-9._/-]` (device IDs
/// may contain `$`, `'`, `(`…). Shared with the records of the capabilities beside
/// provisioning.
pub fn shell_quote(value: &str) -> String {
    let plain = !value.is_empty()
        && value
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "._/-".contains(c));
    if plain {
        value.to_owned()
    } else {
        format!("'{}'", value.replace('\'', r"'\''"))
    }
}

impl Summary {
    fn done(&self, created: bool) -> &'static str {
        match (self.planned, created) {
            (true, true) => "to be created",
            (true, false) => "exists, to be reused",
            (false, true) => "created",
            (false, false) => "reused",
        }
    }

    /// The summary for people, one line per resource.
    pub fn to_text(&self) -> String {
        let mut out = String::new();
        let mut line = |label: &str, text: String| out.push_str(&format!("  {label:<15} {text}\n"));
        let hub = &self.hub;
        line("Subscription", self.subscription_id.clone());
        if self.registers_provider {
            let verb = if self.planned {
                "to be registered"
            } else {
                "registered"
            };
            line("Provider", format!("Microsoft.Devices ({verb})"));
        }
        let group = &self.resource_group;
        line(
            "Resource group",
            format!("{} ({})", group.name, self.done(group.created)),
        );
        line("", group.id.clone());
        line(
            "IoT hub",
            format!(
                "{}, {} × {} unit{}, {} ({})",
                hub.name,
                hub.tier,
                hub.units,
                if hub.units == 1 { "" } else { "s" },
                hub.location,
                self.done(hub.created)
            ),
        );
        line("", hub.id.clone());
        line("Host name", hub.host_name.clone());
        for device in &self.devices {
            let state = if device.enabled {
                ""
            } else {
                ", DISABLED: it cannot connect until enabled"
            };
            line(
                "Device",
                format!(
                    "{} ({}{state})",
                    device.device_id,
                    self.done(device.created)
                ),
            );
        }
        if let Some(policy) = &self.policy {
            line(
                "Policy",
                format!(
                    "{}: {} ({})",
                    policy.name,
                    policy.rights,
                    self.done(policy.created)
                ),
            );
        }
        if let Some(group) = &self.consumer_group {
            line(
                "Consumer group",
                format!(
                    "{}, for reading the hub's messages ({})",
                    group.name,
                    self.done(group.created)
                ),
            );
        }
        if let Some(facts) = &self.hub_facts {
            for fact in &facts.lines {
                line("About the hub", fact.clone());
            }
            if let Some(warning) = &facts.quota_warning {
                line("WARNING", warning.clone());
            }
        }
        for problem in &self.reachability.fixed {
            line("Fixed", format!("{problem} {}", problem.fix()));
        }
        for problem in &self.reachability.remaining {
            line(
                "NOT FIXED",
                format!("{problem} To fix it: {}", problem.fix()),
            );
        }
        for note in &self.notes {
            line("Note", note.clone());
        }
        let title = if self.planned {
            format!(
                "Plan for {} (nothing has been created or changed):\n",
                self.cloud
            )
        } else {
            format!("Set up in {}:\n", self.cloud)
        };
        title + &out
    }

    /// The `az` commands that make the same setup, reused parts commented out.
    pub fn az_commands(&self) -> String {
        let hub = &self.hub;
        let (name, group, sub) = (
            shell_quote(&hub.name),
            shell_quote(&self.resource_group.name),
            shell_quote(&self.subscription_id),
        );
        let mut lines = vec![
            "# The Azure CLI commands equivalent to this IoT Hub Setup run (lines starting with"
                .to_owned(),
            "# '# (existed)' were reused, not created). Device and policy commands need the"
                .to_owned(),
            "# azure-iot extension: az extension add --name azure-iot".to_owned(),
            format!("az account set --subscription {sub}"),
        ];
        let command = |lines: &mut Vec<String>, created: bool, text: String| {
            lines.push(if created {
                text
            } else {
                format!("# (existed) {text}")
            });
        };
        if self.registers_provider {
            command(
                &mut lines,
                true,
                "az provider register --namespace Microsoft.Devices --wait".to_owned(),
            );
        }
        command(
            &mut lines,
            self.resource_group.created,
            format!(
                "az group create --name {group} --location {}",
                shell_quote(&self.resource_group.location)
            ),
        );
        command(
                &mut lines,
            hub.created,
            format!(
                "az iot hub create --name {name} --resource-group {group} --location {} --sku {} --unit {}",
                shell_quote(&hub.location),
                hub.tier,
                hub.units
            ),
        );
        for problem in &self.reachability.fixed {
            match problem.az_setting() {
                Some(setting) => command(
                    &mut lines,
                    true,
                    format!(
                        "az iot hub update --name {name} --resource-group {group} --set {setting}"
                    ),
                ),
                None => lines.push(format!(
                    "# In the portal (hub > Networking): {problem} {}",
                    problem.fix()
                )),
            }
        }
        for device in &self.devices {
            command(
                &mut lines,
                device.created,
                format!(
                    "az iot hub device-identity create --hub-name {name} --resource-group {group} --device-id {}",
                    shell_quote(&device.device_id)
                ),
            );
        }
        if let Some(policy) = &self.policy {
            command(
                &mut lines,
                policy.created,
                format!(
                    "az iot hub policy create --hub-name {name} --resource-group {group} --name {} --permissions {}",
                    shell_quote(&policy.name),
                    RESTRICTED_RIGHTS.join(" ")
                ),
            );
        }
        if let Some(consumer_group) = &self.consumer_group {
            command(
                &mut lines,
                consumer_group.created,
                format!(
                    "az iot hub consumer-group create --hub-name {name} --resource-group {group} --name {}",
                    shell_quote(&consumer_group.name)
                ),
            );
        }
        lines.push(String::new());
        lines.join("\n")
    }

    /// An ARM template of the hub, for the records. Device identities live in the hub's
    /// registry, not in ARM, so they are listed only in the metadata.
    pub fn arm_template(&self) -> Value {
        let hub = &self.hub;
        let mut policies: Vec<Value> = DEFAULT_HUB_POLICIES
            .iter()
            .map(|(name, rights)| json!({ "keyName": name, "rights": rights }))
            .collect();
        if let Some(policy) = &self.policy {
            policies.push(json!({ "keyName": policy.name, "rights": policy.rights }));
        }
        let mut properties = json!({ "authorizationPolicies": policies });
        if self.reachability.remaining.is_empty() {
            properties["publicNetworkAccess"] = json!("Enabled");
            properties["disableLocalAuth"] = json!(false);
            properties["disableDeviceSAS"] = json!(false);
        }
        let devices: Vec<&str> = self.devices.iter().map(|d| d.device_id.as_str()).collect();
        let mut resources = vec![json!({
            "type": "Microsoft.Devices/IotHubs",
            "apiVersion": IOTHUB_API,
            "name": "[parameters('hubName')]",
            "location": "[parameters('location')]",
            "sku": { "name": "[parameters('skuName')]", "capacity": "[parameters('skuUnits')]" },
            "properties": properties,
        })];
        if let Some(group) = &self.consumer_group {
            resources.push(json!({
                "type": "Microsoft.Devices/IotHubs/eventHubEndpoints/ConsumerGroups",
                "apiVersion": IOTHUB_API,
                "name": format!("[concat(parameters('hubName'), '/events/{}')]", group.name),
                "dependsOn": ["[resourceId('Microsoft.Devices/IotHubs', parameters('hubName'))]"],
                "properties": { "name": group.name },
            }));
        }
        json!({
            "$schema": "https://schema.management.azure.com/schemas/2019-04-01/deploymentTemplate.json#",
            "contentVersion": "1.0.0.0",
            "metadata": {
                "description": format!(
                    "IoT hub {} as set up by IoT Hub Setup. Deploying this template to an existing hub gives the listed policies new keys. Device identities ({}) are not ARM resources; create them with the az commands.",
                    hub.name,
                    if devices.is_empty() { "none".to_owned() } else { devices.join(", ") }
                ),
                "subscriptionId": self.subscription_id,
                "resourceGroup": self.resource_group.name,
            },
            "parameters": {
                "hubName": { "type": "string", "defaultValue": hub.name },
                "location": { "type": "string", "defaultValue": hub.location },
                "skuName": { "type": "string", "defaultValue": hub.tier, "allowedValues": ["F1", "B1", "B2", "B3", "S1", "S2", "S3"] },
                "skuUnits": { "type": "int", "defaultValue": hub.units, "minValue": 1 },
            },
            "resources": resources,
            "outputs": {
                "hubResourceId": { "type": "string", "value": "[resourceId('Microsoft.Devices/IotHubs', parameters('hubName'))]" },
            },
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn summary() -> Summary {
        Summary {
            planned: false,
            cloud: "public".into(),
            subscription_id: "1111".into(),
            registers_provider: false,
            resource_group: GroupSummary {
                id: "/subscriptions/1111/resourceGroups/rg".into(),
                name: "rg".into(),
                location: "westeurope".into(),
                tags: BTreeMap::new(),
                created: false,
            },
            hub: HubSummary {
                id: "/subscriptions/1111/resourceGroups/rg/providers/Microsoft.Devices/IotHubs/plant".into(),
                name: "plant".into(),
                host_name: "plant.azure-devices.net".into(),
                location: "westeurope".into(),
                tier: "S1".into(),
                units: 1,
                created: true,
            },
            reachability: Reachability {
                fixed: vec![ReachProblem::DeviceSasDisabled],
                remaining: vec![],
            },
            devices: vec![DeviceSummary {
                device_id: "it's$(x)".into(),
                created: true,
                enabled: true,
            }],
            policy: Some(PolicySummary {
                name: "partner".into(),
                rights: "RegistryRead, RegistryWrite, DeviceConnect".into(),
                created: true,
            }),
            consumer_group: None,
            notes: vec![],
            hub_facts: None,
        }
    }

    #[test]
    fn text_names_every_resource() {
        assert_eq!(
            summary().to_text(),
            "Set up in public:\n  \
             Subscription    1111\n  \
             Resource group  rg (reused)\n                  \
             /subscriptions/1111/resourceGroups/rg\n  \
             IoT hub         plant, S1 × 1 unit, westeurope (created)\n                  \
             /subscriptions/1111/resourceGroups/rg/providers/Microsoft.Devices/IotHubs/plant\n  \
             Host name       plant.azure-devices.net\n  \
             Device          it's$(x) (created)\n  \
             Policy          partner: RegistryRead, RegistryWrite, DeviceConnect (created)\n  \
             Fixed           Device keys (device SAS) are disabled, so device connection strings do not work on this hub. Enable device keys (device SAS).\n"
        );
    }

    #[test]
    fn az_commands_quote_and_mark_reused_parts() {
        let commands = summary().az_commands();
        assert!(
            commands.contains("\n# (existed) az group create --name rg --location westeurope\n"),
            "{commands}"
        );
        assert!(commands.contains("\naz iot hub create --name plant --resource-group rg --location westeurope --sku S1 --unit 1\n"));
        assert!(commands.contains("--set properties.disableDeviceSAS=false\n"));
        assert!(
            commands.contains("--device-id 'it'\\''s$(x)'\n"),
            "{commands}"
        );
        assert!(commands
            .contains("--name partner --permissions RegistryRead RegistryWrite DeviceConnect\n"));
    }

    #[test]
    fn the_template_describes_the_hub() {
        let template = summary().arm_template();
        let hub = &template["resources"][0];
        assert_eq!(hub["type"], "Microsoft.Devices/IotHubs");
        assert_eq!(template["parameters"]["skuName"]["defaultValue"], "S1");
        assert_eq!(
            hub["properties"]["authorizationPolicies"][5]["keyName"],
            "partner"
        );
        assert_eq!(hub["properties"]["disableDeviceSAS"], false);
    }
}
