//! Keep the data: the steps that route each of a hub's data streams into the customer's
//! storage, through ARM, each reading Azure's state before it writes so that a step repeated
//! after a failure does no harm:
//!
//! 1. the storage account (created StorageV2, Standard_LRS, in the hub's region, HTTPS only,
//!    TLS 1.2, no anonymous access; or an existing one) and its container;
//! 2. how the hub writes: as its system-assigned managed identity with *Storage Blob Data
//!    Contributor* on the account where the admin may assign roles, else with the account key;
//! 3. the routes ([`hubsetup_storage::routing`]): an endpoint and route per stream beside the
//!    hub's own, and the route that keeps the built-in endpoint fed.

mod choices;
mod records;
mod steps;
mod stored;

pub use choices::{
    account_name_problem, container_name_problem, storage_choices, suggested_name, HubRoute,
    StorageAccountInfo, StorageChoices,
};
pub use steps::{check_account_name, keep_data, AccountChoice, KeepData, KeptData, NameCheck};
pub use stored::{find_stored, Stored};

/// Why the data could not be kept, in words for the admin.
#[derive(Debug, thiserror::Error)]
pub enum KeepError {
    #[error("{message} Choose another name for the storage account.")]
    AccountName { message: String },
    #[error("Azure Policy does not allow the storage account '{account}' as IoT Hub Setup creates it: the assignment '{assignment}' requires {requirement}. Create the account with the settings the policy asks for (or ask your Azure administrators for an exemption), then choose it as an existing account; the hub writes to it as a trusted service.")]
    AccountPolicy {
        account: String,
        assignment: String,
        requirement: String,
    },
    #[error("The storage account '{0}' does not allow its keys to be used, and you may not give the hub's identity a role on it. Ask an owner of the account for the role \"Role Based Access Control Administrator\" (or \"Owner\") there, or to allow key access.")]
    SharedKeysForbidden(String),
    #[error("The firewall of storage account '{0}' denies access by default and does not let Azure's trusted services through, so the hub could not write. Allow trusted Microsoft services on the account's Networking page (or consent here: --fix-storage-firewall), which lets the hub in as its managed identity and nothing else.")]
    Firewall(String),
    #[error("The firewall of storage account '{0}' denies access by default, and a hub writing with the account key is not let through it; only a hub writing as its managed identity is, which needs a role you may not assign. Ask an owner of the account to give the hub's identity Storage Blob Data Contributor and allow trusted Microsoft services, or choose another account.")]
    FirewallWithKeys(String),
    #[error("The built-in endpoint of a {tier} hub keeps messages for {longest} at most; {days} days were asked for.")]
    Retention {
        days: u32,
        tier: String,
        longest: &'static str,
    },
    #[error("The hub '{0}' has no managed identity after it was turned on; try again, or choose key-based access.")]
    NoIdentity(String),
    #[error("Routed; sign in with a role that may read the keys of storage account '{account}' (such as Contributor or Storage Account Key Operator) to see it stored.")]
    NotReadable { account: String },
    #[error("The message was not in {folder} after {waited_secs} s. The hub writes a batch when its window ends; if the endpoint's health (az iot hub show … routingEndpointsHealth) is unhealthy, its last error says why.")]
    NotStored { waited_secs: u64, folder: String },
    #[error("The hub could not write the data of {stream} into storage account '{account}': {error} {advice}")]
    NotWritten {
        stream: String,
        account: String,
        /// The endpoint's last error, as the hub reports it.
        error: String,
        advice: String,
    },
    #[error("Storage account '{account}' could not be reached from this computer ({error}). If its firewall admits selected networks only, add this computer's address there or look from a network it admits; the hub's writes are not affected.")]
    StorageUnreachable { account: String, error: String },
    #[error("Could not read the stored data: {0}.")]
    Storage(String),
    #[error(transparent)]
    Plan(#[from] hubsetup_storage::StorageError),
    #[error(transparent)]
    Azure(#[from] hubsetup_provision::Error),
}
