//! The steps of the three flows (the admin who creates a hub, the support person who checks a
//! string they received, the admin who checks a hub set up before), what each step needs before Next, and the state saved after every
//! change so that a closed or crashed app resumes where it was. Secrets are never part of it.

use std::path::Path;

use hubsetup_core::names;
use hubsetup_keep::KeptData;
use serde::{Deserialize, Serialize};
use ts_rs::TS;

use crate::keep::KeepPlan;

const STATE_FILE: &str = "wizard-state.json";

/// One screen of the wizard.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, TS)]
#[serde(rename_all = "snake_case")]
#[ts(export)]
pub enum Step {
    Start,
    SignIn,
    Hub,
    Tier,
    Devices,
    Policy,
    KeepData,
    Create,
    ConnectionString,
    Test,
    Keychain,
    Handoff,
    Summary,
    /// Is the data arriving? The health of a hub set up before, and its alert.
    Health,
}

impl Step {
    pub fn title(self) -> &'static str {
        match self {
            Step::Start => "Where",
            Step::SignIn => "Sign in",
            Step::Hub => "Hub",
            Step::Tier => "Tier",
            Step::Devices => "Devices",
            Step::Policy => "Access policy",
            Step::KeepData => "Keep the data",
            Step::Create => "Review + create",
            Step::ConnectionString => "Connection string",
            Step::Test => "Live test",
            Step::Keychain => "Keychain",
            Step::Handoff => "Hand-off",
            Step::Summary => "Summary",
            Step::Health => "Is the data arriving?",
        }
    }
}

/// Who is using the wizard.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "snake_case")]
#[ts(export)]
pub enum Flow {
    /// An IT admin creating (or reusing) a hub and its devices.
    Admin,
    /// Support staff checking a string they received.
    Support,
    /// An admin checking whether the data of a hub set up before is still arriving.
    Check,
}

impl Flow {
    fn steps(self) -> &'static [Step] {
        match self {
            Flow::Admin => &[
                Step::Start,
                Step::SignIn,
                Step::Hub,
                Step::Tier,
                Step::Devices,
                Step::Policy,
                Step::KeepData,
                Step::Create,
                Step::ConnectionString,
                Step::Test,
                Step::Keychain,
                Step::Handoff,
                Step::Summary,
            ],
            Flow::Support => &[
                Step::Start,
                Step::ConnectionString,
                Step::Test,
                Step::Keychain,
                Step::Handoff,
                Step::Summary,
            ],
            Flow::Check => &[Step::Start, Step::SignIn, Step::Hub, Step::Health],
        }
    }
}

/// The first screen's choices.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(tag = "kind", rename_all = "snake_case")]
#[ts(export)]
pub enum StartChoice {
    /// Create a hub in an Azure cloud (`public`, `china`, `usgov`) or in the sandbox.
    Create { cloud: String },
    /// Check a string I have.
    Verify,
    /// Check a hub I set up, in an Azure cloud or the sandbox.
    Check { cloud: String },
}

/// Where the hub goes and what it is called.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct HubPlan {
    pub subscription_id: Option<String>,
    pub resource_group: Option<String>,
    pub region: Option<String>,
    pub name: Option<String>,
    /// An existing hub is reused rather than created.
    pub reuse: bool,
    pub sku: String,
    pub units: u32,
    /// Tags for a new hub (its resource group's are added by Azure's rules of inheritance
    /// here); Azure Policy may require some.
    #[serde(default)]
    pub tags: std::collections::BTreeMap<String, String>,
    /// Create the app's own consumer group (`hubsetup-watch`) with the hub, for watching its
    /// messages without disturbing its other readers.
    #[serde(default = "yes")]
    pub consumer_group: bool,
}

fn yes() -> bool {
    true
}

/// A connection string as the webview sees it: a handle and a masked preview.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct StringCard {
    pub handle: String,
    pub label: String,
    pub masked: String,
    pub host: String,
    pub device_id: Option<String>,
    /// `None` until tested; then whether the hub accepted the test message.
    pub verified: Option<bool>,
    /// The keychain entry it was saved as.
    pub saved_as: Option<String>,
}

/// What must happen before Next, in words for the user.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, Serialize, TS)]
#[serde(tag = "kind", content = "message", rename_all = "snake_case")]
#[ts(export)]
pub enum WizardError {
    #[error("{0}")]
    StepIncomplete(String),
    #[error("There is no step before this one.")]
    AtStart,
    #[error("The wizard is finished.")]
    AtEnd,
}

