//! Azure Storage's data plane, played by Azurite, Microsoft's own Storage emulator: each
//! storage account the sandbox's ARM creates gets an Azurite process of its own (Azurite knows
//! its accounts only from its start), and `{account}.blob.core.{suffix}` is relayed to it
//! after TLS, so clients sign and Azurite checks exactly what Azure would.
//!
//! Without Azurite the accounts still exist in ARM, and their blob hosts close connections;
//! [`crate::Sandbox::has_storage`] tells the app and the CLI.

mod azurite;
pub(crate) mod blob;

use std::path::PathBuf;

use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;

use crate::state::StorageAccount;
use azurite::Azurite;

/// What to do when storage accounts hold no data, in words for people.
pub const WITHOUT_AZURITE: &str = "Install Microsoft's Storage emulator with `npm install -g azurite@3.35.0` (it needs Node.js), or give --azurite PATH (or HUBSETUP_AZURITE) to its azurite-blob program.";

/// Azurite's `azurite-blob` program: `given`, else `HUBSETUP_AZURITE`, else on PATH.
pub fn find_azurite(given: Option<PathBuf>) -> Option<PathBuf> {
    given
        .or_else(|| {
            std::env::var_os("HUBSETUP_AZURITE")
                .filter(|path| !path.is_empty())
                .map(PathBuf::from)
        })
        .or_else(|| {
            std::env::split_paths(&std::env::var_os("PATH")?)
                .map(|dir| dir.join("azurite-blob"))
                .find(|path| path.is_file())
        })
}

/// The sandbox's storage data plane.
#[derive(Debug)]
pub(crate) struct Storage {
    azurite: Option<Azurite>,
    suffix: String,
}

impl Storage {
    pub(crate) fn new(
        program: Option<PathBuf>,
        state_dir: Option<&std::path::Path>,
        suffix: &str,
    ) -> Storage {
        Storage {
            azurite: program.map(|p| Azurite::new(p, state_dir)),
            suffix: suffix.to_owned(),
        }
    }

    pub(crate) fn available(&self) -> bool {
        self.azurite.is_some()
    }

    /// The account of a blob host (`{account}.blob.core.{suffix}`).
    pub(crate) fn account_of<'h>(&self, host: &'h str) -> Option<&'h str> {
        let account = host
            .strip_suffix(self.suffix.as_str())?
            .strip_suffix(".blob.core.")?;
        (!account.is_empty() && !account.contains('.')).then_some(account)
    }

    pub(crate) fn blob_host(&self, account: &str) -> String {
        format!("{account}.blob.core.{}", self.suffix)
    }

    /// A connection to the account's Azurite, once the containers made through ARM exist there.
    pub(crate) async fn connect(&self, account: &StorageAccount) -> Result<TcpStream, String> {
        let azurite = self
            .azurite
            .as_ref()
            .ok_or("this sandbox runs without Azurite")?;
        let port = azurite
            .ready(account, &self.blob_host(&account.name))
            .await?;
        TcpStream::connect(("127.0.0.1", port))
            .await
            .map_err(|e| format!("Azurite for '{}' does not answer: {e}", account.name))
    }

    /// Serves a client of the account's blob host: its decrypted bytes go to Azurite and back.
    pub(crate) async fn relay<S>(&self, mut client: S, account: StorageAccount)
    where
        S: AsyncRead + AsyncWrite + Unpin,
    {
        if let Ok(mut azurite) = self.connect(&account).await {
            let _ = tokio::io::copy_bidirectional(&mut client, &mut azurite).await;
        }
    }
}
