//! The support contact's public key: read from a file's bytes or pasted text (armored or
//! binary), checked for use, and described for out-of-band confirmation.

use std::time::SystemTime;

use sequoia_openpgp as openpgp;

use openpgp::cert::prelude::*;
use openpgp::crypto::mpi;
use openpgp::packet::key::{PublicParts, UnspecifiedRole};
use openpgp::packet::Key;
use openpgp::parse::Parse;
use openpgp::policy::StandardPolicy;
use openpgp::types::{HashAlgorithm, KeyFlags, RevocationStatus};

use crate::HandoffError;

/// Sequoia's current idea of safe algorithms (no SHA-1 self-signatures, no short RSA, …).
pub(crate) static POLICY: StandardPolicy<'static> = StandardPolicy::new();

/// A public key that can be encrypted to now: public only, version 4 or 6, not revoked, not
/// expired, with at least one valid encryption key.
#[derive(Debug, Clone)]
pub struct PublicKey {
    cert: Cert,
    info: KeyInfo,
}

/// What a person compares with the support contact before trusting a key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyInfo {
    /// Hex in groups of four, as `gpg --fingerprint` prints it.
    pub fingerprint: String,
    /// The user IDs that are valid and not revoked, e.g. `Sam Support <sam@partner.example>`.
    pub user_ids: Vec<String>,
    /// The primary key's algorithm and size, e.g. `RSA 3072`, `EdDSA Ed25519`.
    pub algorithm: String,
    /// The encryption key's algorithm, e.g. `ECDH Curve25519`.
    pub encryption_algorithm: String,
    pub created: SystemTime,
    pub expires: Option<SystemTime>,
    /// When the key (or the part of it that encrypts) stops working within 30 days: say so.
    pub expiry_warning: Option<String>,
}

/// Keys that stop working this soon are accepted with a warning.
const EXPIRY_WARNING_DAYS: u64 = 30;

/// One key among several in a file, enough to choose it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeySummary {
    pub fingerprint: String,
    pub user_id: Option<String>,
}

impl PublicKey {
    /// Reads the key in `bytes`. A file or paste with several keys needs `choice`, the full
    /// fingerprint of the one to use (spaces and case do not matter).
    pub fn read(bytes: &[u8], choice: Option<&str>) -> Result<PublicKey, HandoffError> {
        let mut certs = CertParser::from_bytes(bytes)
            .map_err(|_| HandoffError::NotAKey)?
            .collect::<openpgp::Result<Vec<Cert>>>()
            .map_err(|_| HandoffError::NotAKey)?;
        if let Some(secret) = certs.iter().find(|cert| cert.is_tsk()) {
            return Err(HandoffError::SecretKey {
                fingerprint: secret.fingerprint().to_spaced_hex(),
            });
        }
        let summaries = || certs.iter().map(summary).collect();
        let at = match (certs.len(), choice) {
            (0, _) => return Err(HandoffError::NotAKey),
            (_, Some(wanted)) => {
                let wanted_hex = normalize(wanted);
                certs
                    .iter()
                    .position(|cert| cert.fingerprint().to_hex() == wanted_hex)
                    .ok_or_else(|| HandoffError::NoSuchKey {
                        wanted: wanted.trim().to_owned(),
                        available: summaries(),
                    })?
            }
            (1, None) => 0,
            (_, None) => {
                return Err(HandoffError::SeveralKeys { keys: summaries() });
            }
        };
        check(certs.swap_remove(at))
    }

    pub fn info(&self) -> &KeyInfo {
        &self.info
    }

    /// The key, ASCII-armored, as `gpg --armor --export` writes it.
    pub fn armored(&self) -> String {
        use openpgp::serialize::SerializeInto;
        let bytes = self
            .cert
            .armored()
            .to_vec()
            .expect("a certificate serializes");
        String::from_utf8(bytes).expect("armor is ASCII")
    }

    pub(crate) fn cert(&self) -> &Cert {
        &self.cert
    }
}

