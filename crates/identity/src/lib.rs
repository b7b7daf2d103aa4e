//! Signing in to Azure Resource Manager, three ways, in the order they are offered:
//!
//! 1. [`SignInMethod::AzureCli`]: reuse the Azure CLI's login (`az account get-access-token`).
//! 2. [`SignInMethod::Browser`]: authorization code with PKCE, redirected to a one-shot
//!    listener on `127.0.0.1` (see [`browser`]).
//! 3. [`SignInMethod::DeviceCode`]: a code the person enters on another device.
//!
//! A [`Credential`] holds the access token (and refresh token) in memory only, in zeroizing
//! strings, and renews the token before it expires: with the refresh token, or by asking the
//! Azure CLI again. Nothing is written to disk.

mod azure_cli;
pub mod browser;
mod entra;
mod error;

use std::fmt;
use std::time::{Duration, Instant};

use hubsetup_core::Cloud;
use hubsetup_net::Network;
use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

pub use azure_cli::AzureCli;
pub use browser::{BrowserOpener, SystemBrowser};
pub use error::Error;

/// The public client the Azure Identity SDKs use for interactive sign-in (the Azure CLI's).
pub const DEFAULT_CLIENT_ID: &str = "04b07795-8ddb-461a-bbee-02f9e1bf7b46";
/// Work and school accounts of any tenant, as .NET's `DeviceCodeCredential` defaults to.
pub const DEFAULT_TENANT: &str = "organizations";
/// Whether `tenant` names no directory of its own (`organizations`, `common`): a sign-in to it
/// lands in the account's home tenant.
pub fn is_home_tenant_alias(tenant: &str) -> bool {
    matches!(tenant, "organizations" | "common")
}

/// Azure's tokens live an hour or more; renew this long before they expire.
const RENEW_MARGIN: Duration = Duration::from_secs(300);

/// How to sign in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ts_rs::TS)]
#[ts(export)]
#[serde(rename_all = "snake_case")]
pub enum SignInMethod {
    AzureCli,
    Browser,
    DeviceCode,
}

impl SignInMethod {
    /// Every method, most convenient first.
    pub const ALL: [SignInMethod; 3] = [
        SignInMethod::AzureCli,
        SignInMethod::Browser,
        SignInMethod::DeviceCode,
    ];

    /// The methods to offer for `cloud`, in order: the Azure CLI only when `az` is installed.
    /// A sandbox offers its device code first, which it approves by itself, then the Azure CLI
    /// for whoever registered the sandbox as a cloud in `az`; never the browser, because the
    /// sandbox's names resolve in this app alone.
    pub fn offered(cloud: &Cloud, azure_cli: &AzureCli) -> Vec<SignInMethod> {
        let order = if cloud.loopback.is_some() {
            [SignInMethod::DeviceCode, SignInMethod::AzureCli].as_slice()
        } else {
            SignInMethod::ALL.as_slice()
        };
        order
            .iter()
            .copied()
            .filter(|m| *m != SignInMethod::AzureCli || azure_cli.is_installed())
            .collect()
    }

    pub fn label(self) -> &'static str {
        match self {
            SignInMethod::AzureCli => "the Azure CLI's sign-in",
            SignInMethod::Browser => "browser sign-in",
            SignInMethod::DeviceCode => "device code sign-in",
        }
    }
}

/// What sign-in tells the person while it waits for them. Nothing here is secret: a device
/// code is shown on purpose, and the sign-in URL carries only public values.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ts_rs::TS)]
#[ts(export)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum SignInProgress {
    /// The browser was asked to open `url`; show it too, in case no browser opened.
    OpenBrowser {
        url: String,
    },
    /// Device-code sign-in: the person opens `verification_uri` and enters `user_code`.
    DeviceCode {
        user_code: String,
        verification_uri: String,
        expires_in_secs: u64,
    },
    SignedIn {
        method: SignInMethod,
    },
    /// Azure asked for more proof than the sign-in has (a Conditional Access claims challenge,
    /// e.g. multi-factor authentication): the person signs in again.
    MoreProofNeeded {
        method: SignInMethod,
    },
}

/// Where sign-in progress goes; called from the sign-in task, so it should return quickly.
pub type Reporter<'a> = &'a (dyn Fn(SignInProgress) + Send + Sync);

/// Which app signs in, to which tenant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignInOptions {
    pub client_id: String,
    /// `organizations`, `common`, or a tenant ID or domain.
    pub tenant: String,
    /// How long browser sign-in waits for the redirect.
    pub browser_timeout: Duration,
}

