//! The signed-in connection to Azure Resource Manager: every ARM request goes through
//! [`Azure::call`], which adds the bearer token (renewed before expiry, and once more if ARM
//! says it expired), retries as [`crate::http`] allows, and only ever sends the token to the
//! cloud's own ARM host. ARM's error bodies become [`Error`]s here.

use std::sync::Arc;

use hubsetup_core::Cloud;
use hubsetup_identity::{Credential, Error as SignInError};
use hubsetup_net::Network;
use reqwest::header::{ACCEPT, CONTENT_TYPE, IF_MATCH};
use reqwest::{Method, StatusCode};
use serde_json::Value;
use zeroize::Zeroizing;

use crate::http::{self, Answer, Repeat, MAX_ATTEMPTS};
use crate::progress::{Progress, Reporter};
use crate::refusal;
use crate::Error;

/// The IotHubs API version (2023-06-30, the latest GA in the reference, §4).
pub(crate) const IOTHUB_API: &str = "2023-06-30";
/// Resource groups and providers.
pub(crate) const RESOURCES_API: &str = "2022-09-01";
/// Subscriptions and locations.
pub(crate) const SUBSCRIPTIONS_API: &str = "2022-12-01";

/// A signed-in session with one cloud's ARM, cheap to clone and share between tasks.
#[derive(Clone)]
pub struct Azure {
    inner: Arc<Inner>,
}

struct Inner {
    network: Network,
    http: reqwest::Client,
    credential: Credential,
    report: Reporter,
    arm_base: url::Url,
}

impl std::fmt::Debug for Azure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Azure")
            .field("cloud", &self.inner.network.cloud().id)
            .field("credential", &self.inner.credential)
            .finish_non_exhaustive()
    }
}

/// An ARM error answer: `{"error":{"code","message"}}`, or the IoT Hub provider's
/// `{"code","message"}`.
#[derive(Debug)]
pub(crate) struct ArmFailure {
    pub(crate) status: StatusCode,
    pub(crate) code: String,
    pub(crate) message: String,
    /// Policy violations, when Azure Policy refused.
    pub(crate) violations: Vec<refusal::Violation>,
}

impl ArmFailure {
    pub(crate) fn of(answer: &Answer) -> ArmFailure {
        let body: Value = serde_json::from_slice(&answer.body).unwrap_or(Value::Null);
        let error = body.get("error").unwrap_or(&body);
        let text = |field: &str| {
            error
                .get(field)
                .and_then(|v| {
                    v.as_str()
                        .map(str::to_owned)
                        .or_else(|| v.as_u64().map(|n| n.to_string()))
                })
                .unwrap_or_default()
        };
        ArmFailure {
            status: answer.status,
            code: text("code"),
            message: text("message"),
            violations: refusal::violations(&body),
        }
    }

    /// The Free-tier limit, however it is coded (`400019` or `IH400019` in the message).
    pub(crate) fn is_free_hub_limit(&self) -> bool {
        self.code == "400019" || self.message.contains("IH400019")
    }

    /// The general meaning of the failure for a request about `subscription`.
    pub(crate) fn into_error(self, subscription: &str) -> Error {
        let detail = || self.message.trim_end_matches('.').to_owned();
        match (self.status.as_u16(), self.code.as_str()) {
            (401, "ExpiredAuthenticationToken") => {
                SignInError::SessionExpired { detail: detail() }.into()
            }
            // A token for another tenant or audience: the sign-in itself was wrong.
            (401, _) => SignInError::SignInRefused { detail: detail() }.into(),
            (403, "RequestDisallowedByPolicy") => {
                let hub = self.message.split('\'').nth(1).unwrap_or_default();
                refusal::policy_denied(hub, &self.violations)
            }
            (403, _) => refusal::not_allowed(&self.code, &self.message)
                .unwrap_or_else(|| Error::NotAuthorized { detail: detail() }),
            (_, "SubscriptionNotFound" | "InvalidSubscriptionId") => {
                Error::SubscriptionNotFound(subscription.to_owned())
            }
            (
                _,
                "ReadOnlyDisabledSubscription"
                | "SubscriptionNotRegistered"
                | "DisabledSubscription",
            ) => Error::SubscriptionDisabled(subscription.to_owned()),
            (_, "MissingSubscriptionRegistration") => {
                Error::ProviderNotRegistered(subscription.to_owned())
            }
            _ if self.is_free_hub_limit() => Error::FreeHubLimit {
                existing: String::new(),
            },
            _ if http::is_transient(self.status) => Error::Busy {
                service: "Azure Resource Manager".to_owned(),
                attempts: MAX_ATTEMPTS,
            },
            (status, code) => Error::Azure {
                status,
                code: code.to_owned(),
                message: detail(),
            },
        }
    }
}

