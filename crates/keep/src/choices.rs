//! What the "Keep the data" step shows before anything is made: the storage accounts the admin
//! has, a name for a new one, whether the hub would write as its identity or with a key, the
//! tier's limits, and a reused hub's own routes and retention, which stay as they are.

use hubsetup_provision::{Azure, Error, HubInfo};
use hubsetup_storage::routing;
use reqwest::Method;
use serde::Serialize;
use serde_json::Value;
use ts_rs::TS;

use crate::steps::{firewall_keeps_hub_out, may_assign_roles, STORAGE_API};
use crate::KeepError;

/// A storage account the admin could choose.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, TS)]
#[ts(export)]
pub struct StorageAccountInfo {
    pub name: String,
    pub resource_group: String,
    pub location: String,
    /// Whether the account lets its keys be used (else only an identity may write).
    pub shared_keys: bool,
    /// Whether its firewall keeps the hub out until trusted services are let through.
    pub firewall_keeps_hub_out: bool,
}

/// A route the hub has already, shown so the admin sees it is kept.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, TS)]
#[ts(export)]
pub struct HubRoute {
    pub name: String,
    pub source: String,
    pub condition: String,
    pub endpoints: Vec<String>,
    pub enabled: bool,
}

/// Everything the step offers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, TS)]
#[ts(export)]
pub struct StorageChoices {
    /// The subscription's storage accounts.
    pub accounts: Vec<StorageAccountInfo>,
    /// A name for a new account, made from the hub's (not yet checked with Azure).
    pub suggested_name: String,
    /// Whether the admin may give the hub's identity a role in the resource group (the hub then
    /// writes as its identity), else the hub writes with the account's key.
    pub identity: bool,
    /// Custom endpoints and routes the tier allows.
    pub endpoint_limit: u32,
    pub route_limit: u32,
    /// A reused hub's own routes.
    pub routes: Vec<HubRoute>,
    /// A reused hub's own custom endpoints, by name.
    pub endpoints: Vec<String>,
    /// How many days the built-in endpoint keeps messages now (a reused hub's; 1 for a new one).
    pub retention_days: u32,
}

/// What the step offers in `resource_group` of `subscription`, for a hub of `tier`; `hub` is
/// the reused hub, if any.
pub async fn storage_choices(
    azure: &Azure,
    subscription: &str,
    resource_group: &str,
    hub_name: &str,
    tier: &str,
    hub: Option<&HubInfo>,
) -> Result<StorageChoices, KeepError> {
    let listed = azure
        .arm_request(
            Method::GET,
            &format!("/subscriptions/{subscription}/providers/Microsoft.Storage/storageAccounts"),
            STORAGE_API,
            None,
            subscription,
        )
        .await?;
    let accounts = listed
        .body
        .get("value")
        .and_then(Value::as_array)
        .map(|all| all.iter().filter_map(account_info).collect())
        .unwrap_or_default();
    // A resource group that does not exist yet is made by the admin, who then owns it.
    let group = format!("/subscriptions/{subscription}/resourceGroups/{resource_group}");
    let identity = match may_assign_roles(azure, subscription, &group).await {
        Err(KeepError::Azure(Error::Azure { status: 404, .. })) => {
            may_assign_roles(
                azure,
                subscription,
                &format!("/subscriptions/{subscription}"),
            )
            .await?
        }
        other => other?,
    };
    let (endpoint_limit, route_limit) = routing::limits(tier);
    let (mut routes, mut endpoints, mut retention_days) = (Vec::new(), Vec::new(), 1);
    if let Some(hub) = hub {
        let current = azure.hub_resource(hub).await?;
        let routing = current
            .pointer("/properties/routing")
            .unwrap_or(&Value::Null);
        routes = routing
            .get("routes")
            .and_then(Value::as_array)
            .map(|all| all.iter().map(hub_route).collect())
            .unwrap_or_default();
        endpoints = routing
            .get("endpoints")
            .and_then(Value::as_object)
            .map(|kinds| {
                kinds
                    .values()
                    .filter_map(Value::as_array)
                    .flatten()
                    .filter_map(|e| e.get("name").and_then(Value::as_str))
                    .map(str::to_owned)
                    .collect()
            })
            .unwrap_or_default();
        retention_days = current
            .pointer("/properties/eventHubEndpoints/events/retentionTimeInDays")
            .and_then(Value::as_u64)
            .unwrap_or(1) as u32;
    }
    Ok(StorageChoices {
        accounts,
        suggested_name: suggested_name(hub_name),
        identity,
        endpoint_limit: endpoint_limit as u32,
        route_limit: route_limit as u32,
        routes,
        endpoints,
        retention_days,
    })
}

