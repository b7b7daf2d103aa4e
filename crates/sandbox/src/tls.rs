//! The sandbox's certificates: a CA made at first start (kept in the state directory when there
//! is one, so clients that trusted it keep trusting it after a restart), a server certificate
//! for every sandbox host, and the two broken certificates the fault injector can serve
//! instead: one for the wrong host and one that has expired.

use std::path::Path;
use std::sync::Arc;

use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair, KeyUsagePurpose};
use rustls::crypto::ring::sign::any_supported_type;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;
use time::{Duration, OffsetDateTime};

use crate::faults::{Faults, TlsFault};
use crate::SandboxError;

const CA_CERT_FILE: &str = "ca.pem";
const CA_KEY_FILE: &str = "ca-key.pem";

/// The sandbox's root of trust.
pub(crate) struct Authority {
    issuer: Issuer<'static, KeyPair>,
    pub(crate) cert_pem: String,
}

impl Authority {
    /// Loads the CA from `dir` if it holds one, otherwise makes a new one (and saves it there).
    pub(crate) fn load_or_create(dir: Option<&Path>) -> Result<Authority, SandboxError> {
        let saved = dir.and_then(|d| {
            let cert = std::fs::read_to_string(d.join(CA_CERT_FILE)).ok()?;
            let key = std::fs::read_to_string(d.join(CA_KEY_FILE)).ok()?;
            Some((cert, key))
        });
        let (cert_pem, key) = match saved {
            Some((cert, key)) => (cert, KeyPair::from_pem(&key).map_err(tls_error)?),
            None => {
                let key = KeyPair::generate().map_err(tls_error)?;
                let cert = ca_params().self_signed(&key).map_err(tls_error)?.pem();
                if let Some(dir) = dir {
                    crate::state::write_private(
                        &dir.join(CA_KEY_FILE),
                        key.serialize_pem().as_bytes(),
                    )?;
                    crate::state::write_private(&dir.join(CA_CERT_FILE), cert.as_bytes())?;
                }
                (cert, key)
            }
        };
        // Signing needs only the CA's name and key, which are the same as when it was made.
        Ok(Authority {
            issuer: Issuer::new(ca_params(), key),
            cert_pem,
        })
    }

    fn leaf(
        &self,
        names: Vec<String>,
        not_before: OffsetDateTime,
        not_after: OffsetDateTime,
    ) -> Result<Arc<CertifiedKey>, SandboxError> {
        let key = KeyPair::generate().map_err(tls_error)?;
        let mut params = CertificateParams::new(names).map_err(tls_error)?;
        params
            .distinguished_name
            .push(DnType::CommonName, "IoT Hub Setup sandbox");
        params.not_before = not_before;
        params.not_after = not_after;
        let cert = params.signed_by(&key, &self.issuer).map_err(tls_error)?;
        let key_der = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der()));
        let signing_key = any_supported_type(&key_der).map_err(|e| tls_error(e.to_string()))?;
        Ok(Arc::new(CertifiedKey::new(
            vec![CertificateDer::from(cert.der().to_vec())],
            signing_key,
        )))
    }
}

fn ca_params() -> CertificateParams {
    let mut params = CertificateParams::default();
    params
        .distinguished_name
        .push(DnType::CommonName, "IoT Hub Setup sandbox CA");
    params
        .distinguished_name
        .push(DnType::OrganizationName, "IoT Hub Setup (local test CA)");
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    params.not_before = OffsetDateTime::now_utc() - Duration::days(1);
    params.not_after = OffsetDateTime::now_utc() + Duration::days(3650);
    params
}

fn tls_error(e: impl ToString) -> SandboxError {
    SandboxError::Tls(e.to_string())
}

/// Picks the certificate for each handshake: the good one, unless a fault asks for a broken one
/// for the host the client named (SNI).
pub(crate) struct CertificateResolver {
    good: Arc<CertifiedKey>,
    wrong_host: Arc<CertifiedKey>,
    expired: Arc<CertifiedKey>,
    faults: Arc<Faults>,
}

impl std::fmt::Debug for CertificateResolver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("CertificateResolver")
    }
}

impl CertificateResolver {
    pub(crate) fn new(
        authority: &Authority,
        suffix: &str,
        faults: Arc<Faults>,
    ) -> Result<CertificateResolver, SandboxError> {
        let now = OffsetDateTime::now_utc();
        let names = vec![
            format!("*.{suffix}"),
            format!("*.azure-devices.{suffix}"),
            format!("*.servicebus.{suffix}"),
            format!("*.blob.core.{suffix}"),
            // The one mail domain with a Web Key Directory host of its own (see keys.rs).
            format!("openpgpkey.partner.{suffix}"),
            "localhost".to_owned(),
        ];
        Ok(CertificateResolver {
            good: authority.leaf(
                names.clone(),
                now - Duration::days(1),
                now + Duration::days(825),
            )?,
            wrong_host: authority.leaf(
                vec!["wrong-host.example".to_owned()],
                now - Duration::days(1),
                now + Duration::days(825),
            )?,
            expired: authority.leaf(names, now - Duration::days(400), now - Duration::days(2))?,
            faults,
        })
    }
}

impl ResolvesServerCert for CertificateResolver {
    fn resolve(&self, hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        let fault = hello
            .server_name()
            .and_then(|host| self.faults.tls_fault(host));
        Some(match fault {
            None => self.good.clone(),
            Some(TlsFault::WrongHost) => self.wrong_host.clone(),
            Some(TlsFault::Expired) => self.expired.clone(),
        })
    }
}

/// The server's TLS settings: TLS 1.2 and 1.3 with ring, certificates from the resolver.
/// `alpn`: what the listener speaks (`http/1.1`; nothing for AMQP, whose clients offer none).
pub(crate) fn server_config(
    resolver: Arc<CertificateResolver>,
    alpn: &[&[u8]],
) -> Result<rustls::ServerConfig, SandboxError> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(tls_error)?
        .with_no_client_auth()
        .with_cert_resolver(resolver);
    config.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
    Ok(config)
}

/// Accepts TLS connections on `listener` until the runtime stops, handing each stream and the
/// host name its client asked for (SNI, lower case) to `serve`: the AMQP and MQTT endpoints,
/// which serve every hub on one port each, as Azure's names them by host.
pub(crate) async fn serve_tls<F, Served>(
    listener: tokio::net::TcpListener,
    acceptor: tokio_rustls::TlsAcceptor,
    serve: F,
) where
    F: Fn(tokio_rustls::server::TlsStream<tokio::net::TcpStream>, String) -> Served
        + Clone
        + Send
        + 'static,
    Served: std::future::Future<Output = ()> + Send + 'static,
{
    loop {
        let Ok((tcp, _)) = listener.accept().await else {
            continue;
        };
        let _ = tcp.set_nodelay(true);
        let (acceptor, serve) = (acceptor.clone(), serve.clone());
        tokio::spawn(async move {
            let Ok(stream) = acceptor.accept(tcp).await else {
                return;
            };
            let host = stream
                .get_ref()
                .1
                .server_name()
                .unwrap_or_default()
                .to_ascii_lowercase();
            serve(stream, host).await;
        });
    }
}
