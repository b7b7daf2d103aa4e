//! Why an enterprise's Azure refuses: a role that does not allow the action
//! (`AuthorizationFailed`, `LinkedAuthorizationFailed`), a policy assignment that denies the
//! resource (`RequestDisallowedByPolicy` and its `PolicyViolation` details) or a management
//! lock (`ScopeLocked`, named through `Microsoft.Authorization/locks`). Each becomes an
//! [`Error`] that says what was refused, where, and whom to ask for what.

use hubsetup_core::rbac::{self, Grant};
use reqwest::Method;
use serde::Serialize;
use serde_json::Value;

use crate::arm::{ArmFailure, Azure};
use crate::http::Repeat;
use crate::Error;

/// Management locks' API version.
const LOCKS_API: &str = "2016-09-01";
/// `Microsoft.Authorization/permissions`' API version.
const PERMISSIONS_API: &str = "2022-04-01";

/// Something the wizard does that needs a right, and where it needs it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Need {
    CreateHub,
    CreateGroup,
    ReadKeys,
    CreateConsumerGroup,
    RegisterProvider,
}

impl Need {
    const ALL: [Need; 5] = [
        Need::CreateHub,
        Need::CreateGroup,
        Need::ReadKeys,
        Need::CreateConsumerGroup,
        Need::RegisterProvider,
    ];

    fn action(self) -> &'static str {
        match self {
            Need::CreateHub => "Microsoft.Devices/IotHubs/write",
            Need::CreateGroup => "Microsoft.Resources/subscriptions/resourceGroups/write",
            Need::ReadKeys => "Microsoft.Devices/IotHubs/listkeys/action",
            Need::CreateConsumerGroup => {
                "Microsoft.Devices/IotHubs/eventHubEndpoints/ConsumerGroups/write"
            }
            Need::RegisterProvider => "Microsoft.Devices/register/action",
        }
    }

    /// What creating a hub needs: the provider registered, the group created, the hub
    /// created and its keys read (for its devices).
    pub(crate) fn for_new_hub(creates_group: bool, registered: bool) -> Vec<Need> {
        let mut needs = Vec::new();
        if !registered {
            needs.push(Need::RegisterProvider);
        }
        if creates_group {
            needs.push(Need::CreateGroup);
        }
        needs.extend([Need::CreateHub, Need::ReadKeys]);
        needs
    }

    /// Whether the right is needed on the subscription rather than the resource group.
    fn on_subscription(self) -> bool {
        matches!(self, Need::CreateGroup | Need::RegisterProvider)
    }
}

/// One thing the signed-in user may or may not do where the hub goes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ts_rs::TS)]
#[ts(export)]
pub struct Ability {
    /// "create or change IoT hubs".
    pub what: String,
    pub action: String,
    pub allowed: bool,
    /// When not allowed: the role to ask for, and where ("the Contributor role on the resource
    /// group 'team-iot'").
    pub ask_for: Option<String>,
}

/// What the signed-in user may do in a subscription and resource group, read before any
/// write.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ts_rs::TS)]
#[ts(export)]
pub struct Permissions {
    pub subscription_id: String,
    pub resource_group: Option<String>,
    pub abilities: Vec<Ability>,
}

impl Permissions {
    /// The refusal Azure would give for what `need` asks, before asking it.
    pub(crate) fn refuse(&self, need: Need) -> Result<(), Error> {
        let action = need.action();
        let Some(ability) = self
            .abilities
            .iter()
            .find(|a| a.action == action && !a.allowed)
        else {
            return Ok(());
        };
        let scope = self.scope_of(need);
        let (what, role) = action_words(action);
        Err(Error::NotAllowed {
            what,
            action: ability.action.clone(),
            place: scope_words(&scope),
            scope,
            role,
        })
    }

    fn scope_of(&self, need: Need) -> String {
        let subscription = format!("/subscriptions/{}", self.subscription_id);
        match (&self.resource_group, need.on_subscription()) {
            (Some(group), false) => format!("{subscription}/resourceGroups/{group}"),
            _ => subscription,
        }
    }
}

/// A policy requirement a hub broke, in words, with the regions it allows when it is about
/// the location.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Violation {
    pub(crate) assignment: String,
    pub(crate) requirement: Requirement,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Requirement {
    Location { allowed: Vec<String> },
    Tag { name: String },
    NoPublicNetwork,
    NoLocalAuth,
    Other { field: String },
}

