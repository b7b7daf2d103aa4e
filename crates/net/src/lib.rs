//! How IoT Hub Setup reaches a cloud, shared by every client (sign-in, ARM, registry, live
//! test) so that they all trust, resolve and proxy the same way:
//!
//! - TLS trust: the operating system's roots, plus the cloud's own CA (the sandbox's), plus an
//!   optional extra bundle for networks whose TLS-inspecting proxy re-signs traffic.
//! - Resolution: a cloud's own name server and loopback address when it has them (the
//!   sandbox's), for its own hosts only; everything else goes through the system's DNS.
//! - Proxies: `HTTPS_PROXY` / `NO_PROXY` from the environment, else the operating system's
//!   (Windows: Internet Options with their automatic-configuration script, or WinHTTP's;
//!   macOS: the network's proxies); with saved logins for proxies that ask; never for
//!   loopback clouds.

mod issuer;
mod proxy;
mod roots;
mod route;
mod tunnel;
mod websocket;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use hubsetup_core::Cloud;
use rustls::RootCertStore;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::CertificateDer;

pub use issuer::UntrustedIssuer;
pub use proxy::{ProxyLogin, ProxySettings, ProxyTarget, SavedLogins, ScriptError};
pub use route::{ConnectError, Route};
pub use tunnel::{offers_basic, try_proxy, tunnel, TunnelError};
pub use websocket::{upgrade_websocket, WebSocketBytes, WebSocketError};

/// Why a cloud cannot be reached as configured.
#[derive(Debug, thiserror::Error)]
pub enum NetError {
    #[error("The certificate bundle {path} could not be read: {source}. Check the path given for the extra CA bundle.")]
    BundleUnreadable {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("The certificate bundle {path} holds no PEM certificate (-----BEGIN CERTIFICATE-----). Export your proxy's root certificate in PEM format.")]
    BundleEmpty { path: PathBuf },
    #[error("The {origin} is not a valid PEM certificate; it cannot be trusted.")]
    InvalidCertificate { origin: String },
    #[error("No trusted root certificates were found on this computer; install the system's CA certificates (ca-certificates on Linux).")]
    NoRoots,
    #[error("The proxy address '{0}' is not a valid URL; set HTTPS_PROXY like http://proxy.example:8080.")]
    InvalidProxy(String),
    #[error("The HTTP client could not be set up: {0}.")]
    Client(String),
}

/// A request that got no answer from `host`, with the innermost cause of the failure (the part
/// that says what happened: "connection refused", "certificate expired").
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "Could not reach {host}: {detail}. Check the internet connection (and proxy settings, \
     HTTPS_PROXY), then try again."
)]
pub struct Unreachable {
    pub host: String,
    pub detail: String,
}

impl Unreachable {
    pub fn new(host: impl Into<String>, error: &reqwest::Error) -> Unreachable {
        Unreachable {
            host: host.into(),
            detail: describe(error),
        }
    }
}

/// The innermost cause of a transport error, or that it timed out, or who issued a
/// certificate this computer does not trust.
fn describe(error: &reqwest::Error) -> String {
    if error.is_timeout() {
        return "the request timed out".to_owned();
    }
    if let Some(untrusted) = untrusted_issuer(error) {
        return untrusted.to_string();
    }
    let mut cause: &dyn std::error::Error = error;
    while let Some(inner) = cause.source() {
        cause = inner;
    }
    cause.to_string()
}

/// An untrusted issuer anywhere in an error's causes, including inside `io::Error`s (whose
/// `source` skips the error they wrap).
fn untrusted_issuer<'a>(
    error: &'a (dyn std::error::Error + 'static),
) -> Option<&'a UntrustedIssuer> {
    if let Some(tls) = error.downcast_ref::<rustls::Error>() {
        return UntrustedIssuer::of(tls);
    }
    let wrapped = error
        .downcast_ref::<std::io::Error>()
        .and_then(|io| io.get_ref())
        .map(|inner| inner as &(dyn std::error::Error + 'static));
    wrapped
        .and_then(untrusted_issuer)
        .or_else(|| error.source().and_then(untrusted_issuer))
}

/// Why a host name did not give an address.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ResolveError {
    #[error("no such host")]
    NotFound,
    #[error("{0}")]
    Failed(String),
}

/// Everything needed to open connections to one cloud.
#[derive(Debug, Clone)]
pub struct Network {
    cloud: Cloud,
    tls: Arc<rustls::ClientConfig>,
    proxy: ProxySettings,
}

