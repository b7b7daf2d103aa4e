//! The encrypted message: what the recipient reads, its encryption, and the `.asc` file.

use std::io::Write;
use std::path::Path;
use std::time::SystemTime;

use hubsetup_core::ConnectionString;
use hubsetup_platform::private_file;
use sequoia_openpgp as openpgp;
use zeroize::Zeroizing;

use openpgp::serialize::stream::{Armorer, Encryptor, LiteralWriter, Message, Recipient};
use openpgp::types::Features;
use openpgp::KeyHandle;

use crate::key::{encryption_keys, PublicKey, POLICY};
use crate::{HandoffError, SENDER_MAX_CHARS};

/// A few lines above the string so the recipient knows what it is without opening anything
/// else: the hub, the device or policy, when and by whom it was sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Note {
    /// Who sends it, e.g. `Alice Admin <alice@example.com>`.
    pub sender: Option<String>,
    pub date: SystemTime,
}

/// The exact text the recipient gets from `gpg --decrypt`: the note if any, a blank line, and
/// the connection string on a line of its own.
pub fn plaintext(
    cs: &ConnectionString,
    note: Option<&Note>,
) -> Result<Zeroizing<String>, HandoffError> {
    let mut text = Zeroizing::new(String::new());
    if let Some(note) = note {
        let mut lines = vec![
            "IoT Hub connection string".to_owned(),
            format!("Hub:     {} ({})", cs.hub_name(), cs.host_name()),
        ];
        if let Some(policy) = cs.policy_name() {
            lines.push(format!("Policy:  {policy}"));
        }
        if let Some(identity) = cs.identity() {
            lines.push(format!("Device:  {}", identity.device_id));
            if let Some(module) = &identity.module_id {
                lines.push(format!("Module:  {module}"));
            }
        }
        lines.push(format!(
            "Date:    {}",
            humantime::format_rfc3339_seconds(note.date)
        ));
        if let Some(sender) = &note.sender {
            lines.push(format!("From:    {}", check_sender(sender)?));
        }
        for line in lines {
            text.push_str(&line);
            text.push('\n');
        }
        text.push('\n');
    }
    text.push_str(&cs.expose());
    text.push('\n');
    Ok(text)
}

fn check_sender(sender: &str) -> Result<&str, HandoffError> {
    let sender = sender.trim();
    let length = sender.chars().count();
    if length == 0 || length > SENDER_MAX_CHARS || sender.chars().any(char::is_control) {
        return Err(HandoffError::InvalidSender);
    }
    Ok(sender)
}

/// The connection string (after `note`, if any) encrypted to every one of `recipients`,
/// ASCII-armored.
pub fn encrypt(
    cs: &ConnectionString,
    note: Option<&Note>,
    recipients: &[PublicKey],
) -> Result<String, HandoffError> {
    let text = plaintext(cs, note)?;
    let mut keys = Vec::new();
    for recipient in recipients {
        let valid = recipient
            .cert()
            .with_policy(&POLICY, None)
            .map_err(encryption_failed)?;
        // Announcing SEIPDv1 only makes Sequoia write what GnuPG 2.2 reads (v3 PKESK +
        // SEIPDv1), even for keys that advertise SEIPDv2.
        keys.extend(encryption_keys(&valid).into_iter().map(|key| {
            Recipient::new(
                Features::empty().set_seipdv1(),
                KeyHandle::from(key.keyid()),
                key,
            )
        }));
    }
    if keys.is_empty() {
        return Err(HandoffError::NoRecipients);
    }
    let mut armored = Vec::new();
    let message = Armorer::new(Message::new(&mut armored))
        .build()
        .map_err(encryption_failed)?;
    let message = Encryptor::for_recipients(message, keys)
        .build()
        .map_err(encryption_failed)?;
    let mut literal = LiteralWriter::new(message)
        .build()
        .map_err(encryption_failed)?;
    literal
        .write_all(text.as_bytes())
        .map_err(encryption_failed)?;
    literal.finalize().map_err(encryption_failed)?;
    Ok(String::from_utf8(armored).expect("ASCII armor is ASCII"))
}

/// [`encrypt`]s and writes the result to `path` atomically, readable only by the user.
pub fn write_encrypted(
    path: &Path,
    cs: &ConnectionString,
    note: Option<&Note>,
    recipients: &[PublicKey],
) -> Result<(), HandoffError> {
    let armored = encrypt(cs, note, recipients)?;
    private_file::write_atomically(path, armored.as_bytes()).map_err(|source| HandoffError::Write {
        path: path.to_owned(),
        source,
    })
}

fn encryption_failed(error: impl std::fmt::Display) -> HandoffError {
    HandoffError::Encryption {
        detail: error.to_string(),
    }
}