/// What an action lets a person do, for messages; and the built-in role that grants it.
fn action_words(action: &str) -> (String, &'static str) {
    let lower = action.to_ascii_lowercase();
    let words = match lower.as_str() {
        "microsoft.devices/iothubs/write" => "create or change IoT hubs",
        "microsoft.devices/iothubs/read" => "see IoT hubs",
        "microsoft.devices/iothubs/delete" => "delete IoT hubs",
        "microsoft.devices/iothubs/listkeys/action"
        | "microsoft.devices/iothubs/iothubkeys/listkeys/action" => "read IoT hubs' access keys",
        "microsoft.devices/checknameavailability/action" => "check IoT hub names",
        "microsoft.devices/register/action" => "register the IoT Hub resource provider",
        "microsoft.devices/iothubs/eventhubendpoints/consumergroups/write" => {
            "create consumer groups"
        }
        "microsoft.resources/subscriptions/resourcegroups/write" => "create resource groups",
        "microsoft.resources/subscriptions/resourcegroups/read" => "see resource groups",
        _ => return (format!("perform {action}"), role_for(&lower)),
    };
    (words.to_owned(), role_for(&lower))
}

fn role_for(action: &str) -> &'static str {
    if action.ends_with("/read") {
        "Reader"
    } else {
        "Contributor"
    }
}

/// `/subscriptions/s/resourceGroups/g/providers/…/IotHubs/h` in words: the innermost named
/// thing, and its kind for "ask its owner".
pub(crate) fn scope_words(scope: &str) -> String {
    let parts: Vec<&str> = scope.trim_matches('/').split('/').collect();
    let find = |key: &str| {
        parts
            .iter()
            .position(|p| p.eq_ignore_ascii_case(key))
            .and_then(|i| parts.get(i + 1))
            .copied()
    };
    match (find("subscriptions"), find("resourceGroups"), parts.len()) {
        (_, Some(group), n) if n > 4 => format!(
            "the {} '{}' in resource group '{group}'",
            resource_kind(parts[n - 2]),
            parts[n - 1]
        ),
        (_, Some(group), _) => format!("the resource group '{group}'"),
        (Some(subscription), None, _) => format!("the subscription '{subscription}'"),
        _ => format!("'{scope}'"),
    }
}

fn resource_kind(type_segment: &str) -> &'static str {
    match type_segment.to_ascii_lowercase().as_str() {
        "iothubs" => "IoT hub",
        "resourcegroups" => "resource group",
        _ => "resource",
    }
}

/// The text between the first quotes after `marker` in an ARM message.
fn quoted_after<'a>(message: &'a str, marker: &str) -> Option<&'a str> {
    let rest = &message[message.find(marker)? + marker.len()..];
    let start = rest.find('\'')? + 1;
    let end = start + rest[start..].find('\'')?;
    Some(&rest[start..end])
}

/// The refusal of an action by role, if `failure` is one.
pub(crate) fn not_allowed(failure: &ArmFailure) -> Option<Error> {
    let (action, scope) = match failure.code.as_str() {
        "AuthorizationFailed" => (
            quoted_after(&failure.message, "perform action")?,
            quoted_after(&failure.message, "over scope")?,
        ),
        // "… has permission to perform action 'A' on scope 'S'; however, it does not have
        // permission to perform action(s) 'B' on the linked scope(s) 'L' …"
        "LinkedAuthorizationFailed" => (
            quoted_after(&failure.message, "perform action(s)")?,
            quoted_after(&failure.message, "linked scope(s)")?,
        ),
        _ => return None,
    };
    let (what, role) = action_words(action);
    Some(Error::NotAllowed {
        what,
        action: action.to_owned(),
        scope: scope.to_owned(),
        place: scope_words(scope),
        role,
    })
}

/// The policy violations of a `RequestDisallowedByPolicy` answer, from its `additionalInfo`.
pub(crate) fn violations(body: &Value) -> Vec<Violation> {
    let error = body.get("error").unwrap_or(body);
    let infos = error
        .get("additionalInfo")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter(|i| i.get("type").and_then(Value::as_str) == Some("PolicyViolation"))
        .filter_map(|i| i.get("info"));
    infos
        .map(|info| {
            let text = |field: &str| info.get(field).and_then(Value::as_str).unwrap_or_default();
            let assignment = [
                text("policyAssignmentDisplayName"),
                text("policyAssignmentName"),
            ]
            .into_iter()
            .find(|t| !t.is_empty())
            .unwrap_or("an Azure Policy assignment")
            .to_owned();
            let expression = info
                .pointer("/evaluationDetails/evaluatedExpressions/0")
                .cloned()
                .unwrap_or(Value::Null);
            let path = expression
                .get("path")
                .and_then(Value::as_str)
                .unwrap_or_default();
            let requirement = if path == "location" {
                let allowed = expression
                    .get("targetValue")
                    .and_then(Value::as_array)
                    .map(|v| {
                        v.iter()
                            .filter_map(Value::as_str)
                            .map(str::to_owned)
                            .collect()
                    })
                    .unwrap_or_default();
                Requirement::Location { allowed }
            } else if let Some(tag) = path.strip_prefix("tags[").and_then(|t| t.strip_suffix(']')) {
                Requirement::Tag {
                    name: tag.to_owned(),
                }
            } else if path.eq_ignore_ascii_case("properties.publicNetworkAccess") {
                Requirement::NoPublicNetwork
            } else if path.eq_ignore_ascii_case("properties.disableLocalAuth") {
                Requirement::NoLocalAuth
            } else {
                Requirement::Other {
                    field: path.to_owned(),
                }
            };
            Violation {
                assignment,
                requirement,
            }
        })
        .collect()
}