impl Azure {
    /// A session with the cloud of `network`, signed in as `credential`, reporting progress
    /// to `report`.
    pub fn new(
        network: &Network,
        credential: Credential,
        report: Reporter,
    ) -> Result<Azure, Error> {
        let http = network
            .http_client()
            .map_err(|e| Error::NetworkSetup(e.to_string()))?;
        let endpoint = &network.cloud().arm_endpoint;
        let arm_base = url::Url::parse(endpoint).map_err(|_| {
            Error::NetworkSetup(format!("the ARM endpoint '{endpoint}' is not a URL."))
        })?;
        Ok(Azure {
            inner: Arc::new(Inner {
                network: network.clone(),
                http,
                credential,
                report,
                arm_base,
            }),
        })
    }

    pub fn cloud(&self) -> &Cloud {
        self.inner.network.cloud()
    }

    /// The network this session reaches the cloud through (proxy, extra roots), for the live
    /// test of what was made.
    pub fn network(&self) -> &Network {
        &self.inner.network
    }

    pub fn credential(&self) -> &Credential {
        &self.inner.credential
    }

    pub(crate) fn report(&self, progress: Progress) {
        (self.inner.report)(progress)
    }

    pub(crate) fn reporter(&self) -> &Reporter {
        &self.inner.report
    }

    /// The plain HTTP client of this cloud, for the hubs' own endpoints.
    pub(crate) fn http(&self) -> &reqwest::Client {
        &self.inner.http
    }

    /// `{arm}{path}?api-version={api}`.
    pub(crate) fn url(&self, path: &str, api: &str) -> String {
        format!(
            "{}{path}?api-version={api}",
            self.inner.arm_base.as_str().trim_end_matches('/')
        )
    }

    /// Refuses URLs Azure handed back (operation status, next pages) unless they are on the
    /// ARM host: the bearer token must go nowhere else.
    fn check_arm_url(&self, url: &str) -> Result<(), Error> {
        let parsed = url::Url::parse(url).ok();
        let same = parsed.as_ref().is_some_and(|u| {
            u.scheme() == "https"
                && u.host_str() == self.inner.arm_base.host_str()
                && u.port_or_known_default() == self.inner.arm_base.port_or_known_default()
        });
        if same {
            Ok(())
        } else {
            Err(Error::UnexpectedAnswer {
                what: format!("a link to {url}, outside Azure Resource Manager"),
            })
        }
    }

    /// Sends one ARM request; see the module documentation.
    pub(crate) async fn call(
        &self,
        method: Method,
        url: &str,
        body: Option<&[u8]>,
        if_match: Option<&str>,
        repeat: Repeat,
    ) -> Result<Answer, Error> {
        self.check_arm_url(url)?;
        let mut renewed = false;
        let mut stepped_up = false;
        loop {
            let token = self.inner.credential.access_token().await?;
            let build = || {
                let mut request = self
                    .inner
                    .http
                    .request(method.clone(), url)
                    .bearer_auth(token.as_str())
                    .header(ACCEPT, "application/json");
                if let Some(tag) = if_match {
                    request = request.header(IF_MATCH, tag);
                }
                match body {
                    Some(bytes) => request
                        .header(CONTENT_TYPE, "application/json")
                        .body(bytes.to_vec()),
                    // ARM wants a length on bodiless POSTs (register, listkeys).
                    None if method == Method::POST => request.header("content-length", "0"),
                    None => request,
                }
            };
            let answer = http::send(build, repeat, &self.inner.report).await?;
            let expired = answer.status == StatusCode::UNAUTHORIZED
                && ArmFailure::of(&answer).code == "ExpiredAuthenticationToken";
            if expired && !renewed {
                renewed = true;
                self.inner.credential.renew_after_rejection(&token).await?;
                continue;
            }
            if let Some((claims, tenant)) = claims_challenge(&answer).filter(|_| !stepped_up) {
                stepped_up = true;
                let report = &self.inner.report;
                self.inner
                    .credential
                    .step_up(&claims, tenant.as_deref(), &|step| report(step.into()))
                    .await?;
                continue;
            }
            return Ok(answer);
        }
    }

