//! What "Keep the data" made, as the records an admin keeps: the `az` commands that make the
//! same, and the ARM template's resources (the storage account, its container, the role for
//! the hub's identity, and the hub's identity and routing).

use hubsetup_provision::{hcl_string as hcl, shell_quote as quote};
use hubsetup_storage::{layout, routing};
use serde_json::{json, Value};

use crate::KeptData;

const STORAGE_API: &str = "2025-08-01";
const AUTHORIZATION_API: &str = "2022-04-01";

impl KeptData {
    /// The `az` commands that make the same storage and routes, to append to the run's.
    pub fn az_commands(&self) -> String {
        let (hub, account, group) = (
            quote(&self.hub),
            quote(&self.account),
            quote(&self.resource_group),
        );
        let mut lines = vec![
            "# Keep the data: the storage account, its container and a route per data stream.".to_owned(),
            format!(
                "az storage account create --name {account} --resource-group {group} --location {} --sku Standard_LRS --kind StorageV2 --https-only true --min-tls-version TLS1_2 --allow-blob-public-access false",
                quote(&self.location)
            ),
            format!("az storage container-rm create --storage-account {account} --resource-group {group} --name {}", quote(&self.container)),
        ];
        if self.authentication == "identity" {
            lines.push(format!(
                "az iot hub identity assign --name {hub} --system-assigned"
            ));
            lines.push(format!(
                "az role assignment create --assignee-object-id \"$(az iot hub identity show --name {hub} --query principalId --output tsv)\" --assignee-principal-type ServicePrincipal --role 'Storage Blob Data Contributor' --scope {}",
                quote(&self.account_id)
            ));
        }
        lines.push("# Endpoints and routes need the azure-iot extension: az extension add --name azure-iot".to_owned());
        for stream in &self.streams {
            let endpoint = quote(&routing::endpoint_name(stream));
            let auth = if self.authentication == "identity" {
                // Quoted: `[system]` is a glob pattern to a shell.
                format!(
                    "--identity {} --endpoint-uri {}",
                    quote("[system]"),
                    quote(&format!("https://{}/", self.blob_host()))
                )
            } else {
                format!("--connection-string \"$(az storage account show-connection-string --name {account} --resource-group {group} --query connectionString --output tsv)\"")
            };
            lines.push(format!(
                "az iot hub message-endpoint create storage-container --hub-name {hub} --endpoint-name {endpoint} --container-name {} --encoding {} --batch-frequency {} --file-name-format {} {auth}",
                quote(&self.container),
                self.encoding.to_ascii_lowercase(),
                self.batch_seconds,
                quote(&layout::stream_format(stream)),
            ));
            lines.push(format!(
                "az iot hub message-route create --hub-name {hub} --route-name {} --source DeviceMessages --endpoint-name {endpoint} --condition {} --enabled true",
                quote(&routing::route_name(stream)),
                quote(&routing::stream_condition(stream)),
            ));
        }
        lines.push(format!(
            "az iot hub message-route create --hub-name {hub} --route-name {} --source DeviceMessages --endpoint-name events --condition true --enabled true",
            routing::BUILT_IN_ROUTE
        ));
        lines.join("\n") + "\n"
    }

