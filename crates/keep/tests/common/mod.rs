//! What the keep crate's tests and benchmark share: a session signed in to the sandbox.

use hubsetup_identity::{sign_in, AzureCli, SignInMethod, SignInOptions, SystemBrowser};
use hubsetup_net::Network;
use hubsetup_provision::Azure;
use hubsetup_sandbox::Sandbox;

/// Signed in to `sandbox` by device code, as an admin would be.
pub async fn session(sandbox: &Sandbox) -> Azure {
    let network = Network::new(&sandbox.cloud(), None).expect("network");
    let credential = sign_in(
        SignInMethod::DeviceCode,
        &network,
        &SignInOptions::default(),
        &AzureCli::default(),
        &SystemBrowser,
        &|_| {},
    )
    .await
    .expect("device code sign-in");
    Azure::new(&network, credential, std::sync::Arc::new(|_| {})).expect("session")
}
