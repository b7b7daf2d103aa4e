//! `hubsetup find-key`: a support contact's public key, looked up where people publish them.
//! `export --to ADDRESS` looks keys up the same way.

use hubsetup_keyfinder::{find_in_gnupg, Finder, Found, LookupError, Query};

use crate::cloud_args::CloudArgs;
use crate::key_info::print_key;
use crate::runtime::Load;
use crate::CliError;

/// Find a public key by e-mail address (Web Key Directory, then keys.openpgp.org), by
/// fingerprint (keys.openpgp.org), by Keybase name (keybase:NAME), or in your GnuPG keyring.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// sam@partner.example, a fingerprint, or keybase:NAME.
    query: String,
    /// Search your own GnuPG keyring (gpg --export) instead of the internet.
    #[arg(long)]
    gnupg: bool,
    /// Save the key found to this file (ASCII-armored), for `hubsetup export --to FILE`.
    #[arg(long, value_name = "FILE")]
    save: Option<std::path::PathBuf>,
    #[command(flatten)]
    cloud: CloudArgs,
}

/// What a key found online asks of the user before it is trusted.
pub const CONFIRM: &str = "Anyone can publish a key under any name: before sending anything to \
    it, read its fingerprint to the support contact by phone or in person and check it matches \
    theirs.";

pub fn run(args: Args) -> Result<(), CliError> {
    let query = Query::parse(&args.query).map_err(lookup_error)?;
    let found = look_up(&query, args.gnupg, &args.cloud)?;
    show(&found);
    print_key(&found.key);
    println!("{CONFIRM}");
    if let Some(path) = &args.save {
        std::fs::write(path, found.key.armored()).map_err(|e| {
            CliError::Failure(format!(
                "Could not write {}: {e}. Choose a folder you can write to.",
                path.display()
            ))
        })?;
        println!("Saved the public key to {}.", path.display());
    }
    Ok(())
}

/// The key for `query`: in the GnuPG keyring, or online through the cloud's network.
pub fn look_up(query: &Query, gnupg: bool, cloud: &CloudArgs) -> Result<Found, CliError> {
    match gnupg {
        true => find_in_gnupg(query),
        false => {
            let finder = Finder::new(&cloud.network()?).map_err(lookup_error)?;
            crate::runtime::start(Load::Light)?.block_on(finder.find(query))
        }
    }
    .map_err(lookup_error)
}

/// Where a key was found.
pub fn show(found: &Found) {
    println!("Found {}: {}", found.source, found.location);
}

fn lookup_error(error: LookupError) -> CliError {
    match error {
        LookupError::InvalidQuery(_)
        | LookupError::NotFound { .. }
        | LookupError::AddressNotInKey { .. }
        | LookupError::Unusable { .. } => CliError::BadInput(error.to_string()),
        other => CliError::Failure(other.to_string()),
    }
}