    /// The Terraform (azurerm) resources of the kept data, to append to the run's
    /// configuration, whose hub is `azurerm_iothub.hub`.
    pub fn terraform(&self) -> String {
        let mut out = format!(
            "\nresource \"azurerm_storage_account\" \"data\" {{\n  name                            = {}\n  resource_group_name             = {}\n  location                        = {}\n  account_tier                    = \"Standard\"\n  account_replication_type        = \"LRS\"\n  account_kind                    = \"StorageV2\"\n  https_traffic_only_enabled      = true\n  min_tls_version                 = \"TLS1_2\"\n  allow_nested_items_to_be_public = false\n}}\n",
            hcl(&self.account),
            hcl(&self.resource_group),
            hcl(&self.location)
        );
        out.push_str(&format!(
            "\nresource \"azurerm_storage_container\" \"data\" {{\n  name                  = {}\n  storage_account_id    = azurerm_storage_account.data.id\n  container_access_type = \"private\"\n}}\n",
            hcl(&self.container)
        ));
        let identity = self.authentication == "identity";
        if identity {
            out.push_str("\nresource \"azurerm_role_assignment\" \"hub_writes_data\" {\n  scope                = azurerm_storage_account.data.id\n  role_definition_name = \"Storage Blob Data Contributor\"\n  principal_id         = azurerm_iothub.hub.identity[0].principal_id\n}\n");
        }
        let access = if identity {
            "  authentication_type        = \"identityBased\"\n  endpoint_uri               = azurerm_storage_account.data.primary_blob_endpoint\n"
        } else {
            "  authentication_type        = \"keyBased\"\n  connection_string          = azurerm_storage_account.data.primary_blob_connection_string\n"
        };
        for (index, stream) in self.streams.iter().enumerate() {
            out.push_str(&format!(
                "\nresource \"azurerm_iothub_endpoint_storage_container\" \"store_{index}\" {{\n  resource_group_name        = azurerm_resource_group.group.name\n  iothub_id                  = azurerm_iothub.hub.id\n  name                       = {}\n  container_name             = azurerm_storage_container.data.name\n  file_name_format           = {}\n  batch_frequency_in_seconds = {}\n  max_chunk_size_in_bytes    = 314572800\n  encoding                   = {}\n{access}}}\n",
                hcl(&routing::endpoint_name(stream)),
                hcl(&layout::stream_format(stream)),
                self.batch_seconds,
                hcl(&self.encoding),
            ));
            out.push_str(&format!(
                "\nresource \"azurerm_iothub_route\" \"store_{index}\" {{\n  resource_group_name = azurerm_resource_group.group.name\n  iothub_name         = azurerm_iothub.hub.name\n  name                = {}\n  source              = \"DeviceMessages\"\n  condition           = {}\n  endpoint_names      = [azurerm_iothub_endpoint_storage_container.store_{index}.name]\n  enabled             = true\n}}\n",
                hcl(&routing::route_name(stream)),
                hcl(&routing::stream_condition(stream)),
            ));
        }
        out.push_str(&format!(
            "\nresource \"azurerm_iothub_route\" \"built_in\" {{\n  resource_group_name = azurerm_resource_group.group.name\n  iothub_name         = azurerm_iothub.hub.name\n  name                = {}\n  source              = \"DeviceMessages\"\n  condition           = \"true\"\n  endpoint_names      = [\"events\"]\n  enabled             = true\n}}\n",
            hcl(routing::BUILT_IN_ROUTE)
        ));
        out
    }

    fn blob_host(&self) -> String {
        self.blob_endpoint
            .trim_start_matches("https://")
            .trim_end_matches('/')
            .to_owned()
    }

