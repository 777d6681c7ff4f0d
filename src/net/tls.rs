//! HTTPS and wss on the public port (`--tls-cert`, `--tls-key`), through
//! rustls with the ring provider. The handshake runs in the connection's own
//! task under the handshake deadline, so a slow or silent TLS client holds
//! its connection slot no longer than a slow plain one.

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use std::io;
use std::path::Path;
use std::sync::Arc;
use tokio_rustls::TlsAcceptor;

/// Reads a PEM certificate chain (leaf first) and its private key (PKCS#8,
/// PKCS#1 or SEC1) and builds the acceptor. Every failure names the file, so
/// a typo in a deploy shows up as one clear line at start-up.
pub(crate) fn acceptor(cert: &Path, key: &Path) -> io::Result<TlsAcceptor> {
    let invalid = |path: &Path, what: String| {
        io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("{}: {what}", path.display()),
        )
    };
    let chain = CertificateDer::pem_file_iter(cert)
        .map_err(|e| invalid(cert, format!("cannot read the certificate chain ({e})")))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| invalid(cert, format!("not a PEM certificate chain ({e})")))?;
    if chain.is_empty() {
        return Err(invalid(cert, "holds no CERTIFICATE block".into()));
    }
    let private_key = PrivateKeyDer::from_pem_file(key)
        .map_err(|e| invalid(key, format!("no PEM private key read ({e})")))?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| io::Error::other(format!("TLS set-up: {e}")))?
        .with_no_client_auth()
        .with_single_cert(chain, private_key)
        .map_err(|e| {
            invalid(
                key,
                format!(
                    "does not go with the certificate in {} ({e})",
                    cert.display()
                ),
            )
        })?;
    // WebSocket upgrades are HTTP/1.1 requests; offering h2 would make
    // browsers try WebSocket over HTTP/2, which this server does not speak.
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(TlsAcceptor::from(Arc::new(config)))
}
