//! The days after a hand-off: who received which key, and how old it is.
//!
//! [`Register`] keeps one entry per encrypted hand-off in a file of the app's state folder
//! (owner-only, written atomically): the hub, the device or policy, which key (by a short
//! hash, [`key_id`], never the key), the recipients' fingerprints and user IDs, the file, the
//! date and the note. It is versioned so that it survives upgrades; a file it cannot read, or
//! another program's, is reported and never replaced. [`Handoff::age_days`] and
//! [`Handoff::needs_rotation`] say when a key handed off is due for rotation.

mod register;

pub use register::{
    key_id, Handoff, KeySlot, NewHandoff, Recipient, Register, RegisterError, Target,
    DEFAULT_ROTATION_DAYS, REGISTER_FILE,
};
