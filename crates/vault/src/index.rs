//! The vault's index: the non-secret facts about each stored string (label, host, device or
//! policy, when it was saved and last verified), kept as JSON in the app's config folder so a
//! list never has to unlock a secret. The keychain is the truth; the index is repaired from it.

use std::fs;
use std::io;
use std::path::Path;
use std::time::SystemTime;

use hubsetup_core::ConnectionString;
use hubsetup_platform::private_file;
use serde::{Deserialize, Serialize};

use crate::VaultError;

/// The index's file name inside the config folder.
pub const INDEX_FILE: &str = "vault-index.json";

/// Bumped when the file's shape changes; a file of another version is rebuilt.
const FORMAT_VERSION: u32 = 1;

/// What a connection string speaks for. It names the string's keychain entry:
/// `{host}[/policies/{policy}][/devices/{device}[/modules/{module}]]`, the shape of an IoT Hub
/// resource path, so a device and a policy of the same name never collide.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Identity {
    pub host: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub policy_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub device_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub module_id: Option<String>,
}

impl Identity {
    pub fn of(cs: &ConnectionString) -> Identity {
        Identity {
            host: cs.host_name().to_owned(),
            policy_name: cs.policy_name().map(str::to_owned),
            device_id: cs.device_id().map(str::to_owned),
            module_id: cs.identity().and_then(|i| i.module_id.clone()),
        }
    }

    /// The keychain entry's name.
    pub fn name(&self) -> String {
        let mut name = self.host.clone();
        for (kind, value) in self.parts() {
            if let Some(value) = value {
                name.push_str(&format!("/{kind}/{value}"));
            }
        }
        name
    }

    /// Reads a name back; `None` for names this app would not have made. Host names, device
    /// IDs and policy names cannot contain '/', so the split is exact.
    pub fn from_name(name: &str) -> Option<Identity> {
        let mut segments = name.split('/');
        let mut identity = Identity {
            host: segments.next().filter(|h| !h.is_empty())?.to_owned(),
            policy_name: None,
            device_id: None,
            module_id: None,
        };
        while let (Some(kind), Some(value)) = (segments.next(), segments.next()) {
            let slot = match kind {
                "policies" => &mut identity.policy_name,
                "devices" => &mut identity.device_id,
                "modules" => &mut identity.module_id,
                _ => return None,
            };
            *slot = Some(value.to_owned()).filter(|v| !v.is_empty());
        }
        // Formatting back catches everything else: order, repeats, a dangling part, a module
        // without a device, a name with neither device nor policy.
        let speaks_for_something = identity.policy_name.is_some() || identity.device_id.is_some();
        let module_has_device = identity.module_id.is_none() || identity.device_id.is_some();
        (speaks_for_something && module_has_device && identity.name() == name).then_some(identity)
    }

    fn parts(&self) -> [(&'static str, &Option<String>); 3] {
        [
            ("policies", &self.policy_name),
            ("devices", &self.device_id),
            ("modules", &self.module_id),
        ]
    }
}

/// One stored connection string as the index knows it: everything but the secret.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Entry {
    /// The user's name for it; unique in the vault. Defaults to the entry's name.
    pub label: String,
    #[serde(flatten)]
    pub identity: Identity,
    /// When it was saved; `None` when it was found in the keychain without an index record.
    #[serde(default, with = "timestamp")]
    pub created: Option<SystemTime>,
    #[serde(default, with = "timestamp")]
    pub last_verified: Option<SystemTime>,
}

impl Entry {
    /// The keychain entry's name, see [`Identity::name`].
    pub fn name(&self) -> String {
        self.identity.name()
    }
}

/// The file's shape: owned entries when read, borrowed when written.
#[derive(Serialize, Deserialize)]
struct IndexFile<E> {
    version: u32,
    entries: E,
}

/// The index's entries; `Ok(None)` when the file exists but cannot be understood, so the
/// caller rebuilds it. A missing file is an empty index (the first run).
pub(crate) fn read(path: &Path) -> Result<Option<Vec<Entry>>, VaultError> {
    let bytes = match fs::read(path) {
        Ok(bytes) => bytes,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Some(Vec::new())),
        Err(source) => return Err(index_error("read", path, source)),
    };
    Ok(serde_json::from_slice::<IndexFile<Vec<Entry>>>(&bytes)
        .ok()
        .filter(|file| file.version == FORMAT_VERSION)
        .map(|file| file.entries))
}

