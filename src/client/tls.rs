//! Which servers a client trusts over `wss://`.

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::CertificateDer;
use std::path::Path;
use std::sync::Arc;

/// The certificate authorities a client trusts for `wss://` URLs. Without one
/// ([`super::ClientOptions::tls`] is `None`) a client trusts the Web PKI's
/// roots (the `webpki-roots` set), which is right for a server with a public
/// certificate; a private CA (a test's, a studio's own) is given here.
#[derive(Clone)]
pub struct TlsConfig(pub(crate) Arc<rustls::ClientConfig>);

impl std::fmt::Debug for TlsConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TlsConfig")
    }
}

/// A CA file or text that cannot be used.
#[derive(Debug, thiserror::Error)]
#[error("TLS trust: {0}")]
pub struct TlsError(String);

impl TlsConfig {
    /// Trusts exactly the CA certificates in `pem` (one or more
    /// `CERTIFICATE` blocks), and no other.
    pub fn with_ca_pem(pem: &[u8]) -> Result<Self, TlsError> {
        let certs = CertificateDer::pem_slice_iter(pem)
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| TlsError(format!("not PEM certificates ({e})")))?;
        Self::with_ca_certs(certs)
    }

    /// Trusts exactly the CA certificates in the PEM file at `path`.
    pub fn with_ca_file(path: &Path) -> Result<Self, TlsError> {
        let pem = std::fs::read(path)
            .map_err(|e| TlsError(format!("cannot read {} ({e})", path.display())))?;
        Self::with_ca_pem(&pem).map_err(|TlsError(e)| TlsError(format!("{}: {e}", path.display())))
    }

    fn with_ca_certs(certs: Vec<CertificateDer<'static>>) -> Result<Self, TlsError> {
        if certs.is_empty() {
            return Err(TlsError("no CERTIFICATE block".into()));
        }
        let mut roots = rustls::RootCertStore::empty();
        for cert in certs {
            roots
                .add(cert)
                .map_err(|e| TlsError(format!("not a usable CA certificate ({e})")))?;
        }
        // The provider is named rather than taken from the process default,
        // so an application that links another provider cannot make this panic.
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let config = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| TlsError(e.to_string()))?
            .with_root_certificates(roots)
            .with_no_client_auth();
        Ok(TlsConfig(Arc::new(config)))
    }
}
