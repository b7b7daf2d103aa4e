//! `hubsetup export`: a connection string encrypted to support contacts' OpenPGP keys.

use std::path::{Path, PathBuf};
use std::time::SystemTime;

use hubsetup_core::connection_string::{describe_all, ConnectionString};
use hubsetup_handoff::{
    own_keys, write_encrypted, HandoffError, Note, PublicKey, Signer, SigningKey,
};
use hubsetup_keyfinder::Query;
use hubsetup_vault::{Identity, Vault};

use hubsetup_lifecycle::{NewHandoff, Recipient};

use crate::cloud_args::CloudArgs;
use crate::find_key;
use crate::key_info::read_key_file;
use crate::open::{handoff_error, unlocking};
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
    /// Sign the file, so the recipient's gpg says it comes from you: your secret key file
    /// (its passphrase is asked for), or a fingerprint or address of a secret key in your
    /// GnuPG (its agent asks).
    #[arg(long, value_name = "SECRET.asc|FINGERPRINT")]
    sign: Option<String>,
    /// Also encrypt to your own key (the --sign key), so you can open what you sent.
    #[arg(long, requires = "sign")]
    to_self: bool,
    #[command(flatten)]
    cloud: CloudArgs,
}

pub fn run(args: Args) -> Result<(), CliError> {
    let mut recipients = args
        .keys
        .iter()
        .map(|to| recipient(to, &args))
        .collect::<Result<Vec<_>, _>>()?;
    let signer = args.sign.as_deref().map(signer).transpose()?;
    if let (true, Some(signer)) = (args.to_self, &signer) {
        recipients.push(signer.public_key().map_err(handoff_error)?);
    }
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
    // A register that cannot be read refuses the hand-off before anything is written.
    let register = crate::handoffs::register()?;
    register
        .list()
        .map_err(|e| CliError::Failure(e.to_string()))?;
    let sender = args.sender.clone();
    let note = (args.note || args.sender.is_some()).then(|| Note {
        sender: args.sender,
        date: SystemTime::now(),
    });
    write_encrypted(&args.out, &cs, note.as_ref(), &recipients, signer.as_ref())
        .map_err(handoff_error)?;
    register
        .record(NewHandoff {
            string: &cs,
            slot: None,
            recipients: recipients.iter().map(Recipient::of).collect(),
            file: &args.out,
            note: sender,
        })
        .map_err(|e| CliError::Failure(e.to_string()))?;
    println!(
        "Encrypted the connection string for {} to:",
        Identity::of(&cs).name()
    );
    for key in &recipients {
        let info = key.info();
        let user_id = info.user_ids.first().map_or("(no user ID)", String::as_str);
        println!("  {}  {user_id}", info.fingerprint);
    }
    match &signer {
        Some(Signer::KeyFile(key)) => println!(
            "Signed by {} ({}).",
            key.user_id().unwrap_or("a key without a user ID"),
            key.fingerprint()
        ),
        Some(Signer::Gnupg { fingerprint }) => {
            println!("Signed by your GnuPG key {fingerprint}.")
        }
        None => {}
    }
    println!(
        "Wrote {}. Only the holders of these keys can open it (gpg --decrypt). Recorded in the \
         register of hand-offs (hubsetup handoffs).",
        args.out.display()
    );
    if looked_up {
        println!("{}", find_key::CONFIRM);
    }
    Ok(())
}

/// The --sign key: a secret key file, unlocked here, or a key in the user's GnuPG.
fn signer(sign: &str) -> Result<Signer, CliError> {
    if !Path::new(sign).exists() {
        return Ok(Signer::Gnupg {
            fingerprint: gnupg_signing_key(sign)?,
        });
    }
    let secret = std::fs::read(sign)
        .map_err(|e| CliError::BadInput(format!("Could not read {sign}: {e}.")))?;
    let key = unlocking(|passphrase| SigningKey::read(&secret, passphrase))?;
    Ok(Signer::KeyFile(Box::new(key.map_err(handoff_error)?)))
}

/// The fingerprint of the one secret key in the user's GnuPG that `wanted` (a fingerprint or
/// an address) names and that can sign.
fn gnupg_signing_key(wanted: &str) -> Result<String, CliError> {
    let query = Query::parse(wanted).ok();
    let keys = own_keys().map_err(handoff_error)?;
    let matching: Vec<_> = keys
        .iter()
        .filter(|key| match &query {
            Some(Query::Fingerprint(hex)) => key.fingerprint.replace(' ', "") == *hex,
            Some(Query::Address(address)) => key.user_id.as_deref().is_some_and(|uid| {
                let angled = format!("<{}>", address.address().to_lowercase());
                uid.to_lowercase().contains(&angled)
            }),
            _ => false,
        })
        .collect();
    match matching.as_slice() {
        [key] if key.can_sign => Ok(key.fingerprint.clone()),
        [key] => Err(handoff_error(HandoffError::NotYourSigningKey {
            fingerprint: key.fingerprint.clone(),
        })),
        [] => Err(CliError::BadInput(format!(
            "--sign {wanted}: no such file, and your GnuPG has no secret key for it. Give your \
             secret key's file, or a fingerprint or address from `gpg --list-secret-keys`."
        ))),
        several => Err(CliError::BadInput(format!(
            "--sign {wanted}: your GnuPG has {} secret keys for it; give the fingerprint of \
             the one to sign with:\n{}",
            several.len(),
            several
                .iter()
                .map(|key| format!("  {}", key.fingerprint))
                .collect::<Vec<_>>()
                .join("\n")
        ))),
    }
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