fn account_info(account: &Value) -> Option<StorageAccountInfo> {
    let text = |pointer: &str| account.pointer(pointer).and_then(Value::as_str);
    let id = text("/id")?;
    Some(StorageAccountInfo {
        name: text("/name")?.to_owned(),
        resource_group: id.split('/').nth(4).unwrap_or_default().to_owned(),
        location: text("/location").unwrap_or_default().to_owned(),
        shared_keys: account
            .pointer("/properties/allowSharedKeyAccess")
            .and_then(Value::as_bool)
            .unwrap_or(true),
        firewall_keeps_hub_out: firewall_keeps_hub_out(account),
    })
}

fn hub_route(route: &Value) -> HubRoute {
    let text = |key: &str| {
        route
            .get(key)
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned()
    };
    HubRoute {
        name: text("name"),
        source: text("source"),
        condition: text("condition"),
        endpoints: route
            .get("endpointNames")
            .and_then(Value::as_array)
            .map(|names| {
                names
                    .iter()
                    .filter_map(Value::as_str)
                    .map(str::to_owned)
                    .collect()
            })
            .unwrap_or_default(),
        enabled: route
            .get("isEnabled")
            .and_then(Value::as_bool)
            .unwrap_or(false),
    }
}

/// A storage account name from the hub's: its letters and digits in lower case, then `data`,
/// within Azure's 3 to 24 characters.
pub fn suggested_name(hub_name: &str) -> String {
    let base: String = hub_name
        .chars()
        .filter(char::is_ascii_alphanumeric)
        .map(|c| c.to_ascii_lowercase())
        .take(20)
        .collect();
    format!("{base}data")
}

/// Why `name` cannot be a storage account's, by Azure's rules, before Azure is asked.
pub fn account_name_problem(name: &str) -> Option<String> {
    if !(3..=24).contains(&name.len()) {
        return Some(format!(
            "A storage account name has 3 to 24 characters; '{name}' has {}.",
            name.chars().count()
        ));
    }
    name.chars()
        .find(|c| !(c.is_ascii_lowercase() || c.is_ascii_digit()))
        .map(|c| {
            format!(
                "A storage account name has only lowercase letters and digits; '{name}' has '{c}'."
            )
        })
}

/// Why `name` cannot be a blob container's, by Azure's rules.
pub fn container_name_problem(name: &str) -> Option<String> {
    let rule = "A container name has 3 to 63 lowercase letters, digits and single hyphens, and starts and ends with a letter or digit";
    let fits = (3..=63).contains(&name.len())
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        && !name.starts_with('-')
        && !name.ends_with('-')
        && !name.contains("--");
    (!fits).then(|| format!("{rule}; '{name}' does not."))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_suggested_name_is_a_valid_account_name() {
        assert_eq!(suggested_name("Contoso-IoT-Hub"), "contosoiothubdata");
        assert_eq!(
            suggested_name("a-very-long-hub-name-for-the-factory-floor"),
            "averylonghubnamefortdata"
        );
        for hub in [
            "Contoso-IoT-Hub",
            "a-very-long-hub-name-for-the-factory-floor",
            "h1",
        ] {
            assert_eq!(account_name_problem(&suggested_name(hub)), None, "{hub}");
        }
    }

    #[test]
    fn account_and_container_names_are_refused_with_the_rule() {
        assert_eq!(
            account_name_problem("ab").as_deref(),
            Some("A storage account name has 3 to 24 characters; 'ab' has 2.")
        );
        assert_eq!(
            account_name_problem("Contoso_data").as_deref(),
            Some("A storage account name has only lowercase letters and digits; 'Contoso_data' has 'C'.")
        );
        assert_eq!(container_name_problem("iot-data"), None);
        assert_eq!(
            container_name_problem("iot--data").as_deref(),
            Some("A container name has 3 to 63 lowercase letters, digits and single hyphens, and starts and ends with a letter or digit; 'iot--data' does not.")
        );
        assert!(container_name_problem("-iot").is_some());
        assert!(container_name_problem("IoT").is_some());
    }
}
