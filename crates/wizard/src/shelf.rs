//! Connection strings held in Rust. The webview gets a handle (random, meaningless) and a masked
//! preview; revealing, copying, verifying, storing and encrypting go through the handle.

use std::collections::HashMap;
use std::sync::Mutex;

use hubsetup_core::ConnectionString;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ShelfError {
    #[error("This connection string is no longer held in memory (the app was restarted). Load it again from the keychain or paste it again.")]
    UnknownHandle,
}

/// Handles to connection strings; the strings zeroize their keys when dropped.
#[derive(Debug, Default)]
pub struct Shelf {
    strings: Mutex<HashMap<String, ConnectionString>>,
}

impl Shelf {
    /// Keeps `cs` and returns its handle.
    pub fn put(&self, cs: ConnectionString) -> String {
        let handle = format!("cs-{:016x}", rand::random::<u64>());
        self.strings
            .lock()
            .expect("shelf lock")
            .insert(handle.clone(), cs);
        handle
    }

    pub fn get(&self, handle: &str) -> Result<ConnectionString, ShelfError> {
        self.strings
            .lock()
            .expect("shelf lock")
            .get(handle)
            .cloned()
            .ok_or(ShelfError::UnknownHandle)
    }

    pub fn remove(&self, handle: &str) {
        self.strings.lock().expect("shelf lock").remove(handle);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use hubsetup_core::SharedAccessKey;

    #[test]
    fn handles_reveal_nothing_and_unknown_ones_are_explained() {
        let shelf = Shelf::default();
        let cs = ConnectionString::for_device(
            "h1b.azure-devices.net",
            "d",
            SharedAccessKey::from_bytes(vec![3u8; 32]).unwrap(),
        );
        let handle = shelf.put(cs.clone());
        assert!(handle.starts_with("cs-") && !handle.contains("h1b"));
        assert_eq!(shelf.get(&handle).unwrap(), cs);
        shelf.remove(&handle);
        assert_eq!(
            shelf.get(&handle).unwrap_err().to_string(),
            "This connection string is no longer held in memory (the app was restarted). Load it again from the keychain or paste it again."
        );
    }
}
