//! The small record of hub creations in progress, one JSON file per hub in a folder the caller
//! chooses, so that an app that was closed or killed finds the creation again and follows it
//! instead of starting another. It holds names and the operation's status URL, never a secret.

use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};

use crate::Error;

const PREFIX: &str = "hub-creation-";

/// One hub creation that was started and has not been seen to finish.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CreationRecord {
    pub subscription_id: String,
    pub resource_group: String,
    pub hub_name: String,
    pub location: String,
    pub sku: String,
    pub units: u32,
    /// When the create request was about to be sent, in seconds since the Unix epoch.
    pub started_at: u64,
    /// The `Azure-AsyncOperation` URL, once Azure accepted the request.
    pub operation_url: Option<String>,
    /// How often Azure asked to be polled (`Retry-After`), in seconds.
    pub poll_secs: u64,
}

impl CreationRecord {
    pub(crate) fn seconds_since_start(&self) -> u64 {
        now_secs().saturating_sub(self.started_at)
    }
}

pub(crate) fn now_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// The folder of creation records.
#[derive(Debug, Clone)]
pub struct Records {
    dir: PathBuf,
}

impl Records {
    /// Records kept in `dir` (created when first needed).
    pub fn new(dir: impl Into<PathBuf>) -> Records {
        Records { dir: dir.into() }
    }

    fn path(&self, hub: &str) -> PathBuf {
        self.dir
            .join(format!("{PREFIX}{}.json", hub.to_ascii_lowercase()))
    }

    /// Every creation that was started and not seen to finish, to offer resuming them.
    pub fn pending(&self) -> Result<Vec<CreationRecord>, Error> {
        let entries = match std::fs::read_dir(&self.dir) {
            Ok(entries) => entries,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(vec![]),
            Err(e) => return Err(failure("read", &self.dir, e)),
        };
        let mut records = Vec::new();
        for entry in entries.flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            if let Some(hub) = name
                .strip_prefix(PREFIX)
                .and_then(|n| n.strip_suffix(".json"))
            {
                records.extend(self.load(hub)?);
            }
        }
        records.sort_by(|a, b| a.hub_name.cmp(&b.hub_name));
        Ok(records)
    }

    pub(crate) fn load(&self, hub: &str) -> Result<Option<CreationRecord>, Error> {
        let path = self.path(hub);
        match std::fs::read(&path) {
            // A damaged record (a disk full at the wrong time) is no reason to stop: the hub's
            // own state on Azure is the truth, read before anything is sent.
            Ok(bytes) => Ok(serde_json::from_slice(&bytes).ok()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(failure("read", &path, e)),
        }
    }

    pub(crate) fn save(&self, record: &CreationRecord) -> Result<(), Error> {
        let path = self.path(&record.hub_name);
        std::fs::create_dir_all(&self.dir).map_err(|e| failure("write", &self.dir, e))?;
        let bytes = serde_json::to_vec_pretty(record).unwrap_or_default();
        hubsetup_platform::private_file::write_atomically(&path, &bytes)
            .map_err(|e| failure("write", &path, e))
    }

    pub(crate) fn remove(&self, hub: &str) -> Result<(), Error> {
        let path = self.path(hub);
        match std::fs::remove_file(&path) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(failure("remove", &path, e)),
            _ => Ok(()),
        }
    }
}

fn failure(action: &'static str, path: &Path, error: std::io::Error) -> Error {
    Error::Record {
        action,
        path: path.display().to_string(),
        detail: error.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_round_trip_and_disappear() {
        let dir = tempfile::tempdir().unwrap();
        let records = Records::new(dir.path().join("in-flight"));
        assert!(records.pending().unwrap().is_empty());
        let record = CreationRecord {
            subscription_id: "s".into(),
            resource_group: "g".into(),
            hub_name: "Plant-Hub".into(),
            location: "westeurope".into(),
            sku: "S1".into(),
            units: 1,
            started_at: now_secs(),
            operation_url: None,
            poll_secs: 15,
        };
        records.save(&record).unwrap();
        assert_eq!(records.load("plant-hub").unwrap(), Some(record.clone()));
        assert_eq!(records.pending().unwrap(), vec![record]);
        records.remove("PLANT-HUB").unwrap();
        records.remove("plant-hub").unwrap();
        assert!(records.pending().unwrap().is_empty());
    }
}
