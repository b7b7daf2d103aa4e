//! What each button of the wizard does, without a window: the desktop app's commands call
//! these one to one. A session owns the wizard state (saved after every change), the shelf of
//! connection strings, the in-process sandbox when the user chose "Try it without Azure", and
//! the live-test verifiers.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::SystemTime;

use hubsetup_core::connection_string::inspect_with_clouds;
use hubsetup_core::{Cloud, ConnectionString};
use hubsetup_livetest::{Options, Protocol, Report, StageResult, Verifier};
use hubsetup_net::Network;
use hubsetup_sandbox::{Sandbox, SandboxConfig};
use hubsetup_vault::{OsKeychain, ProxyLogins, Vault};
use serde::{Deserialize, Serialize};
use ts_rs::TS;
use zeroize::Zeroizing;

use crate::flow::{StartChoice, StringCard, WizardState, WizardView};
use crate::shelf::{Shelf, ShelfError};

/// A stage of a live test that just ended, sent to the webview while the test runs.
/// What a live test sends over: the protocols (all at once), and whether to check
/// cloud-to-device over MQTT too.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, TS)]
#[ts(export)]
pub struct TestChoice {
    pub protocols: Vec<Protocol>,
    pub round_trip: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, TS)]
#[ts(export)]
pub struct TestStage {
    /// The string under test.
    pub handle: String,
    pub stage: StageResult,
}

/// A failure as the webview shows it: the same sentence the CLI prints.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, TS, thiserror::Error)]
#[error("{message}")]
#[ts(export)]
pub struct SessionError {
    pub kind: String,
    pub message: String,
}

impl SessionError {
    pub(crate) fn new(kind: &str, error: impl std::fmt::Display) -> SessionError {
        SessionError {
            kind: kind.to_owned(),
            message: error.to_string(),
        }
    }
}

impl From<ShelfError> for SessionError {
    fn from(e: ShelfError) -> SessionError {
        SessionError::new("shelf", e)
    }
}

/// One field of a pasted string, secrets masked.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, TS)]
#[ts(export)]
pub struct FieldRow {
    pub name: String,
    pub value: String,
}

/// What checking a pasted string found; `card` is set when the string is usable.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, TS)]
#[ts(export)]
pub struct PasteResult {
    pub fields: Vec<FieldRow>,
    pub errors: Vec<String>,
    pub warnings: Vec<String>,
    pub card: Option<StringCard>,
}

/// A keychain entry as listed (no secret).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, TS)]
#[ts(export)]
pub struct SavedString {
    pub name: String,
    pub label: String,
    pub created: Option<String>,
    pub last_verified: Option<String>,
}

impl SavedString {
    fn of(entry: &hubsetup_vault::Entry) -> SavedString {
        SavedString {
            name: entry.name(),
            label: entry.label.clone(),
            created: entry.created.map(date),
            last_verified: entry.last_verified.map(date),
        }
    }
}

/// Everything the desktop app holds for one user.
pub struct Session {
    pub(crate) state: Mutex<WizardState>,
    pub(crate) shelf: Shelf,
    pub(crate) state_dir: PathBuf,
    sandbox: Mutex<Option<Arc<Sandbox>>>,
    /// A sandbox running as its own process (`HUBSETUP_SANDBOX`), as the CLI reaches it.
    external_sandbox: Option<Cloud>,
    /// Whether that sandbox has storage (its description's `storage`).
    external_storage: bool,
    /// The live test's last accepted message, looked for by the Stored stage.
    pub(crate) last_sent: Mutex<Option<crate::keep::SentMessage>>,
    pub(crate) azure: Mutex<Option<hubsetup_provision::Azure>>,
    /// The account's own tenant, from its first sign-in: the others it may use are guests.
    pub(crate) home_tenant: Mutex<Option<String>>,
    pub(crate) reporter: Mutex<hubsetup_provision::Reporter>,
    /// The hub just created or chosen, with the reachability problems found on it.
    pub(crate) created_hub: Mutex<
        Option<(
            hubsetup_provision::HubInfo,
            Vec<hubsetup_provision::ReachProblem>,
        )>,
    >,
    /// Wakes the long operation under way so that it stops (see `Session::cancel`).
    pub(crate) cancel: tokio::sync::Notify,
    /// Dropping it stops the watch under way (see `Session::watch`).
    pub(crate) watch_stop: Mutex<Option<tokio::sync::oneshot::Sender<()>>>,
}

