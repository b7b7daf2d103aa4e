//! The Health screen: the signed-in hub's health (see `hubsetup-health`), read when asked.

use std::time::SystemTime;

use hubsetup_health::{read_health, Health, HealthError};

use crate::admin::failed;
use crate::session::{Session, SessionError};

impl Session {
    /// The health of the hub this wizard created or chose.
    pub async fn health(&self) -> Result<Health, SessionError> {
        let hub = self.signed_in_hub().ok_or_else(|| {
            SessionError::new(
                "health",
                "Sign in and create or choose the hub first: its health is read from Azure.",
            )
        })?;
        read_health(&self.azure()?, &hub, SystemTime::now())
            .await
            .map_err(|e| match e {
                HealthError::Azure(e) => failed(e),
                other => SessionError::new("health", other),
            })
    }
}