/// A policy denial in words: the first violation decides the advice; a hub that partners
/// could not use with a connection string is said to be useless rather than fixable here.
pub(crate) fn policy_denied(hub: &str, violations: &[Violation]) -> Error {
    let Some(first) = violations.first() else {
        return Error::PolicyDenied {
            hub: hub.to_owned(),
            assignment: "an Azure Policy assignment".to_owned(),
            requirement: "its rules".to_owned(),
            advice: "Ask your Azure administrators which policy applies and what it requires."
                .to_owned(),
        };
    };
    let assignment = first.assignment.clone();
    let exemption = "Ask your Azure administrators for a policy exemption for this hub, or choose \
                     a resource group where the policy does not apply.";
    let (requirement, advice) = match &first.requirement {
        Requirement::Location { allowed } => (
            format!("hubs in {} only", allowed.join(", ")),
            format!("Choose one of these regions: {}.", allowed.join(", ")),
        ),
        Requirement::Tag { name } => (
            format!("the tag '{name}' on every resource"),
            format!("Add the tag (--tag {name}=VALUE; ask your Azure administrators which value)."),
        ),
        Requirement::NoPublicNetwork => (
            "IoT hubs without public network access".to_owned(),
            format!(
                "A partner outside your network could not reach such a hub with a connection \
                 string, so IoT Hub Setup does not create one. {exemption}"
            ),
        ),
        Requirement::NoLocalAuth => (
            "IoT hubs with local (shared access key) authentication turned off".to_owned(),
            format!(
                "Connection strings do not work on such a hub, so a hand-off would be useless and \
                 IoT Hub Setup does not create one. {exemption}"
            ),
        ),
        Requirement::Other { field } => (
            format!("a different value of {field}"),
            "Ask your Azure administrators what the policy requires.".to_owned(),
        ),
    };
    Error::PolicyDenied {
        hub: hub.to_owned(),
        assignment,
        requirement,
        advice,
    }
}

/// The locked scopes named in a `ScopeLocked` message.
fn locked_scopes(message: &str) -> Vec<String> {
    let Some(at) = message.find("locked:") else {
        return Vec::new();
    };
    message[at..]
        .split('\'')
        .skip(1)
        .step_by(2)
        .map(str::to_owned)
        .collect()
}

fn grants(list: &Value) -> Vec<Grant> {
    let strings = |item: &Value, field: &str| -> Vec<String> {
        item.get(field)
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
            .map(str::to_owned)
            .collect()
    };
    list.get("value")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .map(|item| Grant {
            actions: strings(item, "actions"),
            not_actions: strings(item, "notActions"),
        })
        .collect()
}

impl Azure {
    /// What the user may do in `subscription` and (when it exists) `resource_group`.
    pub async fn permissions(
        &self,
        subscription: &str,
        resource_group: Option<&str>,
    ) -> Result<Permissions, Error> {
        let read = |scope: String| async move {
            let url = self.url(
                &format!("{scope}/providers/Microsoft.Authorization/permissions"),
                PERMISSIONS_API,
            );
            self.get_json(&url, subscription)
                .await
                .map(|list| grants(&list))
        };
        let subscription_scope = format!("/subscriptions/{subscription}");
        let on_subscription = read(subscription_scope.clone()).await?;
        let on_group = match resource_group {
            Some(group) => read(format!("{subscription_scope}/resourceGroups/{group}")).await?,
            None => on_subscription.clone(),
        };
        let abilities = Need::ALL
            .iter()
            .map(|need| {
                let (grants, place) = match (need.on_subscription(), resource_group) {
                    (false, Some(group)) => (&on_group, format!("the resource group '{group}'")),
                    _ => (
                        &on_subscription,
                        format!("the subscription '{subscription}'"),
                    ),
                };
                let (what, role) = action_words(need.action());
                let allowed = rbac::permitted(grants, need.action());
                Ability {
                    what,
                    action: need.action().to_owned(),
                    allowed,
                    ask_for: (!allowed).then(|| format!("the {role} role on {place}")),
                }
            })
            .collect();
        Ok(Permissions {
            subscription_id: subscription.to_owned(),
            resource_group: resource_group.map(str::to_owned),
            abilities,
        })
    }

