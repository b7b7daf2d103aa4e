//! Provisioning, the heart of the wizard: sign in to Azure, create or reuse an IoT hub in the
//! chosen tier, make sure partners can reach it, create the device entries and (optionally) a
//! restricted shared access policy, and hand back their connection strings.
//!
//! - [`Azure`]: a session signed in through `hubsetup-identity`'s [`Credential`]. Lists ([`Azure::subscriptions`], [`Azure::hubs`], …),
//!   checks ([`Azure::check_hub_name`], [`Azure::reachability`]) and the steps
//!   ([`Azure::create_hub`], [`Azure::ensure_devices`], [`Azure::ensure_restricted_policy`]),
//!   or everything at once with [`Azure::provision`] and its dry run [`Azure::plan`].
//! - [`Tier`]: the tiers and the facts that decide between them; [`suggested_region`]: the
//!   region nearest the person, from the computer's time zone.
//! - [`Records`]: hub creations in progress, so a restarted app follows them instead of
//!   creating twice.
//! - [`Progress`] events and one [`Error`] type, both serializable for the GUI.
//!
//! Every call is cancellation-safe: dropping a future leaves nothing that a later call cannot
//! pick up, because each step reads Azure's state before it writes.

mod arm;
mod azure_policy;
mod catalog;
mod error;
mod facts;
mod governance;
mod http;
mod hub;
mod nearest;
mod policy;
mod progress;
mod provision;
mod reach;
mod read_access;
mod record;
mod refusal;
mod registry;
mod renew;
mod resources;
mod summary;
mod terraform;
mod tier;

pub use arm::Azure;
pub use hubsetup_identity::Credential;

pub use azure_policy::{PolicyRequirements, RequiredTag};
pub use catalog::{HubInfo, NameCheck, Region, ResourceGroup, Subscription, Tenant};
pub use error::Error;
pub use facts::HubFacts;
pub use governance::{Ability, Permissions};
pub use hub::{HubCreation, NewHub};
pub use nearest::suggested_region;
pub use policy::{
    check_policy_name, restricted_rights, PolicyCredentials, PolicySummary, DEFAULT_POLICY_NAME,
    RESTRICTED_RIGHTS,
};
pub use progress::{silent, Progress, Reporter};
pub use provision::{Decide, HubChoice, Outcome, Request};
pub use reach::{reach_problems, ReachProblem};
pub use read_access::{ConsumerGroupSummary, OWN_CONSUMER_GROUP};
pub use record::{CreationRecord, Records};
pub use registry::{DeviceActivity, DeviceCredentials, DeviceSummary};
pub use renew::{RenewKey, RenewedKeys};
pub use resources::ArmReply;
pub use summary::{shell_quote, GroupSummary, HubSummary, Reachability, Summary};
pub use terraform::hcl_string;
pub use tier::{Edition, Tier, TierFacts, BASIC_LACKS};

/// The device ID suggested for a data stream: its record type in dot notation.
pub const DEFAULT_DEVICE_ID: &str = "io.microshare.contact.unpacked.event";
