//! IoT Hub's import and export jobs (`exportDevices`, `importDevices`, `jobs`): the identity
//! registry written to a blob container as one JSON line per device, or devices created,
//! updated and deleted from such a file, with the lines that failed in a log beside it. The
//! containers are given as URIs with a shared access signature, and the blobs live in the
//! accounts' Azurite, which checks that signature. A job is enqueued when asked for and runs
//! beside the server, as in Azure, where it is followed through `jobs/{id}`.

use std::sync::{Arc, Mutex};

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use hyper::{Method, StatusCode};
use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};
use tokio::sync::mpsc::{UnboundedReceiver, UnboundedSender};

use crate::http::{json_response, provider_error, Req, Resp};
use crate::state::{now_ms, Device, Hub, State};
use crate::storage::{blob, Storage};

/// Where jobs wait to run.
pub(crate) type Queue = UnboundedSender<Work>;

/// One job as a hub keeps it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct Job {
    id: String,
    kind: Kind,
    status: String,
    start_ms: u64,
    end_ms: Option<u64>,
    failure_reason: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub(crate) enum Kind {
    Export,
    Import,
}

/// A job to run.
#[derive(Debug)]
pub(crate) struct Work {
    hub: String,
    job: String,
    task: Task,
}

#[derive(Debug)]
enum Task {
    Export { to: Place, lines: Vec<u8> },
    Import { from: Place, log: Place },
}

/// A blob in a container given by URI: its account, container, name and signature.
#[derive(Debug, Clone)]
struct Place {
    account: String,
    container: String,
    blob: String,
    sas: String,
}

/// `POST …/exportDevices` or `…/importDevices`: the job, enqueued.
pub(crate) fn start(req: &Req, kind: Kind, hub_key: &str, state: &mut State, suffix: &str) -> Resp {
    let body = req.json().unwrap_or_default();
    let text = |name: &str| body.get(name).and_then(Value::as_str);
    if text("authenticationType").is_some_and(|t| t.eq_ignore_ascii_case("identityBased")) {
        return bad_request("The sandbox runs import and export jobs with container URIs that carry a shared access signature (keyBased) only.");
    }
    let task = match kind {
        Kind::Export => {
            let to = match place(
                text("exportBlobContainerUri"),
                "exportBlobContainerUri",
                text("exportBlobName").unwrap_or("devices.txt"),
                suffix,
            ) {
                Ok(place) => place,
                Err(refusal) => return refusal,
            };
            let exclude_keys = body
                .get("excludeKeys")
                .and_then(Value::as_bool)
                .unwrap_or(false);
            let Some(hub) = state.hubs.get(hub_key) else {
                return bad_request("The hub is gone.");
            };
            let mut lines = Vec::new();
            for device in hub.devices.values() {
                lines.extend(
                    serde_json::to_vec(&exported(device, exclude_keys)).unwrap_or_default(),
                );
                lines.push(b'\n');
            }
            Task::Export { to, lines }
        }
        Kind::Import => {
            let from = place(
                text("inputBlobContainerUri"),
                "inputBlobContainerUri",
                text("inputBlobName").unwrap_or("devices.txt"),
                suffix,
            );
            let log = place(
                text("outputBlobContainerUri"),
                "outputBlobContainerUri",
                text("outputBlobName").unwrap_or("importErrors.log"),
                suffix,
            );
            match (from, log) {
                (Ok(from), Ok(log)) => Task::Import { from, log },
                (Err(refusal), _) | (_, Err(refusal)) => return refusal,
            }
        }
    };
    let Some(queue) = state.job_queue.clone() else {
        return bad_request("This sandbox runs no jobs.");
    };
    let Some(hub) = state.hubs.get_mut(hub_key) else {
        return bad_request("The hub is gone.");
    };
    let job = Job {
        id: crate::http::uuid_like(),
        kind,
        status: "enqueued".into(),
        start_ms: now_ms(),
        end_ms: None,
        failure_reason: None,
    };
    let answer = job_json(&job);
    let _ = queue.send(Work {
        hub: hub_key.to_owned(),
        job: job.id.clone(),
        task,
    });
    hub.jobs.push(job);
    json_response(StatusCode::OK, &answer)
}

/// A job as `JobResponse` shows it.
pub(crate) fn job_json(job: &Job) -> Value {
    let date = |ms: u64| {
        httpdate::fmt_http_date(std::time::UNIX_EPOCH + std::time::Duration::from_millis(ms))
    };
    json!({
        "jobId": job.id,
        "startTimeUtc": date(job.start_ms),
        "endTimeUtc": job.end_ms.map(date),
        "type": job.kind,
        "status": job.status,
        "failureReason": job.failure_reason,
    })
}

/// `GET …/jobs`, and `GET …/jobs/{id}`.
pub(crate) fn list(hub: &Hub) -> Resp {
    let value: Vec<Value> = hub.jobs.iter().map(job_json).collect();
    json_response(StatusCode::OK, &json!({ "value": value, "nextLink": null }))
}

