//! Opening a hand-off: the support side decrypts a received `.asc` with their own secret key,
//! either a key file (with its passphrase) or their GnuPG, whose agent holds the key, and learns
//! who signed it. The text stays in memory; only the connection string (and the note above it)
//! is taken out of it.

use std::io::Read;

use hubsetup_core::ConnectionString;
use sequoia_openpgp as openpgp;
use zeroize::Zeroizing;

use openpgp::cert::prelude::*;
use openpgp::crypto::{Password, SessionKey};
use openpgp::packet::{PKESK, SKESK};
use openpgp::parse::stream::{
    DecryptionHelper, DecryptorBuilder, MessageLayer, MessageStructure, VerificationError,
    VerificationHelper,
};
use openpgp::parse::Parse;
use openpgp::types::SymmetricAlgorithm;
use openpgp::KeyHandle;

use crate::key::POLICY;
use crate::{gnupg, HandoffError};

/// What a received file held.
#[derive(Debug)]
pub struct Opened {
    pub connection_string: ConnectionString,
    /// The lines above the string (hub, device, date, sender), when the sender added them.
    pub note: Vec<String>,
    pub signature: Signed,
}

/// Who signed the file, as far as can be told.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Signed {
    /// Not signed: anyone who had the support contact's public key could have made it.
    No,
    /// A good signature by a key the user has.
    By {
        fingerprint: String,
        user_id: Option<String>,
    },
    /// Signed by a key the user does not have, so who made it cannot be checked.
    ByUnknownKey { key_id: String },
    /// A signature that does not match: the file was changed, or the signature is forged.
    Bad,
}

impl std::fmt::Display for Signed {
    /// What the receiver needs to know about the signature, in a sentence or two.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Signed::By {
                fingerprint,
                user_id,
            } => write!(
                f,
                "Signed by {} ({fingerprint}): the signature is good.",
                user_id.as_deref().unwrap_or("a key without a user ID")
            ),
            Signed::ByUnknownKey { key_id } => write!(
                f,
                "Signed by the key {key_id}, which you do not have, so who made the file cannot \
                 be checked. Get the sender's public key to check it."
            ),
            Signed::No => f.write_str(
                "Not signed: anyone with your public key could have made this file. Confirm \
                 with the sender that it comes from them.",
            ),
            Signed::Bad => f.write_str(
                "WARNING: the signature does not match. The file was changed after it was \
                 signed, or the signature is forged. Do not use the string; ask the sender to \
                 send it again.",
            ),
        }
    }
}

/// Decrypts `message` with the secret key in `secret_key` (unlocked with `passphrase` when it
/// is protected); signatures are checked against the public keys in `signers`.
pub fn open_with_key(
    message: &[u8],
    secret_key: &[u8],
    passphrase: Option<&str>,
    signers: &[u8],
) -> Result<Opened, HandoffError> {
    let secret = Cert::from_bytes(secret_key).map_err(|_| HandoffError::NotASecretKey)?;
    if !secret.is_tsk() {
        return Err(HandoffError::NotASecretKey);
    }
    let signers = match signers.is_empty() {
        true => Vec::new(),
        false => CertParser::from_bytes(signers)
            .and_then(|parser| parser.collect::<openpgp::Result<Vec<Cert>>>())
            .map_err(|_| HandoffError::NotAKey)?,
    };
    let helper = Helper {
        secret: &secret,
        passphrase: passphrase.map(Password::from),
        signers,
        signed: Signed::No,
        locked: false,
        wrong_passphrase: false,
    };
    let fingerprint = secret.fingerprint().to_spaced_hex();
    let decryptor = DecryptorBuilder::from_bytes(message)
        .map_err(|_| HandoffError::NotAMessage)?
        .with_policy(&POLICY, None, helper);
    let mut decryptor = match decryptor {
        Ok(decryptor) => decryptor,
        Err(error) => {
            return Err(match error.downcast_ref::<Refused>() {
                Some(Refused::Locked) => HandoffError::PassphraseNeeded { fingerprint },
                Some(Refused::WrongPassphrase) => HandoffError::WrongPassphrase { fingerprint },
                Some(Refused::NotForThisKey) => HandoffError::NotForThisKey { fingerprint },
                None => HandoffError::NotAMessage,
            })
        }
    };
    let mut text = Zeroizing::new(Vec::new());
    decryptor
        .read_to_end(&mut text)
        .map_err(|_| HandoffError::NotAMessage)?;
    let signed = decryptor.into_helper().signed;
    read_text(&text, signed)
}

