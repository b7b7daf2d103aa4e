//! Writes what routing sent to storage endpoints: messages are batched per hub, endpoint and
//! partition, and each batch is written when its window (`batchFrequencyInSeconds`, divided by
//! the sandbox's time scale) has passed or it reached `maxChunkSizeInBytes`, as a block blob
//! named by the endpoint's file name format, into the account's Azurite. The hub signs in as
//! IoT Hub would: with the endpoint's key, or as its managed identity, which needs a blob data
//! role on the account; a firewall lets only identities of trusted services through. Each
//! attempt's outcome is the endpoint's health (`routingEndpointsHealth`).

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use hyper::Method;
use percent_encoding::{utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};
use serde_json::json;
use tokio::sync::mpsc::{UnboundedReceiver, UnboundedSender};
use tokio::time::Instant;

use super::records::{self, Record};
use super::{Authentication, Encoding, StorageEndpoint};
use crate::state::{State, StorageAccount};
use crate::storage::{blob, Storage};

/// Blob data roles that may write: Storage Blob Data Contributor and Owner.
const WRITING_ROLES: [&str; 2] = [
    "ba92f5b4-2d11-453d-a403-e96b0029c9fe",
    "b7e6dc6d-f1e8-4753-8033-0f276bb0955b",
];
/// What a blob name keeps unencoded in a URL path.
const PATH: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'/')
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// One message for one storage endpoint.
#[derive(Debug)]
pub(crate) struct Routed {
    pub(crate) hub: String,
    pub(crate) partition: u32,
    pub(crate) endpoint: StorageEndpoint,
    pub(crate) record: Record,
}

pub(crate) type Outbox = UnboundedSender<Routed>;

struct Batch {
    endpoint: StorageEndpoint,
    records: Vec<Record>,
    bytes: u64,
    window_start_ms: u64,
    due: Instant,
}

/// What has been written to each blob name in the current minute, so that a second batch in
/// the same minute rewrites the file whole instead of losing the first.
type Written = Arc<tokio::sync::Mutex<BTreeMap<String, (u64, Vec<Record>)>>>;

