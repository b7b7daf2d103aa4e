//! Storage accounts and role assignments as the sandbox keeps them: what ARM made, which the
//! data plane (Azurite, see `crate::storage`) and the hubs' routing use.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// A storage account created through ARM.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct StorageAccount {
    pub name: String,
    pub subscription_id: String,
    pub resource_group: String,
    pub location: String,
    pub sku: String,
    pub kind: String,
    pub tags: serde_json::Value,
    /// key1 and key2 (base64 of 64 random bytes, as Azure's are).
    pub keys: [String; 2],
    pub created_ms: u64,
    /// Until then the creation is running (milliseconds since the epoch).
    pub busy_until_ms: u64,
    /// The settings ARM takes in `properties` (HTTPS only, TLS minimum, public access, shared
    /// keys, network rules, access tier), as last written.
    pub settings: serde_json::Map<String, serde_json::Value>,
    /// Blob containers made through ARM, by name.
    pub containers: BTreeMap<String, Container>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Container {
    pub etag: String,
    pub created_ms: u64,
}

impl StorageAccount {
    /// Whether the account takes requests signed with its keys (Azure's default: yes).
    pub fn allows_shared_keys(&self) -> bool {
        self.settings
            .get("allowSharedKeyAccess")
            .and_then(serde_json::Value::as_bool)
            .unwrap_or(true)
    }

    /// Whether the account's firewall lets Azure's trusted services (IoT Hub among them) in:
    /// open to all, or closed with the `AzureServices` exception.
    pub fn admits_trusted_services(&self) -> bool {
        let acls = self.settings.get("networkAcls");
        let default_action = acls
            .and_then(|a| a.get("defaultAction"))
            .and_then(serde_json::Value::as_str)
            .unwrap_or("Allow");
        let bypass = acls
            .and_then(|a| a.get("bypass"))
            .and_then(serde_json::Value::as_str)
            .unwrap_or("AzureServices");
        default_action.eq_ignore_ascii_case("Allow")
            || bypass
                .split(',')
                .any(|b| b.trim().eq_ignore_ascii_case("AzureServices"))
    }

    /// Where the account's data lives for Azurite: a new account of an old name starts empty.
    pub fn data_folder(&self) -> String {
        format!("{}-{}", self.name, self.created_ms)
    }
}

/// A role given to a principal (a hub's managed identity, a user) at a scope.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RoleAssignment {
    /// The assignment's name (a GUID the client picks).
    pub name: String,
    /// The ARM path it applies at, as the client spelled it.
    pub scope: String,
    /// The role definition's GUID.
    pub role: String,
    pub principal_id: String,
    pub principal_type: String,
    pub created_ms: u64,
    /// The object id of whoever made it (`createdBy`).
    #[serde(default)]
    pub created_by: Option<String>,
}