/// Decrypts `message` with the user's own GnuPG (`gpg --decrypt`): its agent holds the secret
/// key and asks for the passphrase itself, and its keyring says who signed.
pub fn open_with_gnupg(message: &[u8]) -> Result<Opened, HandoffError> {
    let run = gnupg::run(&["--decrypt"], message)?;
    if !run.has("DECRYPTION_OKAY") {
        return Err(match run.field("NO_SECKEY", 0) {
            Some(_) if !run.has("BEGIN_DECRYPTION") || run.has("DECRYPTION_FAILED") => {
                HandoffError::NotForYourKeys
            }
            _ if run.has("NODATA") => HandoffError::NotAMessage,
            _ => HandoffError::GnupgFailed {
                detail: run.messages.clone(),
            },
        });
    }
    let signed = if run.has("BADSIG") {
        Signed::Bad
    } else if let Some(fingerprint) = run.field("VALIDSIG", 0) {
        Signed::By {
            fingerprint: openpgp::Fingerprint::from_hex(&fingerprint)
                .map_or(fingerprint, |f| f.to_spaced_hex()),
            user_id: run.rest_after("GOODSIG"),
        }
    } else if let Some(key_id) = run.field("ERRSIG", 0) {
        Signed::ByUnknownKey { key_id }
    } else {
        Signed::No
    };
    read_text(&run.output, signed)
}

/// The connection string (the last line that is one) and the note above it.
fn read_text(text: &[u8], signature: Signed) -> Result<Opened, HandoffError> {
    let text = Zeroizing::new(String::from_utf8_lossy(text).into_owned());
    let lines: Vec<&str> = text.lines().collect();
    let (at, connection_string) = lines
        .iter()
        .enumerate()
        .rev()
        .find_map(|(at, line)| {
            let line = line.trim();
            (!line.is_empty())
                .then(|| ConnectionString::parse(line).ok())
                .flatten()
                .map(|cs| (at, cs))
        })
        .ok_or(HandoffError::NoConnectionString)?;
    let note = lines[..at]
        .iter()
        .map(|l| l.trim_end().to_owned())
        .filter(|l| !l.is_empty())
        .collect();
    Ok(Opened {
        connection_string,
        note,
        signature,
    })
}

/// Why the secret key could not open the file; read back from Sequoia's error.
#[derive(Debug, thiserror::Error)]
enum Refused {
    #[error("the secret key is protected by a passphrase")]
    Locked,
    #[error("the passphrase is wrong")]
    WrongPassphrase,
    #[error("the file is not encrypted to this key")]
    NotForThisKey,
}

struct Helper<'a> {
    secret: &'a Cert,
    passphrase: Option<Password>,
    signers: Vec<Cert>,
    signed: Signed,
    locked: bool,
    wrong_passphrase: bool,
}

