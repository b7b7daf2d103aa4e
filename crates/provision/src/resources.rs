//! ARM for the capabilities beside provisioning (keeping the data, and later health and
//! alerts): one request at a time with this session's sign-in, its retries, renewals and
//! step-ups, and the hub changed with its etag. They build their own requests; what a failure
//! means is this crate's [`Error`], so that every capability explains failures alike.

use std::time::Duration;

use reqwest::Method;
use serde_json::Value;

use crate::arm::ArmFailure;
use crate::http::Repeat;
use crate::{Azure, Error, HubInfo};

/// A successful ARM answer. Bodies may hold keys (`listKeys`): they go to the caller only.
#[derive(Debug)]
pub struct ArmReply {
    pub status: u16,
    pub body: Value,
    /// Where to follow a long-running operation (`Location`, else `Azure-AsyncOperation`).
    pub operation: Option<String>,
    /// The wait the service asked for between polls.
    pub retry_after: Option<Duration>,
}

impl Azure {
    /// `method` on `{arm}{path}?api-version={api_version}`; a failure is explained as ARM's
    /// failures are (sign-in, rights, policy, locks), else [`Error::Azure`] with ARM's code.
    pub async fn arm_request(
        &self,
        method: Method,
        path: &str,
        api_version: &str,
        body: Option<&Value>,
        subscription: &str,
    ) -> Result<ArmReply, Error> {
        let url = self.url(path, api_version);
        self.arm_send(method, &url, body, subscription).await
    }

    /// GET `{arm}{path}` with `query` beside the api-version (Azure Monitor's metrics).
    pub async fn arm_get_with(
        &self,
        path: &str,
        api_version: &str,
        query: &[(&str, &str)],
        subscription: &str,
    ) -> Result<ArmReply, Error> {
        let mut url =
            url::Url::parse(&self.url(path, api_version)).map_err(|_| Error::UnexpectedAnswer {
                what: format!("a resource path that makes no URL ({path})"),
            })?;
        url.query_pairs_mut().extend_pairs(query);
        self.arm_send(Method::GET, url.as_str(), None, subscription)
            .await
    }

    /// Follows a long-running operation to its end: polls the URL ARM gave (only on ARM's
    /// host) while it answers 202, and returns the final answer.
    pub async fn arm_follow(
        &self,
        mut reply: ArmReply,
        subscription: &str,
    ) -> Result<ArmReply, Error> {
        while reply.status == 202 {
            let Some(url) = reply.operation.clone() else {
                return Ok(reply);
            };
            tokio::time::sleep(reply.retry_after.unwrap_or(Duration::from_secs(2))).await;
            let next = self.arm_send(Method::GET, &url, None, subscription).await?;
            reply = ArmReply {
                operation: next.operation.or(Some(url)),
                ..next
            };
        }
        Ok(reply)
    }

    async fn arm_send(
        &self,
        method: Method,
        url: &str,
        body: Option<&Value>,
        subscription: &str,
    ) -> Result<ArmReply, Error> {
        let bytes = body.map(|b| b.to_string().into_bytes());
        let repeat = if method == Method::GET || method == Method::PUT {
            Repeat::Safe
        } else {
            Repeat::Never
        };
        let answer = self
            .call(method, url, bytes.as_deref(), None, repeat)
            .await?;
        if !answer.status.is_success() {
            return Err(self.explain(ArmFailure::of(&answer), subscription).await);
        }
        let body = if answer.body.is_empty() {
            Value::Null
        } else {
            answer.json()?
        };
        Ok(ArmReply {
            status: answer.status.as_u16(),
            body,
            operation: answer
                .header("location")
                .or_else(|| answer.header("azure-asyncoperation"))
                .map(str::to_owned),
            retry_after: answer.retry_after(),
        })
    }

    /// The hub as Azure has it now, its keys left out.
    pub async fn hub_resource(&self, hub: &HubInfo) -> Result<Value, Error> {
        self.current_hub_json(hub).await
    }

    /// Changes the hub with `change`, which edits its PUT body and says whether it changed
    /// anything; sent with the hub's etag (`If-Match`) and followed to the end. Whether a
    /// change was sent.
    pub async fn change_hub(
        &self,
        hub: &HubInfo,
        description: &str,
        change: impl Fn(&mut Value) -> bool,
    ) -> Result<bool, Error> {
        self.update_hub(hub, description, change).await
    }
}

impl Azure {
    /// The HTTP client of this session's network (its proxy and extra roots), for the data
    /// planes of the resources the capabilities make (a storage account's blobs).
    pub fn http_client(&self) -> &reqwest::Client {
        self.http()
    }
}
