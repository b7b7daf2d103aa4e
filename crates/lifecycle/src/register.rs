//! The register of hand-offs: a JSON file, `{"format": "hubsetup-handoffs", "version": 1,
//! "handoffs": [...]}`, read whole and written atomically with owner-only permissions.

use std::path::{Path, PathBuf};

use hubsetup_core::{ConnectionString, SharedAccessKey};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;
use ts_rs::TS;

/// The register's file name in the state folder.
pub const REGISTER_FILE: &str = "handoffs.json";

/// What the register's file says it is.
const FORMAT: &str = "hubsetup-handoffs";

/// The version this build writes and reads; an older one is read as it is.
const VERSION: u32 = 1;

/// Past this age a handed-off key is due for rotation, unless the admin chose another age.
pub const DEFAULT_ROTATION_DAYS: u32 = 180;

/// Why the register could not be read or written, in words for the admin. The file is never
/// replaced after a failed read.
#[derive(Debug, thiserror::Error)]
pub enum RegisterError {
    #[error("The register of hand-offs ({path}) cannot be read: {detail}. IoT Hub Setup leaves it as it is and records nothing until it can: restore it from a backup, or move it aside to start a new register.")]
    Corrupt { path: PathBuf, detail: String },
    #[error("{path} is not IoT Hub Setup's register of hand-offs (it says it is {found}). IoT Hub Setup leaves it as it is: move it aside, or set HUBSETUP_STATE_DIR to another folder.")]
    Foreign { path: PathBuf, found: String },
    #[error("The register of hand-offs ({path}) was written by a newer IoT Hub Setup (format version {version}). Use that version, or update this one.")]
    Newer { path: PathBuf, version: u32 },
    #[error("The register of hand-offs could not be saved in {path}: {detail}. Check that the folder exists and you may write to it; the hand-off itself was written.")]
    Write { path: PathBuf, detail: String },
}

/// Which of an identity's two keys.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS)]
#[ts(export)]
#[serde(rename_all = "snake_case")]
pub enum KeySlot {
    Primary,
    Secondary,
}

/// What a string handed off gives access to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[ts(export)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Target {
    /// A device (data stream) of the hub.
    Device { device_id: String },
    /// A shared access policy of the hub.
    Policy { name: String },
}

/// Someone a hand-off was encrypted to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct Recipient {
    pub fingerprint: String,
    pub user_ids: Vec<String>,
}

impl Recipient {
    /// The recipient a public key names: its fingerprint and user IDs.
    pub fn of(key: &hubsetup_handoff::PublicKey) -> Recipient {
        Recipient {
            fingerprint: key.info().fingerprint.clone(),
            user_ids: key.info().user_ids.clone(),
        }
    }
}

/// One hand-off, as the register keeps it: no secret in it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct Handoff {
    /// The hub's host name (`contoso.azure-devices.net`).
    pub hub: String,
    pub target: Target,
    /// Which key, when known (a string from elsewhere may be either).
    pub slot: Option<KeySlot>,
    /// The key's [`key_id`].
    pub key_id: String,
    pub recipients: Vec<Recipient>,
    /// Where the encrypted file was written.
    pub file: String,
    /// When (RFC 3339, UTC).
    pub handed_at: String,
    /// The note sent with it (who sent it), if any.
    pub note: Option<String>,
    /// When the key stopped working, if it was revoked or rotated away (RFC 3339, UTC).
    #[serde(default)]
    pub revoked_at: Option<String>,
}

/// A hand-off to record: what [`Register::record`] needs from the export.
#[derive(Debug)]
pub struct NewHandoff<'a> {
    pub string: &'a ConnectionString,
    pub slot: Option<KeySlot>,
    pub recipients: Vec<Recipient>,
    pub file: &'a Path,
    pub note: Option<String>,
}

/// A key's short, one-way name for the register and screens (`3f2a91c07b1e`): the first six
/// bytes of SHA-256 over a label and the key. It tells two keys apart and gives nothing of
/// either away.
pub fn key_id(key: &SharedAccessKey) -> String {
    let digest = Sha256::new()
        .chain_update(b"hubsetup key id\0")
        .chain_update(key.as_bytes())
        .finalize();
    digest[..6].iter().map(|b| format!("{b:02x}")).collect()
}

