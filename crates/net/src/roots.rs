//! The system's certificate authorities, read as OpenSSL reads them: the bundle file at once,
//! the certificate folders only when a chain's issuer is not in the bundle.
//!
//! Debian's `/etc/ssl/certs` holds every bundled authority again as a file of its own; reading
//! them all at start doubled the certificates every one-shot command parsed and kept. A folder
//! can still hold an authority the bundle lacks (one added without `update-ca-certificates`),
//! so [`crate::issuer::NamingVerifier`] reads the folders once when it meets an unknown issuer.

use std::path::PathBuf;

use rustls_pki_types::CertificateDer;

/// The system's authorities: those read now, and the folders to read when they are not enough.
#[derive(Debug, Default)]
pub(crate) struct SystemRoots {
    pub(crate) now: Vec<CertificateDer<'static>>,
    pub(crate) later: Vec<PathBuf>,
}

impl SystemRoots {
    /// Where OpenSSL would look: `SSL_CERT_FILE` and `SSL_CERT_DIR`, else the distribution's
    /// usual places.
    #[cfg(all(unix, not(target_os = "macos")))]
    pub(crate) fn of_this_computer() -> SystemRoots {
        let set = |name| std::env::var_os(name).filter(|value| !value.is_empty());
        let (file, folders) = match (set("SSL_CERT_FILE"), set("SSL_CERT_DIR")) {
            (None, None) => {
                let probed = openssl_probe::probe();
                (probed.cert_file, probed.cert_dir)
            }
            (file, folders) => (
                file.map(PathBuf::from),
                folders.map_or_else(Vec::new, |f| std::env::split_paths(&f).collect()),
            ),
        };
        let now = file.map_or_else(Vec::new, |file| {
            rustls_native_certs::load_certs_from_paths(Some(&file), None).certs
        });
        if now.is_empty() {
            // No bundle to go on: the folders are all there is.
            return SystemRoots {
                now: read_folders(&folders),
                later: Vec::new(),
            };
        }
        SystemRoots {
            now,
            later: folders,
        }
    }

    /// The platform's own store (Keychain, the Windows certificate store), read at once.
    #[cfg(not(all(unix, not(target_os = "macos"))))]
    pub(crate) fn of_this_computer() -> SystemRoots {
        SystemRoots {
            now: rustls_native_certs::load_native_certs().certs,
            later: Vec::new(),
        }
    }
}

/// Every certificate in `folders`; unreadable files are skipped, as OpenSSL skips them.
pub(crate) fn read_folders(folders: &[PathBuf]) -> Vec<CertificateDer<'static>> {
    folders
        .iter()
        .flat_map(|folder| rustls_native_certs::load_certs_from_paths(None, Some(folder)).certs)
        .collect()
}
