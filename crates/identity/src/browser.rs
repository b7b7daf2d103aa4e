//! Browser sign-in's two local pieces: opening the system browser (replaceable, so tests and
//! the GUI can drive the page themselves) and the one-shot listener on `127.0.0.1` that the
//! sign-in page redirects to with `?code=…&state=…` (RFC 8252's loopback redirect).

use std::collections::HashMap;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use zeroize::Zeroizing;

use crate::Error;

/// The most a browser's request line and headers take; anything longer is not our redirect.
const MAX_REQUEST_BYTES: usize = 16 * 1024;
/// How long one connection may take to send its request.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);

/// Opens a URL for the person to sign in.
pub trait BrowserOpener: Send + Sync {
    /// Opens `url`; an error says why no browser could be opened.
    fn open(&self, url: &str) -> Result<(), String>;
}

/// The system's default browser.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemBrowser;

impl BrowserOpener for SystemBrowser {
    fn open(&self, url: &str) -> Result<(), String> {
        webbrowser::open(url).map_err(|e| e.to_string())
    }
}

impl<F: Fn(&str) -> Result<(), String> + Send + Sync> BrowserOpener for F {
    fn open(&self, url: &str) -> Result<(), String> {
        self(url)
    }
}

/// Listens on an ephemeral loopback port for the sign-in page's redirect.
pub(crate) struct Listener {
    listener: TcpListener,
    port: u16,
}

impl Listener {
    pub(crate) async fn bind() -> Result<Listener, Error> {
        let failed = |e: std::io::Error| Error::BrowserSignInFailed {
            detail: format!("no local port could be opened for the answer ({e})"),
        };
        let listener = TcpListener::bind(("127.0.0.1", 0)).await.map_err(failed)?;
        let port = listener.local_addr().map_err(failed)?.port();
        Ok(Listener { listener, port })
    }

    /// `http://localhost:{port}`: the form Entra accepts for public clients on any port.
    pub(crate) fn redirect_uri(&self) -> String {
        format!("http://localhost:{}", self.port)
    }

    /// Answers requests until one carries `state` with a code (returned) or an error; other
    /// requests (a favicon, a stray or forged redirect) are answered and ignored.
    pub(crate) async fn wait_for_code(
        self,
        state: &str,
        timeout: Duration,
    ) -> Result<Zeroizing<String>, Error> {
        let wait = async {
            loop {
                let Ok((stream, _)) = self.listener.accept().await else {
                    continue;
                };
                if let Some(outcome) = answer(stream, state).await {
                    return outcome;
                }
            }
        };
        tokio::time::timeout(timeout, wait)
            .await
            .map_err(|_| Error::SignInTimedOut {
                minutes: timeout.as_secs().div_ceil(60),
            })?
    }
}

/// Reads one request and answers it; `None` when it was not the awaited redirect.
async fn answer(mut stream: TcpStream, state: &str) -> Option<Result<Zeroizing<String>, Error>> {
    let head = tokio::time::timeout(REQUEST_TIMEOUT, read_head(&mut stream))
        .await
        .ok()??;
    let query = redirect_query(&head);
    let (status, page, outcome) = match &query {
        Some(q) if q.get("state").map(String::as_str) == Some(state) => {
            match (q.get("code"), q.get("error")) {
                (Some(code), _) => (
                    "200 OK",
                    "You are signed in. Return to IoT Hub Setup; you can close this tab.",
                    Some(Ok(Zeroizing::new(code.clone()))),
                ),
                (None, error) => {
                    let detail = q
                        .get("error_description")
                        .or(error)
                        .map_or("no reason given", String::as_str)
                        .to_owned();
                    (
                        "200 OK",
                        "Sign-in was not completed. Return to IoT Hub Setup to try again.",
                        Some(Err(Error::SignInDeclined { detail })),
                    )
                }
            }
        }
        Some(_) => (
            "400 Bad Request",
            "This answer does not belong to the sign-in IoT Hub Setup started, so it was ignored.",
            None,
        ),
        None => ("404 Not Found", "Nothing here.", None),
    };
    let body = format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>IoT Hub Setup</title>\
         </head><body><p>{page}</p></body></html>"
    );
    let response = format!(
        "HTTP/1.1 {status}\r\nContent-Type: text/html; charset=utf-8\r\nContent-Length: {}\r\n\
         Cache-Control: no-store\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    // The browser may have gone; the outcome stands either way.
    let _ = stream.write_all(response.as_bytes()).await;
    let _ = stream.shutdown().await;
    outcome
}

