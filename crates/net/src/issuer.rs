//! Naming who signed a certificate this computer does not trust. A TLS-inspecting proxy
//! (Zscaler, Netskope, a firewall's "SSL inspection") re-signs every site with its own root;
//! when that root is not trusted here, "unknown issuer" alone sends people searching, while
//! the issuer's name ("Zscaler Root CA") tells them what to ask for. The verifier below is
//! rustls' own WebPKI verifier, which on an unknown issuer first reads the system's
//! certificate folders (see [`crate::roots`]) and, if they do not know it either, reports the
//! issuer's name.

use std::path::PathBuf;
use std::sync::{Arc, OnceLock};

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::client::WebPkiServerVerifier;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{CertificateError, DigitallySignedStruct, OtherError, RootCertStore, SignatureScheme};
use x509_cert::der::Decode;

/// A certificate signed by an authority this computer does not trust, by the issuer's name.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the certificate is issued by '{issuer}', which this computer does not trust")]
pub struct UntrustedIssuer {
    /// The issuer's distinguished name, e.g. `CN=Zscaler Root CA,O=Zscaler Inc.`.
    pub issuer: String,
}

impl UntrustedIssuer {
    /// The untrusted issuer behind a rustls error, if that is what it is.
    pub fn of(error: &rustls::Error) -> Option<&UntrustedIssuer> {
        match error {
            rustls::Error::InvalidCertificate(CertificateError::Other(other)) => {
                other.0.downcast_ref::<UntrustedIssuer>()
            }
            _ => None,
        }
    }
}

/// The issuer's distinguished name of a DER certificate, most specific part first
/// (`CN=…,O=…`, as RFC 4514 writes names).
fn issuer_of(certificate: &CertificateDer<'_>) -> Option<String> {
    let parsed = x509_cert::Certificate::from_der(certificate.as_ref()).ok()?;
    Some(most_specific_first(
        &parsed.tbs_certificate.issuer.to_string(),
    ))
}

/// Reverses the comma-separated parts of a name, leaving escaped commas (`\,`) inside a part.
fn most_specific_first(name: &str) -> String {
    let mut parts = vec![String::new()];
    let mut escaped = false;
    for c in name.chars() {
        match c {
            ',' if !escaped => parts.push(String::new()),
            _ => parts.last_mut().expect("one part at least").push(c),
        }
        escaped = c == '\\' && !escaped;
    }
    parts.reverse();
    parts.join(",")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_read_most_specific_first_and_keep_escaped_commas() {
        assert_eq!(
            most_specific_first("O=Zscaler Inc.,CN=Zscaler Root CA"),
            "CN=Zscaler Root CA,O=Zscaler Inc."
        );
        assert_eq!(
            most_specific_first("O=Contoso\\, Ltd.,CN=Proxy"),
            "CN=Proxy,O=Contoso\\, Ltd."
        );
    }
}

#[derive(Debug)]
pub(crate) struct NamingVerifier {
    inner: Arc<WebPkiServerVerifier>,
    roots: Arc<RootCertStore>,
    provider: Arc<rustls::crypto::CryptoProvider>,
    /// The folders read on the first unknown issuer.
    later: Vec<PathBuf>,
    /// The verifier that also trusts what the folders hold, once read (`None`: they add
    /// nothing).
    widened: OnceLock<Option<Arc<WebPkiServerVerifier>>>,
}

impl NamingVerifier {
    pub(crate) fn new(
        roots: RootCertStore,
        later: Vec<PathBuf>,
        provider: Arc<rustls::crypto::CryptoProvider>,
    ) -> Result<NamingVerifier, String> {
        let roots = Arc::new(roots);
        let inner = verifier(roots.clone(), &provider)?;
        Ok(NamingVerifier {
            inner,
            roots,
            provider,
            later,
            widened: OnceLock::new(),
        })
    }

    /// The verifier with the folders' authorities too, reading them the first time.
    fn widened(&self) -> Option<&Arc<WebPkiServerVerifier>> {
        self.widened
            .get_or_init(|| {
                let found = crate::roots::read_folders(&self.later);
                if found.is_empty() {
                    return None;
                }
                let mut roots = RootCertStore::clone(&self.roots);
                roots.add_parsable_certificates(found);
                verifier(Arc::new(roots), &self.provider).ok()
            })
            .as_ref()
    }
}

fn verifier(
    roots: Arc<RootCertStore>,
    provider: &Arc<rustls::crypto::CryptoProvider>,
) -> Result<Arc<WebPkiServerVerifier>, String> {
    WebPkiServerVerifier::builder_with_provider(roots, provider.clone())
        .build()
        .map_err(|e| e.to_string())
}

fn is_unknown_issuer(error: &rustls::Error) -> bool {
    matches!(
        error,
        rustls::Error::InvalidCertificate(CertificateError::UnknownIssuer)
    )
}

impl ServerCertVerifier for NamingVerifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        let verify = |verifier: &WebPkiServerVerifier| {
            verifier.verify_server_cert(end_entity, intermediates, server_name, ocsp_response, now)
        };
        let verdict = match verify(&self.inner) {
            Err(error) if is_unknown_issuer(&error) => match self.widened() {
                Some(widened) => verify(widened),
                None => Err(error),
            },
            verdict => verdict,
        };
        verdict.map_err(|error| {
            if !is_unknown_issuer(&error) {
                return error;
            }
            // The chain's last certificate was signed by the root that is missing.
            let top = intermediates.last().unwrap_or(end_entity);
            match issuer_of(top) {
                Some(issuer) => rustls::Error::InvalidCertificate(CertificateError::Other(
                    OtherError(Arc::new(UntrustedIssuer { issuer })),
                )),
                None => error,
            }
        })
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.inner.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.inner.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.inner.supported_verify_schemes()
    }
}
