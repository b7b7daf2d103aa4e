//! What the Azure Policy assigned where a hub goes requires of it, read before and after
//! creating it: the regions it may go to and the tags it must carry (from "Allowed locations"
//! and "Require a tag" style rules), and which settings a `Modify` or `Deny` keeps (public
//! network access, shared keys). Read from `Microsoft.Authorization/policyAssignments` and
//! each assignment's definition; what cannot be read is no reason to stop, as Azure's own
//! refusal will name the policy.

use serde::Serialize;
use serde_json::Value;

use crate::arm::Azure;
use crate::catalog::{strings, HubInfo};
use crate::reach::ReachProblem;

/// Policy assignments' and definitions' API version.
const POLICY_API: &str = "2022-06-01";

/// One assignment at a scope, with its definition's rule.
struct Assigned {
    name: String,
    parameters: Value,
    rule: Value,
}

impl Assigned {
    /// The value of the parameter a rule refers to as `[parameters('name')]`, or a literal.
    fn resolve(&self, text: &str) -> Value {
        let name = text
            .strip_prefix("[parameters('")
            .and_then(|rest| rest.strip_suffix("')]"));
        match name {
            Some(name) => self.parameters[name]["value"].clone(),
            None => Value::String(text.to_owned()),
        }
    }

    /// Every `{ "field": …, <operator>: … }` condition of the rule.
    fn conditions(&self) -> Vec<&serde_json::Map<String, Value>> {
        fn walk<'a>(value: &'a Value, out: &mut Vec<&'a serde_json::Map<String, Value>>) {
            match value {
                Value::Object(map) => {
                    if map.contains_key("field") {
                        out.push(map);
                    }
                    map.values().for_each(|v| walk(v, out));
                }
                Value::Array(items) => items.iter().for_each(|v| walk(v, out)),
                _ => {}
            }
        }
        let mut out = Vec::new();
        walk(&self.rule["if"], &mut out);
        out
    }
}

/// A tag a policy requires on every resource.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ts_rs::TS)]
#[ts(export)]
pub struct RequiredTag {
    pub name: String,
    /// The assignment that requires it.
    pub policy: String,
}

/// What the policies assigned to a resource group require of a new hub there.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, ts_rs::TS)]
#[ts(export)]
pub struct PolicyRequirements {
    /// The regions allowed, when a policy limits them.
    pub allowed_regions: Option<Vec<String>>,
    /// The assignment that limits the regions.
    pub regions_policy: Option<String>,
    pub required_tags: Vec<RequiredTag>,
}

impl Azure {
    async fn assigned(&self, scope: &str, subscription: &str) -> Vec<Assigned> {
        let url = format!(
            "{}&$filter=atScope()",
            self.url(
                &format!("{scope}/providers/Microsoft.Authorization/policyAssignments"),
                POLICY_API
            )
        );
        let Ok(list) = self.get_json(&url, subscription).await else {
            return Vec::new();
        };
        let mut assigned = Vec::new();
        for item in list
            .get("value")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            let text = |pointer: &str| {
                item.pointer(pointer)
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .to_owned()
            };
            let url = self.url(&text("/properties/policyDefinitionId"), POLICY_API);
            let Ok(definition) = self.get_json(&url, subscription).await else {
                continue;
            };
            assigned.push(Assigned {
                name: [text("/properties/displayName"), text("/name")]
                    .into_iter()
                    .find(|n| !n.is_empty())
                    .unwrap_or_default(),
                parameters: item
                    .pointer("/properties/parameters")
                    .cloned()
                    .unwrap_or(Value::Null),
                rule: definition
                    .pointer("/properties/policyRule")
                    .cloned()
                    .unwrap_or(Value::Null),
            });
        }
        assigned
    }

    /// The regions and tags the policies of `group` require of a new hub.
    pub async fn policy_requirements(&self, subscription: &str, group: &str) -> PolicyRequirements {
        let scope = format!("/subscriptions/{subscription}/resourceGroups/{group}");
        let mut requirements = PolicyRequirements::default();
        for assigned in self.assigned(&scope, subscription).await {
            for condition in assigned.conditions() {
                let field = condition["field"].as_str().unwrap_or_default();
                if field == "location" {
                    if let Some(allowed) = condition.get("in").and_then(Value::as_str) {
                        requirements.allowed_regions = Some(strings(&assigned.resolve(allowed)));
                        requirements.regions_policy = Some(assigned.name.clone());
                    }
                } else if field.contains("tags[") && condition.get("exists").is_some() {
                    // `[concat('tags[', parameters('tagName'), ']')]`
                    let tag = field
                        .split("parameters('")
                        .nth(1)
                        .and_then(|rest| rest.split("')").next())
                        .map(|name| assigned.parameters[name]["value"].clone());
                    if let Some(Value::String(name)) = tag {
                        requirements.required_tags.push(RequiredTag {
                            name,
                            policy: assigned.name.clone(),
                        });
                    }
                }
            }
        }
        requirements
    }

    /// The assignments that keep some of `problems` as they are (a `Modify` or `Deny` on the
    /// setting): fixing those would be undone or refused.
    pub(crate) async fn policies_keeping(
        &self,
        hub: &HubInfo,
        problems: &[ReachProblem],
    ) -> Vec<(ReachProblem, String)> {
        let mut kept = Vec::new();
        for assigned in self.assigned(&hub.path(), &hub.subscription_id).await {
            let fields: Vec<String> = assigned
                .conditions()
                .iter()
                .filter_map(|c| c["field"].as_str())
                .map(str::to_ascii_lowercase)
                .collect();
            for problem in problems {
                let field = match problem {
                    ReachProblem::PublicNetworkAccessDisabled => {
                        "microsoft.devices/iothubs/publicnetworkaccess"
                    }
                    ReachProblem::LocalAuthDisabled => "microsoft.devices/iothubs/disablelocalauth",
                    _ => continue,
                };
                if fields.iter().any(|f| f == field) {
                    kept.push((problem.clone(), assigned.name.clone()));
                }
            }
        }
        kept
    }
}