impl std::fmt::Debug for Session {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Session")
            .field("state_dir", &self.state_dir)
            .finish_non_exhaustive()
    }
}

/// `2026-11-24`, in UTC.
pub(crate) fn date(time: SystemTime) -> String {
    humantime::format_rfc3339_seconds(time)
        .to_string()
        .chars()
        .take(10)
        .collect()
}

impl Session {
    /// Resumes the wizard saved in `state_dir`, if any.
    pub fn open(state_dir: &Path) -> Session {
        let state = WizardState::load(state_dir).unwrap_or_default();
        let description: Option<serde_json::Value> = std::env::var_os("HUBSETUP_SANDBOX")
            .and_then(|path| std::fs::read_to_string(path).ok())
            .and_then(|text| serde_json::from_str(&text).ok());
        let external_sandbox = description
            .clone()
            .and_then(|d| serde_json::from_value(d).ok());
        let external_storage = description
            .and_then(|d| d.get("storage").and_then(serde_json::Value::as_bool))
            .unwrap_or(false);
        Session {
            state: Mutex::new(state),
            shelf: Shelf::default(),
            state_dir: state_dir.to_owned(),
            sandbox: Mutex::new(None),
            external_sandbox,
            external_storage,
            last_sent: Mutex::new(None),
            azure: Mutex::new(None),
            home_tenant: Mutex::new(None),
            reporter: Mutex::new(hubsetup_provision::silent()),
            created_hub: Mutex::new(None),
            cancel: tokio::sync::Notify::new(),
            watch_stop: Mutex::new(None),
        }
    }

    pub fn view(&self) -> WizardView {
        self.state.lock().expect("state lock").view()
    }

    /// Changes the state and saves it; a failed save is reported, the change stays.
    pub(crate) fn update<R>(
        &self,
        change: impl FnOnce(&mut WizardState) -> R,
    ) -> Result<R, SessionError> {
        let mut state = self.state.lock().expect("state lock");
        let result = change(&mut state);
        state.save(&self.state_dir).map_err(|e| {
            SessionError::new(
                "state",
                format!(
                    "The wizard's progress could not be saved in {}: {e}.",
                    self.state_dir.display()
                ),
            )
        })?;
        Ok(result)
    }

    pub fn start(&self, choice: StartChoice) -> Result<WizardView, SessionError> {
        if matches!(&choice, StartChoice::Create { cloud } if cloud == "sandbox") {
            self.sandbox_cloud()?;
        }
        self.update(|s| s.start(choice))?;
        Ok(self.view())
    }

    pub fn next(&self) -> Result<WizardView, SessionError> {
        self.update(|s| s.forward())?
            .map_err(|e| SessionError::new("wizard", e))?;
        Ok(self.view())
    }

    pub fn back(&self) -> Result<WizardView, SessionError> {
        self.update(|s| s.back())?
            .map_err(|e| SessionError::new("wizard", e))?;
        Ok(self.view())
    }

    /// The in-process sandbox, started on first use.
    pub fn sandbox(&self) -> Result<Arc<Sandbox>, SessionError> {
        let mut slot = self.sandbox.lock().expect("sandbox lock");
        if let Some(sandbox) = slot.as_ref() {
            return Ok(sandbox.clone());
        }
        let sandbox = Arc::new(
            Sandbox::start(SandboxConfig {
                state_dir: Some(self.state_dir.join("sandbox")),
                azurite: hubsetup_sandbox::find_azurite(None),
                ..SandboxConfig::default()
            })
            .map_err(|e| SessionError::new("sandbox", e))?,
        );
        *slot = Some(sandbox.clone());
        Ok(sandbox)
    }

    /// The sandbox "Try it without Azure" works with: the process named by `HUBSETUP_SANDBOX`
    /// (as the CLI's `--sandbox`), so that other programs signed in to it (`az`) share it;
    /// else one the app starts.
    pub(crate) fn sandbox_cloud(&self) -> Result<Cloud, SessionError> {
        match &self.external_sandbox {
            Some(cloud) => Ok(cloud.clone()),
            None => Ok(self.sandbox()?.cloud()),
        }
    }