impl Default for SignInOptions {
    fn default() -> SignInOptions {
        SignInOptions {
            client_id: DEFAULT_CLIENT_ID.to_owned(),
            tenant: DEFAULT_TENANT.to_owned(),
            browser_timeout: Duration::from_secs(300),
        }
    }
}

/// The scope that grants access to ARM in `cloud`, derived from its ARM endpoint as the Azure
/// SDKs do (`https://management.azure.com/.default`).
pub fn arm_scope(cloud: &Cloud) -> String {
    format!("{}/.default", cloud.arm_endpoint.trim_end_matches('/'))
}

/// Signs in with `method`. Browser sign-in opens the page with `opener`; device-code sign-in
/// reports the code through `report`.
pub async fn sign_in(
    method: SignInMethod,
    network: &Network,
    options: &SignInOptions,
    azure_cli: &AzureCli,
    opener: &dyn BrowserOpener,
    report: Reporter<'_>,
) -> Result<Credential, Error> {
    let credential = match method {
        SignInMethod::AzureCli => {
            let resource = format!("{}/", network.cloud().arm_endpoint.trim_end_matches('/'));
            let token = azure_cli.access_token(&resource, options).await?;
            Credential::new(
                method,
                Renewal::AzureCli {
                    cli: azure_cli.clone(),
                    resource,
                    options: options.clone(),
                },
                token,
            )
        }
        SignInMethod::Browser | SignInMethod::DeviceCode => {
            let entra = entra::Entra::new(network, options)?;
            let token = match method {
                SignInMethod::Browser => entra.browser(opener, report, None).await?,
                _ => entra.device_code(report, None).await?,
            };
            Credential::new(method, Renewal::Entra(Box::new(entra)), token)
        }
    };
    report(SignInProgress::SignedIn { method });
    Ok(credential)
}

/// A token as it arrives: secret strings and a lifetime.
pub(crate) struct TokenGrant {
    pub(crate) access: Zeroizing<String>,
    pub(crate) refresh: Option<Zeroizing<String>>,
    pub(crate) lifetime: Duration,
}

struct Token {
    access: Zeroizing<String>,
    refresh: Option<Zeroizing<String>>,
    expires_at: Instant,
    /// A quarter of the lifetime, at most [`RENEW_MARGIN`]: renewal starts this long before expiry.
    margin: Duration,
}

impl From<TokenGrant> for Token {
    fn from(grant: TokenGrant) -> Token {
        Token {
            access: grant.access,
            refresh: grant.refresh,
            expires_at: Instant::now() + grant.lifetime,
            margin: (grant.lifetime / 4).min(RENEW_MARGIN),
        }
    }
}

impl Token {
    /// Takes a renewed grant; a refresh token is kept when the renewal brought no new one.
    fn replace(&mut self, grant: TokenGrant) {
        let previous_refresh = self.refresh.take();
        *self = grant.into();
        if self.refresh.is_none() {
            self.refresh = previous_refresh;
        }
    }
}

/// How a token is renewed.
enum Renewal {
    AzureCli {
        cli: AzureCli,
        resource: String,
        options: SignInOptions,
    },
    /// Boxed: the OAuth client is large and a credential holds just one renewal.
    Entra(Box<entra::Entra>),
}

/// A signed-in session with ARM. Its tokens never leave it except as a request's
/// `Authorization` header, and are zeroized when it is dropped.
pub struct Credential {
    method: SignInMethod,
    renewal: Renewal,
    token: tokio::sync::Mutex<Token>,
}

impl fmt::Debug for Credential {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Credential")
            .field("method", &self.method)
            .finish_non_exhaustive()
    }
}

impl Credential {
    fn new(method: SignInMethod, renewal: Renewal, grant: TokenGrant) -> Credential {
        Credential {
            method,
            renewal,
            token: tokio::sync::Mutex::new(grant.into()),
        }
    }

    pub fn method(&self) -> SignInMethod {
        self.method
    }

    /// The tenant the current token is for (its `tid` claim), for showing where the session
    /// is signed in; the token is read, not verified, and ARM checks it anyway.
    pub async fn tenant(&self) -> Option<String> {
        use base64::Engine as _;
        let token = self.token.lock().await;
        let payload = token.access.split('.').nth(1)?;
        let claims: serde_json::Value = serde_json::from_slice(
            &base64::engine::general_purpose::URL_SAFE_NO_PAD
                .decode(payload.trim_end_matches('='))
                .ok()?,
        )
        .ok()?;
        claims.get("tid")?.as_str().map(str::to_owned)
    }