pub(crate) fn get(hub: &Hub, id: &str) -> Resp {
    match hub.jobs.iter().find(|j| j.id.eq_ignore_ascii_case(id)) {
        Some(job) => json_response(StatusCode::OK, &job_json(job)),
        None => provider_error(
            StatusCode::NOT_FOUND,
            "JobNotFound",
            &format!("The job '{id}' was not found on IotHub '{}'.", hub.name),
        ),
    }
}

/// Runs jobs one after another until the sandbox stops.
pub(crate) async fn run(
    mut queue: UnboundedReceiver<Work>,
    state: Arc<Mutex<State>>,
    storage: Arc<Storage>,
) {
    while let Some(work) = queue.recv().await {
        finish(&state, &work, Outcome::Running);
        let outcome = match &work.task {
            Task::Export { to, lines } => put(&state, &storage, to, lines.clone()).await,
            Task::Import { from, log } => import(&state, &storage, &work.hub, from, log).await,
        };
        finish(
            &state,
            &work,
            match outcome {
                Ok(()) => Outcome::Completed,
                Err(reason) => Outcome::Failed(reason),
            },
        );
    }
}

enum Outcome {
    Running,
    Completed,
    Failed(String),
}

fn finish(state: &Mutex<State>, work: &Work, outcome: Outcome) {
    let mut state = state.lock().expect("state lock");
    let Some(job) = state
        .hubs
        .get_mut(&work.hub)
        .and_then(|hub| hub.jobs.iter_mut().find(|j| j.id == work.job))
    else {
        return;
    };
    let (status, reason) = match outcome {
        Outcome::Running => ("running", None),
        Outcome::Completed => ("completed", None),
        Outcome::Failed(reason) => ("failed", Some(reason)),
    };
    job.status = status.into();
    if status != "running" {
        job.end_ms = Some(now_ms());
    }
    job.failure_reason = reason;
}

/// Reads the import file, applies each line to the registry, and writes the lines that failed
/// to the log blob.
async fn import(
    state: &Mutex<State>,
    storage: &Storage,
    hub: &str,
    from: &Place,
    log: &Place,
) -> Result<(), String> {
    let input = call(state, storage, from, Method::GET, Vec::new()).await?;
    let mut errors = Vec::new();
    {
        let mut state = state.lock().expect("state lock");
        let hub = state
            .hubs
            .get_mut(hub)
            .ok_or("The hub was deleted while the job ran.")?;
        for (number, line) in String::from_utf8_lossy(&input).lines().enumerate() {
            if line.trim().is_empty() {
                continue;
            }
            if let Err((id, code, status)) = apply(hub, line) {
                let id = id.unwrap_or_else(|| format!("(line {})", number + 1));
                errors.push(json!({ "id": id, "errorCode": code, "errorStatus": status }));
            }
        }
    }
    let mut written = Vec::new();
    for error in errors {
        written.extend(serde_json::to_vec(&error).unwrap_or_default());
        written.push(b'\n');
    }
    put(state, storage, log, written).await
}

/// One line of an import file: `(device id, error code, error words)` when it failed.
fn apply(hub: &mut Hub, line: &str) -> Result<(), (Option<String>, &'static str, String)> {
    let Ok(Value::Object(line)) = serde_json::from_str::<Value>(line) else {
        return Err((
            None,
            "ArgumentInvalid",
            "The line is not a JSON object.".into(),
        ));
    };
    let Some(id) = line.get("id").and_then(Value::as_str).map(str::to_owned) else {
        return Err((
            None,
            "ArgumentInvalid",
            "The line has no device id ('id').".into(),
        ));
    };
    let failed = |code: &'static str, status: String| (Some(id.clone()), code, status);
    let mode = line
        .get("importMode")
        .and_then(Value::as_str)
        .unwrap_or("createOrUpdate");
    let etag = line
        .get("eTag")
        .and_then(Value::as_str)
        .map(|t| t.trim_matches('"').to_owned());
    let exists = hub.devices.contains_key(&id);
    let if_match = match (mode.to_ascii_lowercase().as_str(), exists) {
        ("delete" | "deleteifmatchetag", false) | ("update" | "updateifmatchetag", false) => {
            return Err(failed("DeviceNotFound", format!("Device {id} not registered")))
        }
        ("delete", true) => {
            hub.devices.remove(&id);
            return Ok(());
        }
        ("deleteifmatchetag", true) => {
            if etag.as_deref() != hub.devices.get(&id).map(|d| d.etag.as_str()) {
                return Err(failed("PreconditionFailed", format!("Precondition failed: device {id} has changed since it was read (etag mismatch).")));
            }
            hub.devices.remove(&id);
            return Ok(());
        }
        ("create", _) => None,
        ("createorupdate" | "update", true) => Some("*".to_owned()),
        ("createorupdate", false) => None,
        ("updateifmatchetag" | "createorupdateifmatchetag", true) => Some(etag.unwrap_or_default()),
        ("createorupdateifmatchetag", false) => None,
        (other, _) => {
            return Err(failed("ArgumentInvalid", format!("The import mode '{other}' is not one the sandbox runs: use create, update, createOrUpdate, delete or their IfMatchETag forms.")))
        }
    };
    let mut body = Map::from_iter([("deviceId".to_owned(), json!(id))]);
    for field in ["status", "statusReason", "authentication", "capabilities"] {
        if let Some(value) = line.get(field).filter(|v| !v.is_null()) {
            body.insert(field.into(), value.clone());
        }
    }
    let device = crate::hub::write_device(hub, &id, &Value::Object(body), if_match.as_deref())
        .map_err(|refusal| failed(refusal.code, refusal.detail))?;
    let desired = line
        .get("properties")
        .and_then(|p| p.get("desired"))
        .and_then(Value::as_object)
        .cloned();
    if let Some(desired) = desired {
        let id = device.device_id.clone();
        if let Some(device) = hub.devices.get_mut(&id) {
            device.twin.desired = desired
                .into_iter()
                .filter(|(k, _)| !k.starts_with('$'))
                .collect();
            device.twin.desired_version += 1;
        }
    }
    Ok(())
}

