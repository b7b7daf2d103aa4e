//! Reusing the Azure CLI's sign-in: `az account get-access-token --resource {arm}/`. The CLI
//! keeps and refreshes its own tokens, so renewing is asking it again.

use std::ffi::OsString;
use std::path::Path;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::Deserialize;
use zeroize::Zeroizing;

use crate::{is_home_tenant_alias, Error, SignInOptions, TokenGrant};

/// `az` is a batch file on Windows, which `Command` finds only by its full name.
const PROGRAM: &str = if cfg!(windows) { "az.cmd" } else { "az" };
/// `az` starts a Python interpreter; a minute covers a slow first start.
const TIMEOUT: Duration = Duration::from_secs(60);
/// The longest part of the CLI's own error message repeated in ours.
const MAX_DETAIL_CHARS: usize = 300;

/// The Azure CLI program to ask for tokens.
#[derive(Debug, Clone)]
pub struct AzureCli {
    program: OsString,
}

impl Default for AzureCli {
    /// `az` from the `PATH`.
    fn default() -> AzureCli {
        AzureCli {
            program: PROGRAM.into(),
        }
    }
}

/// The error for a claims challenge on the Azure CLI's token: the `az login` that answers it
/// (its `--claims-challenge` takes the claims base64-encoded, as Azure sent them). The tenant
/// is named because az keeps tokens per tenant and hands out the one of the tenant asked for.
pub(crate) fn more_proof_needed(resource: &str, tenant: &str, claims: &str) -> Error {
    use base64::Engine as _;
    let tenant = if is_home_tenant_alias(tenant) {
        String::new()
    } else {
        format!(" --tenant {tenant}")
    };
    Error::AzureCliNeedsMoreProof {
        command: format!(
            "az login{tenant} --scope {resource}.default --claims-challenge \"{}\"",
            base64::engine::general_purpose::STANDARD.encode(claims)
        ),
    }
}

/// What `az account get-access-token --output json` prints (other fields are ignored).
#[derive(Deserialize)]
struct CliToken {
    #[serde(rename = "accessToken")]
    access_token: String,
    /// Seconds since the epoch, in newer CLIs (a number, or a string of digits).
    expires_on: Option<serde_json::Value>,
    /// Local time `2024-05-01 10:00:00.000000`, in every CLI.
    #[serde(rename = "expiresOn")]
    expires_on_local: Option<String>,
}

impl AzureCli {
    /// A specific program instead of `az` from the `PATH`.
    pub fn with_program(program: impl Into<OsString>) -> AzureCli {
        AzureCli {
            program: program.into(),
        }
    }

    /// Whether the program exists (a path, or a name found on the `PATH`).
    pub fn is_installed(&self) -> bool {
        self.is_installed_in(std::env::var_os("PATH").unwrap_or_default())
    }

    /// Whether the program exists, a bare name looked up in `path` (a `PATH` value).
    fn is_installed_in(&self, path: OsString) -> bool {
        let program = Path::new(&self.program);
        if program.components().count() > 1 {
            return program.is_file();
        }
        std::env::split_paths(&path).any(|dir| dir.join(program).is_file())
    }

    pub(crate) async fn access_token(
        &self,
        resource: &str,
        options: &SignInOptions,
    ) -> Result<TokenGrant, Error> {
        let mut command = tokio::process::Command::new(&self.program);
        command
            .args(["account", "get-access-token", "--resource", resource])
            .args(["--output", "json"])
            .stdin(std::process::Stdio::null())
            .kill_on_drop(true);
        if !is_home_tenant_alias(&options.tenant) {
            command.args(["--tenant", &options.tenant]);
        }
        let output = match tokio::time::timeout(TIMEOUT, command.output()).await {
            Err(_) => {
                return Err(Error::AzureCliFailed {
                    detail: format!("it did not answer within {} seconds", TIMEOUT.as_secs()),
                })
            }
            Ok(Err(e)) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(Error::AzureCliNotInstalled)
            }
            Ok(Err(e)) => {
                return Err(Error::AzureCliFailed {
                    detail: format!("it could not be started: {e}"),
                })
            }
            Ok(Ok(output)) => output,
        };
        let stdout = Zeroizing::new(output.stdout);
        if !output.status.success() {
            let detail = error_line(&String::from_utf8_lossy(&output.stderr));
            return Err(if detail.contains("az login") {
                Error::AzureCliNotSignedIn { detail }
            } else {
                Error::AzureCliFailed { detail }
            });
        }
        parse_token(&stdout, SystemTime::now())
    }
}

/// The line of the CLI's error output that says what is wrong, without its `ERROR:` prefix.
fn error_line(stderr: &str) -> String {
    let lines = || stderr.lines().map(str::trim).filter(|l| !l.is_empty());
    let line = lines()
        .find(|l| l.starts_with("ERROR:"))
        .or_else(|| lines().next())
        .unwrap_or("it failed without saying why");
    let line = line
        .trim_start_matches("ERROR:")
        .trim()
        .trim_end_matches('.');
    line.chars().take(MAX_DETAIL_CHARS).collect()
}

