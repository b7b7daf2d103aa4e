//! Microsoft Entra ID's OAuth 2.0 endpoints through the `oauth2` crate: device code, the
//! authorization code with PKCE, and refresh. The crate does the protocol (PKCE, state,
//! polling with `slow_down`); it talks through our HTTP client so that trust, proxies and the
//! sandbox's addresses are the same as everywhere else, with redirects turned off as OAuth
//! token requests require.

use std::time::Duration;

use hubsetup_net::Network;
use oauth2::basic::BasicClient;
use oauth2::{
    AuthUrl, AuthorizationCode, ClientId, CsrfToken, DeviceAuthorizationUrl, EndpointNotSet,
    EndpointSet, ErrorResponseType, HttpClientError, PkceCodeChallenge, RedirectUrl, RefreshToken,
    RequestTokenError, Scope, StandardDeviceAuthorizationResponse, StandardErrorResponse,
    TokenResponse, TokenUrl,
};
use zeroize::Zeroizing;

use hubsetup_net::Unreachable;

use crate::browser::{self, BrowserOpener};
use crate::{arm_scope, Error, Reporter, SignInOptions, SignInProgress, TokenGrant};

type EntraClient =
    BasicClient<EndpointSet, EndpointSet, EndpointNotSet, EndpointNotSet, EndpointSet>;
type TokenError<T> = RequestTokenError<HttpClientError<reqwest::Error>, StandardErrorResponse<T>>;

/// What every sign-in asks for: ARM, and a refresh token so the session outlives the first
/// access token.
const OFFLINE_ACCESS: &str = "offline_access";

pub(crate) struct Entra {
    client: EntraClient,
    http: reqwest::Client,
    scopes: Vec<Scope>,
    login_host: String,
    tenant: String,
    cloud_name: String,
    browser_timeout: Duration,
}