    /// Whether the sandbox process named by `HUBSETUP_SANDBOX` has storage; `None` when the
    /// app runs its own sandbox.
    pub(crate) fn external_sandbox_storage(&self) -> Option<bool> {
        self.external_sandbox
            .as_ref()
            .map(|_| self.external_storage)
    }

    /// The clouds a string may belong to: Azure's, and the sandbox's if it runs.
    fn clouds(&self) -> Vec<Cloud> {
        let mut clouds = Cloud::azure_clouds();
        if let Some(sandbox) = self.sandbox.lock().expect("sandbox lock").as_ref() {
            clouds.push(sandbox.cloud());
        }
        clouds.extend(self.external_sandbox.clone());
        clouds
    }

    /// Checks a pasted string field by field; a usable one goes on the shelf.
    pub fn paste(&self, text: &str) -> Result<PasteResult, SessionError> {
        let inspection = inspect_with_clouds(text, &self.clouds());
        let fields = inspection
            .fields
            .iter()
            .map(|f| FieldRow {
                name: f.name.clone(),
                value: f.value.clone(),
            })
            .collect();
        let warnings = inspection
            .warnings
            .iter()
            .map(ToString::to_string)
            .collect();
        let (errors, card) = match inspection.result {
            Ok(cs) => (Vec::new(), Some(self.shelve(cs, None)?)),
            Err(errors) => (errors.iter().map(ToString::to_string).collect(), None),
        };
        Ok(PasteResult {
            fields,
            errors,
            warnings,
            card,
        })
    }

    /// Puts `cs` on the shelf and on the wizard's list, replacing a card for the same target.
    pub(crate) fn shelve(
        &self,
        cs: ConnectionString,
        saved_as: Option<String>,
    ) -> Result<StringCard, SessionError> {
        let card = StringCard {
            label: cs
                .device_id()
                .or(cs.policy_name())
                .unwrap_or(cs.hub_name())
                .to_owned(),
            masked: cs.masked(),
            host: cs.host_name().to_owned(),
            device_id: cs.device_id().map(str::to_owned),
            verified: None,
            saved_as,
            handle: self.shelf.put(cs),
        };
        let added = card.clone();
        self.update(move |s| {
            s.strings.retain(|c| {
                !(c.host == card.host && c.device_id == card.device_id && c.label == card.label)
            });
            s.strings.push(card);
        })?;
        Ok(added)
    }

    /// The string in clear, for the Reveal button only.
    pub fn reveal(&self, handle: &str) -> Result<Zeroizing<String>, SessionError> {
        Ok(self.shelf.get(handle)?.expose())
    }

    pub fn forget(&self, handle: &str) -> Result<WizardView, SessionError> {
        self.shelf.remove(handle);
        self.update(|s| s.strings.retain(|c| c.handle != handle))?;
        Ok(self.view())
    }

    /// The live test of a shelved string, telling `on_stage` of each stage as it ends; the
    /// card records the outcome. Cancellable; a cancelled test leaves the card as it was.
    /// Tests a string as `choice` says (HTTPS alone when it names no protocol); the first
    /// protocol's stages are told as they end.
    pub async fn verify(
        &self,
        handle: &str,
        choice: &TestChoice,
        on_stage: &(dyn Fn(&StageResult) + Sync),
    ) -> Result<Report, SessionError> {
        self.cancellable(self.verify_now(handle, choice, on_stage))
            .await
    }

    /// The cloud a string's hub is in (the sandbox's, or one of Azure's).
    pub(crate) fn cloud_of(&self, cs: &ConnectionString) -> Cloud {
        self.cloud_serving(cs.host_name())
    }

    /// The cloud `host` belongs to: the sandbox's (its whole domain), else Azure's.
    fn cloud_serving(&self, host: &str) -> Cloud {
        self.clouds()
            .into_iter()
            .find(|c| c.serves(host))
            .unwrap_or_else(Cloud::public)
    }

    /// How to reach `host`, in the cloud it belongs to.
    pub(crate) fn network_for_host(&self, host: &str) -> Result<Network, SessionError> {
        network_for(&self.cloud_serving(host))
    }

