//! The Health screen: the signed-in hub's health (see `hubsetup-health`), read when asked, and
//! the alert for when its data stops: set up, tested, shown and removed from the same screen.

use std::time::SystemTime;

use hubsetup_health::{
    read_alerts, read_health, remove_alerts, send_test_email, set_up_alerts, AlertChoice,
    AlertSetUp, Health, HealthError,
};
use hubsetup_provision::HubInfo;

use crate::admin::failed;
use crate::flow::Flow;
use crate::session::{Session, SessionError};

impl Session {
    /// The health of the hub this wizard created or chose.
    pub async fn health(&self) -> Result<Health, SessionError> {
        let hub = self.health_hub().await?;
        read_health(&self.azure()?, &hub, SystemTime::now())
            .await
            .map_err(health_failed)
    }

    /// The alert IoT Hub Setup set up on the hub, if any.
    pub async fn alerts(&self) -> Result<Option<AlertSetUp>, SessionError> {
        let hub = self.health_hub().await?;
        read_alerts(&self.azure()?, &hub)
            .await
            .map_err(health_failed)
    }

    /// Sets up (or brings up to date) the alert the admin agreed to.
    pub async fn set_up_alerts(&self, choice: AlertChoice) -> Result<AlertSetUp, SessionError> {
        let hub = self.health_hub().await?;
        let azure = self.azure()?;
        let facts = azure.hub_facts(&hub).await.map_err(failed)?;
        set_up_alerts(&azure, &hub, &choice, facts.daily_quota)
            .await
            .map_err(health_failed)
    }

    /// Sends the test e-mail; the addresses it reached.
    pub async fn send_test_email(&self) -> Result<Vec<String>, SessionError> {
        let hub = self.health_hub().await?;
        send_test_email(&self.azure()?, &hub)
            .await
            .map_err(health_failed)
    }

    pub async fn remove_alerts(&self) -> Result<(), SessionError> {
        let hub = self.health_hub().await?;
        remove_alerts(&self.azure()?, &hub)
            .await
            .map_err(health_failed)
    }

    /// The hub this wizard created or chose; in the "Check a hub I set up" flow, the one
    /// chosen on the Hub step.
    async fn health_hub(&self) -> Result<HubInfo, SessionError> {
        if let Some(hub) = self.signed_in_hub() {
            return Ok(hub);
        }
        let chosen = {
            let state = self.state.lock().expect("state lock");
            (state.flow == Some(Flow::Check))
                .then(|| {
                    state
                        .hub
                        .subscription_id
                        .clone()
                        .zip(state.hub.name.clone())
                })
                .flatten()
        };
        let Some((subscription, name)) = chosen else {
            return Err(SessionError::new(
                "health",
                "Sign in and create or choose the hub first: its health is read from Azure.",
            ));
        };
        self.azure()?
            .find_hub(&subscription, &name)
            .await
            .map_err(failed)
    }
}

fn health_failed(e: HealthError) -> SessionError {
    match e {
        HealthError::Azure(e) => failed(e),
        other => SessionError::new("health", other),
    }
}
