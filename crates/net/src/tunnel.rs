//! A tunnel through an HTTP proxy (`CONNECT host:port`), with the proxy's login when it has
//! one, and the proxy's answer told apart: a login wanted, a host or port its rules forbid, a
//! name only it could have resolved and did not, a host it could not reach. The live test,
//! the Event Hubs reader and a proxy login's check all open their tunnels here.

use std::time::Duration;

use base64::Engine;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;

use crate::ProxyTarget;

/// Why a proxy did not open a tunnel. Each says what the proxy answered; [`TunnelError::fix`]
/// says what to do.
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
    /// `403 Forbidden`: the proxy's rules do not allow this host or this port.
    #[error(
        "the proxy {proxy} does not allow connections to {host} on port {port} (403 Forbidden)"
    )]
    Forbidden {
        proxy: String,
        host: String,
        port: u16,
    },
    /// The proxy could not resolve the name (squid says so in `X-Squid-Error: ERR_DNS_FAIL`).
    #[error("the proxy {proxy} could not find the address of {host} ({answer})")]
    NameUnknown {
        proxy: String,
        host: String,
        answer: String,
    },
    /// `502`, `503` or `504`: the proxy tried and could not reach the host.
    #[error("the proxy {proxy} could not reach {host} on port {port} ({answer})")]
    CannotReach {
        proxy: String,
        host: String,
        port: u16,
        answer: String,
    },
    /// The proxy itself did not answer, or refused the connection.
    #[error("the proxy {proxy} could not be reached: {detail}")]
    ProxyUnreachable { proxy: String, detail: String },
    #[error("the proxy {proxy} did not open a connection to {host}: {answer}")]
    Refused {
        proxy: String,
        host: String,
        answer: String,
    },
}

impl TunnelError {
    /// What happened, as a sentence starts (without its full stop).
    pub fn summary(&self) -> String {
        let text = self.to_string();
        let mut letters = text.chars();
        letters
            .next()
            .map(|first| first.to_uppercase().chain(letters).collect())
            .unwrap_or_default()
    }

    /// Whether trying again later may help: the proxy is down or could not reach the host.
    pub fn is_transient(&self) -> bool {
        matches!(
            self,
            TunnelError::CannotReach { .. } | TunnelError::ProxyUnreachable { .. }
        )
    }

    /// What to do about it, in a sentence.
    pub fn fix(&self) -> String {
        match self {
            TunnelError::NeedsLogin { schemes, .. } if !offers_basic(schemes) => {
                "Ask the network's administrators to let this host through the proxy without \
                 sign-in, or for a proxy account with a user name and password (Basic)."
                    .to_owned()
            }
            TunnelError::NeedsLogin { rejected: true, .. } => {
                "Sign in to the proxy again with the right user name and password (the app asks; \
                 in a terminal run `hubsetup proxy sign-in`)."
                    .to_owned()
            }
            TunnelError::NeedsLogin { .. } => {
                "Sign in to the proxy (the app asks; in a terminal run `hubsetup proxy sign-in`), \
                 then try again."
                    .to_owned()
            }
            TunnelError::Forbidden { host, port, .. } => format!(
                "Ask the proxy's administrators to allow connections to {} on port {port}.",
                domain_of(host)
            ),
            TunnelError::NameUnknown { host, .. } => format!(
                "Check the name {host}; if it is right, the proxy's name service does not know \
                 it: ask the proxy's administrators to check it."
            ),
            TunnelError::CannotReach { host, .. } => format!(
                "Try again in a few minutes; if it keeps failing, ask the proxy's administrators \
                 whether the proxy may reach {}.",
                domain_of(host)
            ),
            TunnelError::ProxyUnreachable { .. } => {
                "Check the proxy's address (HTTPS_PROXY or the system's proxy settings) and that \
                 the proxy is running."
                    .to_owned()
            }
            TunnelError::Refused { host, .. } => format!(
                "Ask the proxy's administrators to allow CONNECT to {} on port 443.",
                domain_of(host)
            ),
        }
    }
}

/// `*.servicebus.windows.net` for `ns.servicebus.windows.net`: what an administrator allows.
fn domain_of(host: &str) -> String {
    match host.split_once('.') {
        Some((_, rest)) if rest.contains('.') => format!("*.{rest}"),
        _ => host.to_owned(),
    }
}