/// Refuses what cannot or must not be encrypted to, most serious reason first.
pub(crate) fn check(cert: Cert) -> Result<PublicKey, HandoffError> {
    let fingerprint = cert.fingerprint().to_spaced_hex();
    let version = cert.primary_key().key().version();
    // Version 4 (RFC 4880, what GnuPG makes) and version 6 (RFC 9580); not LibrePGP's 5.
    if version != 4 && version != 6 {
        return Err(HandoffError::UnsupportedVersion {
            fingerprint,
            version,
        });
    }
    let primary_key = cert.primary_key().key().role_as_unspecified();
    if let Some(algorithm) = unsupported(primary_key) {
        return Err(HandoffError::UnsupportedAlgorithm {
            fingerprint,
            algorithm,
        });
    }
    if let Some(bits) = weak_rsa(primary_key) {
        return Err(HandoffError::WeakRsa { fingerprint, bits });
    }
    let valid = cert.with_policy(&POLICY, None).map_err(|e| {
        if only_sha1_self_signatures(&cert) {
            HandoffError::Sha1Signatures {
                fingerprint: fingerprint.clone(),
            }
        } else {
            HandoffError::Unacceptable {
                fingerprint: fingerprint.clone(),
                reason: e.to_string(),
            }
        }
    })?;
    if let RevocationStatus::Revoked(_) = valid.revocation_status() {
        return Err(HandoffError::Revoked { fingerprint });
    }
    let primary = valid.primary_key();
    if primary.alive().is_err() {
        return Err(match primary.key_expiration_time() {
            Some(expired) => HandoffError::Expired {
                fingerprint,
                expired,
            },
            None => HandoffError::Unacceptable {
                fingerprint,
                reason: "it was made in the future; check this computer's clock".to_owned(),
            },
        });
    }
    let Some(encryption_key) = encryption_keys(&valid).into_iter().next() else {
        // An encryption key this backend cannot use (ElGamal) is named rather than said to be
        // missing. The policy would hide it, so its binding is read without the policy.
        let unusable = cert
            .keys()
            .subkeys()
            .filter(|ka| {
                ka.self_signatures()
                    .next()
                    .and_then(|sig| sig.key_flags())
                    .is_some_and(|flags| {
                        flags.for_transport_encryption() || flags.for_storage_encryption()
                    })
            })
            .find_map(|ka| unsupported(ka.key().role_as_unspecified()));
        return Err(match unusable {
            Some(algorithm) => HandoffError::UnsupportedAlgorithm {
                fingerprint,
                algorithm,
            },
            None => HandoffError::NoEncryptionSubkey { fingerprint },
        });
    };
    if let Some(bits) = weak_rsa(encryption_key) {
        return Err(HandoffError::WeakRsa { fingerprint, bits });
    }
    let encryption_expires = valid
        .keys()
        .key_handle(encryption_key.key_handle())
        .next()
        .and_then(|ka| ka.key_expiration_time());
    let ends = [primary.key_expiration_time(), encryption_expires]
        .into_iter()
        .flatten()
        .min();
    let info = KeyInfo {
        fingerprint,
        user_ids: valid
            .userids()
            .filter(|uid| !matches!(uid.revocation_status(), RevocationStatus::Revoked(_)))
            .map(|uid| String::from_utf8_lossy(uid.userid().value()).into_owned())
            .collect(),
        algorithm: describe(primary.key().role_as_unspecified()),
        encryption_algorithm: describe(encryption_key),
        created: primary.key().creation_time(),
        expires: primary.key_expiration_time(),
        expiry_warning: ends.and_then(expiry_warning),
    };
    Ok(PublicKey { cert, info })
}

/// The keys a message to `valid` is encrypted to: every alive, unrevoked key flagged for
/// encryption (in transit or at rest), as Sequoia recommends, whose algorithm and curve the
/// crypto backend supports.
pub(crate) fn encryption_keys<'a>(
    valid: &ValidCert<'a>,
) -> Vec<&'a Key<PublicParts, UnspecifiedRole>> {
    valid
        .keys()
        .supported()
        .alive()
        .revoked(false)
        .key_flags(
            KeyFlags::empty()
                .set_transport_encryption()
                .set_storage_encryption(),
        )
        .map(|ka| ka.key())
        .filter(|key| unsupported(key).is_none())
        .collect()
}

