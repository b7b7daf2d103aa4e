//! `hubsetup key-info`: what to compare with the support contact before trusting their key.

use std::io::Read;

use hubsetup_handoff::{HandoffError, PublicKey};

use crate::format::local_time;
use crate::CliError;

/// Show an OpenPGP public key's fingerprint, user IDs, algorithm and dates.
///
/// Or why it cannot be used. Compare the fingerprint with the support contact by phone or in
/// person before encrypting anything to the key.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The key file (armored or binary); `-` reads a pasted key from stdin.
    file: String,
    /// When the file holds several keys, the fingerprint of the one to show.
    #[arg(long)]
    fingerprint: Option<String>,
}

pub fn run(args: Args) -> Result<(), CliError> {
    let key = read_key_file(&args.file, args.fingerprint.as_slice())?;
    print_key(&key);
    println!(
        "Before sending anything to this key, compare its fingerprint with the support contact \
         by phone or in person."
    );
    Ok(())
}

/// What a person compares: fingerprint, user IDs, algorithm and dates.
pub fn print_key(key: &PublicKey) {
    let info = key.info();
    println!("Fingerprint:  {}", info.fingerprint);
    for user_id in &info.user_ids {
        println!("User ID:      {user_id}");
    }
    println!(
        "Algorithm:    {} (encrypts with {})",
        info.algorithm, info.encryption_algorithm
    );
    println!("Created:      {}", local_time(info.created));
    println!(
        "Expires:      {}",
        info.expires.map_or_else(|| "never".to_owned(), local_time)
    );
    if let Some(warning) = &info.expiry_warning {
        println!("Warning:      {warning}");
    }
}

/// Reads the key in `file` (`-`: stdin). A file with several keys needs one of them among
/// `fingerprints`.
pub fn read_key_file(file: &str, fingerprints: &[String]) -> Result<PublicKey, CliError> {
    let bytes = read_bytes(file)?;
    let several = match PublicKey::read(&bytes, None) {
        Err(HandoffError::SeveralKeys { keys }) => keys,
        other => return other.map_err(|e| key_error(file, e)),
    };
    for fingerprint in fingerprints {
        match PublicKey::read(&bytes, Some(fingerprint)) {
            Err(HandoffError::NoSuchKey { .. }) => continue,
            other => return other.map_err(|e| key_error(file, e)),
        }
    }
    Err(CliError::BadInput(format!(
        "{}: {}\nPass the one to use with --fingerprint.",
        file,
        HandoffError::SeveralKeys { keys: several }
    )))
}

fn read_bytes(file: &str) -> Result<Vec<u8>, CliError> {
    let bytes = match file {
        "-" => {
            let mut bytes = Vec::new();
            std::io::stdin().read_to_end(&mut bytes).map(|_| bytes)
        }
        path => std::fs::read(path),
    };
    bytes.map_err(|e| CliError::BadInput(format!("Could not read the key file {file}: {e}.")))
}

fn key_error(file: &str, error: HandoffError) -> CliError {
    CliError::BadInput(format!("{file}: {error}"))
}