    /// The access token, renewed first when it is about to expire. This and the
    /// `Authorization` header made from it are the only places a token leaves the credential.
    pub async fn access_token(&self) -> Result<Zeroizing<String>, Error> {
        let mut token = self.token.lock().await;
        if Instant::now() + token.margin >= token.expires_at {
            let grant = self.renew(&token).await?;
            token.replace(grant);
        }
        Ok(token.access.clone())
    }

    /// Renews the token after ARM refused `rejected` as expired (clocks disagree), unless
    /// another request renewed it meanwhile.
    pub async fn renew_after_rejection(&self, rejected: &str) -> Result<(), Error> {
        let mut token = self.token.lock().await;
        if token.access.as_str() == rejected {
            let grant = self.renew(&token).await?;
            token.replace(grant);
        }
        Ok(())
    }

    /// Signs in again, interactively, with the `claims` (JSON) of a Conditional Access
    /// challenge from `tenant`; the new token replaces the old one. The Azure CLI's sign-in
    /// cannot be stepped up from here, so the error says which `az login` does it.
    pub async fn step_up(
        &self,
        claims: &str,
        tenant: Option<&str>,
        report: Reporter<'_>,
    ) -> Result<(), Error> {
        let grant = match &self.renewal {
            Renewal::AzureCli {
                resource, options, ..
            } => {
                let tenant = tenant.unwrap_or(&options.tenant);
                return Err(azure_cli::more_proof_needed(resource, tenant, claims));
            }
            Renewal::Entra(entra) => {
                report(SignInProgress::MoreProofNeeded {
                    method: self.method,
                });
                match self.method {
                    SignInMethod::Browser => {
                        entra.browser(&SystemBrowser, report, Some(claims)).await?
                    }
                    _ => entra.device_code(report, Some(claims)).await?,
                }
            }
        };
        self.token.lock().await.replace(grant);
        report(SignInProgress::SignedIn {
            method: self.method,
        });
        Ok(())
    }

    async fn renew(&self, token: &Token) -> Result<TokenGrant, Error> {
        match &self.renewal {
            Renewal::AzureCli {
                cli,
                resource,
                options,
            } => cli.access_token(resource, options).await,
            Renewal::Entra(entra) => match &token.refresh {
                Some(refresh) => entra.refresh(refresh).await,
                None => Err(Error::SessionExpired {
                    detail: "no refresh token was given at sign-in".to_owned(),
                }),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scope_follows_the_cloud() {
        assert_eq!(
            arm_scope(&Cloud::public()),
            "https://management.azure.com/.default"
        );
        assert_eq!(
            arm_scope(&Cloud::china()),
            "https://management.chinacloudapi.cn/.default"
        );
    }

    #[test]
    fn short_tokens_renew_a_quarter_before_expiry() {
        let grant = |secs| TokenGrant {
            access: Zeroizing::new("t".into()),
            refresh: None,
            lifetime: Duration::from_secs(secs),
        };
        assert_eq!(Token::from(grant(8)).margin, Duration::from_secs(2));
        assert_eq!(Token::from(grant(3600)).margin, RENEW_MARGIN);
    }

    #[test]
    fn the_azure_cli_is_offered_only_when_installed() {
        let missing = AzureCli::with_program("/nonexistent/az");
        assert_eq!(
            SignInMethod::offered(&Cloud::public(), &missing),
            [SignInMethod::Browser, SignInMethod::DeviceCode]
        );
    }

    #[test]
    fn a_sandbox_is_offered_its_device_code_first_and_never_the_browser() {
        let installed = AzureCli::with_program(std::env::current_exe().unwrap());
        let missing = AzureCli::with_program("/nonexistent/az");
        let sandbox = Cloud {
            loopback: Some(([127, 0, 0, 1], 8443).into()),
            ..Cloud::public()
        };
        assert_eq!(
            SignInMethod::offered(&sandbox, &installed),
            [SignInMethod::DeviceCode, SignInMethod::AzureCli]
        );
        assert_eq!(
            SignInMethod::offered(&sandbox, &missing),
            [SignInMethod::DeviceCode]
        );
        assert_eq!(
            SignInMethod::offered(&Cloud::public(), &installed),
            SignInMethod::ALL
        );
    }
}
