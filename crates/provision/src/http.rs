//! Sending one request with the retries Azure asks for: 429 and 5xx answers wait for
//! `Retry-After` (bounded), and a lost connection is tried again, but only for requests that
//! are safe to repeat. A request that is not (creating a hub) comes back to its caller, which
//! reads the current state before deciding anything.

use std::time::Duration;

use hubsetup_net::Unreachable;
use reqwest::header::{HeaderMap, RETRY_AFTER};
use reqwest::{RequestBuilder, StatusCode};
use zeroize::Zeroizing;

use crate::progress::{Progress, Reporter};
use crate::Error;

/// Tries per request, the first included.
pub(crate) const MAX_ATTEMPTS: u32 = 5;
/// The longest wait a `Retry-After` may ask for before we cap it.
const MAX_RETRY_AFTER: Duration = Duration::from_secs(60);

/// Whether a request may be sent again when its answer is lost or refused for now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Repeat {
    /// Reads, polls and idempotent writes.
    Safe,
    /// Sent once; the caller decides what to do after a failure.
    Never,
}

/// An answer, read whole. Bodies may hold keys (`listkeys`, devices), so they are zeroized.
#[derive(Debug)]
pub(crate) struct Answer {
    pub(crate) status: StatusCode,
    pub(crate) headers: HeaderMap,
    pub(crate) body: Zeroizing<Vec<u8>>,
}

impl Answer {
    pub(crate) fn json(&self) -> Result<serde_json::Value, Error> {
        serde_json::from_slice(&self.body).map_err(|_| Error::UnexpectedAnswer {
            what: format!("a {} answer that is not JSON", self.status.as_u16()),
        })
    }

    pub(crate) fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// The wait the service asked for, capped, if it asked.
    pub(crate) fn retry_after(&self) -> Option<Duration> {
        let seconds: u64 = self.header(RETRY_AFTER.as_str())?.trim().parse().ok()?;
        Some(Duration::from_secs(seconds).min(MAX_RETRY_AFTER))
    }

    /// Throttled or temporarily unavailable: worth asking again later.
    pub(crate) fn is_transient(&self) -> bool {
        is_transient(self.status)
    }
}

pub(crate) fn is_transient(status: StatusCode) -> bool {
    status == StatusCode::TOO_MANY_REQUESTS || matches!(status.as_u16(), 500 | 502 | 503 | 504)
}

/// 1, 2, 4, 8 … seconds, for waits the service did not specify.
pub(crate) fn backoff(attempt: u32) -> Duration {
    Duration::from_secs(1 << attempt.saturating_sub(1).min(5))
}

/// Waits `delay`, telling the reporter why.
pub(crate) async fn wait(report: &Reporter, reason: String, delay: Duration) {
    report(Progress::Retrying {
        reason,
        after_secs: delay.as_secs(),
    });
    tokio::time::sleep(delay).await;
}

/// The host a request goes to, for messages.
fn host_of(request: &RequestBuilder) -> String {
    request
        .try_clone()
        .and_then(|r| r.build().ok())
        .and_then(|r| r.url().host_str().map(str::to_owned))
        .unwrap_or_else(|| "Azure".to_owned())
}

/// Sends the request `build` makes, again as `repeat` allows, and returns the first answer
/// that is not transient (or the last one when tries run out).
pub(crate) async fn send(
    build: impl Fn() -> RequestBuilder,
    repeat: Repeat,
    report: &Reporter,
) -> Result<Answer, Error> {
    let mut attempt = 1;
    loop {
        let request = build();
        let host = host_of(&request);
        let last_try = repeat == Repeat::Never || attempt >= MAX_ATTEMPTS;
        match request.send().await {
            Err(error) => {
                if last_try {
                    return Err(Unreachable::new(host, &error).into());
                }
                let reason = format!("The connection to {host} was lost; trying again.");
                wait(report, reason, backoff(attempt)).await;
            }
            Ok(response) => {
                let status = response.status();
                let headers = response.headers().clone();
                let body = response.bytes().await.map(|b| Zeroizing::new(b.to_vec()));
                let answer = match body {
                    Ok(body) => Answer {
                        status,
                        headers,
                        body,
                    },
                    Err(_) if !last_try => {
                        let reason = format!("The answer from {host} was cut off; trying again.");
                        wait(report, reason, backoff(attempt)).await;
                        attempt += 1;
                        continue;
                    }
                    Err(error) => return Err(Unreachable::new(host, &error).into()),
                };
                if !answer.is_transient() || last_try {
                    return Ok(answer);
                }
                let delay = answer.retry_after().unwrap_or_else(|| backoff(attempt));
                let reason = match status {
                    StatusCode::TOO_MANY_REQUESTS => format!("{host} asked to slow down."),
                    _ => format!("{host} is busy (HTTP {}).", status.as_u16()),
                };
                wait(report, reason, delay).await;
            }
        }
        attempt += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn waits_grow_and_retry_after_is_capped() {
        assert_eq!(backoff(1), Duration::from_secs(1));
        assert_eq!(backoff(3), Duration::from_secs(4));
        assert_eq!(backoff(40), Duration::from_secs(32));
        let mut headers = HeaderMap::new();
        headers.insert(RETRY_AFTER, "3600".parse().unwrap());
        let answer = Answer {
            status: StatusCode::SERVICE_UNAVAILABLE,
            headers,
            body: Zeroizing::new(vec![]),
        };
        assert_eq!(answer.retry_after(), Some(MAX_RETRY_AFTER));
        assert!(answer.is_transient());
        assert!(!is_transient(StatusCode::CONFLICT));
    }
}