fn parse_token(stdout: &[u8], now: SystemTime) -> Result<TokenGrant, Error> {
    let unreadable = || Error::AzureCliFailed {
        detail: "its answer could not be read; update the Azure CLI".to_owned(),
    };
    let token: CliToken = serde_json::from_slice(stdout).map_err(|_| unreadable())?;
    let access = Zeroizing::new(token.access_token);
    let expiry = match (&token.expires_on, &token.expires_on_local) {
        (Some(epoch), _) => epoch
            .as_u64()
            .or_else(|| epoch.as_str().and_then(|s| s.parse().ok()))
            .map(|secs| UNIX_EPOCH + Duration::from_secs(secs)),
        (None, Some(local)) => parse_local_time(local),
        (None, None) => None,
    }
    .ok_or_else(unreadable)?;
    Ok(TokenGrant {
        access,
        refresh: None,
        lifetime: expiry.duration_since(now).unwrap_or_default(),
    })
}

fn parse_local_time(text: &str) -> Option<SystemTime> {
    use chrono::TimeZone;
    let naive = chrono::NaiveDateTime::parse_from_str(text, "%Y-%m-%d %H:%M:%S%.f").ok()?;
    let local = chrono::Local.from_local_datetime(&naive).earliest()?;
    Some(SystemTime::from(local))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;

    /// A file named like the CLI's program (`az.cmd` on Windows, a batch file run through
    /// `cmd`, as the real CLI is); on Windows it runs `windows_script`.
    fn stub(dir: &Path, windows_script: &str) -> PathBuf {
        let path = dir.join(PROGRAM);
        std::fs::write(&path, format!("@echo off\r\n{windows_script}\r\n")).unwrap();
        path
    }

    #[test]
    fn reads_epoch_or_local_expiry() {
        let now = UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        let newer = br#"{"accessToken":"eyJ0","expires_on":1700003600,"expiresOn":"2023-11-14 23:13:20.000000","tokenType":"Bearer"}"#;
        let grant = parse_token(newer, now).unwrap();
        assert_eq!(grant.access.as_str(), "eyJ0");
        assert_eq!(grant.lifetime, Duration::from_secs(3600));
        let as_text = br#"{"accessToken":"eyJ0","expires_on":"1700000600"}"#;
        assert_eq!(
            parse_token(as_text, now).unwrap().lifetime,
            Duration::from_secs(600)
        );
        let later = chrono::Local::now() + chrono::Duration::hours(1);
        let older = format!(
            r#"{{"accessToken":"eyJ0","expiresOn":"{}"}}"#,
            later.format("%Y-%m-%d %H:%M:%S%.6f")
        );
        let lifetime = parse_token(older.as_bytes(), SystemTime::now())
            .unwrap()
            .lifetime;
        assert!(lifetime > Duration::from_secs(3500) && lifetime <= Duration::from_secs(3600));
        assert_eq!(
            parse_token(b"{}", now).err().unwrap().to_string(),
            "The Azure CLI could not give a token (its answer could not be read; update the \
             Azure CLI). Check `az account show`, or sign in with the browser or a device code \
             instead."
        );
    }

    #[test]
    fn the_cli_is_found_by_its_name_on_the_path() {
        // On Windows that name is `az.cmd`, the batch file the Azure CLI installs.
        let dir = tempfile::tempdir().unwrap();
        let elsewhere = tempfile::tempdir().unwrap();
        stub(dir.path(), "exit /b 0");
        let path = std::env::join_paths([elsewhere.path(), dir.path()]).unwrap();
        assert!(AzureCli::default().is_installed_in(path));
        let without = std::env::join_paths([elsewhere.path()]).unwrap();
        assert!(!AzureCli::default().is_installed_in(without));
    }

    #[test]
    fn the_cli_error_line_is_kept_without_its_prefix() {
        assert_eq!(
            error_line("WARNING: x\nERROR: Please run 'az login' to setup account.\n"),
            "Please run 'az login' to setup account"
        );
        assert_eq!(error_line(""), "it failed without saying why");
    }

    #[tokio::test]
    async fn a_missing_cli_is_told_apart() {
        let missing = AzureCli::with_program(std::env::temp_dir().join("nonexistent/az"));
        assert!(!missing.is_installed());
        let error = missing
            .access_token("https://management.azure.com/", &SignInOptions::default())
            .await
            .err()
            .unwrap();
        assert_eq!(error.kind(), "azure_cli_not_installed");
    }

    /// The real CLI cannot run under Wine here, so a batch file says what it says when signed
    /// out; elsewhere tests/python/test_azure_cli.py gets these words from the real one.
    #[cfg(windows)]
    #[tokio::test]
    async fn a_signed_out_cli_batch_file_is_told_apart() {
        let dir = tempfile::tempdir().unwrap();
        let signed_out = AzureCli::with_program(stub(
            dir.path(),
            "echo ERROR: Please run 'az login' to setup account. 1>&2\r\nexit /b 1",
        ));
        assert!(signed_out.is_installed());
        let error = signed_out
            .access_token("https://management.azure.com/", &SignInOptions::default())
            .await
            .err()
            .unwrap();
        assert_eq!(
            error.to_string(),
            "The Azure CLI is not signed in (it says: Please run 'az login' to setup account). \
             Run `az login` and try again, or sign in with the browser or a device code instead."
        );
    }
}