impl VerificationHelper for Helper<'_> {
    fn get_certs(&mut self, _ids: &[KeyHandle]) -> openpgp::Result<Vec<Cert>> {
        Ok(self.signers.clone())
    }

    fn check(&mut self, structure: MessageStructure) -> openpgp::Result<()> {
        for layer in structure.into_iter() {
            let MessageLayer::SignatureGroup { results } = layer else {
                continue;
            };
            for result in results {
                self.signed = match result {
                    Ok(good) => Signed::By {
                        fingerprint: good.ka.cert().fingerprint().to_spaced_hex(),
                        user_id: good
                            .ka
                            .cert()
                            .userids()
                            .next()
                            .map(|u| String::from_utf8_lossy(u.userid().value()).into_owned()),
                    },
                    Err(VerificationError::MissingKey { sig }) => Signed::ByUnknownKey {
                        key_id: sig
                            .get_issuers()
                            .first()
                            .map_or_else(String::new, |issuer| issuer.to_hex()),
                    },
                    Err(_) => Signed::Bad,
                };
            }
        }
        Ok(())
    }
}

impl DecryptionHelper for Helper<'_> {
    fn decrypt(
        &mut self,
        pkesks: &[PKESK],
        _skesks: &[SKESK],
        sym_algo: Option<SymmetricAlgorithm>,
        decrypt: &mut dyn FnMut(Option<SymmetricAlgorithm>, &SessionKey) -> bool,
    ) -> openpgp::Result<Option<Cert>> {
        let keys = || {
            self.secret
                .keys()
                .with_policy(&POLICY, None)
                .supported()
                .for_transport_encryption()
                .for_storage_encryption()
                .secret()
        };
        let addressed = pkesks.iter().any(|pkesk| match pkesk.recipient() {
            Some(recipient) => keys().any(|ka| ka.key().key_handle().aliases(&recipient)),
            None => true,
        });
        if !addressed {
            return Err(Refused::NotForThisKey.into());
        }
        for ka in keys() {
            let mut key = ka.key().clone();
            if key.secret().is_encrypted() {
                match &self.passphrase {
                    Some(passphrase) => match key.decrypt_secret(passphrase) {
                        Ok(unlocked) => key = unlocked,
                        Err(_) => {
                            self.wrong_passphrase = true;
                            continue;
                        }
                    },
                    None => {
                        self.locked = true;
                        continue;
                    }
                }
            }
            let mut keypair = key.into_keypair()?;
            for pkesk in pkesks {
                let opened = pkesk
                    .decrypt(&mut keypair, sym_algo)
                    .is_some_and(|(algo, session_key)| decrypt(algo, &session_key));
                if opened {
                    return Ok(None);
                }
            }
        }
        Err(match (self.wrong_passphrase, self.locked) {
            (true, _) => Refused::WrongPassphrase,
            (_, true) => Refused::Locked,
            _ => Refused::NotForThisKey,
        }
        .into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const DEVICE: &str = "HostName=your-hub.azure-devices.net;DeviceId=d1;SharedAccessKey=+XLy+MVZ+aTeOnVzN2kLeB16O+kSxmz6g3rS6fAf6rw=";

    #[test]
    fn the_string_is_the_last_line_that_is_one_and_the_note_is_above_it() {
        let text = format!("IoT Hub connection string\nHub:     your-hub\n\n{DEVICE}\n\n");
        let opened = read_text(text.as_bytes(), Signed::No).unwrap();
        assert_eq!(opened.connection_string.expose().as_str(), DEVICE);
        assert_eq!(
            opened.note,
            ["IoT Hub connection string", "Hub:     your-hub"]
        );
        let bare = read_text(DEVICE.as_bytes(), Signed::No).unwrap();
        assert!(bare.note.is_empty());
        assert_eq!(
            read_text(b"see you tomorrow\n", Signed::No)
                .unwrap_err()
                .to_string(),
            "The file opened, but holds no IoT Hub connection string. Ask the sender to send it \
             again."
        );
    }

    #[test]
    fn what_is_not_a_message_or_a_secret_key_is_said() {
        assert_eq!(
            open_with_key(b"hello", b"also not a key", None, b"")
                .unwrap_err()
                .to_string(),
            "This is not a secret key. Opening a hand-off needs your own secret key: export it \
             with `gpg --armor --export-secret-keys you@example.com`, or let your own GnuPG open \
             the file."
        );
    }
}