/// Takes routed messages until the sandbox stops.
pub(crate) async fn run(
    mut inbox: UnboundedReceiver<Routed>,
    state: Arc<Mutex<State>>,
    storage: Arc<Storage>,
    time_scale: u32,
) {
    let mut batches: BTreeMap<(String, String, u32), Batch> = BTreeMap::new();
    let written: Written = Default::default();
    loop {
        let next_due = batches.values().map(|b| b.due).min();
        let sleep = async {
            match next_due {
                Some(due) => tokio::time::sleep_until(due).await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            routed = inbox.recv() => {
                let Some(routed) = routed else { return };
                let key = (routed.hub.clone(), routed.endpoint.name.clone(), routed.partition);
                let window = Duration::from_secs(routed.endpoint.batch_seconds) / time_scale.max(1);
                let batch = batches.entry(key.clone()).or_insert_with(|| Batch {
                    endpoint: routed.endpoint.clone(),
                    records: Vec::new(),
                    bytes: 0,
                    window_start_ms: routed.record.enqueued_ms,
                    due: Instant::now() + window,
                });
                batch.bytes += routed.record.body.len() as u64;
                batch.records.push(routed.record);
                if batch.bytes >= batch.endpoint.chunk_bytes {
                    let full = batches.remove(&key).expect("just used");
                    tokio::spawn(write(key.0, key.2, full, state.clone(), storage.clone(), written.clone()));
                }
            }
            () = sleep => {
                let now = Instant::now();
                let due: Vec<_> = batches.iter().filter(|(_, b)| b.due <= now).map(|(k, _)| k.clone()).collect();
                for key in due {
                    let batch = batches.remove(&key).expect("listed above");
                    tokio::spawn(write(key.0, key.2, batch, state.clone(), storage.clone(), written.clone()));
                }
            }
        }
    }
}

/// Why the hub may not write into the account, in the words a storage failure has.
fn refusal(
    account: &StorageAccount,
    endpoint: &StorageEndpoint,
    principal: Option<&str>,
    assignments: &[crate::state::RoleAssignment],
) -> Option<String> {
    if !account.containers.contains_key(&endpoint.container) {
        return Some("ContainerNotFound: The specified container does not exist.".into());
    }
    match &endpoint.authentication {
        Authentication::Key(key) => {
            if !account.keys.contains(key) {
                return Some("AuthenticationFailed: the endpoint's account key is no longer valid (it was regenerated); update the endpoint's connection string.".into());
            }
            if !account.allows_shared_keys() {
                return Some("KeyBasedAuthenticationNotPermitted: Key based authentication is not permitted on this storage account.".into());
            }
            if !account.admits_trusted_services() || account_denies_all(account) {
                return Some("AuthorizationFailure: This request is not authorized to perform this operation. The storage account's firewall keeps the hub out.".into());
            }
        }
        Authentication::Identity => {
            let Some(principal) = principal else {
                return Some("The hub has no system-assigned managed identity; turn it on, or use key-based authentication.".into());
            };
            let account_id = format!(
                "/subscriptions/{}/resourcegroups/{}/providers/microsoft.storage/storageaccounts/{}",
                account.subscription_id, account.resource_group, account.name
            )
            .to_ascii_lowercase();
            let may_write = assignments.iter().any(|a| {
                let scope = a.scope.trim_end_matches('/').to_ascii_lowercase();
                a.principal_id.eq_ignore_ascii_case(principal)
                    && WRITING_ROLES.iter().any(|r| a.role.eq_ignore_ascii_case(r))
                    && (account_id == scope || account_id.starts_with(&format!("{scope}/")))
            });
            if !may_write {
                return Some("AuthorizationPermissionMismatch: This request is not authorized to perform this operation using this permission. Give the hub's identity the Storage Blob Data Contributor role on the account.".into());
            }
            if !account.admits_trusted_services() {
                return Some("AuthorizationFailure: This request is not authorized to perform this operation. The storage account's firewall keeps the hub out: allow trusted Microsoft services.".into());
            }
        }
    }
    None
}

/// A firewall that denies everything and lets no trusted service through.
fn account_denies_all(account: &StorageAccount) -> bool {
    account
        .settings
        .get("networkAcls")
        .and_then(|a| a.get("defaultAction"))
        .and_then(serde_json::Value::as_str)
        .is_some_and(|d| d.eq_ignore_ascii_case("Deny"))
}

async fn write(
    hub: String,
    partition: u32,
    batch: Batch,
    state: Arc<Mutex<State>>,
    storage: Arc<Storage>,
    written: Written,
) {
    let endpoint = &batch.endpoint;
    let (account, refused) = {
        let state = state.lock().expect("state lock");
        let principal = state
            .hubs
            .get(&hub.to_ascii_lowercase())
            .and_then(|h| h.identity.as_ref())
            .and_then(|i| i.get("principalId"))
            .and_then(serde_json::Value::as_str)
            .map(str::to_owned);
        match state.storage_accounts.get(&endpoint.account) {
            Some(account) => (
                Some(account.clone()),
                refusal(
                    account,
                    endpoint,
                    principal.as_deref(),
                    &state.role_assignments,
                ),
            ),
            None => (
                None,
                Some(format!(
                    "The storage account '{}' no longer exists.",
                    endpoint.account
                )),
            ),
        }
    };
    let minute_ms = batch.window_start_ms / 60_000 * 60_000;
    let name = hubsetup_storage::layout::blob_name(
        &endpoint.file_name_format,
        &hub,
        partition,
        hubsetup_storage::layout::Minute::from_unix_ms(batch.window_start_ms),
    );
    let outcome = match (account, refused) {
        (_, Some(problem)) => Err(problem),
        (None, None) => Err("The storage account no longer exists.".to_owned()),
        (Some(account), None) => {
            let mut written = written.lock().await;
            written.retain(|_, (minute, _)| *minute == minute_ms);
            let records = &mut written
                .entry(name.clone())
                .or_insert((minute_ms, Vec::new()))
                .1;
            records.extend(batch.records.iter().cloned());
            let file = records::encode(records, endpoint.encoding);
            put_blob(&storage, &account, endpoint, &name, file).await
        }
    };
    record_health(
        &state,
        &hub,
        &endpoint.name,
        batch.records.len() as u64,
        outcome.err(),
    );
}

async fn put_blob(
    storage: &Storage,
    account: &StorageAccount,
    endpoint: &StorageEndpoint,
    name: &str,
    file: Vec<u8>,
) -> Result<(), String> {
    let content_type = if endpoint.encoding == Encoding::Json {
        "application/json"
    } else {
        "application/octet-stream"
    };
    let path = format!(
        "/{}/{}",
        endpoint.container,
        utf8_percent_encode(name, PATH)
    );
    let stream = storage.connect(account).await?;
    let answer = blob::send(
        stream,
        &storage.blob_host(&account.name),
        blob::Auth::SharedKey(account),
        blob::Call {
            method: Method::PUT,
            path: &path,
            query: &[],
            headers: &[
                ("x-ms-blob-type", "BlockBlob"),
                ("Content-Type", content_type),
            ],
            body: file,
        },
    )
    .await?;
    if answer.status.is_success() {
        Ok(())
    } else {
        Err(format!(
            "{}: the storage account answered {} when the hub wrote {name} into container {}.",
            answer.error_code.unwrap_or_default(),
            answer.status.as_u16(),
            endpoint.container
        ))
    }
}

/// The endpoint's health after a write of `records` messages, and what Azure Monitor counts
/// of it: delivered to storage, or dropped.
fn record_health(
    state: &Mutex<State>,
    hub: &str,
    endpoint: &str,
    records: u64,
    problem: Option<String>,
) {
    let mut state = state.lock().expect("state lock");
    let Some(hub) = state.hubs.get_mut(&hub.to_ascii_lowercase()) else {
        return;
    };
    let counter = if problem.is_none() {
        crate::monitor::catalog::Counter::EgressStorage
    } else {
        crate::monitor::catalog::Counter::Dropped
    };
    hub.metrics.count(counter, records, crate::state::now_ms());
    // The specification's times of endpoint health are RFC 1123's.
    let now = httpdate::fmt_http_date(std::time::SystemTime::now());
    let entry = hub
        .endpoint_health
        .entry(endpoint.to_owned())
        .or_insert_with(|| json!({ "endpointId": endpoint }));
    entry["lastSendAttemptTime"] = json!(now);
    match problem {
        None => {
            entry["healthStatus"] = json!("healthy");
            entry["lastSuccessfulSendAttemptTime"] = json!(now);
        }
        Some(problem) => {
            entry["healthStatus"] = json!("unhealthy");
            entry["lastKnownError"] = json!(problem);
            entry["lastKnownErrorTime"] = json!(now);
        }
    }
}
