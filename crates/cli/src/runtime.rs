//! The async runtime a network command starts: one thread where the command waits on one
//! exchange at a time or a few at once (a string's live test, a key lookup, a proxy login),
//! two where it keeps many busy (`verify --file`, sign-in beside a provisioning run).
//!
//! One-shot commands are what support staff run most, so they start no threads they do not
//! need: each thread costs start-up time and memory of its own.

use tokio::runtime::{Builder, Runtime};

use crate::CliError;

/// How much a command runs at once.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Load {
    /// A few exchanges at once, mostly waiting: this thread runs them.
    Light,
    /// Many at once, or long work beside waiting: two worker threads.
    Heavy,
}

pub fn start(load: Load) -> Result<Runtime, CliError> {
    let mut builder = match load {
        Load::Light => Builder::new_current_thread(),
        Load::Heavy => {
            let mut builder = Builder::new_multi_thread();
            builder.worker_threads(2);
            builder
        }
    };
    builder
        .enable_all()
        .build()
        .map_err(|e| CliError::Failure(format!("Could not start the network runtime: {e}.")))
}
