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
use crate::catalog::strings;
use crate::http::Repeat;
use crate::refusal::{action_words, locked_scopes, scope_words};
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

fn grants(list: &Value) -> Vec<Grant> {
    list.get("value")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .map(|item| Grant {
            actions: strings(&item["actions"]),
            not_actions: strings(&item["notActions"]),
        })
        .collect()
}

impl Azure {
    /// Whether the signed-in user may perform `action` at `scope` (a resource or resource
    /// group ID), read from `Microsoft.Authorization/permissions` before anything is asked.
    pub async fn may(&self, scope: &str, action: &str, subscription: &str) -> Result<bool, Error> {
        let url = self.url(
            &format!("{scope}/providers/Microsoft.Authorization/permissions"),
            PERMISSIONS_API,
        );
        let list = self.get_json(&url, subscription).await?;
        Ok(rbac::permitted(&grants(&list), action))
    }

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
