//! The "Stored" stage: after the live test's message landed, find it in its stream's folder
//! once the hub has written its batch, through the Blob REST API with the account's key, and
//! say where and how long after the send. Without the right to read the account's keys the
//! stage says so: the message was routed, but this sign-in cannot see it stored.

use std::time::{Duration, Instant, SystemTime};

use hubsetup_provision::{Azure, Error};
use hubsetup_storage::{layout, routing, shared_key};
use reqwest::Method;
use serde::Serialize;
use serde_json::Value;
use ts_rs::TS;
use zeroize::Zeroizing;

use crate::steps::account_key;
use crate::{KeepError, KeptData};

const BLOB_API: &str = "2021-08-06";
const HUB_API: &str = "2023-06-30";
/// How often the container is listed while waiting.
const LOOK_EVERY: Duration = Duration::from_secs(2);

/// Where the message was found.
#[derive(Debug, Clone, PartialEq, Serialize, TS)]
#[ts(export)]
pub struct Stored {
    pub blob: String,
    /// Seconds from the send to finding it.
    pub after_secs: f64,
}

/// Waits up to `wait` for the message `message_id` of `stream`, sent at `sent`, to be in
/// storage; `waiting` hears the seconds left before each look.
pub async fn find_stored(
    azure: &Azure,
    kept: &KeptData,
    stream: &str,
    message_id: &str,
    sent: SystemTime,
    wait: Duration,
    waiting: &(dyn Fn(u64) + Sync),
) -> Result<Stored, KeepError> {
    let sub = kept
        .account_id
        .split('/')
        .nth(2)
        .unwrap_or_default()
        .to_owned();
    let key = match account_key(azure, &sub, &kept.account_id).await {
        Ok(key) => key,
        Err(KeepError::Azure(Error::NotAllowed { .. } | Error::NotAuthorized { .. })) => {
            return Err(KeepError::NotReadable {
                account: kept.account.clone(),
            })
        }
        Err(other) => return Err(other),
    };
    let reader = Reader { azure, kept, key };
    let prefix = format!("{stream}/{}/", kept.hub);
    let sent_ms = sent
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64);
    let started = Instant::now();
    loop {
        if let Some(refused) = refusal_since(azure, kept, stream, sent).await? {
            return Err(refused);
        }
        // A storage account this computer cannot reach now may be reachable at the next look;
        // it is said only if the wait ends without the message.
        let unreachable = match reader.look(&prefix, message_id, sent_ms).await {
            Ok(Some(blob)) => {
                return Ok(Stored {
                    blob: format!("{}/{blob}", kept.container),
                    after_secs: sent.elapsed().map_or(0.0, |d| d.as_secs_f64()),
                })
            }
            Ok(None) => None,
            Err(e @ KeepError::StorageUnreachable { .. }) => Some(e),
            Err(other) => return Err(other),
        };
        let left = wait.saturating_sub(started.elapsed());
        if left.is_zero() {
            return Err(unreachable.unwrap_or_else(|| KeepError::NotStored {
                waited_secs: wait.as_secs(),
                folder: format!("{}/{prefix}", kept.container),
            }));
        }
        waiting(left.as_secs());
        tokio::time::sleep(LOOK_EVERY.min(left)).await;
    }
}

/// The hub's own account of why it could not write the stream's data since `sent`: its
/// endpoint's health, unhealthy with an error no older than the send.
async fn refusal_since(
    azure: &Azure,
    kept: &KeptData,
    stream: &str,
    sent: SystemTime,
) -> Result<Option<KeepError>, KeepError> {
    let sub = kept.hub_id.split('/').nth(2).unwrap_or_default();
    let reply = azure
        .arm_request(
            Method::GET,
            &format!("{}/routingEndpointsHealth", kept.hub_id),
            HUB_API,
            None,
            sub,
        )
        .await?;
    let endpoint = routing::endpoint_name(stream);
    let health = reply
        .body
        .get("value")
        .and_then(Value::as_array)
        .and_then(|all| all.iter().find(|h| h["endpointId"] == endpoint.as_str()));
    let Some(health) = health else {
        return Ok(None);
    };
    let text = |key: &str| health.get(key).and_then(Value::as_str).unwrap_or_default();
    let failing = matches!(text("healthStatus"), "unhealthy" | "degraded" | "dead");
    // Clocks differ by a second or two; an error from before the send is an old one.
    let recent = httpdate::parse_http_date(text("lastKnownErrorTime"))
        .is_ok_and(|at| at + Duration::from_secs(5) >= sent);
    if !failing || !recent || text("lastKnownError").is_empty() {
        return Ok(None);
    }
    let error = text("lastKnownError").to_owned();
    Ok(Some(KeepError::NotWritten {
        stream: stream.to_owned(),
        account: kept.account.clone(),
        advice: advice(&error, kept),
        error,
    }))
}

/// What to do about a write the storage account refused, by its error code.
fn advice(error: &str, kept: &KeptData) -> String {
    let code = error.split(':').next().unwrap_or_default();
    match code {
        "ContainerNotFound" => format!(
            "The container '{}' no longer exists: run Keep the data again (it makes the container), or create it in the storage account.",
            kept.container
        ),
        "AuthenticationFailed" => "The account's key changed: run Keep the data again, which gives the hub's endpoints the current key.".to_owned(),
        "KeyBasedAuthenticationNotPermitted" => "The account no longer allows keys: run Keep the data again signed in with a role that may assign roles, so the hub writes as its identity.".to_owned(),
        "AuthorizationPermissionMismatch" => "Give the hub's identity Storage Blob Data Contributor on the account (Keep the data does, where you may assign roles).".to_owned(),
        "AuthorizationFailure" => "Allow trusted Microsoft services through the account's firewall (its Networking page).".to_owned(),
        _ => "The endpoint's health (az iot hub show … routingEndpointsHealth) shows when it recovers.".to_owned(),
    }
}

