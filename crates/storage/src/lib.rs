//! Keeping the data: where IoT Hub's routing writes each data stream in Azure Storage, and the
//! Shared Key signature that Azure Storage's REST API checks.
//!
//! The same functions serve the writer (the sandbox's hub, which writes into Azurite as IoT Hub
//! writes into a storage account) and the reader (the live test's "Stored" stage, which looks
//! for the test message where the hub put it), so the two cannot drift apart.

pub mod layout;
pub mod routing;
pub mod shared_key;

/// Why a storage setting cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StorageError {
    #[error("The file name format '{format}' lacks {missing}. IoT Hub needs every one of {{iothub}}, {{partition}}, {{YYYY}}, {{MM}}, {{DD}}, {{HH}} and {{mm}}, each once, in any order; add the missing ones.")]
    FileNameTokens { format: String, missing: String },
    #[error("The file name format '{format}' has {token} more than once. Each of IoT Hub's tokens may appear only once.")]
    RepeatedToken { format: String, token: String },
    #[error("Tier {tier} takes at most {max_endpoints} custom endpoints and the hub has {existing_endpoints}, so {fit} of the {streams} data streams can have a folder of their own. Choose which to keep in storage; the others stay in the built-in endpoint (kept 1 day, 7 at most).{advice}")]
    TierLimit {
        tier: String,
        streams: usize,
        max_endpoints: usize,
        existing_endpoints: usize,
        fit: usize,
        /// What else helps, for the tier: a paid tier takes 10.
        advice: String,
    },
    #[error("The hub already has an endpoint named '{0}' that is not a storage endpoint. Rename or remove it in the portal's Message routing page, then try again.")]
    NameTaken(String),
    #[error(
        "A batch frequency of {0} seconds is outside IoT Hub's range: choose 60 to 720 seconds."
    )]
    BatchSeconds(u32),
    #[error("The storage account key is not valid base64. Copy it again from the storage account's Access keys page (or `az storage account keys list`).")]
    AccountKey,
}
