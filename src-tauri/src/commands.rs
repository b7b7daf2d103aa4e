//! The commands the webview may call: thin adapters over [`Session`].

use std::path::{Path, PathBuf};
use std::time::Duration;

use hubsetup_identity::SignInMethod;
use hubsetup_livetest::{Report, StageResult};
use hubsetup_platform::SecretClipboard;
use hubsetup_provision::{
    HubFacts, HubInfo, NameCheck, Permissions, PolicyRequirements, ResourceGroup, Subscription,
    Tenant, TierFacts,
};
use hubsetup_wizard::{
    AlertChoice, AlertSetUp, CreateOutcome, ExportRequest, Formats, FoundKey, HandoffView, Health,
    HubPlan, KeepOptions, KeepPlan, KeyView, OwnKeyView, PasteResult, PlanInput, PlanView,
    ReachIssue, ReceivedFile, RegionList, SavedString, Session, SessionError, SignWith, Signing,
    StartChoice, StorageNameCheck, Stored, StoredWait, StringCard, TestChoice, TestStage,
    TierPrices, WatchEvent, WatchOptions, WatchRequest, WizardView,
};
use tauri::ipc::Channel;
use tauri::{AppHandle, Emitter, Manager, State};

type Answer<T> = Result<T, SessionError>;

/// How long a copied connection string stays on the clipboard.
const CLIPBOARD_SECONDS: u64 = 30;

#[tauri::command]
pub fn wizard_view(session: State<'_, Session>) -> WizardView {
    session.view()
}

#[tauri::command]
pub fn wizard_start(session: State<'_, Session>, choice: StartChoice) -> Answer<WizardView> {
    session.start(choice)
}

#[tauri::command]
pub fn wizard_next(session: State<'_, Session>) -> Answer<WizardView> {
    session.next()
}

#[tauri::command]
pub fn wizard_back(session: State<'_, Session>) -> Answer<WizardView> {
    session.back()
}

#[tauri::command]
pub fn paste_string(session: State<'_, Session>, text: String) -> Answer<PasteResult> {
    session.paste(&zeroize::Zeroizing::new(text))
}

/// The one way a secret reaches the webview: the user pressed Reveal.
#[tauri::command]
pub fn reveal_string(session: State<'_, Session>, handle: String) -> Answer<String> {
    Ok(session.reveal(&handle)?.to_string())
}

/// Puts the string on the clipboard, marked so that clipboard history and sync skip it, and
/// takes it off again after 30 s if it is still there.
#[tauri::command]
pub fn copy_string(
    app: AppHandle,
    session: State<'_, Session>,
    clipboard: State<'_, SecretClipboard>,
    handle: String,
) -> Answer<String> {
    let secret = session.reveal(&handle)?;
    clipboard.copy(&secret).map_err(|e| SessionError {
        kind: "clipboard".into(),
        message: e.to_string(),
    })?;
    tauri::async_runtime::spawn(async move {
        tokio::time::sleep(Duration::from_secs(CLIPBOARD_SECONDS)).await;
        if let Err(e) = app.state::<SecretClipboard>().clear_if_unchanged(&secret) {
            eprintln!("IoT Hub Setup could not clear the clipboard: {e}");
        }
    });
    Ok(format!(
        "Copied. The clipboard clears in {CLIPBOARD_SECONDS} s."
    ))
}

#[tauri::command]
pub fn forget_string(session: State<'_, Session>, handle: String) -> Answer<WizardView> {
    session.forget(&handle)
}

/// Each stage of the first protocol goes to the webview as a `test-stage` event as it ends.
#[tauri::command]
pub async fn verify_string(
    app: AppHandle,
    session: State<'_, Session>,
    handle: String,
    choice: TestChoice,
) -> Answer<Report> {
    let on_stage = |stage: &StageResult| {
        let event = TestStage {
            handle: handle.clone(),
            stage: stage.clone(),
        };
        let _ = app.emit("test-stage", event);
    };
    session.verify(&handle, &choice, &on_stage).await
}

/// The password arrives from the proxy sign-in form and goes only to the proxy and keychain.
#[tauri::command]
pub async fn proxy_sign_in(
    session: State<'_, Session>,
    handle: String,
    user: String,
    password: String,
) -> Answer<String> {
    session
        .proxy_sign_in(&handle, user, zeroize::Zeroizing::new(password))
        .await
}

#[tauri::command]
pub fn vault_list(session: State<'_, Session>) -> Answer<Vec<SavedString>> {
    session.vault_list()
}

#[tauri::command]
pub fn vault_save(
    session: State<'_, Session>,
    handle: String,
    label: Option<String>,
    replace: bool,
) -> Answer<SavedString> {
    session.vault_save(
        &handle,
        label.as_deref().filter(|l| !l.trim().is_empty()),
        replace,
    )
}

#[tauri::command]
pub fn vault_load(session: State<'_, Session>, name: String) -> Answer<StringCard> {
    session.vault_load(&name)
}

#[tauri::command]
pub fn vault_delete(session: State<'_, Session>, name: String) -> Answer<Vec<SavedString>> {
    session.vault_delete(&name)
}

