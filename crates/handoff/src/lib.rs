//! The encrypted hand-off: a connection string OpenPGP-encrypted to the support contact's public
//! key, as an ASCII-armored `.asc` file that plain `gpg --decrypt` opens.
//!
//! - [`key`]: read a public key from a file or pasted text, show what a person needs to confirm
//!   it out of band (fingerprint, user IDs, algorithm, dates), and refuse keys that cannot or
//!   must not be used, each with its own reason.
//! - [`open`]: the support side's way back: a received file decrypted with their own secret
//!   key (a key file, or their GnuPG), and who signed it.
//! - [`sign`]: the sender's signature, with a secret key file or through their GnuPG
//!   ([`gnupg`], which also opens files with the keys its agent holds).
//! - [`message`]: the text the recipient reads (the string, optionally after a short note) and
//!   its encryption to one or more keys, written atomically to a file only the user can read.
//!
//! Messages are made for the oldest tool a recipient may use: for version 4 keys GnuPG 2.2
//! (SEIPDv1, integrity-protected CFB, no AEAD, no compression, whatever features the keys
//! advertise); version 6 keys (RFC 9580) get what they announce. Crypto is Sequoia's OpenSSL
//! backend with OpenSSL 3 built into the program, so no user installs a C library and every
//! common key kind works, Brainpool and Curve448 included (see the README's "Crypto backend").

pub mod gnupg;
pub mod key;
pub mod message;
pub mod open;
pub mod sign;

use std::io;
use std::path::PathBuf;
use std::time::SystemTime;

pub use gnupg::{own_keys, OwnKey};
pub use key::{KeyInfo, KeySummary, PublicKey};
pub use message::{encrypt, plaintext, write_encrypted, Note};
pub use open::{open_with_gnupg, open_with_key, Opened, Signed};
pub use sign::{Signer, SigningKey};

/// Senders are a name and an address, not a letter.
pub const SENDER_MAX_CHARS: usize = 200;