impl Handoff {
    /// Whole days since the hand-off, at `now`.
    pub fn age_days(&self, now: OffsetDateTime) -> Option<u32> {
        let at = OffsetDateTime::parse(&self.handed_at, &Rfc3339).ok()?;
        u32::try_from((now - at).whole_days()).ok()
    }

    /// Whether the key handed off is still in use and older than `max_days`.
    pub fn needs_rotation(&self, now: OffsetDateTime, max_days: u32) -> bool {
        self.revoked_at.is_none() && self.age_days(now).is_some_and(|age| age > max_days)
    }
}

#[derive(Debug, Serialize, Deserialize)]
struct RegisterFile {
    format: String,
    version: u32,
    handoffs: Vec<Handoff>,
}

/// The register in a folder (the app's state folder).
#[derive(Debug, Clone)]
pub struct Register {
    path: PathBuf,
}

impl Register {
    pub fn in_dir(dir: &Path) -> Register {
        Register {
            path: dir.join(REGISTER_FILE),
        }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Every hand-off, oldest first; none before the first.
    pub fn list(&self) -> Result<Vec<Handoff>, RegisterError> {
        let bytes = match std::fs::read(&self.path) {
            Ok(bytes) => bytes,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(self.corrupt(e)),
        };
        let value: serde_json::Value =
            serde_json::from_slice(&bytes).map_err(|e| self.corrupt(e))?;
        match value.get("format").and_then(|f| f.as_str()) {
            Some(FORMAT) => {}
            Some(other) => return Err(self.foreign(other)),
            None => return Err(self.foreign("a file of another kind")),
        }
        let version = value
            .get("version")
            .and_then(|v| v.as_u64())
            .ok_or_else(|| self.corrupt("it names no version"))?;
        if version > u64::from(VERSION) {
            return Err(RegisterError::Newer {
                path: self.path.clone(),
                version: u32::try_from(version).unwrap_or(u32::MAX),
            });
        }
        let file: RegisterFile = serde_json::from_value(value).map_err(|e| self.corrupt(e))?;
        Ok(file.handoffs)
    }

    /// Adds a hand-off: read first (a register that cannot be read is left alone), then
    /// written whole.
    pub fn record(&self, new: NewHandoff<'_>) -> Result<Handoff, RegisterError> {
        let target = match new.string.device_id() {
            Some(device) => Target::Device {
                device_id: device.to_owned(),
            },
            None => Target::Policy {
                name: new.string.policy_name().unwrap_or_default().to_owned(),
            },
        };
        let handoff = Handoff {
            hub: new.string.host_name().to_owned(),
            target,
            slot: new.slot,
            key_id: new.string.key().map(key_id).unwrap_or_default(),
            recipients: new.recipients,
            file: new.file.display().to_string(),
            handed_at: now_text(),
            note: new.note,
            revoked_at: None,
        };
        let mut handoffs = self.list()?;
        handoffs.push(handoff.clone());
        self.write(handoffs)?;
        Ok(handoff)
    }

    /// Marks every hand-off of `target` on hub `hub` (its host name) still in use as revoked
    /// now; how many were.
    pub fn mark_revoked(&self, hub: &str, target: &Target) -> Result<usize, RegisterError> {
        let mut handoffs = self.list()?;
        let now = now_text();
        let mut marked = 0;
        for handoff in &mut handoffs {
            if handoff.hub.eq_ignore_ascii_case(hub)
                && handoff.target == *target
                && handoff.revoked_at.is_none()
            {
                handoff.revoked_at = Some(now.clone());
                marked += 1;
            }
        }
        if marked > 0 {
            self.write(handoffs)?;
        }
        Ok(marked)
    }

    fn write(&self, handoffs: Vec<Handoff>) -> Result<(), RegisterError> {
        let file = RegisterFile {
            format: FORMAT.to_owned(),
            version: VERSION,
            handoffs,
        };
        let bytes = serde_json::to_vec_pretty(&file).map_err(|e| self.write_failed(e))?;
        if let Some(dir) = self.path.parent() {
            std::fs::create_dir_all(dir).map_err(|e| self.write_failed(e))?;
        }
        hubsetup_platform::private_file::write_atomically(&self.path, &bytes)
            .map_err(|e| self.write_failed(e))
    }

    fn corrupt(&self, detail: impl std::fmt::Display) -> RegisterError {
        RegisterError::Corrupt {
            path: self.path.clone(),
            detail: detail.to_string(),
        }
    }

    fn foreign(&self, found: &str) -> RegisterError {
        RegisterError::Foreign {
            path: self.path.clone(),
            found: found.to_owned(),
        }
    }

    fn write_failed(&self, detail: impl std::fmt::Display) -> RegisterError {
        RegisterError::Write {
            path: self.path.clone(),
            detail: detail.to_string(),
        }
    }
}

fn now_text() -> String {
    OffsetDateTime::now_utc()
        .replace_nanosecond(0)
        .ok()
        .and_then(|t| t.format(&Rfc3339).ok())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use time::macros::datetime;

    use super::*;

    const KEY: &str = "c2VjcmV0LWtleS1mb3ItdGhlLXJlZ2lzdGVyLXRlc3Q=";

    fn string() -> ConnectionString {
        ConnectionString::parse(&format!(
            "HostName=contoso.azure-devices.net;DeviceId=meter-1;SharedAccessKey={KEY}"
        ))
        .unwrap()
    }

    fn contact() -> Recipient {
        Recipient {
            fingerprint: "0123456789ABCDEF0123456789ABCDEF01234567".into(),
            user_ids: vec!["Sam Support <sam@partner.example>".into()],
        }
    }

    fn record(register: &Register, file: &str) -> Handoff {
        let string = string();
        register
            .record(NewHandoff {
                string: &string,
                slot: Some(KeySlot::Primary),
                recipients: vec![contact()],
                file: Path::new(file),
                note: Some("Alex Admin <alex@contoso.example>".into()),
            })
            .unwrap()
    }

    #[test]
    fn hand_offs_are_kept_without_their_key() {
        let dir = tempfile::tempdir().unwrap();
        let register = Register::in_dir(dir.path());
        assert!(register.list().unwrap().is_empty());
        let first = record(&register, "/tmp/partner.asc");
        record(&register, "/tmp/second.asc");
        let kept = register.list().unwrap();
        assert_eq!(kept.len(), 2);
        assert_eq!(kept[0], first);
        assert_eq!(
            first.target,
            Target::Device {
                device_id: "meter-1".into()
            }
        );
        assert_eq!(first.key_id.len(), 12);
        let text = std::fs::read_to_string(register.path()).unwrap();
        let leaked = text.contains(KEY) || text.contains("c2VjcmV0");
        assert!(!leaked, "the register holds the key");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(register.path())
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o077, 0, "the register is readable by others");
        }
    }

    #[test]
    fn a_register_that_cannot_be_read_is_reported_and_left_alone() {
        let dir = tempfile::tempdir().unwrap();
        let register = Register::in_dir(dir.path());
        let path = register.path().to_owned();
        std::fs::write(
            &path,
            b"{\"format\": \"hubsetup-handoffs\", \"version\": 1, \"hand",
        )
        .unwrap();
        let error = register.list().unwrap_err().to_string();
        assert!(
            error.starts_with(&format!(
                "The register of hand-offs ({}) cannot be read: EOF while parsing",
                path.display()
            )),
            "{error}"
        );
        assert!(error.ends_with("IoT Hub Setup leaves it as it is and records nothing until it can: restore it from a backup, or move it aside to start a new register."));
        let string = string();
        let refused = register.record(NewHandoff {
            string: &string,
            slot: None,
            recipients: vec![],
            file: Path::new("x.asc"),
            note: None,
        });
        assert!(matches!(refused, Err(RegisterError::Corrupt { .. })));
        let untouched = std::fs::read(&path).unwrap();
        assert_eq!(
            untouched,
            b"{\"format\": \"hubsetup-handoffs\", \"version\": 1, \"hand"
        );

        std::fs::write(&path, br#"{"format": "something-else", "version": 3}"#).unwrap();
        assert_eq!(
            register.list().unwrap_err().to_string(),
            format!("{} is not IoT Hub Setup's register of hand-offs (it says it is something-else). IoT Hub Setup leaves it as it is: move it aside, or set HUBSETUP_STATE_DIR to another folder.", path.display())
        );
        std::fs::write(
            &path,
            br#"{"format": "hubsetup-handoffs", "version": 2, "handoffs": []}"#,
        )
        .unwrap();
        assert_eq!(
            register.list().unwrap_err().to_string(),
            format!("The register of hand-offs ({}) was written by a newer IoT Hub Setup (format version 2). Use that version, or update this one.", path.display())
        );
    }

    #[test]
    fn a_register_of_this_version_is_read_as_written() {
        // The first version's file, as this build wrote it: a later build must read it.
        let dir = tempfile::tempdir().unwrap();
        let register = Register::in_dir(dir.path());
        std::fs::write(register.path(), br#"{"format": "hubsetup-handoffs", "version": 1, "handoffs": [{"hub": "contoso.azure-devices.net", "target": {"kind": "policy", "name": "partner-registry"}, "slot": "secondary", "key_id": "3f2a91c07b1e", "recipients": [], "file": "p.asc", "handed_at": "2026-01-02T03:04:05Z", "note": null}]}"#).unwrap();
        let kept = register.list().unwrap();
        assert_eq!(kept[0].slot, Some(KeySlot::Secondary));
        assert_eq!(kept[0].revoked_at, None);
    }

    #[test]
    fn revoking_marks_only_that_targets_hand_offs() {
        let dir = tempfile::tempdir().unwrap();
        let register = Register::in_dir(dir.path());
        record(&register, "/tmp/a.asc");
        record(&register, "/tmp/b.asc");
        let other = Target::Policy { name: "p".into() };
        assert_eq!(
            register
                .mark_revoked("contoso.azure-devices.net", &other)
                .unwrap(),
            0
        );
        let device = Target::Device {
            device_id: "meter-1".into(),
        };
        assert_eq!(
            register
                .mark_revoked("Contoso.azure-devices.net", &device)
                .unwrap(),
            2
        );
        assert!(register
            .list()
            .unwrap()
            .iter()
            .all(|h| h.revoked_at.is_some()));
        // Already revoked: nothing more to mark.
        assert_eq!(
            register
                .mark_revoked("contoso.azure-devices.net", &device)
                .unwrap(),
            0
        );
    }

    #[test]
    fn keys_grow_old() {
        let mut handoff = Handoff {
            hub: "h".into(),
            target: Target::Policy { name: "p".into() },
            slot: None,
            key_id: String::new(),
            recipients: vec![],
            file: String::new(),
            handed_at: "2026-01-01T12:00:00Z".into(),
            note: None,
            revoked_at: None,
        };
        let later = datetime!(2026-07-01 12:00 UTC);
        assert_eq!(handoff.age_days(later), Some(181));
        assert!(handoff.needs_rotation(later, DEFAULT_ROTATION_DAYS));
        assert!(!handoff.needs_rotation(later, 181));
        handoff.revoked_at = Some("2026-06-01T00:00:00Z".into());
        assert!(!handoff.needs_rotation(later, DEFAULT_ROTATION_DAYS));
    }

    #[test]
    fn key_ids_tell_keys_apart_and_are_stable() {
        let a = SharedAccessKey::from_base64(KEY).unwrap();
        let b =
            SharedAccessKey::from_base64("b3RoZXIta2V5LWZvci10aGUtcmVnaXN0ZXItdGVzdA==").unwrap();
        assert_eq!(
            key_id(&a),
            key_id(&SharedAccessKey::from_base64(KEY).unwrap())
        );
        assert_ne!(key_id(&a), key_id(&b));
    }
}
