//! `hubsetup export`: a connection string encrypted to support contacts' OpenPGP keys.

use std::path::{Path, PathBuf};
use std::time::SystemTime;

use hubsetup_core::connection_string::{describe_all, ConnectionString};
use hubsetup_handoff::{write_encrypted, HandoffError, Note, PublicKey};
use hubsetup_keyfinder::Query;
use hubsetup_vault::{Identity, Vault};

use crate::cloud_args::CloudArgs;
use crate::find_key;
use crate::key_info::read_key_file;
use crate::vault::vault_error;
use crate::{input, CliError};

/// Encrypt a connection string to OpenPGP public keys, in a file `gpg --decrypt` opens.
///
/// The file is ASCII-armored and readable by GnuPG 2.2 and later. Check each key with
/// `hubsetup key-info` first.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// A recipient's public key: a file (armored or binary), or an e-mail address, fingerprint
    /// or keybase:NAME to look it up (see `hubsetup find-key`); repeat for several recipients.
    #[arg(long = "to", value_name = "KEY.asc|ADDRESS", required = true)]
    keys: Vec<String>,
    /// Look the --to addresses and fingerprints up in your GnuPG keyring, not online.
    #[arg(long)]
    gnupg: bool,
    /// When a key file holds several keys, the fingerprint of the one to use; repeatable.
    #[arg(long)]
    fingerprint: Vec<String>,
    /// The encrypted file to write (replaced if it exists; only you can read it).
    #[arg(long, value_name = "FILE.asc")]
    out: PathBuf,
    /// Take the string from the vault: the entry's label or name.
    #[arg(long, value_name = "NAME", conflicts_with = "connection_string")]
    from_vault: Option<String>,
    /// The connection string; if omitted (and no --from-vault), read from stdin or
    /// HUBSETUP_CONNECTION_STRING.
    #[arg(long, short = 'c')]
    connection_string: Option<String>,
    /// Put a short note above the string: hub, device or policy, date.
    #[arg(long)]
    note: bool,
    /// Add who sends it to the note, e.g. "Alice Admin <alice@example.com>" (implies --note).
    #[arg(long)]
    sender: Option<String>,
    #[command(flatten)]
    cloud: CloudArgs,
}

pub fn run(args: Args) -> Result<(), CliError> {
    let recipients = args
        .keys
        .iter()
        .map(|to| recipient(to, &args))
        .collect::<Result<Vec<_>, _>>()?;
    let looked_up = args.keys.iter().any(|to| !is_file(to));
    let cs = match &args.from_vault {
        Some(name) => {
            let vault = Vault::open().map_err(vault_error)?;
            vault.load(name).map_err(vault_error)?.1
        }
        None => {
            let text = input::connection_string(args.connection_string.as_deref())?;
            ConnectionString::parse(&text)
                .map_err(|errors| CliError::BadInput(describe_all(&errors)))?
        }
    };
    let note = (args.note || args.sender.is_some()).then(|| Note {
        sender: args.sender,
        date: SystemTime::now(),
    });
    write_encrypted(&args.out, &cs, note.as_ref(), &recipients).map_err(|e| match e {
        HandoffError::Encryption { .. } | HandoffError::Write { .. } => {
            CliError::Failure(e.to_string())
        }
        _ => CliError::BadInput(e.to_string()),
    })?;
    println!(
        "Encrypted the connection string for {} to:",
        Identity::of(&cs).name()
    );
    for key in &recipients {
        let info = key.info();
        let user_id = info.user_ids.first().map_or("(no user ID)", String::as_str);
        println!("  {}  {user_id}", info.fingerprint);
    }
    println!(
        "Wrote {}. Only the holders of these keys can open it (gpg --decrypt).",
        args.out.display()
    );
    if looked_up {
        println!("{}", find_key::CONFIRM);
    }
    Ok(())
}

/// `-` (a pasted key) or a file that is there.
fn is_file(to: &str) -> bool {
    to == "-" || Path::new(to).exists()
}

/// A `--to` key: a file, else looked up by address, fingerprint or Keybase name.
fn recipient(to: &str, args: &Args) -> Result<PublicKey, CliError> {
    match Query::parse(to) {
        Ok(query) if !is_file(to) => {
            let found = find_key::look_up(&query, args.gnupg, &args.cloud)?;
            find_key::show(&found);
            Ok(found.key)
        }
        _ => read_key_file(to, &args.fingerprint),
    }
}
