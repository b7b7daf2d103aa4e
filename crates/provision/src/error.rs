//! Every failure a person can meet while provisioning, each saying what happened, why and what
//! to do. The CLI prints the message; the GUI gets `{ "kind", "message" }` through
//! [`serde::Serialize`]. No message holds a token or key.

use hubsetup_core::names::NameError;
use serde::ser::SerializeStruct;

/// A provisioning failure.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    // --- Sign-in ---
    #[error(transparent)]
    SignIn(#[from] hubsetup_identity::Error),

    #[error(transparent)]
    Events(#[from] hubsetup_events::EventsError),

    // --- Reaching Azure ---
    #[error("Could not set up the connection to Azure: {0}")]
    NetworkSetup(String),
    #[error(transparent)]
    Network(#[from] hubsetup_net::Unreachable),
    #[error(
        "{service} is busy or unavailable and kept saying so after {attempts} tries. Wait a \
         few minutes and try again; nothing was created twice."
    )]
    Busy { service: String, attempts: u32 },
    #[error(
        "Azure refused access: {detail}. Ask the subscription's owner for the Contributor role \
         on the subscription or resource group, or sign in as another user."
    )]
    NotAuthorized { detail: String },
    #[error(
        "You may not {what} here: Azure refused the action {action} on {place} (scope {scope}). \
         Ask an owner of it (or of its resource group or subscription) for the {role} role \
         there, or a custom role that allows this action; or choose a place where you have \
         that role."
    )]
    NotAllowed {
        what: String,
        action: String,
        scope: String,
        place: String,
        role: &'static str,
    },
    #[error("Azure Policy does not allow the hub '{hub}': the assignment '{assignment}' requires {requirement}. {advice}")]
    PolicyDenied {
        hub: String,
        assignment: String,
        requirement: String,
        advice: String,
    },
    #[error(
        "{problem} Azure Policy '{policy}' keeps it so and would undo a change, so neither IoT \
         Hub Setup nor the partner can use the hub '{hub}' with a connection string. Ask your \
         Azure administrators for a policy exemption for this hub (it exists and is left as it \
         is), or choose a resource group where the policy does not apply."
    )]
    KeptByPolicy {
        hub: String,
        problem: String,
        policy: String,
    },
    #[error(
        "Azure refused the change because {place} is locked by {lock}. Ask its owner to remove \
         the lock, or choose another resource group."
    )]
    Locked { place: String, lock: String },
    #[error("Azure answered in an unexpected way ({what}). Try again; if it keeps happening, report it.")]
    UnexpectedAnswer { what: String },
    #[error("Azure refused the request: {message} (code {code}, HTTP {status}).")]
    Azure {
        status: u16,
        code: String,
        message: String,
    },

    // --- Choices checked before calling Azure ---
    #[error("{0}")]
    InvalidHubName(NameError),
    #[error("{0}")]
    InvalidDeviceId(NameError),
    #[error("The device ID '{0}' is listed twice. List each device once.")]
    DuplicateDeviceId(String),
    #[error(
        "The resource group name '{0}' is invalid: use 1 to 90 letters, digits, underscores, \
         hyphens, periods and parentheses, not ending in a period."
    )]
    InvalidResourceGroupName(String),
    #[error("The policy name '{0}' is invalid: use 1 to 64 letters, digits, '-', '_' and '.'.")]
    InvalidPolicyName(String),
    #[error("'{0}' is not a tier. Choose F1 (free), B1, B2, B3 (basic) or S1, S2, S3 (standard).")]
    UnknownTier(String),
    #[error(
        "{tier} allows 1 to {max} units; {units} were asked for. Choose a number in that \
         range, or a bigger tier for more messages per unit."
    )]
    InvalidUnits { tier: String, units: u32, max: u32 },
    #[error(
        "Azure does not offer IoT Hub in the region '{region}' for this subscription. Choose \
         one of: {available}."
    )]
    UnknownRegion { region: String, available: String },

    // --- Subscriptions, groups, hubs ---
    #[error(
        "The subscription '{0}' was not found among those you can use. Check the ID, or sign \
         in as a user who has access to it."
    )]
    SubscriptionNotFound(String),
    #[error(
        "The subscription '{0}' is disabled, so nothing can be created in it. Choose another \
         subscription, or ask its owner to re-enable it."
    )]
    SubscriptionDisabled(String),
    #[error(
        "The subscription '{0}' is not yet registered for IoT Hub (resource provider \
         Microsoft.Devices). Allow IoT Hub Setup to register it (a one-time step that costs \
         nothing), or run `az provider register --namespace Microsoft.Devices`."
    )]
    ProviderNotRegistered(String),
    #[error(
        "The resource group '{group}' does not exist in subscription '{subscription}'. Choose \
         an existing group, or ask for a new one to be created (with its region)."
    )]
    ResourceGroupNotFound { subscription: String, group: String },
    #[error("The hub name '{name}' cannot be used. {reason} Choose another name.")]
    HubNameUnavailable { name: String, reason: String },
    #[error(
        "The subscription already has its one free (F1) hub{existing}; Azure allows only one \
         per subscription. Reuse that hub, choose a paid tier (S1 suits most installations \
         under 1,000 devices; B1 if devices only send data), or use another subscription."
    )]
    FreeHubLimit { existing: String },
    #[error(
        "No hub named '{name}' was found in subscription '{subscription}'. Check the name, or \
         choose the subscription that holds it."
    )]
    HubNotFound { name: String, subscription: String },
    #[error("Azure could not create the hub '{hub}': {detail}. Fix the cause, then try again.")]
    HubCreationFailed { hub: String, detail: String },
    #[error(
        "The hub '{hub}' kept changing while IoT Hub Setup tried to update it ({attempts} \
         tries). Wait until other changes to it are done, then try again."
    )]
    HubKeptChanging { hub: String, attempts: u32 },
    #[error(
        "The hub '{hub}' has no shared access policy allowed to manage devices (RegistryWrite), \
         so devices cannot be created with a key. Add such a policy (e.g. registryReadWrite) in \
         the Azure portal, then try again."
    )]
    NoRegistryPolicy { hub: String },
    #[error(
        "The hub '{hub}' refused the connection: {detail} Fix the hub's network or \
         authentication settings (IoT Hub Setup offers to), then try again."
    )]
    HubRefused { hub: String, detail: String },
    #[error(
        "The hub '{hub}' already has a policy named '{name}' with the rights '{rights}', not \
         exactly RegistryRead, RegistryWrite, DeviceConnect. Choose another policy name; the \
         existing policy is left as it is."
    )]
    PolicyConflict {
        hub: String,
        name: String,
        rights: String,
    },
    #[error(
        "Device '{device}' is no longer in hub '{hub}': it was deleted after its string was \
         handed off, so whoever holds that string is cut off already. Nothing was changed."
    )]
    DeviceGone { hub: String, device: String },
    #[error(
        "Device '{device}' of hub '{hub}' was changed by someone else while its key was being \
         renewed. Nothing was changed: look at the device, then renew again."
    )]
    DeviceChanged { hub: String, device: String },
    #[error(
        "Hub '{hub}' has no shared access policy named '{policy}' any more: it was deleted after \
         its string was handed off, so that string works no longer. Nothing was changed."
    )]
    PolicyGone { hub: String, policy: String },

    // --- Local files ---
    #[error(
        "Could not {action} the record of hub creations in progress at {path}: {detail}. Check \
         that the folder exists and that you may write to it."
    )]
    Record {
        action: &'static str,
        path: String,
        detail: String,
    },
}

