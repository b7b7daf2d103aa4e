//! Azure role-based access control as one user meets it: role assignments at a scope, the
//! built-in roles' actions and not-actions, `Microsoft.Authorization/permissions` (what the
//! user may do at a scope, read before any write) and ARM's `AuthorizationFailed` answer.
//!
//! The user owns the Contoso subscriptions and contributes to the guest tenant's; in
//! "Contoso Shared Services" they are only Contributor on `team-iot`, Reader on
//! `team-readonly` and an IoT operator (a custom role without Azure Monitor) on `team-ops`, and
//! may not see `platform-core` at all, as an IT admin often is.

use hubsetup_core::rbac::Grant;
use hyper::StatusCode;
use serde_json::{json, Value};

use crate::http::{arm_error, json_response, Resp};
use crate::state::{
    SUBSCRIPTION_DEV, SUBSCRIPTION_DISABLED, SUBSCRIPTION_GUEST, SUBSCRIPTION_PRODUCTION,
    SUBSCRIPTION_REGULATED, SUBSCRIPTION_SHARED, SUBSCRIPTION_UNREGISTERED,
};

/// A built-in role: its name and, as Azure defines it, what it allows and what it carves out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Role {
    pub(crate) name: &'static str,
    actions: &'static [&'static str],
    not_actions: &'static [&'static str],
}

pub(crate) const OWNER: Role = Role {
    name: "Owner",
    actions: &["*"],
    not_actions: &[],
};
pub(crate) const CONTRIBUTOR: Role = Role {
    name: "Contributor",
    actions: &["*"],
    not_actions: &[
        "Microsoft.Authorization/*/Delete",
        "Microsoft.Authorization/*/Write",
        "Microsoft.Authorization/elevateAccess/Action",
        "Microsoft.Blueprint/blueprintAssignments/write",
        "Microsoft.Blueprint/blueprintAssignments/delete",
        "Microsoft.Compute/galleries/share/action",
        "Microsoft.Purview/consents/write",
        "Microsoft.Purview/consents/delete",
        "Microsoft.Resources/deploymentStacks/manageDenySetting/action",
        "Microsoft.Subscription/cancel/action",
        "Microsoft.Subscription/enable/action",
    ],
};
pub(crate) const READER: Role = Role {
    name: "Reader",
    actions: &["*/read"],
    not_actions: &[],
};

/// A custom role some organisations give the people who run IoT hubs: the hubs and their
/// resource group, nothing of Azure Monitor.
pub(crate) const IOT_OPERATOR: Role = Role {
    name: "IoT Hub Operator (custom)",
    actions: &[
        "Microsoft.Devices/*",
        "Microsoft.Resources/subscriptions/resourceGroups/read",
    ],
    not_actions: &[],
};

/// A role given to the user on a subscription, or on one of its resource groups.
struct Assignment {
    subscription: &'static str,
    group: Option<&'static str>,
    role: Role,
}

impl Assignment {
    fn scope(&self) -> String {
        let subscription = format!("/subscriptions/{}", self.subscription);
        match self.group {
            Some(group) => format!("{subscription}/resourcegroups/{group}"),
            None => subscription,
        }
    }
}

const fn on_subscription(subscription: &'static str, role: Role) -> Assignment {
    Assignment {
        subscription,
        group: None,
        role,
    }
}

const ASSIGNMENTS: &[Assignment] = &[
    on_subscription(SUBSCRIPTION_PRODUCTION, OWNER),
    on_subscription(SUBSCRIPTION_DEV, OWNER),
    on_subscription(SUBSCRIPTION_UNREGISTERED, OWNER),
    on_subscription(SUBSCRIPTION_DISABLED, OWNER),
    on_subscription(SUBSCRIPTION_REGULATED, OWNER),
    on_subscription(SUBSCRIPTION_GUEST, CONTRIBUTOR),
    Assignment {
        subscription: SUBSCRIPTION_SHARED,
        group: Some("team-iot"),
        role: CONTRIBUTOR,
    },
    Assignment {
        subscription: SUBSCRIPTION_SHARED,
        group: Some("team-readonly"),
        role: READER,
    },
    Assignment {
        subscription: SUBSCRIPTION_SHARED,
        group: Some("team-ops"),
        role: IOT_OPERATOR,
    },
];

/// Whether `scope` lies at or under `parent` (both ARM paths).
fn within(scope: &str, parent: &str) -> bool {
    let scope = scope.to_ascii_lowercase();
    scope == parent || scope.starts_with(&format!("{parent}/"))
}

/// The roles that apply at `scope`: assigned there or above.
fn roles_at(scope: &str) -> impl Iterator<Item = Role> + '_ {
    ASSIGNMENTS
        .iter()
        .filter(move |a| within(scope, &a.scope()))
        .map(|a| a.role)
}

impl Role {
    fn grant(self) -> Grant {
        let owned = |list: &[&str]| list.iter().map(|s| (*s).to_owned()).collect();
        Grant {
            actions: owned(self.actions),
            not_actions: owned(self.not_actions),
        }
    }
}

/// Whether the user may perform `action` at `scope`.
pub(crate) fn allowed(action: &str, scope: &str) -> bool {
    roles_at(scope).any(|role| role.grant().allows(action))
}

/// ARM's refusal of an action, in its words.
pub(crate) fn authorization_failed(user: &str, object_id: &str, action: &str, scope: &str) -> Resp {
    arm_error(
        StatusCode::FORBIDDEN,
        "AuthorizationFailed",
        &format!(
            "The client '{user}' with object id '{object_id}' does not have authorization to perform action '{action}' over scope '{scope}' or the scope is invalid. If access was recently granted, please refresh your credentials."
        ),
    )
}

/// `GET {scope}/providers/Microsoft.Authorization/permissions`: one entry per role that
/// applies, as Azure lists them.
pub(crate) fn permissions(scope: &str) -> Resp {
    let value: Vec<Value> = roles_at(scope)
        .map(|role| {
            json!({
                "actions": role.actions,
                "notActions": role.not_actions,
                "dataActions": [],
                "notDataActions": [],
            })
        })
        .collect();
    json_response(StatusCode::OK, &json!({ "value": value }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roles_apply_at_their_scope_and_below() {
        let team = "/subscriptions/66666666-6666-4666-8666-666666666666/resourceGroups/team-iot";
        assert!(allowed(
            "Microsoft.Devices/IotHubs/write",
            &format!("{team}/providers/Microsoft.Devices/IotHubs/h")
        ));
        assert!(!allowed("Microsoft.Authorization/locks/write", team));
        assert!(!allowed(
            "Microsoft.Resources/subscriptions/resourceGroups/write",
            "/subscriptions/66666666-6666-4666-8666-666666666666/resourceGroups/new-group"
        ));
        let readonly =
            "/subscriptions/66666666-6666-4666-8666-666666666666/resourceGroups/team-readonly";
        assert!(allowed("Microsoft.Devices/IotHubs/read", readonly));
        assert!(!allowed(
            "Microsoft.Devices/IotHubs/listkeys/action",
            readonly
        ));
        assert!(allowed(
            "Microsoft.Devices/register/action",
            "/subscriptions/11111111-1111-4111-8111-111111111111"
        ));
    }
}
