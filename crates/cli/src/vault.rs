//! `hubsetup vault`: connection strings in the operating system's keychain.

use std::time::SystemTime;

use hubsetup_core::connection_string::{describe_all, ConnectionString};
use hubsetup_vault::{Entry, Vault, VaultError, KEYCHAIN_NAME};
use serde_json::json;
use zeroize::Zeroizing;

use crate::format::{local_time, timestamp};
use crate::{input, CliError};

/// Keep connection strings in the OS keychain: list, save, show, rename, delete.
///
/// The keychain is the Secret Service on Linux, the Keychain on macOS and Credential Manager on
/// Windows; there is no fallback to a file. An entry is called by its label or by its name, which is the string's host and device (or
/// policy), e.g. my-hub.azure-devices.net/devices/sensor-1.
#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(subcommand)]
    command: VaultCommand,
}

#[derive(Debug, clap::Subcommand)]
enum VaultCommand {
    /// List the stored strings (no secret is shown or unlocked).
    List {
        /// Print one JSON array instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Store a connection string.
    Save {
        /// The connection string; `-` or nothing reads stdin or HUBSETUP_CONNECTION_STRING.
        connection_string: Option<String>,
        /// A short name for it (default: its full name).
        #[arg(long)]
        label: Option<String>,
        /// Replace a string already stored for the same device or policy.
        #[arg(long)]
        replace: bool,
    },
    /// Show a stored string, its key masked.
    Show {
        /// The entry's label or name.
        name: String,
        /// Show the key in clear text.
        #[arg(long)]
        reveal: bool,
    },
    /// Give a stored string a new label.
    Rename {
        /// The entry's label or name.
        name: String,
        new_label: String,
    },
    /// Remove a stored string from the keychain.
    Delete {
        /// The entry's label or name.
        name: String,
    },
}

pub fn run(args: Args) -> Result<(), CliError> {
    let vault = Vault::open().map_err(vault_error)?;
    match args.command {
        VaultCommand::List { json } => {
            let listing = vault.list().map_err(vault_error)?;
            for repair in &listing.repairs {
                eprintln!("note: {repair}");
            }
            if json {
                let entries: Vec<_> = listing.entries.iter().map(entry_json).collect();
                println!("{}", serde_json::Value::Array(entries));
            } else {
                print!("{}", table(&listing.entries));
            }
        }
        VaultCommand::Save {
            connection_string,
            label,
            replace,
        } => {
            let text = input::connection_string(connection_string.as_deref())?;
            let cs = ConnectionString::parse(&text)
                .map_err(|errors| CliError::BadInput(describe_all(&errors)))?;
            let entry = vault
                .save(&cs, label.as_deref(), replace)
                .map_err(vault_error)?;
            println!("Saved {} in the {KEYCHAIN_NAME}.", called(&entry));
        }
        VaultCommand::Show { name, reveal } => {
            let (entry, cs) = vault.load(&name).map_err(vault_error)?;
            let shown = match reveal {
                true => cs.expose(),
                false => Zeroizing::new(cs.masked()),
            };
            println!("Label:     {}", entry.label);
            println!("Name:      {}", entry.name());
            println!("Saved:     {}", time_or(entry.created, "unknown"));
            println!("Verified:  {}", time_or(entry.last_verified, "never"));
            println!("String:    {}", shown.as_str());
        }
        VaultCommand::Rename { name, new_label } => {
            let entry = vault.rename(&name, &new_label).map_err(vault_error)?;
            println!("Renamed '{name}' to '{}'.", entry.label);
        }
        VaultCommand::Delete { name } => {
            let entry = vault.delete(&name).map_err(vault_error)?;
            println!("Deleted {} from the {KEYCHAIN_NAME}.", called(&entry));
        }
    }
    Ok(())
}

/// Mistakes a user can correct are bad input; a keychain or file that fails is not.
pub fn vault_error(error: VaultError) -> CliError {
    match error {
        VaultError::NotFound { .. }
        | VaultError::AlreadyStored { .. }
        | VaultError::LabelTaken { .. }
        | VaultError::InvalidLabel
        | VaultError::LabelLooksSecret => CliError::BadInput(error.to_string()),
        _ => CliError::Failure(error.to_string()),
    }
}

/// `'label' (name)`, or just `'name'` while the label is the name.
fn called(entry: &Entry) -> String {
    let name = entry.name();
    match entry.label == name {
        true => format!("'{name}'"),
        false => format!("'{}' ({name})", entry.label),
    }
}

fn time_or(time: Option<SystemTime>, missing: &str) -> String {
    time.map_or_else(|| missing.to_owned(), local_time)
}

fn table(entries: &[Entry]) -> String {
    if entries.is_empty() {
        return "The vault is empty. Store a string with `hubsetup vault save`.\n".to_owned();
    }
    let width = entries
        .iter()
        .map(|e| e.label.chars().count())
        .max()
        .unwrap_or(0)
        .max("LABEL".len());
    let mut out = format!(
        "{:width$}  {:24}  {:24}  NAME\n",
        "LABEL", "SAVED", "VERIFIED"
    );
    for entry in entries {
        out.push_str(&format!(
            "{:width$}  {:24}  {:24}  {}\n",
            entry.label,
            time_or(entry.created, "unknown"),
            time_or(entry.last_verified, "never"),
            entry.name()
        ));
    }
    out
}

fn entry_json(entry: &Entry) -> serde_json::Value {
    json!({
        "label": entry.label,
        "name": entry.name(),
        "host": entry.identity.host,
        "device_id": entry.identity.device_id,
        "module_id": entry.identity.module_id,
        "policy_name": entry.identity.policy_name,
        "created": entry.created.map(timestamp),
        "last_verified": entry.last_verified.map(timestamp),
    })
}