/// The request line and headers (the code is in the request line, so they are zeroized).
async fn read_head(stream: &mut TcpStream) -> Option<Zeroizing<String>> {
    let mut buffer = Zeroizing::new(Vec::new());
    let mut chunk = [0u8; 2048];
    while !buffer.windows(4).any(|w| w == b"\r\n\r\n") {
        let read = stream.read(&mut chunk).await.ok()?;
        if read == 0 || buffer.len() + read > MAX_REQUEST_BYTES {
            return None;
        }
        buffer.extend_from_slice(&chunk[..read]);
    }
    chunk.fill(0);
    String::from_utf8(buffer.to_vec()).ok().map(Zeroizing::new)
}

/// The query of a `GET /?…` request that carries `code` or `error`.
fn redirect_query(head: &str) -> Option<HashMap<String, String>> {
    let target = head
        .lines()
        .next()?
        .strip_prefix("GET ")?
        .split(' ')
        .next()?;
    let url = url::Url::parse(&format!("http://localhost{target}")).ok()?;
    let query: HashMap<String, String> = url.query_pairs().into_owned().collect();
    (query.contains_key("code") || query.contains_key("error")).then_some(query)
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn get(port: u16, target: &str) -> String {
        let mut stream = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
        let request = format!("GET {target} HTTP/1.1\r\nHost: localhost:{port}\r\n\r\n");
        stream.write_all(request.as_bytes()).await.unwrap();
        let mut response = String::new();
        stream.read_to_string(&mut response).await.unwrap();
        response
    }

    #[tokio::test]
    async fn stray_and_forged_requests_are_ignored_until_the_real_redirect() {
        let listener = Listener::bind().await.unwrap();
        let port = listener.port;
        assert_eq!(listener.redirect_uri(), format!("http://localhost:{port}"));
        let waiting = tokio::spawn(listener.wait_for_code("s1", Duration::from_secs(20)));
        assert!(get(port, "/favicon.ico").await.starts_with("HTTP/1.1 404"));
        let forged = get(port, "/?code=evil&state=other").await;
        assert!(forged.starts_with("HTTP/1.1 400"), "{forged}");
        let real = get(port, "/?code=abc%2Bdef&state=s1").await;
        assert!(real.contains("You are signed in."), "{real}");
        assert_eq!(waiting.await.unwrap().unwrap().as_str(), "abc+def");
    }

    #[tokio::test]
    async fn a_refusal_and_silence_are_reported() {
        let listener = Listener::bind().await.unwrap();
        let port = listener.port;
        let waiting = tokio::spawn(listener.wait_for_code("s1", Duration::from_secs(20)));
        get(
            port,
            "/?error=access_denied&error_description=AADSTS65004%3A+User+declined+to+consent.&state=s1",
        )
        .await;
        assert_eq!(
            waiting.await.unwrap().err().unwrap().to_string(),
            "Sign-in was cancelled or refused (AADSTS65004: User declined to consent.). Sign in \
             again and approve the request, or ask your Azure administrator whether you may use \
             IoT Hub Setup."
        );
        let silent = Listener::bind().await.unwrap();
        let error = silent
            .wait_for_code("s1", Duration::from_millis(50))
            .await
            .err()
            .unwrap();
        assert_eq!(error.kind(), "sign_in_timed_out");
    }
}