    /// Signs in to the proxy that a string's hub is reached through: the login is checked
    /// with the proxy and kept in the keychain for every later test and Azure call. Returns
    /// the proxy (`host:port`).
    pub async fn proxy_sign_in(
        &self,
        handle: &str,
        user: String,
        password: Zeroizing<String>,
    ) -> Result<String, SessionError> {
        let cs = self.shelf.get(handle)?;
        let host = cs.host_name().to_owned();
        let network =
            Network::new(&self.cloud_of(&cs), None).map_err(|e| SessionError::new("network", e))?;
        let proxy = network.proxy_for(&host).ok_or_else(|| {
            SessionError::new(
                "proxy",
                format!("No proxy is set for {host}: this computer connects directly, so there is no proxy to sign in to."),
            )
        })?;
        if user.trim().is_empty() || password.is_empty() {
            return Err(SessionError::new(
                "proxy",
                "Enter the proxy's user name and password.",
            ));
        }
        let login = hubsetup_net::ProxyLogin { user, password };
        let logins = ProxyLogins::open().map_err(|e| SessionError::new("vault", e))?;
        logins
            .sign_in(&proxy, &login, &host)
            .await
            .map_err(|e| SessionError::new("proxy", e))?;
        Ok(proxy.authority())
    }

    async fn verify_now(
        &self,
        handle: &str,
        choice: &TestChoice,
        on_stage: &(dyn Fn(&StageResult) + Sync),
    ) -> Result<Report, SessionError> {
        let cs = self.shelf.get(handle)?;
        let network = network_for(&self.cloud_of(&cs))?;
        // A policy's string is tested as the wizard's first device.
        let options = Options {
            device_id: self.view().state.devices.first().cloned(),
            read_back: self.signed_in_read_back(&cs).await,
            protocols: match choice.protocols.as_slice() {
                [] => vec![Protocol::Https],
                chosen => chosen.to_vec(),
            },
            round_trip: choice.round_trip,
            ..Options::default()
        };
        let report = Verifier::new(network, options)
            .verify_observed(&cs, on_stage)
            .await;
        let accepted = report.accepted;
        if let (true, Some(message_id), Some(stream)) =
            (accepted, &report.message_id, &report.device_id)
        {
            *self.last_sent.lock().expect("sent lock") = Some(crate::keep::SentMessage {
                handle: handle.to_owned(),
                stream: stream.clone(),
                message_id: message_id.clone(),
                at: SystemTime::now(),
            });
        }
        self.update(|s| {
            if let Some(card) = s.strings.iter_mut().find(|c| c.handle == handle) {
                card.verified = Some(accepted);
            }
        })?;
        if accepted {
            if let Some(name) = self
                .view()
                .state
                .strings
                .iter()
                .find(|c| c.handle == handle)
                .and_then(|c| c.saved_as.clone())
            {
                // The keychain index remembers when a string last passed; failing to note it
                // changes nothing else.
                let _ = vault()?.record_verified(&name, SystemTime::now());
            }
        }
        Ok(report)
    }

    pub fn vault_list(&self) -> Result<Vec<SavedString>, SessionError> {
        let listing = vault()?.list().map_err(|e| SessionError::new("vault", e))?;
        Ok(listing
            .entries
            .into_iter()
            .map(|e| SavedString::of(&e))
            .collect())
    }

    pub fn vault_save(
        &self,
        handle: &str,
        label: Option<&str>,
        replace: bool,
    ) -> Result<SavedString, SessionError> {
        let cs = self.shelf.get(handle)?;
        let entry = vault()?
            .save(&cs, label, replace)
            .map_err(|e| SessionError::new("vault", e))?;
        let saved = SavedString::of(&entry);
        self.update(|s| {
            if let Some(card) = s.strings.iter_mut().find(|c| c.handle == handle) {
                card.saved_as = Some(saved.name.clone());
                card.label = saved.label.clone();
            }
        })?;
        Ok(saved)
    }

    /// Loads a saved string onto the shelf.
    pub fn vault_load(&self, name: &str) -> Result<StringCard, SessionError> {
        let (entry, cs) = vault()?
            .load(name)
            .map_err(|e| SessionError::new("vault", e))?;
        let mut card = self.shelve(cs, Some(entry.name()))?;
        card.label = entry.label;
        Ok(card)
    }

