//! Azurite processes, one per storage account, started when the account is first used and
//! stopped with the sandbox.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

use hyper::{Method, StatusCode};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::net::TcpStream;
use tokio::process::{Child, Command};
use tokio::sync::Mutex;

use super::blob;
use crate::state::StorageAccount;

/// How long Azurite (Node.js) may take to start listening.
const START_TIMEOUT: Duration = Duration::from_secs(60);
const LISTENING: &str = "successfully listens on http://127.0.0.1:";

struct Running {
    /// Killed when dropped.
    _child: Child,
    port: u16,
    keys: [String; 2],
    /// The containers ARM made that this process has been given.
    containers: BTreeSet<String>,
}

/// The Azurite program and the processes it runs for the sandbox's accounts.
pub(crate) struct Azurite {
    program: PathBuf,
    /// Each account's blobs live in a folder of its name here.
    root: PathBuf,
    /// A folder of this process's own, removed when the sandbox stops.
    temporary: bool,
    running: Mutex<BTreeMap<String, Running>>,
}

impl std::fmt::Debug for Azurite {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Azurite")
            .field("program", &self.program)
            .finish_non_exhaustive()
    }
}

impl Drop for Azurite {
    fn drop(&mut self) {
        self.running.get_mut().clear();
        if self.temporary {
            let _ = std::fs::remove_dir_all(&self.root);
        }
    }
}

impl Azurite {
    /// Azurite run from `program` (its `azurite-blob`), keeping data under the state directory,
    /// or in a temporary folder when the sandbox keeps none.
    pub(crate) fn new(program: PathBuf, state_dir: Option<&std::path::Path>) -> Azurite {
        let (root, temporary) = match state_dir {
            Some(dir) => (dir.join("storage"), false),
            None => (
                std::env::temp_dir().join(format!("hubsetup-azurite-{}", std::process::id())),
                true,
            ),
        };
        Azurite {
            program,
            root,
            temporary,
            running: Mutex::new(BTreeMap::new()),
        }
    }

    /// The port of the Azurite process that serves `account` (at `host`), started (or
    /// restarted, when a key was regenerated) as needed, once it holds every container ARM
    /// made. The containers are made while no other caller may use the process, so that no
    /// write reaches it before its container exists.
    pub(crate) async fn ready(&self, account: &StorageAccount, host: &str) -> Result<u16, String> {
        let folder = account.data_folder();
        let mut running = self.running.lock().await;
        if running
            .get(&folder)
            .is_some_and(|process| process.keys != account.keys)
        {
            running.remove(&folder);
        }
        if !running.contains_key(&folder) {
            let process = self.start(account, &folder).await?;
            running.insert(folder.clone(), process);
        }
        let process = running.get_mut(&folder).expect("inserted above");
        let new_containers: Vec<String> = account
            .containers
            .keys()
            .filter(|c| !process.containers.contains(*c))
            .cloned()
            .collect();
        for container in new_containers {
            let stream = TcpStream::connect(("127.0.0.1", process.port))
                .await
                .map_err(|e| format!("Azurite for '{}' does not answer: {e}", account.name))?;
            let path = format!("/{container}");
            let answer = blob::send(
                stream,
                host,
                blob::Auth::SharedKey(account),
                blob::Call {
                    method: Method::PUT,
                    path: &path,
                    query: &[("restype", "container")],
                    headers: &[],
                    body: Vec::new(),
                },
            )
            .await?;
            // 409: it exists already, as good as made.
            if answer.status.is_success() || answer.status == StatusCode::CONFLICT {
                process.containers.insert(container);
            } else {
                return Err(format!(
                    "Azurite did not make container '{container}' of '{}': {}",
                    account.name, answer.status
                ));
            }
        }
        Ok(process.port)
    }

    async fn start(&self, account: &StorageAccount, folder: &str) -> Result<Running, String> {
        let location = self.root.join(folder);
        std::fs::create_dir_all(&location)
            .map_err(|e| format!("cannot create {}: {e}", location.display()))?;
        let keys = &account.keys;
        let mut child = Command::new(&self.program)
            .args(["--blobHost", "127.0.0.1", "--blobPort", "0", "--location"])
            .arg(&location)
            // Azure's newest service versions are newer than the emulator's list; what a
            // version changes is not what these tests look at.
            .args(["--skipApiVersionCheck", "--disableTelemetry", "--silent"])
            .env(
                "AZURITE_ACCOUNTS",
                format!("{}:{}:{}", account.name, keys[0], keys[1]),
            )
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .map_err(|e| format!("cannot start {}: {e}", self.program.display()))?;
        let stdout = child.stdout.take().expect("stdout is piped");
        let mut lines = BufReader::new(stdout).lines();
        let port = tokio::time::timeout(START_TIMEOUT, async {
            while let Ok(Some(line)) = lines.next_line().await {
                if let Some(port) = line.split(LISTENING).nth(1) {
                    return port.trim().parse::<u16>().ok();
                }
            }
            None
        })
        .await
        .ok()
        .flatten()
        .ok_or_else(|| format!("{} did not start listening", self.program.display()))?;
        // Whatever else it prints is read and dropped, so that it never blocks on a full pipe.
        tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
        Ok(Running {
            _child: child,
            port,
            keys: keys.clone(),
            containers: BTreeSet::new(),
        })
    }
}
