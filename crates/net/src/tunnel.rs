//! A tunnel through an HTTP proxy (`CONNECT host:443`), with the proxy's login when it has
//! one. The live test opens its connections through it, and a login typed for a proxy is
//! tried through it before it is saved.

use std::time::Duration;

use base64::Engine;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;

use crate::ProxyTarget;

/// Why a proxy did not open a tunnel.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TunnelError {
    /// `407 Proxy Authentication Required`, with the schemes it offered (`Basic`,
    /// `Negotiate`, `NTLM`); `rejected` when a login was sent and refused.
    #[error("the proxy {proxy} asks for a login ({})", schemes.join(", "))]
    NeedsLogin {
        proxy: String,
        schemes: Vec<String>,
        rejected: bool,
    },
    #[error("the proxy {proxy} did not open a connection to {host}: {answer}")]
    Refused {
        proxy: String,
        host: String,
        answer: String,
    },
}

/// Asks the proxy `stream` is connected to for a tunnel to `host`:443.
pub async fn tunnel(
    stream: &mut TcpStream,
    proxy: &ProxyTarget,
    host: &str,
    timeout: Duration,
) -> Result<(), TunnelError> {
    let refused = |answer: String| TunnelError::Refused {
        proxy: proxy.authority(),
        host: host.to_owned(),
        answer,
    };
    let mut request = format!("CONNECT {host}:443 HTTP/1.1\r\nHost: {host}:443\r\n");
    let login = proxy.login();
    if let Some(login) = &login {
        let credentials = zeroize::Zeroizing::new(format!("{}:{}", login.user, *login.password));
        let encoded = base64::engine::general_purpose::STANDARD.encode(credentials.as_bytes());
        request.push_str(&format!("Proxy-Authorization: Basic {encoded}\r\n"));
    }
    request.push_str("\r\n");
    let request = zeroize::Zeroizing::new(request);
    stream
        .write_all(request.as_bytes())
        .await
        .map_err(|e| refused(e.to_string()))?;
    let mut reader = BufReader::new(stream);
    let mut status_line = String::new();
    tokio::time::timeout(timeout, reader.read_line(&mut status_line))
        .await
        .map_err(|_| refused("no answer".into()))?
        .map_err(|e| refused(e.to_string()))?;
    let mut schemes = Vec::new();
    loop {
        let mut line = String::new();
        let read = reader
            .read_line(&mut line)
            .await
            .map_err(|e| refused(e.to_string()))?;
        if read == 0 || line == "\r\n" {
            break;
        }
        if let Some((name, value)) = line.split_once(':') {
            if name.trim().eq_ignore_ascii_case("proxy-authenticate") {
                schemes.extend(value.split_whitespace().next().map(str::to_owned));
            }
        }
    }
    let status_line = status_line.trim().to_owned();
    match status_line.split_whitespace().nth(1) {
        Some("200") => Ok(()),
        Some("407") => Err(TunnelError::NeedsLogin {
            proxy: proxy.authority(),
            schemes: if schemes.is_empty() {
                vec!["Basic".into()]
            } else {
                schemes
            },
            rejected: login.is_some(),
        }),
        _ => Err(refused(status_line)),
    }
}

/// Whether a proxy's schemes include Basic, the one a typed user name and password serve.
pub fn offers_basic(schemes: &[String]) -> bool {
    schemes.iter().any(|s| s.eq_ignore_ascii_case("basic"))
}

/// Tries `proxy` (with its login) for a tunnel to `host`, as a login is checked before it is
/// saved.
pub async fn try_proxy(proxy: &ProxyTarget, host: &str) -> Result<(), TunnelError> {
    let timeout = Duration::from_secs(15);
    let unreachable = |answer: String| TunnelError::Refused {
        proxy: proxy.authority(),
        host: host.to_owned(),
        answer,
    };
    let mut stream = tokio::time::timeout(timeout, TcpStream::connect(proxy.authority()))
        .await
        .map_err(|_| unreachable("no answer".into()))?
        .map_err(|e| unreachable(e.to_string()))?;
    tunnel(&mut stream, proxy, host, timeout).await
}
