//! The run as a Terraform configuration (the `azurerm` provider), for admins who keep their
//! Azure in code: the resource group, the hub, the restricted policy and the consumer group.
//! Device identities are not Azure resources Terraform manages; the `az` commands make them.
//! Capabilities beside provisioning append their own resources (see `hubsetup-keep`), naming
//! the hub `azurerm_iothub.hub`.

use crate::Summary;

/// A value as an HCL string: quoted, with `\`, `"` and template openers (`${`, `%{`) escaped.
pub fn hcl_string(value: &str) -> String {
    let escaped = value
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
        .replace("${", "$${")
        .replace("%{", "%%{");
    format!("\"{escaped}\"")
}

impl Summary {
    /// The configuration of what this run made or reused; `hub_identity` when the hub has
    /// a system-assigned identity (for keeping the data).
    pub fn terraform(&self, hub_identity: bool) -> String {
        let group = &self.resource_group;
        let hub = &self.hub;
        let mut out = String::from(
            "# IoT Hub Setup's run as Terraform (azurerm provider). Device identities are not\n# Terraform resources: create them with the az commands.\n\nterraform {\n  required_providers {\n    azurerm = {\n      source  = \"hashicorp/azurerm\"\n      version = \">= 4.0\"\n    }\n  }\n}\n\nprovider \"azurerm\" {\n  features {}\n",
        );
        out.push_str(&format!(
            "  subscription_id = {}\n}}\n\n",
            hcl_string(&self.subscription_id)
        ));
        out.push_str(&format!(
            "resource \"azurerm_resource_group\" \"group\" {{\n  name     = {}\n  location = {}\n}}\n\n",
            hcl_string(&group.name),
            hcl_string(&group.location)
        ));
        let identity = if hub_identity {
            "\n  identity {\n    type = \"SystemAssigned\"\n  }\n"
        } else {
            ""
        };
        out.push_str(&format!(
            "resource \"azurerm_iothub\" \"hub\" {{\n  name                = {}\n  resource_group_name = azurerm_resource_group.group.name\n  location            = {}\n\n  sku {{\n    name     = {}\n    capacity = {}\n  }}\n{identity}}}\n",
            hcl_string(&hub.name),
            hcl_string(&hub.location),
            hcl_string(&hub.tier),
            hub.units
        ));
        if let Some(policy) = &self.policy {
            out.push_str(&format!(
                "\nresource \"azurerm_iothub_shared_access_policy\" \"partner\" {{\n  name                = {}\n  resource_group_name = azurerm_resource_group.group.name\n  iothub_name         = azurerm_iothub.hub.name\n  registry_read       = true\n  registry_write      = true\n  device_connect      = true\n}}\n",
                hcl_string(&policy.name)
            ));
        }
        if let Some(consumer_group) = &self.consumer_group {
            out.push_str(&format!(
                "\nresource \"azurerm_iothub_consumer_group\" \"watch\" {{\n  name                   = {}\n  iothub_name            = azurerm_iothub.hub.name\n  eventhub_endpoint_name = \"events\"\n  resource_group_name    = azurerm_resource_group.group.name\n}}\n",
                hcl_string(&consumer_group.name)
            ));
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strings_are_escaped_for_hcl() {
        assert_eq!(hcl_string("plain"), "\"plain\"");
        assert_eq!(hcl_string("a\"b\\c"), "\"a\\\"b\\\\c\"");
        assert_eq!(hcl_string("${x} %{y} $c"), "\"$${x} %%{y} $c\"");
    }
}
