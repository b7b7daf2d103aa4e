//! The domain of IoT Hub Setup, with no GUI and no knowledge of Tauri or the sandbox.
//!
//! - [`connection_string`]: parse, check and format IoT Hub connection strings.
//! - [`sas`]: make, parse and verify shared access signature tokens.
//! - [`names`]: Azure's naming rules for hubs and device identities.
//! - [`cloud`]: the Azure clouds as data (endpoints and host suffixes).
//! - [`dns_wire`]: the DNS messages of the sandbox's name server and its clients.
//! - [`numbers`]: numbers written for people (`8,000`).
//! - [`rbac`]: Azure's role action patterns (`*/read`, not-actions).
//! - [`secret`]: the key type that never prints itself and is zeroized on drop.
//! - [`wkd`]: where a mail address's public key is published (Web Key Directory).

pub mod cloud;
pub mod connection_string;
pub mod dns_wire;
pub mod names;
pub mod rbac;
pub mod sas;
pub mod secret;
pub mod wkd;

pub use cloud::Cloud;
pub use connection_string::{ConnectionString, ConnectionStringError, Credential, Warning};
pub use sas::{SasToken, TokenError};
pub use secret::SharedAccessKey;

/// Every failure of this crate, so callers that do several things can hold one type.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// One or more problems in a connection string; each is its own sentence.
    #[error("{}", connection_string::describe_all(.0))]
    ConnectionString(Vec<ConnectionStringError>),
    #[error(transparent)]
    Token(#[from] TokenError),
}