/// Everything the wizard remembers. Saved after every change; holds no secret.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct WizardState {
    pub flow: Option<Flow>,
    pub step: Step,
    pub cloud: Option<String>,
    /// Who is signed in (a user name, not a token).
    pub account: Option<String>,
    pub hub: HubPlan,
    pub devices: Vec<String>,
    /// The name of the restricted policy to add, if any.
    pub policy: Option<String>,
    /// The created or reused hub's resource ID, once it exists.
    pub hub_id: Option<String>,
    pub strings: Vec<StringCard>,
    pub exported_to: Option<String>,
    /// Where to return after signing in again when a resumed wizard needed a new sign-in.
    pub resume_at: Option<Step>,
    /// The hub on which the app created its own consumer group, until it is deleted.
    #[serde(default)]
    pub own_consumer_group: Option<String>,
    /// Where the hub's data streams are to be kept; `None` keeps them only in the hub.
    #[serde(default)]
    pub keep: Option<KeepPlan>,
    /// What keeping the data set up, once it is.
    #[serde(default)]
    pub kept: Option<KeptData>,
    /// The capacity plan entered on the Tier step, if any.
    #[serde(default)]
    pub capacity: Option<hubsetup_cost::PlanInput>,
    /// The currency prices are shown in, once the admin chose or saw one.
    #[serde(default)]
    pub currency: Option<String>,
    /// The list prices last read for the chosen region and currency.
    #[serde(default)]
    pub prices: Option<hubsetup_cost::TierPrices>,
}

impl Default for WizardState {
    fn default() -> WizardState {
        WizardState {
            flow: None,
            step: Step::Start,
            cloud: None,
            account: None,
            hub: HubPlan {
                sku: "S1".into(),
                units: 1,
                consumer_group: true,
                ..HubPlan::default()
            },
            devices: vec!["io.microshare.contact.unpacked.event".into()],
            policy: None,
            hub_id: None,
            strings: Vec::new(),
            exported_to: None,
            resume_at: None,
            own_consumer_group: None,
            keep: None,
            kept: None,
            capacity: None,
            currency: None,
            prices: None,
        }
    }
}

/// A step in the step list.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, TS)]
#[ts(export)]
pub struct StepInfo {
    pub step: Step,
    pub title: String,
    pub done: bool,
    pub current: bool,
}

/// What the webview renders: the state, the step list and whether Next is possible.
#[derive(Debug, Clone, PartialEq, Serialize, TS)]
#[ts(export)]
pub struct WizardView {
    pub state: WizardState,
    pub steps: Vec<StepInfo>,
    /// Why Next is not possible yet, if it is not.
    pub blocked: Option<String>,
    /// Gigabytes a month the planned messages fill where the data is kept, for the cost's
    /// storage estimate; `None` without a capacity plan or without keeping the data.
    pub stored_gb_per_month: Option<f64>,
}