/// A device as an export file has it (`ExportImportDevice`).
fn exported(device: &Device, exclude_keys: bool) -> Value {
    let key = |k: &str| if exclude_keys { Value::Null } else { json!(k) };
    let twin = &device.twin;
    let twin_version = twin.desired_version + twin.reported_version;
    json!({
        "id": device.device_id,
        "eTag": device.etag,
        "status": device.status,
        "statusReason": device.status_reason,
        "authentication": {
            "symmetricKey": { "primaryKey": key(&device.primary_key), "secondaryKey": key(&device.secondary_key) },
            "x509Thumbprint": { "primaryThumbprint": null, "secondaryThumbprint": null },
            "type": "sas",
        },
        "twinETag": STANDARD.encode(twin_version.to_be_bytes()),
        "tags": {},
        "properties": crate::twins::device_document(twin),
        "capabilities": { "iotEdge": device.iot_edge },
    })
}

async fn put(
    state: &Mutex<State>,
    storage: &Storage,
    to: &Place,
    body: Vec<u8>,
) -> Result<(), String> {
    call(state, storage, to, Method::PUT, body)
        .await
        .map(|_| ())
}

/// One Blob call on `place`, signed with its SAS; the body of a read.
async fn call(
    state: &Mutex<State>,
    storage: &Storage,
    place: &Place,
    method: Method,
    body: Vec<u8>,
) -> Result<Vec<u8>, String> {
    let account = state
        .lock()
        .expect("state lock")
        .storage_accounts
        .get(&place.account)
        .cloned()
        .ok_or_else(|| {
            format!(
                "The storage account '{}' of the container URI does not exist.",
                place.account
            )
        })?;
    let stream = storage.connect(&account).await?;
    let path = format!("/{}/{}", place.container, place.blob);
    let writing = method == Method::PUT;
    let answer = blob::send(
        stream,
        &storage.blob_host(&account.name),
        blob::Auth::Sas(&place.sas),
        blob::Call {
            method,
            path: &path,
            query: &[],
            headers: if writing {
                &[("x-ms-blob-type", "BlockBlob")]
            } else {
                &[]
            },
            body,
        },
    )
    .await?;
    if answer.status.is_success() {
        Ok(answer.body.to_vec())
    } else {
        let verb = if writing { "write" } else { "read" };
        Err(format!(
            "The job could not {verb} blob '{}' in container '{}' of storage account '{}': {} ({}). Check that the container exists and that the URI's shared access signature is valid and allows {}.",
            place.blob,
            place.container,
            place.account,
            answer.error_code.unwrap_or_default(),
            answer.status.as_u16(),
            if writing { "writing" } else { "reading" },
        ))
    }
}

/// A container URI (`https://{account}.blob.core.{suffix}/{container}?{sas}`) and a blob in it.
fn place(uri: Option<&str>, field: &str, blob: &str, suffix: &str) -> Result<Place, Resp> {
    let refusal = |why: &str| {
        bad_request(&format!(
            "The {field} is not a blob container URI with a shared access signature: {why}."
        ))
    };
    let uri = uri.ok_or_else(|| bad_request(&format!("The request must give {field}.")))?;
    let parsed = url::Url::parse(uri).map_err(|_| refusal("it is not a URL"))?;
    let host = parsed.host_str().unwrap_or_default();
    let account = host
        .strip_suffix(&format!(".blob.core.{suffix}"))
        .filter(|a| !a.is_empty() && !a.contains('.'))
        .ok_or_else(|| refusal(&format!("'{host}' is not a blob endpoint of this cloud")))?;
    let container = parsed
        .path_segments()
        .and_then(|mut s| s.next())
        .filter(|c| !c.is_empty())
        .ok_or_else(|| refusal("it names no container"))?;
    let sas = parsed
        .query()
        .filter(|q| q.contains("sig="))
        .ok_or_else(|| refusal("it carries no signature (sig)"))?;
    Ok(Place {
        account: account.to_owned(),
        container: container.to_owned(),
        blob: blob.to_owned(),
        sas: sas.to_owned(),
    })
}

fn bad_request(message: &str) -> Resp {
    provider_error(StatusCode::BAD_REQUEST, "InvalidJobRequest", message)
}
