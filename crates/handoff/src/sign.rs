//! Signing the hand-off, so the recipient's `gpg --decrypt` says who sent it: with the
//! sender's secret key file (unlocked with its passphrase) or through their GnuPG, whose agent
//! holds the key and asks for its passphrase itself.

use sequoia_openpgp as openpgp;

use openpgp::cert::prelude::*;
use openpgp::crypto::{KeyPair, Password};
use openpgp::parse::Parse;
use zeroize::Zeroizing;

use crate::gnupg;
use crate::key::{self, POLICY};
use crate::{HandoffError, PublicKey};

/// Who signs, and with what.
#[derive(Debug)]
pub enum Signer {
    /// A secret key from a file, already unlocked (boxed: it is large, the other is a name).
    KeyFile(Box<SigningKey>),
    /// A key in the user's GnuPG, by fingerprint.
    Gnupg { fingerprint: String },
}

/// A secret key's signing part, unlocked; the secret stays in Sequoia's protected memory.
pub struct SigningKey {
    keypair: KeyPair,
    fingerprint: String,
    user_id: Option<String>,
    cert: Cert,
}

impl std::fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SigningKey")
            .field("fingerprint", &self.fingerprint)
            .finish_non_exhaustive()
    }
}

impl SigningKey {
    /// Reads a secret key (armored or binary) and unlocks its signing key with `passphrase`
    /// when it is protected.
    pub fn read(bytes: &[u8], passphrase: Option<&str>) -> Result<SigningKey, HandoffError> {
        let cert = Cert::from_bytes(bytes).map_err(|_| HandoffError::NotASecretKey)?;
        if !cert.is_tsk() {
            return Err(HandoffError::NotASecretKey);
        }
        let fingerprint = cert.fingerprint().to_spaced_hex();
        let valid = cert
            .with_policy(&POLICY, None)
            .map_err(|e| HandoffError::Unacceptable {
                fingerprint: fingerprint.clone(),
                reason: e.to_string(),
            })?;
        let key = valid
            .keys()
            .supported()
            .alive()
            .revoked(false)
            .for_signing()
            .secret()
            .next()
            .ok_or_else(|| HandoffError::CannotSign {
                fingerprint: fingerprint.clone(),
            })?
            .key()
            .clone();
        let key = match (key.secret().is_encrypted(), passphrase) {
            (false, _) => key,
            (true, None) => return Err(HandoffError::PassphraseNeeded { fingerprint }),
            (true, Some(passphrase)) => {
                key.decrypt_secret(&Password::from(passphrase))
                    .map_err(|_| HandoffError::WrongPassphrase {
                        fingerprint: fingerprint.clone(),
                    })?
            }
        };
        let keypair = key.into_keypair().map_err(|e| HandoffError::Unacceptable {
            fingerprint: fingerprint.clone(),
            reason: e.to_string(),
        })?;
        let user_id = valid
            .userids()
            .next()
            .map(|uid| String::from_utf8_lossy(uid.userid().value()).into_owned());
        Ok(SigningKey {
            keypair,
            fingerprint,
            user_id,
            cert: cert.strip_secret_key_material(),
        })
    }

    pub fn fingerprint(&self) -> &str {
        &self.fingerprint
    }

    pub fn user_id(&self) -> Option<&str> {
        self.user_id.as_deref()
    }

    pub(crate) fn keypair(&self) -> KeyPair {
        self.keypair.clone()
    }
}

impl Signer {
    /// The signer's own public key, to encrypt to oneself as well.
    pub fn public_key(&self) -> Result<PublicKey, HandoffError> {
        let key = match self {
            Signer::KeyFile(key) => key::check(key.cert.clone()),
            Signer::Gnupg { fingerprint } => gnupg::public_key(fingerprint),
        };
        key.map_err(|e| match e {
            HandoffError::NoEncryptionSubkey { fingerprint } => {
                HandoffError::OwnKeyCannotEncrypt { fingerprint }
            }
            other => other,
        })
    }
}

/// `text` signed by the user's GnuPG: a complete signed OpenPGP message (one-pass signature,
/// literal data, signature), uncompressed for GnuPG 2.2's sake, ready to be encrypted.
pub(crate) fn with_gnupg(
    fingerprint: &str,
    text: &[u8],
) -> Result<Zeroizing<Vec<u8>>, HandoffError> {
    let hex = fingerprint.replace(' ', "");
    let run = gnupg::run(
        &["--local-user", &hex, "--compress-algo", "none", "--sign"],
        text,
    )?;
    if run.has("SIG_CREATED") {
        return Ok(run.output);
    }
    Err(if run.field("INV_SGNR", 1).is_some() {
        HandoffError::NotYourSigningKey {
            fingerprint: fingerprint.to_owned(),
        }
    } else if run.has("PINENTRY_LAUNCHED") || run.messages.contains("Operation cancelled") {
        HandoffError::SigningCancelled
    } else {
        HandoffError::GnupgFailed {
            detail: run.messages.clone(),
        }
    })
}
