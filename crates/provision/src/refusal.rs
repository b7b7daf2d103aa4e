//! ARM's refusals in words: an action a role does not allow (`AuthorizationFailed`,
//! `LinkedAuthorizationFailed`), a policy that denies the resource (`RequestDisallowedByPolicy`
//! and its `PolicyViolation` details) and the scopes a lock covers (`ScopeLocked`). Pure
//! readings of an answer; naming the lock itself takes a request (see `governance`).

use serde_json::Value;

use crate::Error;

/// A policy requirement a hub broke, in words, with the regions it allows when it is about
/// the location.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Violation {
    pub(crate) assignment: String,
    pub(crate) requirement: Requirement,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Requirement {
    Location {
        allowed: Vec<String>,
    },
    Tag {
        name: String,
    },
    NoPublicNetwork,
    NoLocalAuth,
    /// A storage account's firewall that denies by default.
    FirewallDeny,
    Other {
        field: String,
    },
}

/// What an action lets a person do, for messages; and the built-in role that grants it.
pub(crate) fn action_words(action: &str) -> (String, &'static str) {
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
pub(crate) fn not_allowed(code: &str, message: &str) -> Option<Error> {
    let (action, scope) = match code {
        "AuthorizationFailed" => (
            quoted_after(message, "perform action")?,
            quoted_after(message, "over scope")?,
        ),
        // "… has permission to perform action 'A' on scope 'S'; however, it does not have
        // permission to perform action(s) 'B' on the linked scope(s) 'L' …"
        "LinkedAuthorizationFailed" => (
            quoted_after(message, "perform action(s)")?,
            quoted_after(message, "linked scope(s)")?,
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
            } else if path.eq_ignore_ascii_case("properties.networkAcls.defaultAction") {
                Requirement::FirewallDeny
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
        Requirement::FirewallDeny => (
            "a firewall that denies network access by default".to_owned(),
            "Ask your Azure administrators what the policy requires.".to_owned(),
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
pub(crate) fn locked_scopes(message: &str) -> Vec<String> {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_refused_action_is_named_with_its_place_and_role() {
        let error = not_allowed(
            "AuthorizationFailed",
            "The client 'a@b' with object id 'x' does not have authorization to perform action \
             'Microsoft.Devices/IotHubs/write' over scope '/subscriptions/6/resourceGroups/team-readonly/providers/Microsoft.Devices/IotHubs/h' \
             or the scope is invalid. If access was recently granted, please refresh your credentials.",
        )
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
        let linked = not_allowed(
            "LinkedAuthorizationFailed",
            "The client 'a@b' with object id 'x' has permission to perform action \
             'Microsoft.Devices/IotHubs/write' on scope '/subscriptions/6/resourceGroups/g/providers/Microsoft.Devices/IotHubs/h'; \
             however, it does not have permission to perform action(s) 'Microsoft.Network/virtualNetworks/subnets/join/action' \
             on the linked scope(s) '/subscriptions/6/resourceGroups/net/providers/Microsoft.Network/virtualNetworks/v/subnets/s' \
             (respectively) or the linked scope(s) are invalid.",
        )
        .unwrap();
        assert!(
            linked.to_string().starts_with(
                "You may not perform Microsoft.Network/virtualNetworks/subnets/join/action here: \
             Azure refused the action Microsoft.Network/virtualNetworks/subnets/join/action on \
             the resource 's' in resource group 'net'"
            ),
            "{linked}"
        );
        assert!(not_allowed("Conflict", "…").is_none());
    }

    #[test]
    fn locked_scopes_are_read_from_the_message() {
        assert_eq!(
            locked_scopes("The scope '/s/x/h' cannot perform write operation because following scope(s) are locked: '/s/x', '/s'. Please remove the lock and try again."),
            ["/s/x", "/s"]
        );
    }
}