impl Error {
    /// A stable identifier of the variant, for the GUI to choose what to show.
    pub fn kind(&self) -> &'static str {
        match self {
            Error::SignIn(error) => error.kind(),
            Error::Events(_) => "events",
            Error::NetworkSetup(_) => "network_setup",
            Error::Network(_) => "network",
            Error::Busy { .. } => "busy",
            Error::NotAuthorized { .. } => "not_authorized",
            Error::NotAllowed { .. } => "not_allowed",
            Error::PolicyDenied { .. } => "policy_denied",
            Error::Locked { .. } => "locked",
            Error::KeptByPolicy { .. } => "kept_by_policy",
            Error::UnexpectedAnswer { .. } => "unexpected_answer",
            Error::Azure { .. } => "azure",
            Error::InvalidHubName(_) => "invalid_hub_name",
            Error::InvalidDeviceId(_) => "invalid_device_id",
            Error::DuplicateDeviceId(_) => "duplicate_device_id",
            Error::InvalidResourceGroupName(_) => "invalid_resource_group_name",
            Error::InvalidPolicyName(_) => "invalid_policy_name",
            Error::UnknownTier(_) => "unknown_tier",
            Error::InvalidUnits { .. } => "invalid_units",
            Error::UnknownRegion { .. } => "unknown_region",
            Error::SubscriptionNotFound(_) => "subscription_not_found",
            Error::SubscriptionDisabled(_) => "subscription_disabled",
            Error::ProviderNotRegistered(_) => "provider_not_registered",
            Error::ResourceGroupNotFound { .. } => "resource_group_not_found",
            Error::HubNameUnavailable { .. } => "hub_name_unavailable",
            Error::FreeHubLimit { .. } => "free_hub_limit",
            Error::HubNotFound { .. } => "hub_not_found",
            Error::HubCreationFailed { .. } => "hub_creation_failed",
            Error::HubKeptChanging { .. } => "hub_kept_changing",
            Error::NoRegistryPolicy { .. } => "no_registry_policy",
            Error::HubRefused { .. } => "hub_refused",
            Error::PolicyConflict { .. } => "policy_conflict",
            Error::DeviceGone { .. } => "device_gone",
            Error::DeviceChanged { .. } => "device_changed",
            Error::PolicyGone { .. } => "policy_gone",
            Error::Record { .. } => "record",
        }
    }

    /// Whether the person can fix this by changing their choices (the CLI's exit code 2),
    /// rather than something failing on the way. A place where roles, a policy or a lock
    /// forbid the hub is such a choice.
    pub fn is_bad_input(&self) -> bool {
        matches!(
            self,
            Error::InvalidHubName(_)
                | Error::InvalidDeviceId(_)
                | Error::DuplicateDeviceId(_)
                | Error::InvalidResourceGroupName(_)
                | Error::InvalidPolicyName(_)
                | Error::UnknownTier(_)
                | Error::InvalidUnits { .. }
                | Error::UnknownRegion { .. }
                | Error::SubscriptionNotFound(_)
                | Error::ResourceGroupNotFound { .. }
                | Error::HubNameUnavailable { .. }
                | Error::FreeHubLimit { .. }
                | Error::HubNotFound { .. }
                | Error::PolicyConflict { .. }
                | Error::NotAllowed { .. }
                | Error::PolicyDenied { .. }
                | Error::Locked { .. }
                | Error::KeptByPolicy { .. }
        )
    }
}

impl serde::Serialize for Error {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut out = serializer.serialize_struct("Error", 2)?;
        out.serialize_field("kind", self.kind())?;
        out.serialize_field("message", &self.to_string())?;
        out.end()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_serialize_as_kind_and_message() {
        let error = Error::SubscriptionDisabled("4444".into());
        assert_eq!(
            serde_json::to_value(&error).unwrap(),
            serde_json::json!({
                "kind": "subscription_disabled",
                "message": "The subscription '4444' is disabled, so nothing can be created in it. \
                            Choose another subscription, or ask its owner to re-enable it."
            })
        );
        assert!(!error.is_bad_input());
        assert!(Error::UnknownTier("S9".into()).is_bad_input());
    }
}
