//! New keys for a device or a policy, made here from the OS's random source as Azure's own
//! tools make them (`az iot hub policy renew-key`): a device's through the registry, guarded by
//! its etag ([`Azure::renew_device_keys`]); a policy's through ARM, by updating the hub
//! ([`Azure::renew_policy_keys`]). A request signed with a replaced key fails at once.

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use hubsetup_core::{ConnectionString, SharedAccessKey};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::arm::Azure;
use crate::catalog::HubInfo;
use crate::Error;

/// Which key gets a new value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ts_rs::TS)]
#[ts(export)]
#[serde(rename_all = "snake_case")]
pub enum RenewKey {
    Primary,
    Secondary,
    /// Both: whoever holds either key is cut off.
    Both,
}

/// The connection strings of both keys after a renewal (secrets: show them only masked).
#[derive(Debug, Clone)]
pub struct RenewedKeys {
    pub primary: ConnectionString,
    pub secondary: ConnectionString,
}

impl RenewKey {
    /// Sets new keys in `keys` (an object with the two key fields named).
    pub(crate) fn apply(self, keys: &mut Value, primary: &str, secondary: &str) {
        if matches!(self, RenewKey::Primary | RenewKey::Both) {
            keys[primary] = new_key().into();
        }
        if matches!(self, RenewKey::Secondary | RenewKey::Both) {
            keys[secondary] = new_key().into();
        }
    }
}

/// 32 random bytes in base64, as Azure generates keys.
fn new_key() -> String {
    STANDARD.encode(rand::random::<[u8; 32]>())
}

impl Azure {
    /// Gives policy `policy` of the hub new keys (`which`) by updating the hub through ARM.
    pub async fn renew_policy_keys(
        &self,
        hub: &HubInfo,
        policy: &str,
        which: RenewKey,
    ) -> Result<RenewedKeys, Error> {
        let gone = || Error::PolicyGone {
            hub: hub.name.clone(),
            policy: policy.to_owned(),
        };
        let description = format!("Renew the {} key of policy '{policy}'.", which.words());
        let found = self
            .update_hub(hub, &description, |body| {
                let entry = body
                    .pointer_mut("/properties/authorizationPolicies")
                    .and_then(Value::as_array_mut)
                    .and_then(|all| {
                        all.iter_mut()
                            .find(|p| p.get("keyName").and_then(Value::as_str) == Some(policy))
                    });
                match entry {
                    Some(entry) => {
                        which.apply(entry, "primaryKey", "secondaryKey");
                        true
                    }
                    None => false,
                }
            })
            .await?;
        if !found {
            return Err(gone());
        }
        let listed = self.list_keys_json(hub).await?;
        let entry = listed
            .as_array()
            .and_then(|all| {
                all.iter()
                    .find(|p| p.get("keyName").and_then(Value::as_str) == Some(policy))
            })
            .ok_or_else(gone)?;
        let host = self.hub_host(hub);
        let key = |field: &str| {
            entry
                .get(field)
                .and_then(Value::as_str)
                .and_then(|k| SharedAccessKey::from_base64(k).ok())
                .map(|k| ConnectionString::for_policy(&host, policy, k))
                .ok_or_else(|| Error::UnexpectedAnswer {
                    what: format!("policy '{policy}' without its {field} after renewal"),
                })
        };
        Ok(RenewedKeys {
            primary: key("primaryKey")?,
            secondary: key("secondaryKey")?,
        })
    }
}

impl RenewKey {
    fn words(self) -> &'static str {
        match self {
            RenewKey::Primary => "primary",
            RenewKey::Secondary => "secondary",
            RenewKey::Both => "primary and secondary",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_keys_asked_for_change() {
        let before = serde_json::json!({"primaryKey": "p", "secondaryKey": "s"});
        let mut keys = before.clone();
        RenewKey::Secondary.apply(&mut keys, "primaryKey", "secondaryKey");
        assert_eq!(keys["primaryKey"], "p");
        assert_ne!(keys["secondaryKey"], "s");
        assert_eq!(
            STANDARD
                .decode(keys["secondaryKey"].as_str().unwrap())
                .unwrap()
                .len(),
            32
        );
        let mut both = before.clone();
        RenewKey::Both.apply(&mut both, "primaryKey", "secondaryKey");
        assert_ne!(both["primaryKey"], "p");
        assert_ne!(both["secondaryKey"], both["primaryKey"]);
    }
}
