//! `hubsetup open`: a received hand-off opened with your own secret key, on the support side.
//! The string goes to the screen masked, or into the vault; never to a file.

use std::path::PathBuf;

use hubsetup_handoff::{open_with_gnupg, open_with_key, HandoffError, Opened, Signed};
use hubsetup_vault::{Vault, KEYCHAIN_NAME};

use crate::vault::vault_error;
use crate::{prompt, CliError};

/// Open a received `.asc` hand-off with your secret key: a key file, or your GnuPG (default).
///
/// Shows who signed it and the string, masked; `--save-to-vault` keeps it in the credential
/// store, so it never touches a file.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The file you received (.asc).
    file: PathBuf,
    /// Your secret key file (armored or binary); without it your GnuPG opens the file (its
    /// agent asks for the passphrase).
    #[arg(long, value_name = "SECRET.asc")]
    key: Option<PathBuf>,
    /// The sender's public key, to check their signature with (with --key; GnuPG uses its
    /// keyring); repeatable.
    #[arg(long, value_name = "KEY.asc")]
    signer: Vec<PathBuf>,
    /// Keep the string in the vault.
    #[arg(long)]
    save_to_vault: bool,
    /// The label to keep it under (with --save-to-vault).
    #[arg(long, requires = "save_to_vault")]
    label: Option<String>,
    /// Print the whole string; it is masked otherwise.
    #[arg(long)]
    reveal: bool,
}

pub fn run(args: Args) -> Result<(), CliError> {
    let read = |path: &PathBuf| {
        std::fs::read(path)
            .map_err(|e| CliError::BadInput(format!("Could not read {}: {e}.", path.display())))
    };
    let message = read(&args.file)?;
    let opened = match &args.key {
        None => open_with_gnupg(&message),
        Some(key) => {
            let secret = read(key)?;
            let mut signers = Vec::new();
            for signer in &args.signer {
                signers.extend(read(signer)?);
            }
            unlocking(|passphrase| open_with_key(&message, &secret, passphrase, &signers))?
        }
    }
    .map_err(handoff_error)?;
    show(&args, &opened);
    if args.save_to_vault && opened.signature == Signed::Bad {
        return Err(CliError::BadInput(
            "Not saved in the vault: the file's signature does not match.".into(),
        ));
    }
    if args.save_to_vault {
        let vault = Vault::open().map_err(vault_error)?;
        let entry = vault
            .save(&opened.connection_string, args.label.as_deref(), false)
            .map_err(vault_error)?;
        println!("Saved in the {KEYCHAIN_NAME} as {}.", entry.name());
    }
    Ok(())
}

/// What went wrong on this machine (writing, GnuPG) fails; anything else is bad input.
pub(crate) fn handoff_error(e: HandoffError) -> CliError {
    match e {
        HandoffError::Encryption { .. }
        | HandoffError::Write { .. }
        | HandoffError::NoGnupg
        | HandoffError::GnupgFailed { .. } => CliError::Failure(e.to_string()),
        _ => CliError::BadInput(e.to_string()),
    }
}

/// Runs `attempt` without a passphrase and, when the secret key needs one, asks for it on the
/// terminal (or reads it from stdin) and runs it again.
pub(crate) fn unlocking<T>(
    attempt: impl Fn(Option<&str>) -> Result<T, HandoffError>,
) -> Result<Result<T, HandoffError>, CliError> {
    Ok(match attempt(None) {
        Err(HandoffError::PassphraseNeeded { fingerprint }) => {
            let passphrase =
                prompt::password(&format!("Passphrase for the secret key {fingerprint}:"))?;
            attempt(Some(&passphrase))
        }
        other => other,
    })
}

fn show(args: &Args, opened: &Opened) {
    println!("Opened {}.", args.file.display());
    match &opened.signature {
        Signed::ByUnknownKey { .. } if args.key.is_some() => println!(
            "{} Open it again with --signer SENDER.asc.",
            opened.signature
        ),
        signature => println!("{signature}"),
    }
    for line in &opened.note {
        println!("  {line}");
    }
    match args.reveal {
        true => println!("{}", opened.connection_string.expose().as_str()),
        false => println!("{}", opened.connection_string.masked()),
    }
}