/// A file the user chose in a native dialog; `kind` is the error's kind, for the screen.
fn read_file(path: &Path, kind: &str) -> Answer<Vec<u8>> {
    std::fs::read(path).map_err(|e| SessionError {
        kind: kind.into(),
        message: format!("{} could not be read: {e}.", path.display()),
    })
}

/// A passphrase field: empty means none; wiped when dropped.
fn passphrase_of(field: Option<String>) -> Option<zeroize::Zeroizing<String>> {
    field.filter(|p| !p.is_empty()).map(zeroize::Zeroizing::new)
}

/// A key given as pasted text or as a file chosen in the native dialog.
fn key_bytes(text: Option<String>, path: Option<PathBuf>) -> Answer<Vec<u8>> {
    match (text, path) {
        (Some(text), _) if !text.trim().is_empty() => Ok(text.into_bytes()),
        (_, Some(path)) => read_file(&path, "key"),
        _ => Err(SessionError {
            kind: "key".into(),
            message: "Paste the support contact's public key or choose its file.".into(),
        }),
    }
}

#[tauri::command]
pub fn key_info(
    session: State<'_, Session>,
    text: Option<String>,
    path: Option<PathBuf>,
) -> Answer<KeyView> {
    session.key_info(&key_bytes(text, path)?, None)
}

#[tauri::command]
pub async fn find_key(
    session: State<'_, Session>,
    handle: String,
    query: String,
) -> Answer<FoundKey> {
    session.find_key(&handle, &query).await
}

/// The secret keys in the user's GnuPG, to sign with.
#[tauri::command]
pub fn own_keys(session: State<'_, Session>) -> Answer<Vec<OwnKeyView>> {
    session.own_keys()
}

/// The passphrase arrives from the signing form and goes only to Sequoia.
#[tauri::command]
pub fn export_string(
    session: State<'_, Session>,
    request: ExportRequest,
    passphrase: Option<String>,
) -> Answer<String> {
    let keys = request
        .keys
        .into_iter()
        .map(|key| key_bytes(key.text, key.path.map(PathBuf::from)))
        .collect::<Answer<Vec<_>>>()?;
    let signing = match request.sign_with {
        None => None,
        Some(SignWith::Gnupg { fingerprint }) => Some(Signing::Gnupg { fingerprint }),
        Some(SignWith::KeyFile { path }) => Some(Signing::KeyFile {
            secret_key: read_file(Path::new(&path), "sign")?,
            passphrase: passphrase_of(passphrase),
        }),
    };
    session.export(
        &request.handle,
        &keys,
        Path::new(&request.out_path),
        request.sender.filter(|s| !s.trim().is_empty()),
        signing,
        request.to_self,
    )
}

/// A received hand-off opened with the user's secret key file or their GnuPG; the passphrase
/// arrives from the form and goes only to Sequoia.
#[tauri::command]
pub fn open_received(
    session: State<'_, Session>,
    file: PathBuf,
    key_path: Option<PathBuf>,
    passphrase: Option<String>,
) -> Answer<ReceivedFile> {
    let message = read_file(&file, "open")?;
    let secret_key = key_path.map(|path| read_file(&path, "open")).transpose()?;
    let passphrase = passphrase_of(passphrase);
    session.open_received(
        &message,
        secret_key.as_deref(),
        passphrase.as_deref().map(|p| p.as_str()),
    )
}

#[tauri::command]
pub fn sign_in_methods(session: State<'_, Session>) -> Answer<Vec<SignInMethod>> {
    session.sign_in_methods()
}

#[tauri::command]
pub async fn sign_in(session: State<'_, Session>, method: SignInMethod) -> Answer<WizardView> {
    session.sign_in(method).await
}

#[tauri::command]
pub async fn tenants(session: State<'_, Session>) -> Answer<Vec<Tenant>> {
    session.tenants().await
}

#[tauri::command]
pub async fn switch_tenant(session: State<'_, Session>, tenant: Tenant) -> Answer<WizardView> {
    session.switch_tenant(&tenant).await
}

#[tauri::command]
pub async fn subscriptions(session: State<'_, Session>) -> Answer<Vec<Subscription>> {
    session.subscriptions().await
}

#[tauri::command]
pub async fn resource_groups(
    session: State<'_, Session>,
    subscription: String,
) -> Answer<Vec<ResourceGroup>> {
    session.resource_groups(&subscription).await
}

#[tauri::command]
pub async fn regions(session: State<'_, Session>, subscription: String) -> Answer<RegionList> {
    session.regions(&subscription).await
}

#[tauri::command]
pub async fn register_provider(
    session: State<'_, Session>,
    subscription: String,
) -> Answer<RegionList> {
    session.register_provider(&subscription).await
}

#[tauri::command]
pub async fn hubs(session: State<'_, Session>, subscription: String) -> Answer<Vec<HubInfo>> {
    session.hubs(&subscription).await
}