impl WizardState {
    pub fn steps(&self) -> &'static [Step] {
        self.flow.map_or(&[Step::Start], Flow::steps)
    }

    pub fn start(&mut self, choice: StartChoice) {
        let previous_cloud = self.cloud.clone();
        let in_cloud = |state: &mut WizardState, cloud: String| {
            if previous_cloud.as_deref() != Some(cloud.as_str()) {
                state.account = None;
                state.hub = WizardState::default().hub;
                state.hub_id = None;
                state.keep = None;
                state.kept = None;
            }
            state.cloud = Some(cloud);
        };
        match choice {
            StartChoice::Create { cloud } => {
                self.flow = Some(Flow::Admin);
                in_cloud(self, cloud);
            }
            StartChoice::Check { cloud } => {
                self.flow = Some(Flow::Check);
                in_cloud(self, cloud);
                // Only a hub that exists can be checked.
                self.hub.reuse = true;
            }
            StartChoice::Verify => self.flow = Some(Flow::Support),
        }
        self.step = self.steps().get(1).copied().unwrap_or(Step::Start);
    }

    /// Why the current step cannot be left forward yet.
    pub fn blocker(&self) -> Option<String> {
        let missing = |what: &str| Some(what.to_owned());
        match self.step {
            Step::Start => self
                .flow
                .is_none()
                .then(|| "Choose where to create the hub, or check a string you have.".to_owned()),
            Step::SignIn => self.account.is_none().then(|| "Sign in first.".to_owned()),
            Step::Hub => {
                let hub = &self.hub;
                if hub.subscription_id.is_none() {
                    return missing("Choose a subscription.");
                }
                if hub.resource_group.as_deref().is_none_or(str::is_empty) {
                    return missing("Choose or name a resource group.");
                }
                if hub.region.is_none() && !hub.reuse {
                    return missing("Choose a region.");
                }
                match hub.name.as_deref() {
                    None | Some("") => missing("Enter a hub name."),
                    Some(name) => names::check_hub_name(name).err().map(|e| e.to_string()),
                }
            }
            Step::Tier => {
                let max = match self.hub.sku.as_str() {
                    "F1" => 1,
                    "B1" | "B2" | "S1" | "S2" => 200,
                    "B3" | "S3" => 10,
                    other => {
                        return Some(format!(
                            "'{other}' is not a tier; choose F1, B1–B3 or S1–S3."
                        ))
                    }
                };
                (!(1..=max).contains(&self.hub.units))
                    .then(|| format!("{} allows 1 to {max} units.", self.hub.sku))
            }
            Step::Devices => {
                if self.devices.is_empty() {
                    return missing("Add at least one device.");
                }
                self.devices
                    .iter()
                    .find_map(|d| names::check_device_id(d).err().map(|e| format!("{d}: {e}")))
            }
            Step::Policy => None,
            Step::KeepData => self.keep.as_ref().and_then(|k| k.problem(&self.hub.sku)),
            Step::Create => {
                if self.hub_id.is_none() {
                    missing("Create the hub (or wait until it is ready).")
                } else if self.keep.is_some() && self.kept.is_none() {
                    missing("The data is not kept yet: press Create again to finish, or go back and choose not to keep it.")
                } else {
                    None
                }
            }
            Step::ConnectionString => self
                .strings
                .is_empty()
                .then(|| "Paste or load a connection string.".to_owned()),
            Step::Test => self
                .strings
                .iter()
                .any(|s| s.verified.is_none())
                .then(|| "Run the live test first.".to_owned()),
            Step::Keychain | Step::Handoff => None,
            Step::Summary | Step::Health => Some("This is the last step.".to_owned()),
        }
    }

    /// Records who signed in; a resumed wizard goes back to where it was.
    pub fn signed_in(&mut self, account: String) {
        self.account = Some(account);
        if let Some(step) = self.resume_at.take() {
            self.step = step;
        }
    }

    pub fn forward(&mut self) -> Result<Step, WizardError> {
        if let Some(reason) = self.blocker() {
            return Err(if matches!(self.step, Step::Summary | Step::Health) {
                WizardError::AtEnd
            } else {
                WizardError::StepIncomplete(reason)
            });
        }
        let steps = self.steps();
        let at = steps.iter().position(|s| *s == self.step).unwrap_or(0);
        self.step = *steps.get(at + 1).ok_or(WizardError::AtEnd)?;
        Ok(self.step)
    }

    pub fn back(&mut self) -> Result<Step, WizardError> {
        let steps = self.steps();
        let at = steps.iter().position(|s| *s == self.step).unwrap_or(0);
        if at == 0 {
            return Err(WizardError::AtStart);
        }
        // Going back past a created hub would suggest it can be undone; it stays created.
        self.step = steps[at - 1];
        Ok(self.step)
    }

    pub fn view(&self) -> WizardView {
        let steps = self.steps();
        let at = steps.iter().position(|s| *s == self.step).unwrap_or(0);
        WizardView {
            state: self.clone(),
            steps: steps
                .iter()
                .enumerate()
                .map(|(i, step)| StepInfo {
                    step: *step,
                    title: step.title().to_owned(),
                    done: i < at,
                    current: i == at,
                })
                .collect(),
            blocked: self.blocker(),
            stored_gb_per_month: self
                .capacity
                .as_ref()
                .filter(|_| self.keep.is_some())
                .map(hubsetup_cost::plan::stored_gb_per_month),
        }
    }

    /// Saves the state in `dir` (atomically, readable only by the user).
    pub fn save(&self, dir: &Path) -> std::io::Result<()> {
        std::fs::create_dir_all(dir)?;
        let json = serde_json::to_vec_pretty(self).map_err(std::io::Error::other)?;
        hubsetup_platform::private_file::write_atomically(&dir.join(STATE_FILE), &json)
    }

    /// The state saved in `dir`, made consistent for a new process: connection strings held in
    /// memory are gone, so the wizard returns to the step that obtains them.
    pub fn load(dir: &Path) -> Option<WizardState> {
        let bytes = std::fs::read(dir.join(STATE_FILE)).ok()?;
        let mut state: WizardState = serde_json::from_slice(&bytes).ok()?;
        if !state.strings.is_empty() {
            state.strings.clear();
            if state.step > Step::ConnectionString {
                state.step = Step::ConnectionString;
            }
        }
        // Tokens are never saved, so a resumed admin signs in again before any Azure call.
        if state.step > Step::SignIn && state.step < Step::ConnectionString {
            state.account = None;
            state.resume_at = Some(state.step);
            state.step = Step::SignIn;
        }
        Some(state)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn admin() -> WizardState {
        let mut state = WizardState::default();
        state.start(StartChoice::Create {
            cloud: "sandbox".into(),
        });
        state
    }

    #[test]
    fn the_admin_flow_walks_every_step_once_each_is_complete() {
        let mut state = admin();
        assert_eq!(state.step, Step::SignIn);
        assert_eq!(
            state.forward(),
            Err(WizardError::StepIncomplete("Sign in first.".into()))
        );
        state.account = Some("admin@contoso.example".into());
        assert_eq!(state.forward(), Ok(Step::Hub));
        assert_eq!(state.blocker().as_deref(), Some("Choose a subscription."));
        state.hub.subscription_id = Some("sub".into());
        state.hub.resource_group = Some("rg".into());
        state.hub.region = Some("westeurope".into());
        state.hub.name = Some("bad_name".into());
        assert_eq!(
            state.forward().unwrap_err().to_string(),
            "The hub name contains '_' at position 4, which Azure does not allow. Use only letters, digits and hyphens."
        );
        state.hub.name = Some("good-name".into());
        assert_eq!(state.forward(), Ok(Step::Tier));
        state.hub.sku = "S3".into();
        state.hub.units = 11;
        assert_eq!(state.blocker().as_deref(), Some("S3 allows 1 to 10 units."));
        state.hub.units = 2;
        assert_eq!(state.forward(), Ok(Step::Devices));
        state.devices.push("bad#id".into());
        assert!(state
            .blocker()
            .unwrap()
            .starts_with("bad#id: The device ID contains '#'"));
        state.devices.pop();
        assert_eq!(state.forward(), Ok(Step::Policy));
        assert_eq!(state.forward(), Ok(Step::KeepData));
        assert_eq!(state.forward(), Ok(Step::Create));
        assert!(state.forward().is_err());
        state.hub_id = Some("/subscriptions/sub/…".into());
        assert_eq!(state.forward(), Ok(Step::ConnectionString));
        assert_eq!(state.back(), Ok(Step::Create));
        let view = state.view();
        let done: Vec<bool> = view.steps.iter().map(|s| s.done).collect();
        assert_eq!(
            done,
            [true, true, true, true, true, true, true, false, false, false, false, false, false]
        );
        assert_eq!(view.steps[7].title, "Review + create");
    }

    #[test]
    fn the_support_flow_is_short_and_starts_from_a_string() {
        let mut state = WizardState::default();
        assert_eq!(state.back(), Err(WizardError::AtStart));
        state.start(StartChoice::Verify);
        assert_eq!(state.step, Step::ConnectionString);
        let titles: Vec<&str> = state.steps().iter().map(|s| s.title()).collect();
        assert_eq!(
            titles,
            [
                "Where",
                "Connection string",
                "Live test",
                "Keychain",
                "Hand-off",
                "Summary"
            ]
        );
        state.strings.push(StringCard {
            handle: "cs-1".into(),
            label: "device".into(),
            masked: "HostName=…".into(),
            host: "h".into(),
            device_id: None,
            verified: None,
            saved_as: None,
        });
        assert_eq!(state.forward(), Ok(Step::Test));
        assert_eq!(
            state.forward(),
            Err(WizardError::StepIncomplete(
                "Run the live test first.".into()
            ))
        );
        state.strings[0].verified = Some(false);
        assert_eq!(state.forward(), Ok(Step::Keychain));
    }

    #[test]
    fn a_resumed_wizard_holds_no_secret_and_returns_to_where_strings_are_obtained() {
        let dir = tempfile::tempdir().unwrap();
        let mut state = admin();
        state.account = Some("admin@contoso.example".into());
        state.hub_id =
            Some("/subscriptions/s/resourceGroups/rg/providers/Microsoft.Devices/IotHubs/h".into());
        state.step = Step::Test;
        state.strings.push(StringCard {
            handle: "cs-9".into(),
            label: "device".into(),
            masked: "HostName=h;DeviceId=d;SharedAccessKey=****…abcd".into(),
            host: "h".into(),
            device_id: Some("d".into()),
            verified: Some(true),
            saved_as: None,
        });
        state.save(dir.path()).unwrap();
        let saved = std::fs::read_to_string(dir.path().join(STATE_FILE)).unwrap();
        assert!(
            !saved.contains("SharedAccessKey=") || saved.contains("****"),
            "only masked strings are saved"
        );
        let resumed = WizardState::load(dir.path()).unwrap();
        assert_eq!(resumed.step, Step::ConnectionString);
        assert!(resumed.strings.is_empty());
        assert_eq!(resumed.hub_id, state.hub_id);

        let mut creating = admin();
        creating.account = Some("a".into());
        creating.step = Step::Create;
        creating.save(dir.path()).unwrap();
        let resumed = WizardState::load(dir.path()).unwrap();
        let mut resumed = resumed;
        assert_eq!(
            (resumed.step, resumed.account.as_deref()),
            (Step::SignIn, None),
            "sign in again…"
        );
        resumed.signed_in("admin@contoso.example".into());
        assert_eq!(resumed.step, Step::Create, "…then follow the creation");
    }
}