/// Every way reading a key or encrypting to it can fail. Messages say what happened and what
/// to do; none contains the connection string.
#[derive(Debug, thiserror::Error)]
pub enum HandoffError {
    #[error(
        "This is not an OpenPGP public key. Check that you picked the right file or copied the \
         whole key: an exported public key starts with '-----BEGIN PGP PUBLIC KEY BLOCK-----' \
         (the support contact makes one with `gpg --armor --export their@email`)."
    )]
    NotAKey,
    #[error(
        "This is a private key ({fingerprint}), not a public key. Do not share it or send it \
         anywhere: whoever has it can read everything encrypted to it. Ask the support contact \
         for their public key instead (`gpg --armor --export their@email`); if this private key \
         came from them, tell them to revoke it and make a new one."
    )]
    SecretKey { fingerprint: String },
    #[error(
        "This holds {} keys; choose the one to use by its fingerprint:\n{}",
        .keys.len(),
        key::list(.keys)
    )]
    SeveralKeys { keys: Vec<KeySummary> },
    #[error(
        "No key with the fingerprint {wanted} is here. It holds:\n{}",
        key::list(.available)
    )]
    NoSuchKey {
        wanted: String,
        available: Vec<KeySummary>,
    },
    #[error(
        "The key {fingerprint} has been revoked by its owner and must not be used. Ask the \
         support contact for their current public key."
    )]
    Revoked { fingerprint: String },
    #[error(
        "The key {fingerprint} expired on {}. Ask the support contact to extend it (`gpg \
         --quick-set-expire FINGERPRINT 1y`) and send the updated public key.",
        key::date(*.expired)
    )]
    Expired {
        fingerprint: String,
        expired: SystemTime,
    },
    #[error(
        "The key {fingerprint} cannot encrypt: it has no valid encryption subkey. Ask the \
         support contact for a key that has one (they can add it with `gpg --quick-add-key \
         FINGERPRINT cv25519 encr`)."
    )]
    NoEncryptionSubkey { fingerprint: String },
    #[error(
        "The key {fingerprint} is an OpenPGP version {version} key (LibrePGP), which only \
         GnuPG 2.4 and later use. Ask the support contact for a version 4 key (the kind `gpg \
         --quick-gen-key` makes)."
    )]
    UnsupportedVersion { fingerprint: String, version: u8 },
    #[error(
        "The key {fingerprint} uses {algorithm}, which IoT Hub Setup cannot encrypt to. Ask the \
         support contact for a key made with Curve25519 (`gpg --quick-gen-key 'Name <mail>' \
         future-default`) or RSA 3072."
    )]
    UnsupportedAlgorithm {
        fingerprint: String,
        algorithm: String,
    },
    #[error(
        "The key {fingerprint} is RSA {bits}, too short to be safe today (at least 2048 bits). \
         Ask the support contact for a new key (`gpg --quick-gen-key 'Name <mail>' \
         future-default`, or rsa3072)."
    )]
    WeakRsa { fingerprint: String, bits: usize },
    #[error(
        "The key {fingerprint} is bound to its name only by SHA-1 signatures, which can be \
         forged today. Ask the support contact to renew them (`gpg --quick-set-expire \
         FINGERPRINT 2y` makes new ones) and send the key again."
    )]
    Sha1Signatures { fingerprint: String },
    #[error(
        "The key {fingerprint} cannot be used safely: {reason}. Ask the support contact for a \
         current public key."
    )]
    Unacceptable { fingerprint: String, reason: String },
    #[error(
        "The sender must be one line of at most {SENDER_MAX_CHARS} characters, such as 'Alice \
         Admin <alice@example.com>'."
    )]
    InvalidSender,
    #[error(
        "This is not a secret key. Opening a hand-off needs your own secret key: export it \
         with `gpg --armor --export-secret-keys you@example.com`, or let your own GnuPG open \
         the file."
    )]
    NotASecretKey,
    #[error(
        "This is not an OpenPGP encrypted file. Check that you chose the .asc file you received \
         (it starts with '-----BEGIN PGP MESSAGE-----')."
    )]
    NotAMessage,
    #[error(
        "The secret key {fingerprint} is protected by a passphrase. Give the passphrase to \
         unlock it."
    )]
    PassphraseNeeded { fingerprint: String },
    #[error(
        "The passphrase for the secret key {fingerprint} is wrong. Nothing was opened; try \
         again."
    )]
    WrongPassphrase { fingerprint: String },
    #[error(
        "This file was not encrypted to the key {fingerprint}. Ask the sender which key they \
         used, or open it with the key it was made for."
    )]
    NotForThisKey { fingerprint: String },
    #[error(
        "None of the secret keys in your GnuPG keyring can open this file. Ask the sender which \
         key they used, or open it with that key's file (--key)."
    )]
    NotForYourKeys,
    #[error(
        "GnuPG (gpg) is not installed. Open the file with your secret key's file instead (--key)."
    )]
    NoGnupg,
    #[error("GnuPG could not open the file: {detail}.")]
    GnupgFailed { detail: String },
    #[error(
        "The file opened, but holds no IoT Hub connection string. Ask the sender to send it \
         again."
    )]
    NoConnectionString,
    #[error(
        "The secret key {fingerprint} has no key that can sign now (it may have expired or \
         been revoked). Sign with another key, or send the file unsigned."
    )]
    CannotSign { fingerprint: String },
    #[error(
        "Your GnuPG has no usable secret key {fingerprint} to sign with. Check `gpg \
         --list-secret-keys`, or sign with your secret key's file."
    )]
    NotYourSigningKey { fingerprint: String },
    #[error(
        "Signing was cancelled: GnuPG did not get the key's passphrase. Nothing was written; \
         try again and enter the passphrase when GnuPG asks."
    )]
    SigningCancelled,
    #[error(
        "Your key {fingerprint} can sign but not encrypt, so the file cannot be made readable \
         to you as well. Add an encryption subkey (`gpg --quick-add-key FINGERPRINT cv25519 \
         encr`), or send it without a copy for yourself."
    )]
    OwnKeyCannotEncrypt { fingerprint: String },
    #[error("Choose at least one public key to encrypt the connection string to.")]
    NoRecipients,
    #[error("Encrypting failed: {detail}. This is a bug in IoT Hub Setup; please report it.")]
    Encryption { detail: String },
    #[error(
        "Could not write {}: {source}. Choose a folder you can write to.",
        .path.display()
    )]
    Write { path: PathBuf, source: io::Error },
}

#[cfg(test)]
mod tests;