/// Asks the proxy `stream` is connected to for a tunnel to `host`:`port`; the proxy resolves
/// the name.
pub async fn tunnel(
    stream: &mut TcpStream,
    proxy: &ProxyTarget,
    host: &str,
    port: u16,
    timeout: Duration,
) -> Result<(), TunnelError> {
    let refused = |answer: String| TunnelError::Refused {
        proxy: proxy.authority(),
        host: host.to_owned(),
        answer,
    };
    let mut request = format!("CONNECT {host}:{port} HTTP/1.1\r\nHost: {host}:{port}\r\n");
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
    let mut squid_error = None;
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
            let name = name.trim();
            if name.eq_ignore_ascii_case("proxy-authenticate") {
                schemes.extend(value.split_whitespace().next().map(str::to_owned));
            } else if name.eq_ignore_ascii_case("x-squid-error") {
                squid_error = value.split_whitespace().next().map(str::to_owned);
            }
        }
    }
    let status_line = status_line.trim().to_owned();
    let answer = status_line
        .split_once(' ')
        .map_or(status_line.as_str(), |(_, rest)| rest)
        .to_owned();
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
        Some("403") => Err(TunnelError::Forbidden {
            proxy: proxy.authority(),
            host: host.to_owned(),
            port,
        }),
        // squid names a failed lookup ERR_DNS_FAIL; squid 5 answers a CONNECT to a name with no
        // address ERR_CANNOT_FORWARD (no path to forward it on, with no parent proxy).
        _ if matches!(
            squid_error.as_deref(),
            Some("ERR_DNS_FAIL" | "ERR_CANNOT_FORWARD")
        ) =>
        {
            Err(TunnelError::NameUnknown {
                proxy: proxy.authority(),
                host: host.to_owned(),
                answer,
            })
        }
        Some("502" | "503" | "504") => Err(TunnelError::CannotReach {
            proxy: proxy.authority(),
            host: host.to_owned(),
            port,
            answer,
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
    let unreachable = |detail: String| TunnelError::ProxyUnreachable {
        proxy: proxy.authority(),
        detail,
    };
    let mut stream = tokio::time::timeout(timeout, TcpStream::connect(proxy.authority()))
        .await
        .map_err(|_| unreachable(format!("no answer within {} s", timeout.as_secs())))?
        .map_err(|e| unreachable(e.to_string()))?;
    tunnel(&mut stream, proxy, host, 443, timeout).await
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::AsyncReadExt;
    use tokio::net::TcpListener;

    /// A proxy that answers one CONNECT with `answer` (status line and headers).
    async fn answering(answer: &'static str) -> ProxyTarget {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        tokio::spawn(async move {
            let (mut client, _) = listener.accept().await.unwrap();
            let mut request = vec![0; 1024];
            let _ = client.read(&mut request).await;
            client.write_all(answer.as_bytes()).await.unwrap();
        });
        ProxyTarget {
            url: url::Url::parse(&format!("http://{address}")).unwrap(),
        }
    }

    async fn tunnel_through(answer: &'static str, host: &str, port: u16) -> TunnelError {
        let proxy = answering(answer).await;
        let mut stream = TcpStream::connect(proxy.authority()).await.unwrap();
        tunnel(&mut stream, &proxy, host, port, Duration::from_secs(5))
            .await
            .unwrap_err()
    }

    #[tokio::test]
    async fn each_answer_of_a_proxy_has_its_own_words() {
        let host = "iothub-ns-plant.servicebus.windows.net";
        let forbidden = tunnel_through(
            "HTTP/1.1 403 Forbidden\r\nX-Squid-Error: ERR_ACCESS_DENIED 0\r\n\r\n",
            host,
            5671,
        )
        .await;
        assert!(matches!(
            forbidden,
            TunnelError::Forbidden { port: 5671, .. }
        ));
        assert!(forbidden.to_string().ends_with(&format!(
            "does not allow connections to {host} on port 5671 (403 Forbidden)"
        )));
        assert_eq!(
            forbidden.fix(),
            "Ask the proxy's administrators to allow connections to *.servicebus.windows.net on port 5671."
        );

        let unknown = tunnel_through(
            "HTTP/1.1 503 Service Unavailable\r\nX-Squid-Error: ERR_DNS_FAIL 0\r\n\r\n",
            host,
            443,
        )
        .await;
        assert!(unknown.to_string().ends_with(&format!(
            "could not find the address of {host} (503 Service Unavailable)"
        )));

        let down = tunnel_through(
            "HTTP/1.1 503 Service Unavailable\r\nX-Squid-Error: ERR_CONNECT_FAIL 111\r\n\r\n",
            host,
            443,
        )
        .await;
        assert!(down.to_string().ends_with(&format!(
            "could not reach {host} on port 443 (503 Service Unavailable)"
        )));

        let login = tunnel_through(
            "HTTP/1.1 407 Proxy Authentication Required\r\nProxy-Authenticate: Negotiate\r\n\r\n",
            host,
            443,
        )
        .await;
        assert_eq!(
            login.fix(),
            "Ask the network's administrators to let this host through the proxy without sign-in, \
             or for a proxy account with a user name and password (Basic)."
        );
    }

    #[tokio::test]
    async fn a_proxy_that_is_not_there_is_named() {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        drop(listener);
        let proxy = ProxyTarget {
            url: url::Url::parse(&format!("http://{address}")).unwrap(),
        };
        let error = try_proxy(&proxy, "hub.azure-devices.net")
            .await
            .unwrap_err();
        assert!(
            matches!(&error, TunnelError::ProxyUnreachable { proxy, .. } if *proxy == address.to_string()),
            "{error:?}"
        );
    }
}