impl Network {
    /// Trusts the system's roots, the cloud's own CA and `extra_bundle`; proxies from the
    /// environment.
    pub fn new(cloud: &Cloud, extra_bundle: Option<&Path>) -> Result<Network, NetError> {
        Network::with_proxy(cloud, extra_bundle, ProxySettings::from_system()?)
    }

    pub fn with_proxy(
        cloud: &Cloud,
        extra_bundle: Option<&Path>,
        proxy: ProxySettings,
    ) -> Result<Network, NetError> {
        Network::with_roots(
            cloud,
            extra_bundle,
            proxy,
            roots::SystemRoots::of_this_computer(),
        )
    }

    fn with_roots(
        cloud: &Cloud,
        extra_bundle: Option<&Path>,
        proxy: ProxySettings,
        system: roots::SystemRoots,
    ) -> Result<Network, NetError> {
        let mut roots = RootCertStore::empty();
        // Unparsable system certificates are skipped, as every TLS client does.
        roots.add_parsable_certificates(system.now);
        if let Some(pem) = &cloud.extra_root_ca_pem {
            add_pem(
                &mut roots,
                pem.as_bytes(),
                &format!("{} CA certificate", cloud.display_name),
            )?;
        }
        if let Some(path) = extra_bundle {
            let bytes = std::fs::read(path).map_err(|source| NetError::BundleUnreadable {
                path: path.to_owned(),
                source,
            })?;
            if add_pem(&mut roots, &bytes, &format!("bundle {}", path.display()))? == 0 {
                return Err(NetError::BundleEmpty {
                    path: path.to_owned(),
                });
            }
        }
        if roots.is_empty() {
            return Err(NetError::NoRoots);
        }
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let verifier = issuer::NamingVerifier::new(roots, system.later, provider.clone())
            .map_err(NetError::Client)?;
        let tls = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| NetError::Client(e.to_string()))?
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(verifier))
            .with_no_client_auth();
        let proxy = if cloud.loopback.is_some() {
            ProxySettings::none()
        } else {
            proxy
        };
        Ok(Network {
            cloud: cloud.clone(),
            tls: Arc::new(tls),
            proxy,
        })
    }

    pub fn cloud(&self) -> &Cloud {
        &self.cloud
    }

    /// The TLS settings, for clients that open connections themselves.
    pub fn tls_config(&self) -> Arc<rustls::ClientConfig> {
        self.tls.clone()
    }

    /// The address `host` is served on without DNS, if this cloud is the sandbox's.
    pub fn loopback_for(&self, host: &str) -> Option<SocketAddr> {
        self.cloud.loopback.filter(|_| self.cloud.serves(host))
    }

    /// The addresses of `host` on port 443 (or the cloud's loopback port): through the cloud's
    /// own name server for its hosts when it has one, else the system's DNS.
    pub async fn resolve(&self, host: &str) -> Result<Vec<SocketAddr>, ResolveError> {
        self.resolve_on(host, 443).await
    }

    /// [`Network::resolve`] for another of Azure's ports (5671 for AMQP): a loopback cloud
    /// serves it on the port its description maps it to.
    pub async fn resolve_on(&self, host: &str, port: u16) -> Result<Vec<SocketAddr>, ResolveError> {
        let port = match self.loopback_for(host) {
            Some(loopback) if port == 443 => loopback.port(),
            Some(_) => self
                .cloud
                .loopback_ports
                .get(&port)
                .copied()
                .unwrap_or(port),
            None => port,
        };
        match (self.cloud.dns_server, self.cloud.serves(host)) {
            (Some(server), true) => ask_name_server(server, host).await.map(|ips| {
                ips.into_iter()
                    .map(|ip| SocketAddr::new(ip.into(), port))
                    .collect()
            }),
            _ => match self.loopback_for(host) {
                Some(address) => Ok(vec![SocketAddr::new(address.ip(), port)]),
                None => tokio::net::lookup_host((host, port))
                    .await
                    .map(Iterator::collect)
                    .map_err(|e| match e.kind() {
                        std::io::ErrorKind::NotFound => ResolveError::NotFound,
                        _ if e.to_string().contains("failed to lookup address") => {
                            ResolveError::NotFound
                        }
                        _ => ResolveError::Failed(e.to_string()),
                    }),
            },
        }
    }

    /// The proxy to go through for `host`, if any.
    pub fn proxy_for(&self, host: &str) -> Option<ProxyTarget> {
        self.proxy.for_host(host)
    }

    /// The proxy settings this network follows.
    pub fn proxy_settings(&self) -> &ProxySettings {
        &self.proxy
    }

    /// This network, with proxy logins from `logins` for proxies that ask for one.
    pub fn with_saved_proxy_logins(mut self, logins: Arc<dyn SavedLogins>) -> Network {
        self.proxy = self.proxy.with_saved_logins(logins);
        self
    }

    /// An HTTP client for the cloud's REST APIs with this trust, resolution and proxy.
    pub fn http_client(&self) -> Result<reqwest::Client, NetError> {
        self.http_client_builder()?
            .build()
            .map_err(|e| NetError::Client(e.to_string()))
    }

    /// The builder behind [`Network::http_client`], for clients that need one more setting
    /// (sign-in clients turn redirects off, as OAuth 2.0 token requests must not follow them).
    pub fn http_client_builder(&self) -> Result<reqwest::ClientBuilder, NetError> {
        let mut builder = reqwest::Client::builder()
            .use_preconfigured_tls((*self.tls).clone())
            .user_agent(concat!("hubsetup/", env!("CARGO_PKG_VERSION")))
            .connect_timeout(std::time::Duration::from_secs(15))
            .timeout(std::time::Duration::from_secs(60));
        if self.cloud.loopback.is_some() {
            builder = builder
                .no_proxy()
                .dns_resolver(Arc::new(LoopbackResolver(self.clone())));
        } else {
            builder = builder.no_proxy();
            if self.proxy.any() {
                // Our own rules decide which hosts go through it (`<local>` included), the
                // same ones the live test's own connections follow.
                let settings = self.proxy.clone();
                let proxy = reqwest::Proxy::custom(move |url| {
                    let host = url.host_str()?;
                    (url.scheme() == "https")
                        .then(|| settings.for_host(host).map(|t| t.url.clone()))
                        .flatten()
                });
                builder = builder.proxy(proxy);
            }
        }
        Ok(builder)
    }
}

