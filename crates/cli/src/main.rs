//! `hubsetup`: check IoT Hub connection strings and make SAS tokens from the command line.
//!
//! Exit codes: 0 success, 2 bad input (the string or the arguments), 1 any other failure.

mod alert;
mod check;
mod cloud_args;
mod export;
mod find_key;
mod format;
mod handoffs;
mod health;
mod input;
mod keep;
mod key_info;
mod login;
mod open;
mod plan;
mod prompt;
mod provision;
mod proxy;
mod revoke;
mod runtime;
mod sandbox;
mod sas_token;
mod vault;
mod verify;
mod watch;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// IoT Hub Setup: create an Azure IoT hub and its devices, and check, test, keep and hand over
/// their connection strings.
///
/// Connection strings are secrets. Passing one as an argument leaves it in your shell history
/// and in the process list; prefer piping it on stdin or setting HUBSETUP_CONNECTION_STRING.
#[derive(Debug, Parser)]
#[command(name = "hubsetup", version, about, long_about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    Check(check::Args),
    SasToken(sas_token::Args),
    Vault(vault::Args),
    KeyInfo(key_info::Args),
    FindKey(find_key::Args),
    Export(export::Args),
    Handoffs(handoffs::Args),
    Revoke(revoke::Args),
    Open(open::Args),
    Sandbox(sandbox::Args),
    Verify(verify::Args),
    Watch(watch::Args),
    Health(health::Args),
    Plan(plan::Args),
    Alert(alert::Args),
    Login(login::Args),
    Proxy(proxy::Args),
    // Boxed: its many flags would make every other command's value as large.
    Provision(Box<provision::Args>),
}

/// What went wrong, sorted by exit code.
#[derive(Debug, thiserror::Error)]
pub enum CliError {
    /// The input is wrong; the user can fix it (exit 2).
    #[error("{0}")]
    BadInput(String),
    /// Something else failed (exit 1).
    #[error("{0}")]
    Failure(String),
}

impl CliError {
    fn exit_code(&self) -> ExitCode {
        match self {
            CliError::BadInput(_) => ExitCode::from(2),
            CliError::Failure(_) => ExitCode::from(1),
        }
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let outcome = match cli.command {
        Command::Check(args) => check::run(args),
        Command::SasToken(args) => sas_token::run(args),
        Command::Vault(args) => vault::run(args),
        Command::KeyInfo(args) => key_info::run(args),
        Command::FindKey(args) => find_key::run(args),
        Command::Export(args) => export::run(args),
        Command::Handoffs(args) => handoffs::run(args),
        Command::Revoke(args) => revoke::run(args),
        Command::Open(args) => open::run(args),
        Command::Sandbox(args) => sandbox::run(args),
        Command::Verify(args) => verify::run(args),
        Command::Watch(args) => watch::run(args),
        Command::Health(args) => health::run(args),
        Command::Plan(args) => plan::run(args),
        Command::Alert(args) => alert::run(args),
        Command::Login(args) => login::run(args),
        Command::Proxy(args) => proxy::run(args),
        Command::Provision(args) => provision::run(*args),
    };
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error}");
            error.exit_code()
        }
    }
}
