//! The encrypted message: what the recipient reads, its encryption, and the `.asc` file.

use std::io::Write;
use std::path::Path;
use std::time::SystemTime;

use hubsetup_core::ConnectionString;
use hubsetup_platform::private_file;
use sequoia_openpgp as openpgp;
use zeroize::Zeroizing;

use openpgp::cert::{Preferences, ValidCert};
use openpgp::serialize::stream::{Armorer, Encryptor, LiteralWriter, Message, Recipient};
use openpgp::types::Features;
use openpgp::KeyHandle;

use crate::key::{encryption_keys, PublicKey, POLICY};
use crate::sign::{self, Signer};
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
/// signed by `signer` if given, ASCII-armored.
pub fn encrypt(
    cs: &ConnectionString,
    note: Option<&Note>,
    recipients: &[PublicKey],
    signer: Option<&Signer>,
) -> Result<String, HandoffError> {
    let text = plaintext(cs, note)?;
    let mut keys = Vec::new();
    for recipient in recipients {
        let valid = recipient
            .cert()
            .with_policy(&POLICY, None)
            .map_err(encryption_failed)?;
        let features = announced_features(&valid);
        keys.extend(
            encryption_keys(&valid).into_iter().map(|key| {
                Recipient::new(features.clone(), KeyHandle::from(key.fingerprint()), key)
            }),
        );
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
    let message = match signer {
        // GnuPG makes a whole signed message, which goes inside the encryption as it is.
        Some(Signer::Gnupg { fingerprint }) => {
            let mut message = message;
            let signed = sign::with_gnupg(fingerprint, text.as_bytes())?;
            message.write_all(&signed).map_err(encryption_failed)?;
            message
        }
        signer => {
            let message = match signer {
                Some(Signer::KeyFile(key)) => {
                    openpgp::serialize::stream::Signer::new(message, key.keypair())
                        .map_err(encryption_failed)?
                        .build()
                        .map_err(encryption_failed)?
                }
                _ => message,
            };
            let mut literal = LiteralWriter::new(message)
                .build()
                .map_err(encryption_failed)?;
            literal
                .write_all(text.as_bytes())
                .map_err(encryption_failed)?;
            literal
        }
    };
    message.finalize().map_err(encryption_failed)?;
    Ok(String::from_utf8(armored).expect("ASCII armor is ASCII"))
}

/// What Sequoia may use for a recipient. Version 4 keys get SEIPDv1 only, whatever they
/// announce, so that Sequoia writes what GnuPG 2.2 reads (v3 PKESK + SEIPDv1); version 6 keys
/// get what they announce (RFC 9580 tools read SEIPDv2). With both kinds in one message
/// Sequoia uses what all of them read.
fn announced_features(valid: &ValidCert<'_>) -> Features {
    if valid.primary_key().key().version() == 4 {
        Features::empty().set_seipdv1()
    } else {
        valid
            .features()
            .unwrap_or_else(|| Features::empty().set_seipdv1())
    }
}

/// [`encrypt`]s and writes the result to `path` atomically, readable only by the user.
pub fn write_encrypted(
    path: &Path,
    cs: &ConnectionString,
    note: Option<&Note>,
    recipients: &[PublicKey],
    signer: Option<&Signer>,
) -> Result<(), HandoffError> {
    let armored = encrypt(cs, note, recipients, signer)?;
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
