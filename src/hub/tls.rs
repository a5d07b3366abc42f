//! The TLS client setup for the hub: rustls with the ring provider, the
//! bundled Mozilla roots (webpki-roots) plus the owner's extra CA from
//! `--ca-file` or `SSL_CERT_FILE`. Certificate and host-name checks are
//! never switched off. Also reads that extra CA file ([`read_ca_file`],
//! whose certificates `serve` hands to an https Ollama too), says why it
//! cannot be used ([`CaError`]), and turns rustls errors into advice an
//! owner can act on.

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls::pki_types::pem::{self, PemObject};
use rustls::pki_types::CertificateDer;

use crate::text::{errors, Text};

/// Why the owner's extra CA file (`--ca-file`, `SSL_CERT_FILE`) cannot be
/// used; `text` names the file and includes the cause's text (`Display`
/// is the same in English, for the log).
#[derive(Debug)]
pub enum CaError {
    /// The file could not be opened.
    Read { path: PathBuf, source: pem::Error },
    /// The file could not be read through, or a PEM section is broken.
    BadPem { path: PathBuf, source: pem::Error },
    /// A CERTIFICATE section that rustls does not take as a root.
    BadCertificate {
        path: PathBuf,
        source: rustls::Error,
    },
    /// No CERTIFICATE section at all.
    NoCertificate { path: PathBuf },
    /// rustls refused its own safe protocol versions, or a root that
    /// [`read_ca_file`] had accepted (neither is expected, but neither is
    /// worth a panic).
    Setup(rustls::Error),
}

impl fmt::Display for CaError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text().english())
    }
}

impl CaError {
    /// What is wrong, naming the file; the cause's own text as it is.
    pub fn text(&self) -> Text {
        match self {
            CaError::Read { path, source } => errors::ca_cannot_read(path.display(), source),
            CaError::BadPem { path, source } => errors::ca_bad_pem(path.display(), source),
            CaError::BadCertificate { path, source } => {
                errors::ca_bad_certificate(path.display(), source)
            }
            CaError::NoCertificate { path } => errors::ca_no_certificate(path.display()),
            CaError::Setup(e) => errors::tls_setup_failed(e),
        }
    }
}

impl std::error::Error for CaError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            CaError::Read { source, .. } | CaError::BadPem { source, .. } => Some(source),
            CaError::BadCertificate { source, .. } | CaError::Setup(source) => Some(source),
            CaError::NoCertificate { .. } => None,
        }
    }
}

/// Builds the client config once; every connection shares it. It trusts
/// the bundled Mozilla roots plus `extra_ca`, the certificates of the
/// owner's CA file as [`read_ca_file`] returned them.
pub fn client_config(
    extra_ca: &[CertificateDer<'static>],
) -> Result<Arc<rustls::ClientConfig>, CaError> {
    let mut roots = rustls::RootCertStore::empty();
    roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
    for cert in extra_ca {
        roots.add(cert.clone()).map_err(CaError::Setup)?;
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(CaError::Setup)?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(Arc::new(config))
}

/// The certificates of a CA file (PEM), each checked to be usable as a
/// root; at least one.
pub fn read_ca_file(path: &Path) -> Result<Vec<CertificateDer<'static>>, CaError> {
    let path_buf = || path.to_path_buf();
    let pem = CertificateDer::pem_file_iter(path).map_err(|source| CaError::Read {
        path: path_buf(),
        source,
    })?;
    // rustls's own test of a root; the store itself is not kept.
    let mut check = rustls::RootCertStore::empty();
    let mut certs = Vec::new();
    for cert in pem {
        let cert = cert.map_err(|source| CaError::BadPem {
            path: path_buf(),
            source,
        })?;
        check
            .add(cert.clone())
            .map_err(|source| CaError::BadCertificate {
                path: path_buf(),
                source,
            })?;
        certs.push(cert);
    }
    if certs.is_empty() {
        return Err(CaError::NoCertificate { path: path_buf() });
    }
    Ok(certs)
}

/// A rustls error as a sentence that says what to do.
pub fn explain(error: &rustls::Error) -> Text {
    use rustls::{CertificateError, Error};
    match error {
        Error::InvalidCertificate(CertificateError::UnknownIssuer) => errors::tls_unknown_issuer(),
        Error::InvalidCertificate(CertificateError::NotValidForName)
        | Error::InvalidCertificate(CertificateError::NotValidForNameContext { .. }) => {
            errors::tls_wrong_host_name()
        }
        Error::InvalidCertificate(CertificateError::Expired)
        | Error::InvalidCertificate(CertificateError::ExpiredContext { .. }) => {
            errors::tls_expired()
        }
        other => errors::tls_other(other),
    }
}

#[cfg(test)]
mod tests {
    use std::error::Error as _;

    use super::*;
    use crate::test_ca::TestCa;

    /// `read_ca_file` on a file holding `text`, and the file's path.
    fn config_from(text: &str) -> (Result<Vec<CertificateDer<'static>>, CaError>, PathBuf) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("ca.pem");
        std::fs::write(&path, text).unwrap();
        (read_ca_file(&path), path)
    }

    #[test]
    fn a_ca_file_with_a_certificate_is_trusted() {
        let (first, second) = (TestCa::new("good"), TestCa::new("other"));
        let (result, _) = config_from(&(first.cert_pem() + &second.cert_pem()));
        let certs = result.unwrap();
        assert_eq!(certs, [first.cert_der(), second.cert_der()]);
        assert!(client_config(&certs).is_ok());
        assert!(client_config(&[]).is_ok());
    }

    #[test]
    fn ca_file_errors_name_the_file_and_keep_the_cause() {
        let missing = Path::new("/nonexistent/ca.pem");
        let error = read_ca_file(missing).unwrap_err();
        assert!(matches!(error, CaError::Read { .. }), "{error:?}");
        assert!(error
            .to_string()
            .starts_with("cannot read CA file /nonexistent/ca.pem: "));
        assert!(error.source().is_some_and(|e| e.is::<pem::Error>()));

        let (result, path) = config_from("-----BEGIN CERTIFICATE-----\nAAAA\n");
        let error = result.unwrap_err();
        assert!(matches!(error, CaError::BadPem { .. }), "{error:?}");
        let expected = format!("CA file {} is not valid PEM: ", path.display());
        assert!(error.to_string().starts_with(&expected), "{error}");

        let junk = "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n";
        let error = config_from(junk).0.unwrap_err();
        assert!(matches!(error, CaError::BadCertificate { .. }), "{error:?}");
        assert!(error.to_string().contains("holds a bad certificate: "));
        assert!(error.source().is_some_and(|e| e.is::<rustls::Error>()));

        let (result, path) = config_from("no PEM here\n");
        let error = result.unwrap_err();
        assert_eq!(
            error.to_string(),
            format!("CA file {} holds no certificate", path.display())
        );
        assert!(error.source().is_none());
    }
}
