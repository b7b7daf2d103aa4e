//! `hubsetup sas-token`: a SAS token from a connection string, like `az iot hub
//! generate-sas-token`.

use std::time::{SystemTime, UNIX_EPOCH};

use hubsetup_core::connection_string::{describe_all, ConnectionString};

use crate::{input, CliError};

/// Print a shared access signature token made from a connection string's key.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The connection string; if omitted, read from stdin or HUBSETUP_CONNECTION_STRING.
    #[arg(long, short = 'c')]
    connection_string: Option<String>,
    /// How long the token stays valid, in seconds.
    #[arg(long, default_value_t = 3600, conflicts_with = "expiry")]
    duration: u64,
    /// Exact expiry instead of a duration, in seconds since 1970-01-01 UTC.
    #[arg(long)]
    expiry: Option<u64>,
    /// The resource the token grants access to (`host[/devices/ID[/modules/ID]]`); by default
    /// the string's device, or the whole hub for a policy string.
    #[arg(long)]
    resource: Option<String>,
}

pub fn run(args: Args) -> Result<(), CliError> {
    let text = input::connection_string(args.connection_string.as_deref())?;
    let cs = ConnectionString::parse(&text)
        .map_err(|errors| CliError::BadInput(describe_all(&errors)))?;
    let expiry = match args.expiry {
        Some(expiry) => expiry,
        None => now()?.checked_add(args.duration).ok_or_else(|| {
            CliError::BadInput(format!(
                "--duration {} is too far in the future.",
                args.duration
            ))
        })?,
    };
    let token = cs
        .sas_token(args.resource.as_deref(), expiry)
        .map_err(|e| CliError::BadInput(e.to_string()))?;
    println!("{}", token.expose());
    Ok(())
}

fn now() -> Result<u64, CliError> {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .map_err(|_| {
            CliError::Failure(
                "This computer's clock is set before 1970; set the correct time.".into(),
            )
        })
}
