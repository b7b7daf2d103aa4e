//! A clipboard for secrets.
//!
//! What is copied is marked so that the places a clipboard's content usually travels to leave
//! it alone, each OS in its own way:
//! - Windows: the formats `ExcludeClipboardContentFromMonitorProcessing`,
//!   `CanIncludeInClipboardHistory` = 0 and `CanUploadToCloudClipboard` = 0 (Win+V history and
//!   the cloud clipboard skip it);
//! - macOS: `org.nspasteboard.ConcealedType` (clipboard managers' convention);
//! - Linux: `x-kde-passwordManagerHint` = `secret` (Klipper, GNOME's and other managers, as
//!   KeePassXC marks passwords).
//!
//! The copy is taken off again by [`SecretClipboard::clear_if_unchanged`] once the caller's
//! timer runs out, unless the user has copied something else since.

use std::sync::Mutex;

use zeroize::Zeroizing;

/// The clipboard, held for the life of the app: on X11 the copied text is served by this
/// process, and would vanish with the last handle.
#[derive(Default)]
pub struct SecretClipboard {
    clipboard: Mutex<Option<arboard::Clipboard>>,
}

impl std::fmt::Debug for SecretClipboard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SecretClipboard")
    }
}

/// The clipboard could not be used. Never holds what was being copied.
#[derive(Debug, thiserror::Error)]
#[error(
    "The clipboard could not be used ({reason}). Try Copy again; if it keeps failing, use \
     Reveal and copy the string by hand, then clear the clipboard yourself."
)]
pub struct ClipboardError {
    reason: String,
}

impl From<arboard::Error> for ClipboardError {
    fn from(error: arboard::Error) -> Self {
        // arboard's errors describe the clipboard, never its content.
        let reason = match error {
            arboard::Error::ClipboardOccupied => {
                "another program was using it at that moment".to_owned()
            }
            arboard::Error::ClipboardNotSupported => {
                "this desktop offers no clipboard to programs".to_owned()
            }
            other => other.to_string().trim_end_matches('.').to_owned(),
        };
        ClipboardError { reason }
    }
}

impl SecretClipboard {
    pub fn new() -> Self {
        Self::default()
    }

    /// Puts `secret` on the clipboard, marked as a secret for this OS (see the module docs).
    pub fn copy(&self, secret: &str) -> Result<(), ClipboardError> {
        self.with(|clipboard| marked(clipboard.set()).text(secret))
    }

    /// Empties the clipboard if it still holds `secret`; leaves anything else alone. Returns
    /// whether it was cleared.
    pub fn clear_if_unchanged(&self, secret: &str) -> Result<bool, ClipboardError> {
        self.with(|clipboard| {
            let now = match clipboard.get_text() {
                Ok(text) => Zeroizing::new(text),
                // Emptied or replaced by something that is not text: nothing of ours is left.
                Err(arboard::Error::ContentNotAvailable) => return Ok(false),
                Err(error) => return Err(error),
            };
            if now.as_str() != secret {
                return Ok(false);
            }
            clipboard.clear()?;
            Ok(true)
        })
    }

    fn with<T>(
        &self,
        action: impl FnOnce(&mut arboard::Clipboard) -> Result<T, arboard::Error>,
    ) -> Result<T, ClipboardError> {
        let mut held = self
            .clipboard
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let clipboard = match &mut *held {
            Some(clipboard) => clipboard,
            empty => empty.insert(arboard::Clipboard::new()?),
        };
        Ok(action(clipboard)?)
    }
}

#[cfg(windows)]
fn marked(set: arboard::Set<'_>) -> arboard::Set<'_> {
    use arboard::SetExtWindows;
    set.exclude_from_monitoring()
        .exclude_from_history()
        .exclude_from_cloud()
}

#[cfg(target_os = "macos")]
fn marked(set: arboard::Set<'_>) -> arboard::Set<'_> {
    use arboard::SetExtApple;
    set.exclude_from_history()
}

#[cfg(all(unix, not(target_os = "macos")))]
fn marked(set: arboard::Set<'_>) -> arboard::Set<'_> {
    use arboard::SetExtLinux;
    set.exclude_from_history()
}

#[cfg(all(test, windows))]
mod tests {
    use super::*;
    use clipboard_win::{formats, get_clipboard, register_format, Clipboard};

    /// The formats that mark a secret, each with the DWORD it holds, read back as Windows'
    /// clipboard history would.
    fn marks() -> Vec<(&'static str, Option<Vec<u8>>)> {
        let _open = Clipboard::new_attempts(10).unwrap();
        [
            "ExcludeClipboardContentFromMonitorProcessing",
            "CanIncludeInClipboardHistory",
            "CanUploadToCloudClipboard",
        ]
        .into_iter()
        .map(|name| {
            let format = register_format(name).unwrap().get();
            let mut data = Vec::new();
            let present = clipboard_win::raw::get_vec(format, &mut data).is_ok();
            (name, present.then_some(data))
        })
        .collect()
    }

    /// One test, not several: the clipboard is one per session and tests run in parallel.
    #[test]
    fn a_copied_secret_is_marked_and_cleared_only_while_unchanged() {
        let clipboard = SecretClipboard::new();
        let secret = "HostName=h.azure-devices.net;DeviceId=d;SharedAccessKey=c2VjcmV0";
        clipboard.copy(secret).unwrap();
        let text: String = get_clipboard(formats::Unicode).unwrap();
        assert!(text == secret, "the copied text is on the clipboard");
        let zero = Some(0u32.to_ne_bytes().to_vec());
        assert_eq!(
            marks(),
            [
                ("ExcludeClipboardContentFromMonitorProcessing", zero.clone()),
                ("CanIncludeInClipboardHistory", zero.clone()),
                ("CanUploadToCloudClipboard", zero),
            ]
        );
        assert!(!clipboard.clear_if_unchanged("something else").unwrap());
        assert!(clipboard.clear_if_unchanged(secret).unwrap());
        assert!(
            get_clipboard::<String, _>(formats::Unicode).is_err(),
            "cleared"
        );

        clipboard_win::set_clipboard_string("copied by the user since").unwrap();
        assert!(!clipboard.clear_if_unchanged(secret).unwrap());
        let kept: String = get_clipboard(formats::Unicode).unwrap();
        assert_eq!(kept, "copied by the user since");
        assert!(marks().iter().all(|(_, data)| data.is_none()), "unmarked");
    }
}

#[cfg(test)]
mod error_tests {
    use super::*;

    #[test]
    fn clipboard_failures_say_what_happened_and_what_to_do() {
        assert_eq!(
            ClipboardError::from(arboard::Error::ClipboardOccupied).to_string(),
            "The clipboard could not be used (another program was using it at that moment). \
             Try Copy again; if it keeps failing, use Reveal and copy the string by hand, then \
             clear the clipboard yourself."
        );
        assert_eq!(
            ClipboardError::from(arboard::Error::ClipboardNotSupported).to_string(),
            "The clipboard could not be used (this desktop offers no clipboard to programs). \
             Try Copy again; if it keeps failing, use Reveal and copy the string by hand, then \
             clear the clipboard yourself."
        );
    }
}