/// The algorithm (`ECDSA brainpoolP256r1`) of a key the crypto backend cannot use.
fn unsupported(key: &Key<PublicParts, UnspecifiedRole>) -> Option<String> {
    let curve_supported = match key.mpis() {
        mpi::PublicKey::EdDSA { curve, .. }
        | mpi::PublicKey::ECDSA { curve, .. }
        | mpi::PublicKey::ECDH { curve, .. } => curve.is_supported(),
        _ => true,
    };
    (!key.pk_algo().is_supported() || !curve_supported).then(|| describe(key))
}

/// The size of an RSA key too short to be safe.
fn weak_rsa(key: &Key<PublicParts, UnspecifiedRole>) -> Option<usize> {
    match key.mpis() {
        mpis @ mpi::PublicKey::RSA { .. } => mpis.bits().filter(|bits| *bits < 2048),
        _ => None,
    }
}

/// Whether every self-signature on the key's user IDs uses SHA-1 (so the policy rejects
/// them all, and the key looks unbound).
fn only_sha1_self_signatures(cert: &Cert) -> bool {
    let mut hashes = cert
        .userids()
        .flat_map(|uid| uid.self_signatures().map(|sig| sig.hash_algo()))
        .peekable();
    hashes.peek().is_some() && hashes.all(|hash| hash == HashAlgorithm::SHA1)
}

/// "This key stops working on 2026-12-22, in 20 days…", when that is within 30 days.
fn expiry_warning(ends: SystemTime) -> Option<String> {
    let left = ends.duration_since(SystemTime::now()).ok()?;
    let days = left.as_secs() / 86_400;
    (days < EXPIRY_WARNING_DAYS).then(|| {
        format!(
            "This key stops working on {} ({}). Files sent before then stay readable; ask the \
             support contact to extend it (`gpg --quick-set-expire FINGERPRINT 1y`).",
            date(ends),
            match days {
                0 => "today".to_owned(),
                1 => "tomorrow".to_owned(),
                n => format!("in {n} days"),
            }
        )
    })
}

/// `RSA 3072`, `EdDSA Ed25519`, `ECDH NIST P-256`: the names people compare with gpg's output.
fn describe(key: &Key<PublicParts, UnspecifiedRole>) -> String {
    let algorithm = key.pk_algo();
    match key.mpis() {
        mpi::PublicKey::EdDSA { curve, .. }
        | mpi::PublicKey::ECDSA { curve, .. }
        | mpi::PublicKey::ECDH { curve, .. } => format!("{algorithm} {curve}"),
        mpis @ (mpi::PublicKey::RSA { .. }
        | mpi::PublicKey::DSA { .. }
        | mpi::PublicKey::ElGamal { .. }) => match mpis.bits() {
            Some(bits) => format!("{algorithm} {bits}"),
            None => algorithm.to_string(),
        },
        _ => algorithm.to_string(),
    }
}

fn summary(cert: &Cert) -> KeySummary {
    KeySummary {
        fingerprint: cert.fingerprint().to_spaced_hex(),
        user_id: cert
            .userids()
            .next()
            .map(|uid| String::from_utf8_lossy(uid.userid().value()).into_owned()),
    }
}

/// A fingerprint as typed or pasted, in the form `Fingerprint::to_hex` gives.
fn normalize(fingerprint: &str) -> String {
    let hex: String = fingerprint
        .chars()
        .filter(|c| !c.is_whitespace())
        .collect::<String>()
        .to_ascii_uppercase();
    hex.strip_prefix("0X").unwrap_or(&hex).to_owned()
}

/// One line per key, for messages.
pub(crate) fn list(keys: &[KeySummary]) -> String {
    keys.iter()
        .map(|key| {
            let user_id = key.user_id.as_deref().unwrap_or("(no user ID)");
            format!("  {}  {user_id}", key.fingerprint)
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// `2025-03-01`: dates as people compare them.
pub(crate) fn date(time: SystemTime) -> String {
    let mut text = humantime::format_rfc3339_seconds(time).to_string();
    text.truncate("YYYY-MM-DD".len());
    text
}
