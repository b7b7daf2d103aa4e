//! The one way out to a host for clients that open their own connections (the live test's
//! protocols, the Event Hubs reader): through the proxy that serves the host when there is
//! one, which then resolves the name itself, else straight to the host's addresses. Two
//! steps, so that the live test can time the name lookup and the connection apart.

use std::net::SocketAddr;
use std::time::Duration;

use tokio::net::TcpStream;

use crate::{tunnel, Network, ProxyTarget, ResolveError, TunnelError};

/// Where a connection to `host`:`port` goes: the addresses found for the host, or for the
/// proxy in the way.
#[derive(Debug, Clone)]
pub struct Route {
    host: String,
    port: u16,
    addresses: Vec<SocketAddr>,
    proxy: Option<ProxyTarget>,
}

/// Why a connection could not be opened, in the terms of the step that failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConnectError {
    /// `looked_up` is the host, or the proxy when one is in the way.
    #[error("{looked_up}: no such host")]
    NotFound { looked_up: String },
    #[error("{looked_up}: {detail}")]
    LookupFailed { looked_up: String, detail: String },
    #[error("{address}: no answer within {seconds} s")]
    Timeout { address: SocketAddr, seconds: u64 },
    #[error("{address}: connection refused")]
    Refused { address: SocketAddr },
    #[error("{address}: {detail}")]
    Failed { address: SocketAddr, detail: String },
    /// The proxy answered, and did not open the tunnel.
    #[error(transparent)]
    Proxy(#[from] TunnelError),
}

impl Network {
    /// Looks up, within `timeout`, where a connection to `host`:`port` goes: the proxy's
    /// address when a proxy serves `host` (the host's name is then the proxy's to resolve),
    /// else the host's own addresses (the cloud's loopback port for a sandbox).
    pub async fn route(
        &self,
        host: &str,
        port: u16,
        timeout: Duration,
    ) -> Result<Route, ConnectError> {
        tokio::time::timeout(timeout, self.look_up(host, port))
            .await
            .map_err(|_| ConnectError::LookupFailed {
                looked_up: host.to_owned(),
                detail: format!("no answer within {} s", timeout.as_secs()),
            })?
    }

    async fn look_up(&self, host: &str, port: u16) -> Result<Route, ConnectError> {
        let proxy = self.proxy_for(host);
        let addresses = match &proxy {
            Some(proxy) => tokio::net::lookup_host(proxy.authority())
                .await
                .map(Iterator::collect::<Vec<_>>)
                .map_err(|e| ConnectError::LookupFailed {
                    looked_up: proxy.url.host_str().unwrap_or_default().to_owned(),
                    detail: e.to_string(),
                })?,
            None => self.resolve_on(host, port).await.map_err(|e| match e {
                ResolveError::NotFound => ConnectError::NotFound {
                    looked_up: host.to_owned(),
                },
                ResolveError::Failed(detail) => ConnectError::LookupFailed {
                    looked_up: host.to_owned(),
                    detail,
                },
            })?,
        };
        let route = Route {
            host: host.to_owned(),
            port,
            addresses,
            proxy,
        };
        if route.addresses.is_empty() {
            return Err(ConnectError::NotFound {
                looked_up: route.looked_up().to_owned(),
            });
        }
        Ok(route)
    }

    /// [`Network::route`] and [`Route::open`] in one, with `timeout` for each step.
    pub async fn connect(
        &self,
        host: &str,
        port: u16,
        timeout: Duration,
    ) -> Result<(TcpStream, Route), ConnectError> {
        let route = self.route(host, port, timeout).await?;
        let stream = route.open(timeout).await?;
        Ok((stream, route))
    }
}

impl Route {
    /// The name that was looked up: the proxy's, or the host's.
    pub fn looked_up(&self) -> &str {
        match &self.proxy {
            Some(proxy) => proxy.url.host_str().unwrap_or_default(),
            None => &self.host,
        }
    }

    /// The address connected to: the proxy's, or the host's.
    pub fn address(&self) -> SocketAddr {
        self.addresses[0]
    }

    /// The proxy in the way, if any.
    pub fn proxy(&self) -> Option<&ProxyTarget> {
        self.proxy.as_ref()
    }

    /// ` (proxy host:port)` when a proxy is in the way, for messages that say how.
    pub fn via(&self) -> String {
        self.proxy
            .as_ref()
            .map(|p| format!(" (proxy {})", p.authority()))
            .unwrap_or_default()
    }

    /// Opens the TCP connection, and through a proxy the tunnel to the host.
    pub async fn open(&self, timeout: Duration) -> Result<TcpStream, ConnectError> {
        let address = self.address();
        let connected = tokio::time::timeout(timeout, TcpStream::connect(address)).await;
        let failure = match connected {
            Ok(Ok(stream)) => Ok(stream),
            Err(_) => Err(ConnectError::Timeout {
                address,
                seconds: timeout.as_secs(),
            }),
            Ok(Err(e)) if e.kind() == std::io::ErrorKind::ConnectionRefused => {
                Err(ConnectError::Refused { address })
            }
            Ok(Err(e)) => Err(ConnectError::Failed {
                address,
                detail: e.to_string(),
            }),
        };
        // When the proxy itself cannot be reached, that is what people need to hear.
        let mut stream = match (failure, &self.proxy) {
            (Ok(stream), _) => stream,
            (Err(e), Some(proxy)) => {
                return Err(ConnectError::Proxy(TunnelError::ProxyUnreachable {
                    proxy: proxy.authority(),
                    detail: e.to_string(),
                }))
            }
            (Err(e), None) => return Err(e),
        };
        let _ = stream.set_nodelay(true);
        if let Some(proxy) = &self.proxy {
            tunnel(&mut stream, proxy, &self.host, self.port, timeout).await?;
        }
        Ok(stream)
    }
}