/// Replaces the index atomically with a file only the user can read.
pub(crate) fn write(path: &Path, entries: &[Entry]) -> Result<(), VaultError> {
    let file = IndexFile {
        version: FORMAT_VERSION,
        entries,
    };
    let mut json = serde_json::to_vec_pretty(&file).expect("the index is plain data");
    json.push(b'\n');
    if let Some(folder) = path.parent() {
        fs::create_dir_all(folder)
            .map_err(|source| index_error("create the folder of", path, source))?;
    }
    private_file::write_atomically(path, &json).map_err(|source| index_error("write", path, source))
}

fn index_error(action: &'static str, path: &Path, source: io::Error) -> VaultError {
    VaultError::Index {
        action,
        path: path.to_owned(),
        source,
    }
}

/// Times as RFC 3339 text (`2025-03-01T09:30:00Z`), readable in the file.
mod timestamp {
    use std::time::SystemTime;

    use serde::{de::Error as _, Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(time: &Option<SystemTime>, s: S) -> Result<S::Ok, S::Error> {
        match time {
            Some(time) => s.serialize_str(&humantime::format_rfc3339_seconds(*time).to_string()),
            None => s.serialize_none(),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<SystemTime>, D::Error> {
        Option::<String>::deserialize(d)?
            .map(|text| humantime::parse_rfc3339(&text).map_err(D::Error::custom))
            .transpose()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &str = "+XLy+MVZ+aTeOnVzN2kLeB16O+kSxmz6g3rS6fAf6rw=";

    fn identity_of(text: &str) -> Identity {
        Identity::of(&ConnectionString::parse(text).unwrap())
    }

    #[test]
    fn names_follow_the_resource_path() {
        let cases = [
            (
                format!("HostName=hub1.azure-devices.net;DeviceId=d1;SharedAccessKey={KEY}"),
                "hub1.azure-devices.net/devices/d1",
            ),
            (
                format!(
                    "HostName=hub1.azure-devices.net;DeviceId=d1;ModuleId=m1;SharedAccessKey={KEY}"
                ),
                "hub1.azure-devices.net/devices/d1/modules/m1",
            ),
            (
                format!(
                    "HostName=hub1.azure-devices.net;SharedAccessKeyName=wizard;SharedAccessKey={KEY}"
                ),
                "hub1.azure-devices.net/policies/wizard",
            ),
            (
                format!("HostName=hub1.azure-devices.net;SharedAccessKeyName=wizard;DeviceId=d1;SharedAccessKey={KEY}"),
                "hub1.azure-devices.net/policies/wizard/devices/d1",
            ),
        ];
        for (text, name) in cases {
            let identity = identity_of(&text);
            assert_eq!(identity.name(), name);
            assert_eq!(Identity::from_name(name), Some(identity), "{name}");
        }
    }

    #[test]
    fn names_this_app_would_not_make_are_not_read() {
        for name in [
            "",
            "hub1.azure-devices.net",
            "hub1.azure-devices.net/devices",
            "hub1.azure-devices.net/devices/",
            "hub1.azure-devices.net/things/d1",
            "hub1.azure-devices.net/modules/m1",
            "hub1.azure-devices.net/policies/p/modules/m1",
            "hub1.azure-devices.net/devices/d1/policies/p",
            "hub1.azure-devices.net/devices/d1/devices/d2",
            "/devices/d1",
        ] {
            assert_eq!(Identity::from_name(name), None, "{name}");
        }
    }

    #[test]
    fn the_file_is_readable_json_with_dates() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sub").join(INDEX_FILE);
        let entry = Entry {
            label: "Plant 3".into(),
            identity: identity_of(&format!(
                "HostName=hub1.azure-devices.net;DeviceId=d1;SharedAccessKey={KEY}"
            )),
            created: Some(humantime::parse_rfc3339("2025-03-01T09:30:00Z").unwrap()),
            last_verified: None,
        };
        write(&path, std::slice::from_ref(&entry)).unwrap();
        assert_eq!(
            fs::read_to_string(&path).unwrap(),
            "{\n  \"version\": 1,\n  \"entries\": [\n    {\n      \"label\": \"Plant 3\",\n      \
             \"host\": \"hub1.azure-devices.net\",\n      \"device_id\": \"d1\",\n      \
             \"created\": \"2025-03-01T09:30:00Z\",\n      \"last_verified\": null\n    }\n  ]\n}\n"
        );
        assert_eq!(read(&path).unwrap(), Some(vec![entry]));
    }

    #[test]
    fn a_missing_file_is_empty_and_a_broken_one_is_unreadable() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(INDEX_FILE);
        assert_eq!(read(&path).unwrap(), Some(vec![]));
        for broken in ["{", "[]", "{\"version\": 2, \"entries\": []}"] {
            fs::write(&path, broken).unwrap();
            assert_eq!(read(&path).unwrap(), None, "{broken}");
        }
    }
}
