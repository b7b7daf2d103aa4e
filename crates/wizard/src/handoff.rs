//! The hand-off half of the session: the support contact's key (read, looked up), the string
//! encrypted to it, and, on the support side, a received file opened with the user's own
//! secret key, its string put on the shelf without passing through the webview.

use std::path::Path;
use std::time::SystemTime;

use hubsetup_handoff::{
    open_with_gnupg, open_with_key, own_keys, HandoffError, PublicKey, Signed, Signer, SigningKey,
};
use hubsetup_keyfinder::{Finder, Query};
use hubsetup_lifecycle::{Handoff, NewHandoff, Recipient, Register, DEFAULT_ROTATION_DAYS};
use serde::{Deserialize, Serialize};
use ts_rs::TS;
use zeroize::Zeroizing;

use crate::flow::StringCard;
use crate::session::{date, network_for, Session, SessionError};

/// A support contact's key, for confirming it out of band.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, TS)]
#[ts(export)]
pub struct KeyView {
    pub fingerprint: String,
    pub user_ids: Vec<String>,
    pub algorithm: String,
    pub created: String,
    pub expires: Option<String>,
    /// When the key stops working within 30 days.
    pub expiry_warning: Option<String>,
}

/// A key looked up for the hand-off: the key itself (public), and where it came from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, TS)]
#[ts(export)]
pub struct FoundKey {
    /// ASCII-armored, as the key field takes a pasted key.
    pub armored: String,
    /// `in the Web Key Directory of partner.example`, `on keys.openpgp.org`.
    pub source: String,
    /// The URL it was read from.
    pub location: String,
}

/// A received hand-off, opened: its string is on the shelf (`card`); the rest is for the screen.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, TS)]
#[ts(export)]
pub struct ReceivedFile {
    pub card: StringCard,
    /// Who signed it, in a sentence.
    pub signature: String,
    /// A good signature by a key the user has.
    pub signature_good: bool,
    /// The lines the sender put above the string (hub, device, date, sender).
    pub note: Vec<String>,
}

/// A secret key in the user's GnuPG, offered for signing.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, TS)]
#[ts(export)]
pub struct OwnKeyView {
    pub fingerprint: String,
    pub user_id: Option<String>,
    pub can_sign: bool,
}

/// What the hand-off screen asks to write, as reviewed before writing; a key file's
/// passphrase travels apart.
#[derive(Debug, Clone, Deserialize, TS)]
#[ts(export)]
pub struct ExportRequest {
    /// The shelved string.
    pub handle: String,
    /// One per support contact.
    pub keys: Vec<KeySource>,
    pub out_path: String,
    /// Who sends it, for the note above the string.
    pub sender: Option<String>,
    pub sign_with: Option<SignWith>,
    /// Also encrypt to the signer's own key.
    pub to_self: bool,
}

/// A recipient's key as the screen sends it: pasted (or found) text, or a chosen file.
#[derive(Debug, Clone, Deserialize, TS)]
#[ts(export)]
pub struct KeySource {
    pub text: Option<String>,
    pub path: Option<String>,
}

/// The signing choice as the screen sends it; a key file's passphrase travels apart.
#[derive(Debug, Clone, Deserialize, TS)]
#[serde(tag = "kind", rename_all = "snake_case")]
#[ts(export)]
pub enum SignWith {
    Gnupg { fingerprint: String },
    KeyFile { path: String },
}

/// How the sender signs, as the hand-off screen asks: a key in their GnuPG, or a secret key
/// file's contents with its passphrase (errors of kind `passphrase` ask for it again).
#[derive(Debug)]
pub enum Signing {
    Gnupg {
        fingerprint: String,
    },
    KeyFile {
        secret_key: Vec<u8>,
        passphrase: Option<Zeroizing<String>>,
    },
}

impl Signing {
    fn signer(self) -> Result<Signer, SessionError> {
        match self {
            Signing::Gnupg { fingerprint } => Ok(Signer::Gnupg { fingerprint }),
            Signing::KeyFile {
                secret_key,
                passphrase,
            } => SigningKey::read(&secret_key, passphrase.as_deref().map(String::as_str))
                .map(|key| Signer::KeyFile(Box::new(key)))
                .map_err(|e| unlock_error(e, "sign")),
        }
    }
}

impl Session {
    /// Reads a support contact's public key (armored text or binary bytes).
    pub fn key_info(&self, key: &[u8], fingerprint: Option<&str>) -> Result<KeyView, SessionError> {
        let key = PublicKey::read(key, fingerprint).map_err(|e| SessionError::new("key", e))?;
        let info = key.info();
        Ok(KeyView {
            fingerprint: info.fingerprint.clone(),
            user_ids: info.user_ids.clone(),
            algorithm: info.algorithm.clone(),
            created: date(info.created),
            expires: info.expires.map(date),
            expiry_warning: info.expiry_warning.clone(),
        })
    }

