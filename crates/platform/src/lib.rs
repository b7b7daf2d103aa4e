//! What differs per operating system, behind one small API that every other crate uses.
//!
//! - [`paths`]: where IoT Hub Setup keeps its settings and its state on each OS.
//! - [`private_file`]: files only their owner can read (mode 0600 on Unix, an access list
//!   naming only the current user on Windows), replaced atomically.
//! - [`clipboard`]: a clipboard for secrets, marked so that clipboard history, cloud sync and
//!   clipboard managers skip them, and cleared again after a while.

pub mod clipboard;
pub mod paths;
pub mod private_file;
#[cfg(windows)]
mod windows_acl;

pub use clipboard::{ClipboardError, SecretClipboard};
pub use paths::APP_ID;