    /// The error for an ARM failure about `subscription`, naming the lock when one refused it.
    pub(crate) async fn explain(&self, failure: ArmFailure, subscription: &str) -> Error {
        if failure.code != "ScopeLocked" {
            return failure.into_error(subscription);
        }
        let Some(scope) = locked_scopes(&failure.message).into_iter().next() else {
            return failure.into_error(subscription);
        };
        let place = scope_words(&scope);
        let url = self.url(
            &format!("{scope}/providers/Microsoft.Authorization/locks"),
            LOCKS_API,
        );
        // The lock's name and note are a courtesy: without the right to read locks, say what
        // ARM said.
        let lock = match self.call(Method::GET, &url, None, None, Repeat::Safe).await {
            Ok(answer) if answer.status.is_success() => answer.json().ok().and_then(|list| {
                list.get("value")?.as_array()?.first().map(|lock| {
                    let text = |p: &str| {
                        lock.pointer(p)
                            .and_then(Value::as_str)
                            .unwrap_or_default()
                            .to_owned()
                    };
                    (
                        text("/name"),
                        text("/properties/level"),
                        text("/properties/notes"),
                    )
                })
            }),
            _ => None,
        };
        let lock = match lock {
            Some((name, level, notes)) if notes.is_empty() => format!("a {level} lock '{name}'"),
            Some((name, level, notes)) => format!("a {level} lock '{name}' (\"{notes}\")"),
            None => "a lock".to_owned(),
        };
        Error::Locked { place, lock }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::StatusCode;

    fn failure(code: &str, message: &str) -> ArmFailure {
        ArmFailure {
            status: StatusCode::FORBIDDEN,
            code: code.to_owned(),
            message: message.to_owned(),
            violations: Vec::new(),
        }
    }

    #[test]
    fn a_refused_action_is_named_with_its_place_and_role() {
        let error = not_allowed(&failure(
            "AuthorizationFailed",
            "The client 'a@b' with object id 'x' does not have authorization to perform action \
             'Microsoft.Devices/IotHubs/write' over scope '/subscriptions/6/resourceGroups/team-readonly/providers/Microsoft.Devices/IotHubs/h' \
             or the scope is invalid. If access was recently granted, please refresh your credentials.",
        ))
        .unwrap();
        assert_eq!(
            error.to_string(),
            "You may not create or change IoT hubs here: Azure refused the action \
             Microsoft.Devices/IotHubs/write on the IoT hub 'h' in resource group 'team-readonly' \
             (scope /subscriptions/6/resourceGroups/team-readonly/providers/Microsoft.Devices/IotHubs/h). \
             Ask an owner of it (or of its resource group or subscription) for the Contributor \
             role there, or a custom role that allows this action; or choose a place where you \
             have that role."
        );
        let linked = not_allowed(&failure(
            "LinkedAuthorizationFailed",
            "The client 'a@b' with object id 'x' has permission to perform action \
             'Microsoft.Devices/IotHubs/write' on scope '/subscriptions/6/resourceGroups/g/providers/Microsoft.Devices/IotHubs/h'; \
             however, it does not have permission to perform action(s) 'Microsoft.Network/virtualNetworks/subnets/join/action' \
             on the linked scope(s) '/subscriptions/6/resourceGroups/net/providers/Microsoft.Network/virtualNetworks/v/subnets/s' \
             (respectively) or the linked scope(s) are invalid.",
        ))
        .unwrap();
        assert!(
            linked.to_string().starts_with(
                "You may not perform Microsoft.Network/virtualNetworks/subnets/join/action here: \
             Azure refused the action Microsoft.Network/virtualNetworks/subnets/join/action on \
             the resource 's' in resource group 'net'"
            ),
            "{linked}"
        );
        assert!(not_allowed(&failure("Conflict", "…")).is_none());
    }

    #[test]
    fn locked_scopes_are_read_from_the_message() {
        assert_eq!(
            locked_scopes("The scope '/s/x/h' cannot perform write operation because following scope(s) are locked: '/s/x', '/s'. Please remove the lock and try again."),
            ["/s/x", "/s"]
        );
    }
}