    pub fn vault_delete(&self, name: &str) -> Result<Vec<SavedString>, SessionError> {
        vault()?
            .delete(name)
            .map_err(|e| SessionError::new("vault", e))?;
        self.vault_list()
    }
}

/// How the wizard reaches `cloud`: as every client does, with the proxy logins kept.
pub(crate) fn network_for(cloud: &Cloud) -> Result<Network, SessionError> {
    let network = Network::new(cloud, None).map_err(|e| SessionError::new("network", e))?;
    Ok(hubsetup_vault::with_kept_proxy_logins(network))
}

fn vault() -> Result<Vault<OsKeychain>, SessionError> {
    Vault::open().map_err(|e| SessionError::new("vault", e))
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A support person's session on the in-process sandbox, with the seeded device's string
    /// pasted: the folder (kept while the test runs), the session, its sandbox and the handle.
    pub(crate) fn pasted_sandbox_string() -> (tempfile::TempDir, Arc<Session>, Arc<Sandbox>, String)
    {
        let dir = tempfile::tempdir().unwrap();
        let session = Arc::new(Session::open(dir.path()));
        session.start(StartChoice::Verify).unwrap();
        let sandbox = session.sandbox().unwrap();
        let string = sandbox.device_connection_string(HUB, DEVICE).unwrap();
        let handle = session
            .paste(&string.expose())
            .unwrap()
            .card
            .unwrap()
            .handle;
        (dir, session, sandbox, handle)
    }

    pub(crate) const HUB: &str = "contoso-plant-hub";
    pub(crate) const DEVICE: &str = "io.microshare.contact.unpacked.event";

    #[tokio::test(flavor = "multi_thread")]
    async fn a_live_test_tells_its_stages_as_they_end_and_can_be_cancelled() {
        let (_dir, session, sandbox, handle) = pasted_sandbox_string();
        let hub = HUB;

        let heard = Mutex::new(Vec::new());
        let on_stage = |stage: &StageResult| heard.lock().unwrap().push(stage.label.clone());
        let report = session
            .verify(&handle, &TestChoice::default(), &on_stage)
            .await
            .unwrap();
        assert!(report.accepted, "{report:?}");
        let labels: Vec<String> = report.stages.iter().map(|s| s.label.clone()).collect();
        assert_eq!(*heard.lock().unwrap(), labels);

        // A hub that answers slowly: the person stops waiting.
        sandbox.inject(hubsetup_sandbox::FaultRule {
            host: sandbox.hub_host(hub),
            path_prefix: None,
            fault: hubsetup_sandbox::Fault::Latency { millis: 20_000 },
        });
        let testing = {
            let session = session.clone();
            let handle = handle.clone();
            tokio::spawn(async move {
                session
                    .verify(&handle, &TestChoice::default(), &|_| {})
                    .await
            })
        };
        tokio::time::sleep(std::time::Duration::from_millis(300)).await;
        session.cancel();
        let cancelled = testing.await.unwrap().unwrap_err();
        assert_eq!(cancelled.kind, "cancelled");
        let card = session.view().state.strings[0].clone();
        assert_eq!(
            card.verified,
            Some(true),
            "the last finished test still counts"
        );
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn a_sign_in_wait_can_be_cancelled_and_started_again() {
        let dir = tempfile::tempdir().unwrap();
        let session = Arc::new(Session::open(dir.path()));
        session
            .start(StartChoice::Create {
                cloud: "sandbox".into(),
            })
            .unwrap();
        let waiting = {
            let session = session.clone();
            tokio::spawn(async move {
                session
                    .sign_in(hubsetup_identity::SignInMethod::DeviceCode)
                    .await
            })
        };
        tokio::time::sleep(std::time::Duration::from_millis(300)).await;
        session.cancel();
        let cancelled = waiting.await.unwrap().unwrap_err();
        assert_eq!(cancelled.kind, "cancelled");
        assert_eq!(
            cancelled.message,
            "Cancelled. Nothing was lost: start again when you are ready."
        );
        assert_eq!(session.view().state.account, None);
        let view = session
            .sign_in(hubsetup_identity::SignInMethod::DeviceCode)
            .await
            .unwrap();
        assert_eq!(
            view.state.account.as_deref(),
            Some("Signed in with device code sign-in")
        );
    }
}
