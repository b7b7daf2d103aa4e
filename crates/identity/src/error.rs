//! Every way signing in can fail, each saying what happened, why and what to do. No message
//! holds a token, a code verifier or a refresh token.

use hubsetup_net::{NetError, Unreachable};

/// A sign-in failure.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(
        "The Azure CLI (az) is not installed or not on the PATH, so its sign-in cannot be \
         reused. Install it and run `az login`, or sign in with the browser or a device code \
         instead."
    )]
    AzureCliNotInstalled,
    #[error(
        "The Azure CLI is not signed in (it says: {detail}). Run `az login` and try again, or sign in \
         with the browser or a device code instead."
    )]
    AzureCliNotSignedIn { detail: String },
    #[error(
        "The Azure CLI could not give a token ({detail}). Check `az account show`, or sign in \
         with the browser or a device code instead."
    )]
    AzureCliFailed { detail: String },
    #[error(
        "Azure asks for more proof of who you are than the Azure CLI's sign-in holds (Conditional \
         Access, e.g. multi-factor authentication). Run `{command}`, then try again; or sign in \
         with the browser or a device code, which ask for it here."
    )]
    AzureCliNeedsMoreProof { command: String },
    #[error(
        "Sign-in was cancelled or refused ({detail}). Sign in again and approve the request, \
         or ask your Azure administrator whether you may use IoT Hub Setup."
    )]
    SignInDeclined { detail: String },
    #[error(
        "The sign-in code expired before it was entered. Start the sign-in again and enter \
         the new code within {minutes} minutes."
    )]
    SignInCodeExpired { minutes: u64 },
    #[error(
        "No answer came from the browser sign-in within {minutes} minutes. Start it again and \
         finish signing in in the browser window that opens, or sign in with a device code."
    )]
    SignInTimedOut { minutes: u64 },
    #[error(
        "The browser sign-in could not be completed: {detail}. Start it again; if it keeps \
         failing, sign in with a device code."
    )]
    BrowserSignInFailed { detail: String },
    #[error("Microsoft Entra ID refused the sign-in: {detail}. Check the tenant and client ID, then sign in again.")]
    SignInRefused { detail: String },
    #[error(
        "There is no tenant '{tenant}' in {cloud}. Check the tenant ID or domain (your Azure \
         administrator knows it; the Azure portal shows it under Microsoft Entra ID), or sign \
         in without one to use your own."
    )]
    TenantNotFound { tenant: String, cloud: String },
    #[error(
        "Your organization's sign-in policies do not allow this sign-in to '{tenant}' ({detail}): \
         Conditional Access may require a managed device, a trusted network or another country. \
         Ask your Azure administrator which policy applies, or sign in from a device and \
         network it allows."
    )]
    BlockedByPolicy { tenant: String, detail: String },
    #[error(
        "Microsoft Entra ID requires multi-factor authentication for this sign-in ({detail}). \
         Sign in again with the browser or a device code, which ask for it."
    )]
    MoreProofRequired { detail: String },
    #[error(
        "Your account is not a member or guest of the tenant '{tenant}'. Ask its administrator \
         to invite you, or sign in to your own tenant."
    )]
    NotInTenant { tenant: String },
    #[error("Your Azure sign-in has expired and could not be renewed ({detail}). Sign in again.")]
    SessionExpired { detail: String },
    #[error("Microsoft Entra ID answered in an unexpected way ({what}). Try again; if it keeps happening, report it.")]
    UnexpectedAnswer { what: String },
    #[error(transparent)]
    NetworkSetup(#[from] NetError),
    #[error(transparent)]
    Network(#[from] Unreachable),
}

impl Error {
    /// A stable identifier of the variant, for the GUI to choose what to show.
    pub fn kind(&self) -> &'static str {
        match self {
            Error::AzureCliNotInstalled => "azure_cli_not_installed",
            Error::AzureCliNotSignedIn { .. } => "azure_cli_not_signed_in",
            Error::AzureCliFailed { .. } => "azure_cli_failed",
            Error::AzureCliNeedsMoreProof { .. } => "azure_cli_needs_more_proof",
            Error::SignInDeclined { .. } => "sign_in_declined",
            Error::SignInCodeExpired { .. } => "sign_in_code_expired",
            Error::SignInTimedOut { .. } => "sign_in_timed_out",
            Error::BrowserSignInFailed { .. } => "browser_sign_in_failed",
            Error::SignInRefused { .. } => "sign_in_refused",
            Error::TenantNotFound { .. } => "tenant_not_found",
            Error::BlockedByPolicy { .. } => "blocked_by_policy",
            Error::MoreProofRequired { .. } => "more_proof_required",
            Error::NotInTenant { .. } => "not_in_tenant",
            Error::SessionExpired { .. } => "session_expired",
            Error::UnexpectedAnswer { .. } => "unexpected_answer",
            Error::NetworkSetup(_) => "network_setup",
            Error::Network(_) => "network",
        }
    }
}
