//! A record of the sandbox's ARM answers, so that a test run can check every one against Azure's
//! REST specifications afterwards (`tests/python/arm_shapes.py`, run by `cargo xtask test`).
//!
//! Off unless `HUBSETUP_SANDBOX_ARM_JOURNAL` names a folder; then each process appends one JSON
//! line per exchange to `arm-{pid}.jsonl` there. Keys in answers (`listkeys`) are replaced
//! before anything is written: the journal holds shapes, never secrets.

use std::fs::File;
use std::io::Write;
use std::path::PathBuf;
use std::sync::{Mutex, OnceLock};

use serde_json::{json, Value};

use crate::http::{body_of, Req, Resp};

/// The environment variable naming the journal's folder.
const JOURNAL_VARIABLE: &str = "HUBSETUP_SANDBOX_ARM_JOURNAL";

/// Fields whose values are secrets in ARM's answers.
const SECRET_FIELDS: [&str; 3] = ["primarykey", "secondarykey", "connectionstring"];

fn journal() -> Option<&'static Mutex<File>> {
    static JOURNAL: OnceLock<Option<Mutex<File>>> = OnceLock::new();
    JOURNAL
        .get_or_init(|| {
            let folder = PathBuf::from(std::env::var_os(JOURNAL_VARIABLE)?);
            std::fs::create_dir_all(&folder).ok()?;
            let file = std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(folder.join(format!("arm-{}.jsonl", std::process::id())))
                .ok()?;
            Some(Mutex::new(file))
        })
        .as_ref()
}

/// Appends the exchange to the journal, if there is one.
pub(crate) fn record(req: &Req, response: &mut Resp) {
    let Some(journal) = journal() else {
        return;
    };
    let body = body_of(response);
    let mut answer = serde_json::from_slice::<Value>(&body).unwrap_or(Value::Null);
    redact(&mut answer);
    let line = json!({
        "method": req.method.as_str(),
        "path": req.path,
        "api_version": req.query("api-version"),
        "status": response.status().as_u16(),
        "body": answer,
    });
    if let Ok(mut file) = journal.lock() {
        // A journal that cannot be written fails the shape check (it finds answers missing),
        // not the request.
        let _ = writeln!(file, "{line}");
    }
}

/// Replaces every secret's value with a placeholder of the same JSON type: the hub's keys and
/// connection strings, and a storage account's keys (`{"keyName", "value"}`).
fn redact(value: &mut Value) {
    match value {
        Value::Object(fields) => {
            let storage_key = fields.contains_key("keyName");
            for (name, field) in fields.iter_mut() {
                let secret = SECRET_FIELDS.contains(&name.to_ascii_lowercase().as_str())
                    || (storage_key && name == "value");
                if secret && field.is_string() {
                    *field = json!("redacted");
                } else {
                    redact(field);
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(redact),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_replaced_wherever_they_are() {
        let mut answer = json!({ "value": [
            { "keyName": "iothubowner", "primaryKey": "c2VjcmV0", "secondaryKey": "c2VjcmV0Mg==", "rights": "RegistryWrite" },
        ], "properties": { "storageEndpoints": { "$default": { "connectionString": "AccountKey=c2VjcmV0" } } },
        "keys": [{ "keyName": "key1", "value": "c2VjcmV0Mw==", "permissions": "Full" }] });
        redact(&mut answer);
        let text = answer.to_string();
        assert!(!text.contains("c2VjcmV0"), "{text}");
        assert_eq!(answer["value"][0]["keyName"], "iothubowner");
        assert_eq!(answer["value"][0]["primaryKey"], "redacted");
        assert_eq!(answer["keys"][0]["value"], "redacted");
    }
}
