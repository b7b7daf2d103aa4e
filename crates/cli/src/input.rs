//! Where a connection string comes from: an argument, standard input or the environment.

use std::io::{IsTerminal, Read};

use zeroize::Zeroizing;

use crate::CliError;

/// The environment variable read when no string is given as an argument.
pub const ENV_VAR: &str = "HUBSETUP_CONNECTION_STRING";

/// The connection string from `argument` (`-` means stdin), else the environment variable,
/// else piped standard input. A terminal on stdin is never read silently: it would look hung.
pub fn connection_string(argument: Option<&str>) -> Result<Zeroizing<String>, CliError> {
    match argument {
        Some("-") => read_stdin(),
        Some(text) => Ok(Zeroizing::new(text.to_owned())),
        None => match std::env::var(ENV_VAR) {
            Ok(text) => Ok(Zeroizing::new(text)),
            Err(_) if !std::io::stdin().is_terminal() => read_stdin(),
            Err(_) => Err(CliError::BadInput(format!(
                "No connection string given. Pipe it on standard input, set {ENV_VAR}, or pass \
                 it as an argument (which leaves it in your shell history)."
            ))),
        },
    }
}

fn read_stdin() -> Result<Zeroizing<String>, CliError> {
    let mut text = Zeroizing::new(String::new());
    std::io::stdin().read_to_string(&mut text).map_err(|e| {
        CliError::Failure(format!(
            "Could not read the connection string from standard input: {e}."
        ))
    })?;
    Ok(text)
}
