//! Can the partner reach the hub? A hub that refuses outside senders is the commonest silent
//! failure: the connection string looks fine and nothing ever arrives. Every hub, new or
//! reused, is checked before a string is handed out; each problem is said in plain words and
//! fixed only when the person agrees.

use std::fmt;

use serde::Serialize;
use serde_json::{json, Value};

use crate::arm::Azure;
use crate::catalog::HubInfo;
use crate::Error;

/// TLS versions every current device SDK speaks.
const SUPPORTED_TLS_MINIMUMS: &[&str] = &["1.0", "1.1", "1.2"];

/// One setting that stops partners' devices from connecting with a connection string.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum ReachProblem {
    PublicNetworkAccessDisabled,
    /// IP filter rules that reject some addresses (their names and ranges).
    IpFilterRejects {
        rules: Vec<String>,
    },
    NetworkRulesDenyByDefault,
    LocalAuthDisabled,
    DeviceSasDisabled,
    TlsMinimumUnsupported {
        version: String,
    },
}

impl fmt::Display for ReachProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ReachProblem::PublicNetworkAccessDisabled => f.write_str(
                "Public network access is disabled: only devices inside the company's private \
                 network can connect, so the partner's devices will be refused.",
            ),
            ReachProblem::IpFilterRejects { rules } => write!(
                f,
                "The IP filter rejects some addresses ({}): if the partner sends from one of \
                 them, every message is refused.",
                rules.join(", ")
            ),
            ReachProblem::NetworkRulesDenyByDefault => f.write_str(
                "The network rules deny every address not explicitly allowed, so the partner's \
                 devices will be refused unless their addresses are listed.",
            ),
            ReachProblem::LocalAuthDisabled => f.write_str(
                "Local authentication (shared access keys) is disabled, so no connection string \
                 works on this hub.",
            ),
            ReachProblem::DeviceSasDisabled => f.write_str(
                "Device keys (device SAS) are disabled, so device connection strings do not work \
                 on this hub.",
            ),
            ReachProblem::TlsMinimumUnsupported { version } => write!(
                f,
                "The hub requires TLS {version} or newer, which many device SDKs cannot use yet."
            ),
        }
    }
}

impl ReachProblem {
    /// What the fix changes, to ask for consent.
    pub fn fix(&self) -> &'static str {
        match self {
            ReachProblem::PublicNetworkAccessDisabled => "Enable public network access.",
            ReachProblem::IpFilterRejects { .. } => {
                "Remove the IP filter rules that reject addresses."
            }
            ReachProblem::NetworkRulesDenyByDefault => {
                "Make the network rules allow addresses by default (the listed rules stay)."
            }
            ReachProblem::LocalAuthDisabled => "Enable local authentication.",
            ReachProblem::DeviceSasDisabled => "Enable device keys (device SAS).",
            ReachProblem::TlsMinimumUnsupported { .. } => "Set the minimum TLS version to 1.2.",
        }
    }

    /// The hub property setting that fixes it, as `az iot hub update --set` takes it; `None`
    /// for the IP filter, whose rejecting rules are removed one by one.
    pub fn az_setting(&self) -> Option<&'static str> {
        match self {
            ReachProblem::PublicNetworkAccessDisabled => {
                Some("properties.publicNetworkAccess=Enabled")
            }
            ReachProblem::IpFilterRejects { .. } => None,
            ReachProblem::NetworkRulesDenyByDefault => {
                Some("properties.networkRuleSets.defaultAction=Allow")
            }
            ReachProblem::LocalAuthDisabled => Some("properties.disableLocalAuth=false"),
            ReachProblem::DeviceSasDisabled => Some("properties.disableDeviceSAS=false"),
            ReachProblem::TlsMinimumUnsupported { .. } => Some("properties.minTlsVersion=1.2"),
        }
    }

    /// Changes a hub's PUT body so that this problem is gone; false if it already is.
    fn apply(&self, hub: &mut Value) -> bool {
        let Some(properties) = hub.get_mut("properties").and_then(Value::as_object_mut) else {
            return false;
        };
        let mut set = |name: &str, value: Value| {
            let changed = properties.get(name) != Some(&value);
            properties.insert(name.to_owned(), value);
            changed
        };
        match self {
            ReachProblem::PublicNetworkAccessDisabled => {
                set("publicNetworkAccess", json!("Enabled"))
            }
            ReachProblem::LocalAuthDisabled => set("disableLocalAuth", json!(false)),
            ReachProblem::DeviceSasDisabled => set("disableDeviceSAS", json!(false)),
            ReachProblem::TlsMinimumUnsupported { .. } => set("minTlsVersion", json!("1.2")),
            ReachProblem::IpFilterRejects { .. } => {
                let Some(rules) = properties
                    .get_mut("ipFilterRules")
                    .and_then(Value::as_array_mut)
                else {
                    return false;
                };
                let before = rules.len();
                rules.retain(|r| !is_reject(r));
                rules.len() != before
            }
            ReachProblem::NetworkRulesDenyByDefault => {
                let Some(rules) = properties
                    .get_mut("networkRuleSets")
                    .and_then(Value::as_object_mut)
                else {
                    return false;
                };
                let changed = rules.get("defaultAction") != Some(&json!("Allow"));
                rules.insert("defaultAction".into(), json!("Allow"));
                changed
            }
        }
    }
}