fn add_pem(roots: &mut RootCertStore, pem: &[u8], origin: &str) -> Result<usize, NetError> {
    let mut added = 0;
    for cert in CertificateDer::pem_slice_iter(pem) {
        let cert = cert.map_err(|_| NetError::InvalidCertificate {
            origin: origin.to_owned(),
        })?;
        roots.add(cert).map_err(|_| NetError::InvalidCertificate {
            origin: origin.to_owned(),
        })?;
        added += 1;
    }
    Ok(added)
}

/// Resolves the sandbox's hosts to its loopback address and refuses every other name, so that
/// nothing meant for the sandbox can leak to the internet.
struct LoopbackResolver(Network);

impl reqwest::dns::Resolve for LoopbackResolver {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let network = self.0.clone();
        let host = name.as_str().to_owned();
        Box::pin(async move {
            if !network.cloud.serves(&host) {
                return Err(format!("{host} is not a host of the sandbox").into());
            }
            match network.resolve(&host).await {
                Ok(addresses) if !addresses.is_empty() => {
                    Ok(Box::new(addresses.into_iter()) as reqwest::dns::Addrs)
                }
                Ok(_) | Err(ResolveError::NotFound) => Err(format!("{host}: no such host").into()),
                Err(ResolveError::Failed(e)) => Err(e.into()),
            }
        })
    }
}

/// Asks a name server for the IPv4 addresses of `host`, retrying once on silence.
async fn ask_name_server(
    server: SocketAddr,
    host: &str,
) -> Result<Vec<std::net::Ipv4Addr>, ResolveError> {
    use hubsetup_core::dns_wire::{self, Answer};
    let failed = |e: std::io::Error| {
        ResolveError::Failed(format!("the name server {server} did not answer: {e}"))
    };
    let socket = tokio::net::UdpSocket::bind(("127.0.0.1", 0))
        .await
        .map_err(failed)?;
    socket.connect(server).await.map_err(failed)?;
    let id = (std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos())
        & 0xFFFF) as u16;
    let question = dns_wire::query(id, host);
    let mut buffer = [0u8; 512];
    for _ in 0..2 {
        socket.send(&question).await.map_err(failed)?;
        let received =
            tokio::time::timeout(std::time::Duration::from_secs(2), socket.recv(&mut buffer)).await;
        let Ok(received) = received else { continue };
        match dns_wire::parse_reply(&buffer[..received.map_err(failed)?], id) {
            Some(Answer::Addresses(list)) if !list.is_empty() => return Ok(list),
            Some(_) => return Err(ResolveError::NotFound),
            None => continue,
        }
    }
    Err(ResolveError::Failed(format!(
        "the name server {server} did not answer"
    )))
}

#[cfg(test)]
mod tests;