    /// GET that must succeed, as JSON.
    pub(crate) async fn get_json(&self, url: &str, subscription: &str) -> Result<Value, Error> {
        let answer = self
            .call(Method::GET, url, None, None, Repeat::Safe)
            .await?;
        if !answer.status.is_success() {
            return Err(ArmFailure::of(&answer).into_error(subscription));
        }
        answer.json()
    }

    /// Every item of a list, following `nextLink` pages.
    pub(crate) async fn list(&self, url: &str, subscription: &str) -> Result<Vec<Value>, Error> {
        let mut items = Vec::new();
        let mut next = Some(url.to_owned());
        while let Some(url) = next {
            let page = self.get_json(&url, subscription).await?;
            if let Some(values) = page.get("value").and_then(Value::as_array) {
                items.extend(values.iter().cloned());
            }
            next = page
                .get("nextLink")
                .and_then(Value::as_str)
                .filter(|l| !l.is_empty())
                .map(str::to_owned);
        }
        Ok(items)
    }
}

/// The claims (JSON) of a Conditional Access challenge, and the tenant that asks: a 401 whose
/// `WWW-Authenticate` says `error="insufficient_claims"` and carries `claims="{base64}"` and
/// `authorization_uri="{login}/{tenant}"`.
fn claims_challenge(answer: &Answer) -> Option<(String, Option<String>)> {
    use base64::Engine as _;
    if answer.status != StatusCode::UNAUTHORIZED {
        return None;
    }
    let header = answer.header("www-authenticate")?;
    if !header.contains("error=\"insufficient_claims\"") {
        return None;
    }
    let quoted = |name: &str| {
        header
            .split(&format!("{name}=\""))
            .nth(1)
            .and_then(|rest| rest.split('"').next())
    };
    let encoded = quoted("claims")?;
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(encoded)
        .or_else(|_| base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(encoded))
        .ok()?;
    let tenant = quoted("authorization_uri")
        .and_then(|uri| uri.trim_end_matches('/').rsplit('/').next())
        .map(str::to_owned);
    Some((String::from_utf8(decoded).ok()?, tenant))
}

/// A JSON body that may hold keys, serialized into memory that is zeroized after sending.
/// (reqwest sends a copy of its own, which it does not zeroize; that copy lives only for the
/// request.)
pub(crate) fn secret_body(value: &Value) -> Zeroizing<Vec<u8>> {
    Zeroizing::new(serde_json::to_vec(value).unwrap_or_default())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn answer(status: u16, body: &str) -> Answer {
        Answer {
            status: StatusCode::from_u16(status).unwrap(),
            headers: Default::default(),
            body: Zeroizing::new(body.as_bytes().to_vec()),
        }
    }

    #[test]
    fn both_error_shapes_are_read() {
        let arm = ArmFailure::of(&answer(
            409,
            r#"{"error":{"code":"MissingSubscriptionRegistration","message":"m"}}"#,
        ));
        assert_eq!(arm.code, "MissingSubscriptionRegistration");
        assert_eq!(arm.into_error("s").kind(), "provider_not_registered");
        let provider = ArmFailure::of(&answer(
            400,
            r#"{"code":"400019","httpStatusCode":"BadRequest","message":"Max number … IH400019."}"#,
        ));
        assert!(provider.is_free_hub_limit());
        let other = ArmFailure::of(&answer(
            400,
            r#"{"code":"InvalidSku","message":"Bad SKU."}"#,
        ));
        assert_eq!(
            other.into_error("s").to_string(),
            "Azure refused the request: Bad SKU (code InvalidSku, HTTP 400)."
        );
        assert_eq!(
            ArmFailure::of(&answer(503, "")).into_error("s").kind(),
            "busy"
        );
    }
}