fn is_reject(rule: &Value) -> bool {
    rule.get("action").and_then(Value::as_str) == Some("Reject")
}

/// Every reachability problem of a hub, from its ARM description.
pub fn reach_problems(hub: &Value) -> Vec<ReachProblem> {
    let property = |name: &str| hub.pointer(&format!("/properties/{name}"));
    let flag = |name: &str| property(name).and_then(Value::as_bool) == Some(true);
    let mut problems = Vec::new();
    if property("publicNetworkAccess")
        .and_then(Value::as_str)
        .is_some_and(|v| v.eq_ignore_ascii_case("Disabled"))
    {
        problems.push(ReachProblem::PublicNetworkAccessDisabled);
    }
    let rejecting: Vec<String> = property("ipFilterRules")
        .and_then(Value::as_array)
        .map(|rules| {
            rules
                .iter()
                .filter(|r| is_reject(r))
                .map(|r| {
                    let field = |f: &str| r.get(f).and_then(Value::as_str).unwrap_or("?");
                    format!("'{}' {}", field("filterName"), field("ipMask"))
                })
                .collect()
        })
        .unwrap_or_default();
    if !rejecting.is_empty() {
        problems.push(ReachProblem::IpFilterRejects { rules: rejecting });
    }
    if property("networkRuleSets")
        .and_then(|r| r.get("defaultAction"))
        .and_then(Value::as_str)
        == Some("Deny")
    {
        problems.push(ReachProblem::NetworkRulesDenyByDefault);
    }
    if flag("disableLocalAuth") {
        problems.push(ReachProblem::LocalAuthDisabled);
    }
    if flag("disableDeviceSAS") {
        problems.push(ReachProblem::DeviceSasDisabled);
    }
    if let Some(version) = property("minTlsVersion").and_then(Value::as_str) {
        if !SUPPORTED_TLS_MINIMUMS.contains(&version) {
            problems.push(ReachProblem::TlsMinimumUnsupported {
                version: version.to_owned(),
            });
        }
    }
    problems
}

impl Azure {
    /// The hub's reachability problems as it is now.
    pub async fn reachability(&self, hub: &HubInfo) -> Result<Vec<ReachProblem>, Error> {
        Ok(reach_problems(&self.current_hub_json(hub).await?))
    }

    /// Fixes the given problems (the ones the person agreed to), changing nothing else.
    pub async fn fix_reachability(
        &self,
        hub: &HubInfo,
        problems: &[ReachProblem],
    ) -> Result<(), Error> {
        if problems.is_empty() {
            return Ok(());
        }
        let description = problems
            .iter()
            .map(ReachProblem::fix)
            .collect::<Vec<_>>()
            .join(" ");
        self.update_hub(hub, &description, |body| {
            problems
                .iter()
                .fold(false, |changed, p| p.apply(body) | changed)
        })
        .await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hub(properties: Value) -> Value {
        json!({ "properties": properties })
    }

    #[test]
    fn an_open_hub_has_no_problems() {
        let open = hub(json!({
            "publicNetworkAccess": "Enabled", "ipFilterRules": [{ "filterName": "lab", "action": "Accept", "ipMask": "10.0.0.0/8" }],
            "disableLocalAuth": false, "disableDeviceSAS": false, "minTlsVersion": "1.2",
            "networkRuleSets": { "defaultAction": "Allow", "ipRules": [] }
        }));
        assert_eq!(reach_problems(&open), vec![]);
        assert_eq!(reach_problems(&hub(json!({}))), vec![]);
    }

    #[test]
    fn every_blocking_setting_is_found_and_fixed() {
        let mut closed = hub(json!({
            "publicNetworkAccess": "Disabled",
            "ipFilterRules": [
                { "filterName": "lab", "action": "Accept", "ipMask": "10.0.0.0/8" },
                { "filterName": "all", "action": "Reject", "ipMask": "0.0.0.0/0" }
            ],
            "networkRuleSets": { "defaultAction": "Deny", "ipRules": [{ "filterName": "hq", "action": "Allow", "ipMask": "1.2.3.4" }] },
            "disableLocalAuth": true, "disableDeviceSAS": true, "minTlsVersion": "1.3"
        }));
        let problems = reach_problems(&closed);
        assert_eq!(
            problems,
            vec![
                ReachProblem::PublicNetworkAccessDisabled,
                ReachProblem::IpFilterRejects {
                    rules: vec!["'all' 0.0.0.0/0".into()]
                },
                ReachProblem::NetworkRulesDenyByDefault,
                ReachProblem::LocalAuthDisabled,
                ReachProblem::DeviceSasDisabled,
                ReachProblem::TlsMinimumUnsupported {
                    version: "1.3".into()
                },
            ]
        );
        assert_eq!(
            problems[1].to_string(),
            "The IP filter rejects some addresses ('all' 0.0.0.0/0): if the partner sends from \
             one of them, every message is refused."
        );
        assert!(problems.iter().all(|p| p.apply(&mut closed)));
        assert_eq!(reach_problems(&closed), vec![]);
        assert!(
            !problems.iter().any(|p| p.apply(&mut closed)),
            "fixing twice changes nothing"
        );
        assert_eq!(
            closed.pointer("/properties/networkRuleSets/ipRules/0/filterName"),
            Some(&json!("hq"))
        );
        assert_eq!(
            closed.pointer("/properties/ipFilterRules/0/filterName"),
            Some(&json!("lab"))
        );
    }
}
