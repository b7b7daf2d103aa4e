//! The "Keep the data" step and the live test's Stored stage: what the admin chose (saved with
//! the wizard, no secret in it), what the step offers, setting it up after the hub is made
//! (see `hubsetup-keep`), and finding the live test's message in storage.

use std::time::{Duration, SystemTime};

use hubsetup_keep::{
    account_name_problem, check_account_name, container_name_problem, find_stored, keep_data,
    storage_choices, AccountChoice, KeepData, KeepError, NameCheck, StorageChoices, Stored,
};
use hubsetup_storage::routing::Encoding;
use serde::{Deserialize, Serialize};
use ts_rs::TS;

use crate::admin::failed;
use crate::flow::WizardView;
use crate::session::{Session, SessionError};

/// How the hub writes the files.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "snake_case")]
#[ts(export)]
pub enum StorageFormat {
    /// One JSON object per line; JSON bodies stay readable.
    Json,
    /// Apache Avro, IoT Hub's default.
    Avro,
}

/// The admin's choices on the step.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct KeepPlan {
    pub account: String,
    /// The resource group of an existing account; `None` creates the account beside the hub.
    pub existing_group: Option<String>,
    pub container: String,
    pub format: StorageFormat,
    /// How long the hub gathers messages before it writes a file (60 to 720 seconds).
    pub batch_seconds: u32,
    /// How many days the built-in endpoint keeps messages; `None` leaves it as it is.
    pub retention_days: Option<u32>,
    /// Consent to let Azure's trusted services through the account's firewall.
    pub fix_firewall: bool,
}

impl KeepPlan {
    /// Why the plan cannot be carried out for a hub of `tier`, in words for the admin.
    pub fn problem(&self, tier: &str) -> Option<String> {
        if self.existing_group.is_none() {
            if let Some(problem) = account_name_problem(&self.account) {
                return Some(problem);
            }
        } else if self.account.is_empty() {
            return Some("Choose the storage account.".to_owned());
        }
        if let Some(problem) = container_name_problem(&self.container) {
            return Some(problem);
        }
        if !(60..=720).contains(&self.batch_seconds) {
            return Some(format!(
                "The hub writes a file every 60 to 720 seconds; {} was asked for.",
                self.batch_seconds
            ));
        }
        let free = tier.eq_ignore_ascii_case("F1");
        match self.retention_days {
            Some(days) if free && days != 1 => Some(format!(
                "The built-in endpoint of a free (F1) hub keeps messages for 1 day only; {days} days were asked for."
            )),
            Some(days) if !(1..=7).contains(&days) => Some(format!(
                "The built-in endpoint keeps messages for 1 to 7 days; {days} days were asked for."
            )),
            _ => None,
        }
    }
}

/// What the step can offer now.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, TS)]
#[ts(export)]
pub struct KeepOptions {
    /// Why the step cannot be used here (the sandbox without storage), if it cannot.
    pub unavailable: Option<String>,
    pub choices: Option<StorageChoices>,
}

/// One look for the Stored stage: seconds left of the wait.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, TS)]
#[ts(export)]
pub struct StoredWait {
    #[ts(type = "number")]
    pub seconds_left: u64,
}

/// The live test's last accepted message, for the Stored stage.
#[derive(Debug, Clone)]
pub(crate) struct SentMessage {
    pub handle: String,
    pub stream: String,
    pub message_id: String,
    pub at: SystemTime,
}

impl Session {
    /// The step's choices: storage accounts, a name, how the hub would write, the tier's limits
    /// and a reused hub's routes; unavailable in the sandbox when it has no storage.
    pub async fn storage_options(&self) -> Result<KeepOptions, SessionError> {
        if let Some(reason) = self.sandbox_without_storage()? {
            return Ok(KeepOptions {
                unavailable: Some(reason),
                choices: None,
            });
        }
        let azure = self.azure()?;
        let plan = self.view().state.hub;
        let missing = |what: &str| SessionError::new("plan", format!("Choose {what} first."));
        let subscription = plan
            .subscription_id
            .clone()
            .ok_or_else(|| missing("a subscription"))?;
        let name = plan.name.clone().ok_or_else(|| missing("a hub name"))?;
        let hub = if plan.reuse {
            Some(azure.find_hub(&subscription, &name).await.map_err(failed)?)
        } else {
            None
        };
        let group = hub
            .as_ref()
            .map(|h| h.resource_group.clone())
            .or(plan.resource_group.clone())
            .ok_or_else(|| missing("a resource group"))?;
        let tier = hub.as_ref().map_or(plan.sku.clone(), |h| h.sku.clone());
        let choices = storage_choices(&azure, &subscription, &group, &name, &tier, hub.as_ref())
            .await
            .map_err(keep_failed)?;
        Ok(KeepOptions {
            unavailable: None,
            choices: Some(choices),
        })
    }

    /// Whether the sandbox the wizard works with lacks storage, and what to do about it.
    fn sandbox_without_storage(&self) -> Result<Option<String>, SessionError> {
        if self.view().state.cloud.as_deref() != Some("sandbox") {
            return Ok(None);
        }
        let has_storage = match self.external_sandbox_storage() {
            Some(has) => has,
            None => self.sandbox()?.has_storage(),
        };
        Ok((!has_storage).then(|| {
            format!(
                "Not available offline: the sandbox has no storage emulator, so storage accounts would hold no data. {}",
                hubsetup_sandbox::WITHOUT_AZURITE
            )
        }))
    }