    /// Adds the storage to a template of the hub (`hubsetup provision --arm-template`): the
    /// account, container and role as resources, and the hub's identity and routing.
    pub fn extend_template(&self, template: &mut Value) {
        let account = "[parameters('storageAccountName')]";
        template["parameters"]["storageAccountName"] =
            json!({ "type": "string", "defaultValue": self.account });
        let plan = routing::StoragePlan {
            container: self.container.clone(),
            encoding: if self.encoding == "JSON" {
                routing::Encoding::Json
            } else {
                routing::Encoding::Avro
            },
            batch_seconds: self.batch_seconds,
            chunk_bytes: 314_572_800,
            authentication: if self.authentication == "identity" {
                routing::Authentication::Identity {
                    endpoint_uri: self.blob_endpoint.clone(),
                }
            } else {
                // A template holds no key: the deployment reads it from the account.
                routing::Authentication::Key {
                    connection_string: "[concat('DefaultEndpointsProtocol=https;AccountName=', parameters('storageAccountName'), ';AccountKey=', listKeys(resourceId('Microsoft.Storage/storageAccounts', parameters('storageAccountName')), '2025-08-01').keys[0].value)]".to_owned(),
                }
            },
            streams: self.streams.clone(),
        };
        let storage_id =
            "[resourceId('Microsoft.Storage/storageAccounts', parameters('storageAccountName'))]";
        if let Some(hub) = template["resources"]
            .as_array_mut()
            .and_then(|r| r.first_mut())
        {
            if let Ok(routes) = routing::apply(&Value::Null, &plan, "S1") {
                hub["properties"]["routing"] = routes;
            }
            if self.authentication == "identity" {
                hub["identity"] = json!({ "type": "SystemAssigned" });
            }
            hub["dependsOn"] = json!([format!("[resourceId('Microsoft.Storage/storageAccounts/blobServices/containers', parameters('storageAccountName'), 'default', '{}')]", self.container)]);
        }
        let Some(resources) = template["resources"].as_array_mut() else {
            return;
        };
        resources.push(json!({
            "type": "Microsoft.Storage/storageAccounts",
            "apiVersion": STORAGE_API,
            "name": account,
            "location": self.location,
            "sku": { "name": "Standard_LRS" },
            "kind": "StorageV2",
            "properties": { "supportsHttpsTrafficOnly": true, "minimumTlsVersion": "TLS1_2", "allowBlobPublicAccess": false },
        }));
        resources.push(json!({
            "type": "Microsoft.Storage/storageAccounts/blobServices/containers",
            "apiVersion": STORAGE_API,
            "name": format!("[concat(parameters('storageAccountName'), '/default/{}')]", self.container),
            "dependsOn": [storage_id],
            "properties": { "publicAccess": "None" },
        }));
        if self.authentication == "identity" {
            resources.push(json!({
                "type": "Microsoft.Authorization/roleAssignments",
                "apiVersion": AUTHORIZATION_API,
                "scope": format!("[concat('Microsoft.Storage/storageAccounts/', parameters('storageAccountName'))]"),
                "name": "[guid(resourceId('Microsoft.Storage/storageAccounts', parameters('storageAccountName')), parameters('hubName'), 'ba92f5b4-2d11-453d-a403-e96b0029c9fe')]",
                "dependsOn": [storage_id, "[resourceId('Microsoft.Devices/IotHubs', parameters('hubName'))]"],
                "properties": {
                    "roleDefinitionId": "[subscriptionResourceId('Microsoft.Authorization/roleDefinitions', 'ba92f5b4-2d11-453d-a403-e96b0029c9fe')]",
                    "principalId": "[reference(resourceId('Microsoft.Devices/IotHubs', parameters('hubName')), '2023-06-30', 'full').identity.principalId]",
                    "principalType": "ServicePrincipal",
                },
            }));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kept(authentication: &str) -> KeptData {
        KeptData {
            hub: "plant".into(),
            hub_id: "/subscriptions/s/resourceGroups/rg/providers/Microsoft.Devices/IotHubs/plant".into(),
            account: "plantdata".into(),
            account_id: "/subscriptions/s/resourceGroups/rg/providers/Microsoft.Storage/storageAccounts/plantdata".into(),
            resource_group: "rg".into(),
            location: "westeurope".into(),
            container: "iot-data".into(),
            encoding: "JSON".into(),
            batch_seconds: 300,
            streams: vec!["it's.here".into()],
            blob_endpoint: "https://plantdata.blob.core.windows.net/".into(),
            authentication: authentication.into(),
            role_assignment: None,
            endpoints: vec![],
            routes: vec![],
        }
    }

    #[test]
    fn the_commands_make_the_same_storage_and_routes() {
        let commands = kept("identity").az_commands();
        assert!(commands.contains("az storage account create --name plantdata --resource-group rg --location westeurope --sku Standard_LRS"));
        assert!(commands.contains("--role 'Storage Blob Data Contributor' --scope /subscriptions/s/resourceGroups/rg/providers/Microsoft.Storage/storageAccounts/plantdata\n"));
        assert!(commands.contains("--endpoint-name store-it-s.here --container-name iot-data --encoding json --batch-frequency 300 --file-name-format 'it'\\''s.here/{iothub}/{partition}/{YYYY}/{MM}/{DD}/{HH}/{mm}' --identity '[system]' --endpoint-uri 'https://plantdata.blob.core.windows.net/'\n"), "{commands}");
        assert!(
            commands.contains("--condition '$connectionDeviceId = \"it'\\''s.here\"'"),
            "{commands}"
        );
        assert!(commands.ends_with("--route-name hubsetup-built-in --source DeviceMessages --endpoint-name events --condition true --enabled true\n"));
        let keyed = kept("key").az_commands();
        assert!(!keyed.contains("role assignment") && keyed.contains("show-connection-string"));
    }

    #[test]
    fn the_template_gains_the_account_container_role_and_routing() {
        let mut template = json!({ "parameters": {}, "resources": [{ "type": "Microsoft.Devices/IotHubs", "properties": {} }] });
        kept("identity").extend_template(&mut template);
        let types: Vec<&str> = template["resources"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["type"].as_str().unwrap())
            .collect();
        assert_eq!(
            types,
            [
                "Microsoft.Devices/IotHubs",
                "Microsoft.Storage/storageAccounts",
                "Microsoft.Storage/storageAccounts/blobServices/containers",
                "Microsoft.Authorization/roleAssignments"
            ]
        );
        let hub = &template["resources"][0];
        assert_eq!(hub["identity"]["type"], "SystemAssigned");
        assert_eq!(
            hub["properties"]["routing"]["routes"][1]["name"],
            "hubsetup-built-in"
        );
        assert!(
            !template.to_string().contains("AccountKey=")
                || template.to_string().contains("listKeys(")
        );
    }
}