impl Entra {
    pub(crate) fn new(network: &Network, options: &SignInOptions) -> Result<Entra, Error> {
        let tenant = &options.tenant;
        let plain = |c: char| c.is_ascii_alphanumeric() || c == '-' || c == '.';
        if tenant.is_empty() || !tenant.chars().all(plain) {
            return Err(Error::SignInRefused {
                detail: format!(
                    "'{tenant}' is not a tenant; give a tenant ID, a domain such as \
                     contoso.onmicrosoft.com, 'organizations' or 'common'"
                ),
            });
        }
        let cloud = network.cloud();
        let base = format!(
            "{}/{tenant}/oauth2/v2.0",
            cloud.login_endpoint.trim_end_matches('/')
        );
        let bad_endpoint = |_| Error::SignInRefused {
            detail: format!("the sign-in address {base} is not valid"),
        };
        let client = BasicClient::new(ClientId::new(options.client_id.clone()))
            .set_auth_uri(AuthUrl::new(format!("{base}/authorize")).map_err(bad_endpoint)?)
            .set_token_uri(TokenUrl::new(format!("{base}/token")).map_err(bad_endpoint)?)
            .set_device_authorization_url(
                DeviceAuthorizationUrl::new(format!("{base}/devicecode")).map_err(bad_endpoint)?,
            );
        let http = network
            .http_client_builder()?
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|e| hubsetup_net::NetError::Client(e.to_string()))?;
        let login_host = url::Url::parse(&cloud.login_endpoint)
            .ok()
            .and_then(|u| u.host_str().map(str::to_owned))
            .unwrap_or_else(|| cloud.login_endpoint.clone());
        Ok(Entra {
            client,
            http,
            scopes: vec![
                Scope::new(arm_scope(cloud)),
                Scope::new(OFFLINE_ACCESS.into()),
            ],
            login_host,
            tenant: tenant.clone(),
            cloud_name: cloud.display_name.clone(),
            browser_timeout: options.browser_timeout,
        })
    }

    /// A device-code sign-in; `claims` (JSON) when Conditional Access asked for more proof.
    pub(crate) async fn device_code(
        &self,
        report: Reporter<'_>,
        claims: Option<&str>,
    ) -> Result<TokenGrant, Error> {
        let mut request = self
            .client
            .exchange_device_code()
            .add_scopes(self.scopes.clone());
        if let Some(claims) = claims {
            request = request.add_extra_param("claims", claims);
        }
        let details: StandardDeviceAuthorizationResponse = request
            .request_async(&self.http)
            .await
            .map_err(|e| self.explain(e))?;
        let lifetime = details.expires_in();
        report(SignInProgress::DeviceCode {
            user_code: details.user_code().secret().clone(),
            verification_uri: details.verification_uri().to_string(),
            expires_in_secs: lifetime.as_secs(),
        });
        let token = self
            .client
            .exchange_device_access_token(&details)
            .request_async(&self.http, tokio::time::sleep, None)
            .await
            .map_err(|e| match e {
                RequestTokenError::ServerResponse(ref r)
                    if r.error().as_ref() == "expired_token" =>
                {
                    Error::SignInCodeExpired {
                        minutes: lifetime.as_secs().div_ceil(60),
                    }
                }
                other => self.explain(other),
            })?;
        Ok(grant(&token))
    }

    /// A browser sign-in; `claims` (JSON) when Conditional Access asked for more proof.
    pub(crate) async fn browser(
        &self,
        opener: &dyn BrowserOpener,
        report: Reporter<'_>,
        claims: Option<&str>,
    ) -> Result<TokenGrant, Error> {
        let listener = browser::Listener::bind().await?;
        let redirect =
            RedirectUrl::new(listener.redirect_uri()).map_err(|_| Error::BrowserSignInFailed {
                detail: "the local address for the answer is not valid".to_owned(),
            })?;
        let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
        let mut authorize = self
            .client
            .authorize_url(CsrfToken::new_random)
            .add_scopes(self.scopes.clone())
            .set_pkce_challenge(challenge)
            .set_redirect_uri(std::borrow::Cow::Borrowed(&redirect))
            .add_extra_param("prompt", "select_account");
        if let Some(claims) = claims {
            authorize = authorize.add_extra_param("claims", claims);
        }
        let (url, state) = authorize.url();
        report(SignInProgress::OpenBrowser {
            url: url.to_string(),
        });
        // No browser is no failure: the URL was reported, so the person can open it by hand.
        let _ = opener.open(url.as_str());
        let code = listener
            .wait_for_code(state.secret(), self.browser_timeout)
            .await?;
        let token = self
            .client
            .exchange_code(AuthorizationCode::new(code.to_string()))
            .set_pkce_verifier(verifier)
            .set_redirect_uri(std::borrow::Cow::Borrowed(&redirect))
            .request_async(&self.http)
            .await
            .map_err(|e| self.explain(e))?;
        Ok(grant(&token))
    }

    pub(crate) async fn refresh(&self, refresh: &Zeroizing<String>) -> Result<TokenGrant, Error> {
        let refresh = RefreshToken::new(refresh.to_string());
        let token = self
            .client
            .exchange_refresh_token(&refresh)
            .add_scopes(self.scopes.clone())
            .request_async(&self.http)
            .await
            .map_err(|e| match e {
                RequestTokenError::ServerResponse(ref r)
                    if r.error().as_ref() == "invalid_grant" =>
                {
                    Error::SessionExpired {
                        detail: first_line(r.error_description()),
                    }
                }
                other => self.explain(other),
            })?;
        Ok(grant(&token))
    }

    /// Entra's answer in our words. Unreadable answers are described by where they broke,
    /// never by their content, which may hold a token.
    fn explain<T: ErrorResponseType + AsRef<str> + std::fmt::Display + 'static>(
        &self,
        error: TokenError<T>,
    ) -> Error {
        match error {
            RequestTokenError::ServerResponse(response) => refusal(
                response.error().as_ref(),
                &first_line(response.error_description()),
                &self.tenant,
                &self.cloud_name,
            ),
            RequestTokenError::Request(HttpClientError::Reqwest(error)) => {
                Unreachable::new(self.login_host.clone(), &error).into()
            }
            RequestTokenError::Request(other) => Unreachable {
                host: self.login_host.clone(),
                detail: other.to_string(),
            }
            .into(),
            RequestTokenError::Parse(error, _body) => Error::UnexpectedAnswer {
                what: format!(
                    "a sign-in answer that could not be read at '{}'",
                    error.path()
                ),
            },
            RequestTokenError::Other(text) => Error::UnexpectedAnswer { what: text },
        }
    }
}

