//! The TLS client setup for the hub: rustls with the ring provider, the
//! bundled Mozilla roots (webpki-roots) plus the owner's extra CA from
//! `--ca-file` or `SSL_CERT_FILE`. Certificate and host-name checks are
//! never switched off. Also turns rustls errors into advice an owner can act
//! on.

use std::path::Path;
use std::sync::Arc;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::CertificateDer;

/// Builds the client config once; every connection shares it.
pub fn client_config(extra_ca: Option<&Path>) -> Result<Arc<rustls::ClientConfig>, String> {
    let mut roots = rustls::RootCertStore::empty();
    roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
    if let Some(path) = extra_ca {
        let added = add_pem_file(&mut roots, path)?;
        log::info!(
            "trusting {added} extra CA certificate(s) from {}",
            path.display()
        );
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| format!("TLS setup failed: {e}"))?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(Arc::new(config))
}

fn add_pem_file(roots: &mut rustls::RootCertStore, path: &Path) -> Result<usize, String> {
    let certs = CertificateDer::pem_file_iter(path)
        .map_err(|e| format!("cannot read CA file {}: {e}", path.display()))?;
    let mut added = 0;
    for cert in certs {
        let cert = cert.map_err(|e| format!("CA file {} is not valid PEM: {e}", path.display()))?;
        roots
            .add(cert)
            .map_err(|e| format!("CA file {} holds a bad certificate: {e}", path.display()))?;
        added += 1;
    }
    if added == 0 {
        return Err(format!("CA file {} holds no certificate", path.display()));
    }
    Ok(added)
}

/// A rustls error as a sentence that says what to do.
pub fn explain(error: &rustls::Error) -> String {
    use rustls::{CertificateError, Error};
    match error {
        Error::InvalidCertificate(CertificateError::UnknownIssuer) => {
            "TLS: the hub's certificate is signed by an unknown authority; if your hub uses \
             a private CA, pass its certificate with --ca-file or SSL_CERT_FILE"
                .into()
        }
        Error::InvalidCertificate(CertificateError::NotValidForName)
        | Error::InvalidCertificate(CertificateError::NotValidForNameContext { .. }) => {
            "TLS: the hub's certificate is not valid for this host name".into()
        }
        Error::InvalidCertificate(CertificateError::Expired)
        | Error::InvalidCertificate(CertificateError::ExpiredContext { .. }) => {
            "TLS: the hub's certificate has expired (or this box's clock is wrong)".into()
        }
        other => format!("TLS: {other}"),
    }
}