    /// Azure's check of a new account's name, after Azure's naming rules.
    pub async fn check_storage_name(&self, name: &str) -> Result<NameCheck, SessionError> {
        if let Some(problem) = account_name_problem(name) {
            return Ok(NameCheck {
                available: false,
                message: Some(problem),
            });
        }
        let subscription = self
            .view()
            .state
            .hub
            .subscription_id
            .ok_or_else(|| SessionError::new("plan", "Choose a subscription first."))?;
        check_account_name(&self.azure()?, &subscription, name)
            .await
            .map_err(keep_failed)
    }

    /// Records the admin's choice: `None` keeps no data.
    pub fn plan_keep(&self, keep: Option<KeepPlan>) -> Result<WizardView, SessionError> {
        self.update(|s| s.keep = keep)?;
        Ok(self.view())
    }

    /// Sets up what the plan asks on the hub just made or reused; nothing without a plan.
    pub(crate) async fn keep_now(
        &self,
        azure: &hubsetup_provision::Azure,
        hub: &hubsetup_provision::HubInfo,
    ) -> Result<(), SessionError> {
        let state = self.view().state;
        let Some(plan) = state.keep else {
            return Ok(());
        };
        let choice = KeepData {
            account: match plan.existing_group {
                Some(resource_group) => AccountChoice::Existing {
                    name: plan.account.clone(),
                    resource_group,
                },
                None => AccountChoice::Create {
                    name: plan.account.clone(),
                },
            },
            container: plan.container.clone(),
            encoding: match plan.format {
                StorageFormat::Json => Encoding::Json,
                StorageFormat::Avro => Encoding::Avro,
            },
            batch_seconds: plan.batch_seconds,
            streams: state.devices.clone(),
            fix_firewall: plan.fix_firewall,
            retention_days: plan.retention_days,
        };
        let kept = keep_data(azure, hub, &choice).await.map_err(keep_failed)?;
        self.update(|s| s.kept = Some(kept))?;
        Ok(())
    }

    /// The Stored stage for the string `handle`, after its live test passed: waits (at least a
    /// batch) for its message in storage, telling `on_wait` the seconds left before each look.
    /// Cancellable.
    pub async fn wait_stored(
        &self,
        handle: &str,
        on_wait: &(dyn Fn(StoredWait) + Sync),
    ) -> Result<Stored, SessionError> {
        let kept = self.view().state.kept.ok_or_else(|| {
            SessionError::new("keep", "No storage was set up for this hub's data.")
        })?;
        let sent = self
            .last_sent
            .lock()
            .expect("sent lock")
            .clone()
            .filter(|sent| sent.handle == handle)
            .ok_or_else(|| {
                SessionError::new(
                    "keep",
                    "Run the live test first: its message is the one looked for in storage.",
                )
            })?;
        if !kept.streams.contains(&sent.stream) {
            return Err(SessionError::new(
                "keep",
                format!(
                    "{} is not among the data streams kept in storage.",
                    sent.stream
                ),
            ));
        }
        let azure = self.azure()?;
        // A batch window, and two minutes for the write and the clocks.
        let wait = Duration::from_secs(u64::from(kept.batch_seconds) + 120);
        self.cancellable(async {
            find_stored(
                &azure,
                &kept,
                &sent.stream,
                &sent.message_id,
                sent.at,
                wait,
                &|seconds_left| on_wait(StoredWait { seconds_left }),
            )
            .await
            .map_err(keep_failed)
        })
        .await
    }
}

fn keep_failed(error: KeepError) -> SessionError {
    match error {
        KeepError::Azure(e) => failed(e),
        KeepError::NotReadable { .. } => SessionError::new("not_readable", error),
        KeepError::NotStored { .. } => SessionError::new("not_stored", error),
        other => SessionError::new("keep", other),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plan() -> KeepPlan {
        KeepPlan {
            account: "contosodata".into(),
            existing_group: None,
            container: "iot-data".into(),
            format: StorageFormat::Json,
            batch_seconds: 300,
            retention_days: Some(7),
            fix_firewall: false,
        }
    }

    #[test]
    fn a_plan_is_checked_by_azures_rules_before_anything_is_made() {
        assert_eq!(plan().problem("S1"), None);
        let bad_batch = KeepPlan {
            batch_seconds: 30,
            ..plan()
        };
        assert_eq!(
            bad_batch.problem("S1").as_deref(),
            Some("The hub writes a file every 60 to 720 seconds; 30 was asked for.")
        );
        assert_eq!(
            plan().problem("F1").as_deref(),
            Some("The built-in endpoint of a free (F1) hub keeps messages for 1 day only; 7 days were asked for.")
        );
        let existing = KeepPlan {
            account: String::new(),
            existing_group: Some("rg".into()),
            ..plan()
        };
        assert_eq!(
            existing.problem("S1").as_deref(),
            Some("Choose the storage account.")
        );
        let bad_name = KeepPlan {
            account: "Contoso".into(),
            ..plan()
        };
        assert!(bad_name
            .problem("S1")
            .unwrap()
            .starts_with("A storage account name has only lowercase letters and digits"));
    }
}