/// An Entra refusal in our words, by its OAuth error and AADSTS code.
fn refusal(code: &str, detail: &str, tenant: &str, cloud: &str) -> Error {
    let aadsts = detail
        .strip_prefix("AADSTS")
        .and_then(|rest| rest.split(':').next())
        .unwrap_or_default();
    let detail = detail.to_owned();
    match (code, aadsts) {
        ("access_denied" | "authorization_declined", _) => Error::SignInDeclined { detail },
        (_, "90002") => Error::TenantNotFound {
            tenant: tenant.to_owned(),
            cloud: cloud.to_owned(),
        },
        // Blocked by a Conditional Access policy, or by the tenant's security defaults.
        (_, "53003" | "53000" | "53001" | "530003") => Error::BlockedByPolicy {
            tenant: tenant.to_owned(),
            detail,
        },
        (_, "50076" | "50079" | "50074") => Error::MoreProofRequired { detail },
        (_, "50020") => Error::NotInTenant {
            tenant: tenant.to_owned(),
        },
        _ => Error::SignInRefused {
            detail: format!("{code}: {detail}"),
        },
    }
}

/// Entra's descriptions run on with trace and correlation IDs on later lines.
fn first_line(description: Option<&String>) -> String {
    description
        .and_then(|d| d.lines().next())
        .unwrap_or("no reason given")
        .trim()
        .trim_end_matches('.')
        .to_owned()
}

fn grant(token: &oauth2::basic::BasicTokenResponse) -> TokenGrant {
    TokenGrant {
        access: Zeroizing::new(token.access_token().secret().clone()),
        refresh: token
            .refresh_token()
            .map(|r| Zeroizing::new(r.secret().clone())),
        // Entra always says; an hour is its usual lifetime.
        lifetime: token
            .expires_in()
            .unwrap_or_else(|| Duration::from_secs(3600)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entra_refusals_are_told_by_their_code() {
        let said =
            |code, detail| refusal(code, detail, "contoso.onmicrosoft.com", "Azure").to_string();
        assert_eq!(
            said(
                "invalid_grant",
                "AADSTS53003: Access has been blocked by Conditional Access policies"
            ),
            "Your organization's sign-in policies do not allow this sign-in to \
             'contoso.onmicrosoft.com' (AADSTS53003: Access has been blocked by Conditional Access \
             policies): Conditional Access may require a managed device, a trusted network or \
             another country. Ask your Azure administrator which policy applies, or sign in from a \
             device and network it allows."
        );
        assert_eq!(
            said("interaction_required", "AADSTS50076: Due to a configuration change made by your administrator, or because you moved to a new location, you must use multi-factor authentication to access 'x'"),
            "Microsoft Entra ID requires multi-factor authentication for this sign-in (AADSTS50076: \
             Due to a configuration change made by your administrator, or because you moved to a new \
             location, you must use multi-factor authentication to access 'x'). Sign in again with \
             the browser or a device code, which ask for it."
        );
        assert_eq!(
            refusal(
                "invalid_request",
                "AADSTS50020: User account from identity provider does not exist in tenant",
                "t",
                "Azure"
            )
            .kind(),
            "not_in_tenant"
        );
        assert_eq!(
            refusal(
                "access_denied",
                "AADSTS65004: User declined to consent",
                "t",
                "Azure"
            )
            .kind(),
            "sign_in_declined"
        );
        assert_eq!(
            refusal(
                "invalid_client",
                "AADSTS7000215: Invalid client secret",
                "t",
                "Azure"
            )
            .kind(),
            "sign_in_refused"
        );
    }
}