#[tauri::command]
pub async fn check_hub_name(
    session: State<'_, Session>,
    subscription: String,
    name: String,
) -> Answer<NameCheck> {
    session.check_hub_name(&subscription, &name).await
}

#[tauri::command]
pub async fn policy_requirements(
    session: State<'_, Session>,
    subscription: String,
    resource_group: String,
) -> Answer<PolicyRequirements> {
    session
        .policy_requirements(&subscription, &resource_group)
        .await
}

#[tauri::command]
pub async fn hub_facts(
    session: State<'_, Session>,
    subscription: String,
    name: String,
) -> Answer<HubFacts> {
    session.hub_facts(&subscription, &name).await
}

#[tauri::command]
pub async fn permissions(
    session: State<'_, Session>,
    subscription: String,
    resource_group: Option<String>,
) -> Answer<Permissions> {
    session
        .permissions(&subscription, resource_group.as_deref())
        .await
}

#[tauri::command]
pub fn tiers(session: State<'_, Session>) -> Vec<TierFacts> {
    session.tiers()
}

#[tauri::command]
pub fn handoffs(session: State<'_, Session>) -> Answer<Vec<HandoffView>> {
    session.handoffs()
}

#[tauri::command]
pub fn formats(session: State<'_, Session>) -> Formats {
    session.formats()
}

#[tauri::command]
pub async fn prices(session: State<'_, Session>, currency: String) -> Answer<TierPrices> {
    session.prices(currency).await
}

#[tauri::command]
pub fn capacity_plan(
    session: State<'_, Session>,
    input: Option<PlanInput>,
) -> Answer<Option<PlanView>> {
    session.capacity_plan(input)
}

#[tauri::command]
pub fn plan_hub(
    session: State<'_, Session>,
    hub: HubPlan,
    devices: Vec<String>,
    policy: Option<String>,
) -> Answer<WizardView> {
    session.plan(hub, devices, policy)
}

#[tauri::command]
pub async fn create_hub(session: State<'_, Session>) -> Answer<CreateOutcome> {
    session.create().await
}

#[tauri::command]
pub async fn fix_reach(session: State<'_, Session>, agreed: Vec<u32>) -> Answer<Vec<ReachIssue>> {
    session.fix_reach(&agreed).await
}

#[tauri::command]
pub fn cancel(session: State<'_, Session>) {
    session.cancel();
}

#[tauri::command]
pub async fn watch_options(session: State<'_, Session>) -> Answer<WatchOptions> {
    session.watch_options().await
}

#[tauri::command]
pub async fn create_consumer_group(session: State<'_, Session>) -> Answer<WatchOptions> {
    session.create_consumer_group().await
}

#[tauri::command]
pub async fn delete_consumer_group(session: State<'_, Session>) -> Answer<WatchOptions> {
    session.delete_consumer_group().await
}

/// Messages and connection states go to the webview on `on_event` until the watch ends.
#[tauri::command]
pub async fn watch_start(
    session: State<'_, Session>,
    request: WatchRequest,
    on_event: Channel<WatchEvent>,
) -> Answer<()> {
    session
        .watch(request, &|event| {
            let _ = on_event.send(event);
        })
        .await
}

#[tauri::command]
pub fn watch_stop(session: State<'_, Session>) {
    session.watch_stop();
}

#[tauri::command]
pub fn watch_save(session: State<'_, Session>, path: PathBuf, lines: Vec<String>) -> Answer<()> {
    session.watch_save(&path, &lines)
}

#[tauri::command]
pub async fn storage_options(session: State<'_, Session>) -> Answer<KeepOptions> {
    session.storage_options().await
}

#[tauri::command]
pub async fn check_storage_name(
    session: State<'_, Session>,
    name: String,
) -> Answer<StorageNameCheck> {
    session.check_storage_name(&name).await
}

#[tauri::command]
pub fn plan_keep(session: State<'_, Session>, keep: Option<KeepPlan>) -> Answer<WizardView> {
    session.plan_keep(keep)
}

/// The Stored stage; the seconds left go to `on_wait` before each look.
#[tauri::command]
pub async fn wait_stored(
    session: State<'_, Session>,
    handle: String,
    on_wait: Channel<StoredWait>,
) -> Answer<Stored> {
    session
        .wait_stored(&handle, &|wait| {
            let _ = on_wait.send(wait);
        })
        .await
}

#[tauri::command]
pub async fn hub_health(session: State<'_, Session>) -> Answer<Health> {
    session.health().await
}

#[tauri::command]
pub async fn hub_alerts(session: State<'_, Session>) -> Answer<Option<AlertSetUp>> {
    session.alerts().await
}

#[tauri::command]
pub async fn set_up_alerts(session: State<'_, Session>, choice: AlertChoice) -> Answer<AlertSetUp> {
    session.set_up_alerts(choice).await
}

#[tauri::command]
pub async fn send_test_email(session: State<'_, Session>) -> Answer<Vec<String>> {
    session.send_test_email().await
}

#[tauri::command]
pub async fn remove_alerts(session: State<'_, Session>) -> Answer<()> {
    session.remove_alerts().await
}
