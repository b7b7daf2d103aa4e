//! The optional restricted shared access policy, for partners that manage device identities
//! themselves: exactly RegistryRead, RegistryWrite and DeviceConnect. It is added by reading
//! the hub with every policy's keys and writing it back with `If-Match`, so no other policy
//! and no other setting changes.

use hubsetup_core::{ConnectionString, SharedAccessKey};
use serde::Serialize;
use serde_json::{json, Value};

use crate::arm::Azure;
use crate::catalog::HubInfo;
use crate::hub::PolicyKeys;
use crate::progress::Progress;
use crate::Error;

/// The rights of the restricted policy, in Azure's order.
pub const RESTRICTED_RIGHTS: [&str; 3] = ["RegistryRead", "RegistryWrite", "DeviceConnect"];
/// The name suggested for it.
pub const DEFAULT_POLICY_NAME: &str = "partner-registry";

/// The policy's name, primary key and connection string (the secrets: show them masked).
#[derive(Debug, Clone)]
pub struct PolicyCredentials {
    pub name: String,
    /// False when the policy existed with exactly these rights and was reused.
    pub created: bool,
    pub primary_key: SharedAccessKey,
    pub connection_string: ConnectionString,
}

/// The facts of the policy, without its keys.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PolicySummary {
    pub name: String,
    pub rights: String,
    pub created: bool,
}

impl PolicyCredentials {
    pub fn summary(&self) -> PolicySummary {
        PolicySummary {
            name: self.name.clone(),
            rights: restricted_rights(),
            created: self.created,
        }
    }
}

/// `RegistryRead, RegistryWrite, DeviceConnect`, as ARM writes rights.
pub fn restricted_rights() -> String {
    RESTRICTED_RIGHTS.join(", ")
}

/// Policy names: 1 to 64 letters, digits, `-`, `_` and `.`.
pub fn check_policy_name(name: &str) -> Result<(), Error> {
    let valid = (1..=64).contains(&name.len())
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c));
    if valid {
        Ok(())
    } else {
        Err(Error::InvalidPolicyName(name.to_owned()))
    }
}

/// Whether `rights` (as ARM lists them) are exactly the restricted set, in any order.
fn is_restricted(rights: &str) -> bool {
    let mut given: Vec<&str> = rights
        .split(',')
        .map(str::trim)
        .filter(|r| !r.is_empty())
        .collect();
    given.sort_unstable();
    let mut wanted = RESTRICTED_RIGHTS.to_vec();
    wanted.sort_unstable();
    given == wanted
}

impl Azure {
    /// The hub's policy `name` if it has exactly the restricted rights; a policy of that name
    /// with other rights is a conflict, left alone.
    pub(crate) async fn restricted_policy(
        &self,
        hub: &HubInfo,
        name: &str,
    ) -> Result<Option<PolicyKeys>, Error> {
        match self
            .list_keys(hub)
            .await?
            .into_iter()
            .find(|p| p.name == name)
        {
            Some(policy) if !is_restricted(&policy.rights) => Err(Error::PolicyConflict {
                hub: hub.name.clone(),
                name: name.to_owned(),
                rights: policy.rights,
            }),
            found => Ok(found),
        }
    }

    /// Adds the restricted policy `name` to the hub, or reuses it if it already has exactly
    /// the restricted rights.
    pub async fn ensure_restricted_policy(
        &self,
        hub: &HubInfo,
        name: &str,
    ) -> Result<PolicyCredentials, Error> {
        check_policy_name(name)?;
        let created = match self.restricted_policy(hub, name).await? {
            Some(_) => false,
            None => {
                let description = format!(
                    "Add the shared access policy '{name}' ({}).",
                    restricted_rights()
                );
                self.update_hub(hub, &description, |body| add_policy(body, name))
                    .await?
            }
        };
        let policy =
            self.restricted_policy(hub, name)
                .await?
                .ok_or_else(|| Error::UnexpectedAnswer {
                    what: format!("the policy '{name}' missing after it was added"),
                })?;
        self.report(match created {
            true => Progress::PolicyCreated {
                name: name.to_owned(),
            },
            false => Progress::PolicyReused {
                name: name.to_owned(),
            },
        });
        Ok(PolicyCredentials {
            name: name.to_owned(),
            created,
            connection_string: ConnectionString::for_policy(
                &self.hub_host(hub),
                name,
                policy.primary.clone(),
            ),
            primary_key: policy.primary,
        })
    }
}

/// Appends the policy without keys (the hub generates them), unless a previous attempt that
/// seemed lost already added it.
fn add_policy(body: &mut Value, name: &str) -> bool {
    let Some(policies) = body
        .pointer_mut("/properties/authorizationPolicies")
        .and_then(Value::as_array_mut)
    else {
        return false;
    };
    if policies
        .iter()
        .any(|p| p.get("keyName").and_then(Value::as_str) == Some(name))
    {
        return false;
    }
    policies.push(json!({ "keyName": name, "rights": restricted_rights() }));
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_policy_is_added_once_next_to_the_others() {
        let mut body = json!({ "properties": { "authorizationPolicies": [
            { "keyName": "iothubowner", "primaryKey": "a", "secondaryKey": "b", "rights": "RegistryWrite, ServiceConnect, DeviceConnect" }
        ] } });
        assert!(add_policy(&mut body, "partner"));
        assert!(!add_policy(&mut body, "partner"));
        assert_eq!(
            body.pointer("/properties/authorizationPolicies"),
            Some(&json!([
                { "keyName": "iothubowner", "primaryKey": "a", "secondaryKey": "b", "rights": "RegistryWrite, ServiceConnect, DeviceConnect" },
                { "keyName": "partner", "rights": "RegistryRead, RegistryWrite, DeviceConnect" }
            ]))
        );
    }

    #[test]
    fn names_and_rights_are_checked() {
        assert!(check_policy_name("partner-registry_1.0").is_ok());
        assert_eq!(
            check_policy_name("partner registry").unwrap_err().to_string(),
            "The policy name 'partner registry' is invalid: use 1 to 64 letters, digits, '-', '_' and '.'."
        );
        assert!(is_restricted("DeviceConnect, RegistryRead, RegistryWrite"));
        assert!(!is_restricted("RegistryRead, RegistryWrite"));
        assert!(!is_restricted(
            "RegistryRead, RegistryWrite, ServiceConnect, DeviceConnect"
        ));
    }
}
