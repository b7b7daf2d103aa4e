//! The options that choose which cloud a command talks to, shared by every command that goes
//! on the network.

use std::path::PathBuf;

use hubsetup_core::Cloud;
use hubsetup_net::Network;

use crate::CliError;

#[derive(Debug, Clone, clap::Args)]
pub struct CloudArgs {
    /// Which Azure cloud: public, china or usgov (ignored with --sandbox).
    #[arg(long, default_value = "public")]
    pub cloud: String,
    /// Talk to a running sandbox instead of Azure: the file holding what
    /// `hubsetup sandbox --json` printed.
    #[arg(long, env = "HUBSETUP_SANDBOX", value_name = "FILE")]
    pub sandbox: Option<PathBuf>,
    /// Extra root certificates (PEM) to trust, e.g. a TLS-inspecting proxy's.
    #[arg(long, value_name = "PEM")]
    pub ca_bundle: Option<PathBuf>,
}

impl CloudArgs {
    /// How to reach the cloud: its trust, with the extra bundle, and proxies, with the logins
    /// kept for them (none if the credential store cannot be reached: a proxy that asks then
    /// says so).
    pub fn network(&self) -> Result<Network, CliError> {
        let network = Network::new(&self.cloud()?, self.ca_bundle.as_deref())
            .map_err(|e| CliError::BadInput(e.to_string()))?;
        Ok(hubsetup_vault::with_kept_proxy_logins(network))
    }

    pub fn cloud(&self) -> Result<Cloud, CliError> {
        match &self.sandbox {
            Some(path) => {
                let text = std::fs::read_to_string(path).map_err(|e| {
                    CliError::BadInput(format!("Could not read the sandbox description {}: {e}. Save the output of `hubsetup sandbox --json` there.", path.display()))
                })?;
                serde_json::from_str(&text).map_err(|e| {
                    CliError::BadInput(format!("{} is not a sandbox description ({e}). Save the output of `hubsetup sandbox --json` there.", path.display()))
                })
            }
            None => Cloud::azure(&self.cloud).ok_or_else(|| {
                CliError::BadInput(format!(
                    "Unknown cloud '{}'. Use public, china or usgov (or --sandbox FILE).",
                    self.cloud
                ))
            }),
        }
    }
}