/// Whether a blob of the stream's layout (`…/{YYYY}/{MM}/{DD}/{HH}/{mm}`) is of the minute of
/// the send or later.
fn written_since(name: &str, sent_ms: u64) -> bool {
    let parts: Vec<&str> = name.rsplit('/').take(5).collect();
    let number = |i: usize| parts.get(i).and_then(|p| p.parse::<u64>().ok());
    let (Some(minute), Some(hour), Some(day), Some(month), Some(year)) =
        (number(0), number(1), number(2), number(3), number(4))
    else {
        return false;
    };
    let sent = layout::Minute::from_unix_ms(sent_ms);
    (year, month, day, hour, minute)
        >= (
            sent.year as u64,
            u64::from(sent.month),
            u64::from(sent.day),
            u64::from(sent.hour),
            u64::from(sent.minute),
        )
}

struct Reader<'a> {
    azure: &'a Azure,
    kept: &'a KeptData,
    key: Zeroizing<String>,
}

impl Reader<'_> {
    /// The blob under `prefix`, written since the send's minute, that holds the message.
    async fn look(
        &self,
        prefix: &str,
        message_id: &str,
        sent_ms: u64,
    ) -> Result<Option<String>, KeepError> {
        for name in self.list(prefix).await? {
            if written_since(&name, sent_ms) && self.holds(&name, message_id).await? {
                return Ok(Some(name));
            }
        }
        Ok(None)
    }

    async fn get(&self, path: &str, query: &[(&str, &str)]) -> Result<Vec<u8>, KeepError> {
        let date = httpdate::fmt_http_date(SystemTime::now());
        let headers = [("x-ms-date", date.as_str()), ("x-ms-version", BLOB_API)];
        let authorization = shared_key::authorization(
            &self.kept.account,
            &self.key,
            &shared_key::Request {
                method: "GET",
                path,
                query,
                headers: &headers,
            },
        )?;
        let url = format!("{}{}", self.kept.blob_endpoint.trim_end_matches('/'), path);
        let response = self
            .azure
            .http_client()
            .request(Method::GET, url)
            .query(query)
            .header("x-ms-date", &date)
            .header("x-ms-version", BLOB_API)
            .header("authorization", authorization)
            .send()
            .await
            .map_err(|e| KeepError::StorageUnreachable {
                account: self.kept.account.clone(),
                error: e.to_string(),
            })?;
        let status = response.status();
        let code = response
            .headers()
            .get("x-ms-error-code")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let body = response
            .bytes()
            .await
            .map_err(|e| KeepError::Storage(e.to_string()))?;
        if !status.is_success() {
            return Err(KeepError::Storage(format!(
                "the storage account answered {} ({})",
                status.as_u16(),
                code.unwrap_or_default()
            )));
        }
        Ok(body.to_vec())
    }

    /// The names of the blobs under `prefix`.
    async fn list(&self, prefix: &str) -> Result<Vec<String>, KeepError> {
        let path = format!("/{}", self.kept.container);
        let body = self
            .get(
                &path,
                &[
                    ("comp", "list"),
                    ("prefix", prefix),
                    ("restype", "container"),
                ],
            )
            .await?;
        let text = String::from_utf8_lossy(&body);
        Ok(text
            .split("<Name>")
            .skip(1)
            .filter_map(|rest| rest.split("</Name>").next())
            .map(|name| {
                name.replace("&amp;", "&")
                    .replace("&lt;", "<")
                    .replace("&gt;", ">")
                    .replace("&quot;", "\"")
                    .replace("&apos;", "'")
            })
            .collect())
    }

    /// Whether the blob holds a record of the message: a JSON line with its id, or (Avro) its
    /// id among the record's system properties.
    async fn holds(&self, name: &str, message_id: &str) -> Result<bool, KeepError> {
        let encoded: String = name
            .split('/')
            .map(|segment| {
                percent_encoding::utf8_percent_encode(segment, percent_encoding::NON_ALPHANUMERIC)
                    .to_string()
            })
            .collect::<Vec<_>>()
            .join("/");
        let body = self
            .get(&format!("/{}/{encoded}", self.kept.container), &[])
            .await?;
        if self.kept.encoding == "JSON" {
            return Ok(String::from_utf8_lossy(&body).lines().any(|line| {
                serde_json::from_str::<Value>(line)
                    .ok()
                    .and_then(|r| {
                        r.pointer("/SystemProperties/messageId")
                            .and_then(Value::as_str)
                            .map(|id| id == message_id)
                    })
                    .unwrap_or(false)
            }));
        }
        Ok(body
            .windows(message_id.len())
            .any(|w| w == message_id.as_bytes()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_blobs_of_the_sends_minute_or_later_are_read() {
        // 2026-12-07T15:04:59Z
        let sent = 1_796_655_899_000;
        assert!(written_since("s/h/0/2026/12/07/15/04", sent));
        assert!(written_since("s/h/3/2026/12/07/16/00", sent));
        assert!(!written_since("s/h/0/2026/12/07/15/03", sent));
        assert!(!written_since("s/h/0/2026/12/07", sent));
    }
}