    /// Looks up the key for `query` (an address, fingerprint or keybase:NAME) through the
    /// network of the cloud the string `handle` belongs to (the sandbox's for its strings).
    pub async fn find_key(&self, handle: &str, query: &str) -> Result<FoundKey, SessionError> {
        let query = Query::parse(query).map_err(|e| SessionError::new("key", e))?;
        let cs = self.shelf.get(handle)?;
        let network = network_for(&self.cloud_of(&cs))?;
        let finder = Finder::new(&network).map_err(|e| SessionError::new("key", e))?;
        let found = finder
            .find(&query)
            .await
            .map_err(|e| SessionError::new("key", e))?;
        Ok(FoundKey {
            armored: found.key.armored(),
            source: found.source,
            location: found.location,
        })
    }

    /// The secret keys in the user's GnuPG, to sign with; an error of kind `gnupg` when gpg is
    /// not installed (the screen then offers a key file only).
    pub fn own_keys(&self) -> Result<Vec<OwnKeyView>, SessionError> {
        let keys = own_keys().map_err(|e| SessionError::new("gnupg", e))?;
        Ok(keys
            .into_iter()
            .map(|key| OwnKeyView {
                fingerprint: key.fingerprint,
                user_id: key.user_id,
                can_sign: key.can_sign,
            })
            .collect())
    }

    /// Encrypts a shelved string to `keys` (and to the signer's own key with `to_self`), signed
    /// as `signing` says, and writes it to `out` (readable only by the user).
    pub fn export(
        &self,
        handle: &str,
        keys: &[Vec<u8>],
        out: &Path,
        sender: Option<String>,
        signing: Option<Signing>,
        to_self: bool,
    ) -> Result<String, SessionError> {
        let cs = self.shelf.get(handle)?;
        let mut recipients = keys
            .iter()
            .map(|k| PublicKey::read(k, None))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| SessionError::new("key", e))?;
        let signer = signing.map(Signing::signer).transpose()?;
        if let (true, Some(signer)) = (to_self, &signer) {
            recipients.push(
                signer
                    .public_key()
                    .map_err(|e| SessionError::new("sign", e))?,
            );
        }
        // A register that cannot be read stops the hand-off before anything is written.
        let register = Register::in_dir(&self.state_dir);
        register
            .list()
            .map_err(|e| SessionError::new("register", e))?;
        let note = hubsetup_handoff::Note {
            sender: sender.clone(),
            date: SystemTime::now(),
        };
        hubsetup_handoff::write_encrypted(out, &cs, Some(&note), &recipients, signer.as_ref())
            .map_err(|e| match e {
                HandoffError::SigningCancelled | HandoffError::NotYourSigningKey { .. } => {
                    SessionError::new("sign", e)
                }
                _ => SessionError::new("export", e),
            })?;
        register
            .record(NewHandoff {
                string: &cs,
                slot: None,
                recipients: recipients.iter().map(Recipient::of).collect(),
                file: out,
                note: sender,
            })
            .map_err(|e| SessionError::new("register", e))?;
        let written = out.display().to_string();
        let recorded = written.clone();
        self.update(move |s| s.exported_to = Some(recorded))?;
        Ok(written)
    }

    /// The register of hand-offs, newest first, each with its key's age and whether it is due
    /// for rotation.
    pub fn handoffs(&self) -> Result<Vec<HandoffView>, SessionError> {
        let now = time::OffsetDateTime::now_utc();
        let mut handoffs = Register::in_dir(&self.state_dir)
            .list()
            .map_err(|e| SessionError::new("register", e))?;
        handoffs.reverse();
        Ok(handoffs
            .into_iter()
            .map(|handoff| HandoffView {
                age_days: handoff.age_days(now),
                rotation_due: handoff.needs_rotation(now, DEFAULT_ROTATION_DAYS),
                handoff,
            })
            .collect())
    }

    /// Opens a received `.asc` with the user's secret key file (and its passphrase) or, without
    /// one, their GnuPG. A file whose signature does not match is refused, not shelved.
    pub fn open_received(
        &self,
        message: &[u8],
        secret_key: Option<&[u8]>,
        passphrase: Option<&str>,
    ) -> Result<ReceivedFile, SessionError> {
        let opened = match secret_key {
            Some(secret) => open_with_key(message, secret, passphrase, b""),
            None => open_with_gnupg(message),
        }
        .map_err(|e| unlock_error(e, "open"))?;
        if opened.signature == Signed::Bad {
            return Err(SessionError::new("open", &opened.signature));
        }
        Ok(ReceivedFile {
            signature: opened.signature.to_string(),
            signature_good: matches!(opened.signature, Signed::By { .. }),
            note: opened.note,
            card: self.shelve(opened.connection_string, None)?,
        })
    }
}

/// A hand-off as the Hand-offs screen shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, TS)]
#[ts(export)]
pub struct HandoffView {
    pub handoff: Handoff,
    /// Whole days since it was handed off.
    pub age_days: Option<u32>,
    /// Still in use and older than the rotation age (180 days).
    pub rotation_due: bool,
}

/// A secret key that needs its passphrase (again) is of kind `passphrase`, so the screen asks
/// for it; anything else is of `kind`.
fn unlock_error(e: HandoffError, kind: &str) -> SessionError {
    match e {
        HandoffError::PassphraseNeeded { .. } | HandoffError::WrongPassphrase { .. } => {
            SessionError::new("passphrase", e)
        }
        _ => SessionError::new(kind, e),
    }
}
