//! TLS for both ends, and what it trusts: the hub's rustls setup (the
//! bundled Mozilla roots from webpki-roots plus the owner's extra CA) and
//! ureq's setup for an https Ollama (rustls with the ring provider: ureq is
//! built without a provider of its own), checked against the Mozilla roots
//! or the owner's CA alone (ureq takes one set or the other, never both).
//! Certificate and host-name checks are never switched off.
//!
//! The owner's extra CA (`--ca-file`, else `SSL_CERT_FILE`) is read once
//! per process, the first time a TLS connection needs it, and both ends
//! trust the same certificates; [`CaError`] says why a file cannot be
//! used, and [`explain`] turns rustls errors into advice an owner can act
//! on. Plain `http://` Ollama addresses never read it.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock};

use rustls::crypto::{CryptoProvider, KeyProvider};
use rustls::pki_types::pem::{self, PemObject};
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::sign::SigningKey;
use ureq::tls::{Certificate, RootCerts, TlsConfig, TlsProvider};

use crate::address::OllamaUrl;
use crate::exit::Fatal;
use crate::logging;
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

crate::text::english_display!(CaError);

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

/// rustls with ring, as both ends use it, but unable to load a private
/// key: the client never authenticates itself with a certificate, and
/// ring's signing code (RSA, ECDSA, Ed25519 keys) left unreferenced is
/// some 20 KB of the static binary.
fn provider() -> Arc<CryptoProvider> {
    Arc::new(CryptoProvider {
        key_provider: &NoPrivateKeys,
        ..rustls::crypto::ring::default_provider()
    })
}

#[derive(Debug)]
struct NoPrivateKeys;

impl KeyProvider for NoPrivateKeys {
    fn load_private_key(
        &self,
        _key: PrivateKeyDer<'static>,
    ) -> Result<Arc<dyn SigningKey>, rustls::Error> {
        Err(rustls::Error::General("no client certificates".into()))
    }
}

/// Builds the hub's client config once; every connection shares it. It trusts
/// the bundled Mozilla roots plus `extra_ca`, the certificates of the
/// owner's CA file as [`read_ca_file`] returned them.
pub fn hub_config_of(
    extra_ca: &[CertificateDer<'static>],
) -> Result<Arc<rustls::ClientConfig>, CaError> {
    let mut roots = rustls::RootCertStore::empty();
    roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
    for cert in extra_ca {
        roots.add(cert.clone()).map_err(CaError::Setup)?;
    }
    let provider = provider();
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

/// The rustls error behind an io error, if TLS is why it failed (both
/// ends' sockets report TLS failures as io errors).
pub fn rustls_cause(error: &std::io::Error) -> Option<&rustls::Error> {
    error.get_ref()?.downcast_ref::<rustls::Error>()
}

/// What an Ollama at `base_url` is checked against if it is https: the
/// bundled Mozilla roots, or the owner's extra CA alone when there is one
/// (ureq cannot combine the two; an `SSL_CERT_FILE` is usually the system
/// bundle, which holds the public roots). The log says which. For a plain
/// http address nothing is read, and the roots are never used.
pub fn ollama_roots(ca_file: Option<&Path>, base_url: &OllamaUrl) -> Result<RootCerts, Fatal> {
    if !base_url.uses_tls() {
        return Ok(RootCerts::WebPki);
    }
    let ca = extra_ca(ca_file)?;
    match &ca.source {
        Some(source) => log::info!(
            "Ollama's https trusts only {source} ({}), not the bundled Mozilla roots",
            certificates(ca.certs.len())
        ),
        None => log::info!("Ollama's https trusts the bundled Mozilla roots only"),
    }
    Ok(ollama_roots_of(&ca.certs))
}

/// The hub's TLS setup: the bundled Mozilla roots, plus the owner's extra
/// CA ([`extra_ca`]). The log says which sources are in use.
pub fn hub_config(ca_file: Option<&Path>) -> Result<Arc<rustls::ClientConfig>, Fatal> {
    let ca = extra_ca(ca_file)?;
    let config = hub_config_of(&ca.certs).map_err(|e| Fatal::config(e.text()))?;
    match &ca.source {
        Some(source) => log::info!(
            "hub TLS trusts the bundled Mozilla roots and {source} ({})",
            certificates(ca.certs.len())
        ),
        None => log::info!("hub TLS trusts the bundled Mozilla roots only"),
    }
    Ok(config)
}

/// The owner's extra CA, as read from its file.
struct ExtraCa {
    /// `--ca-file PATH` or `SSL_CERT_FILE PATH`; `None` when there is none.
    source: Option<String>,
    /// Its certificates, each usable as a root; empty when there is none.
    certs: Vec<CertificateDer<'static>>,
    /// Why `SSL_CERT_FILE` was ignored.
    ignored: Option<CaError>,
    /// Whether that was logged.
    warned: AtomicBool,
}

impl ExtraCa {
    /// Logs why `SSL_CERT_FILE` was ignored, once, as soon as the log is
    /// set up (the first run may need the CA before).
    fn warn_once(&self) {
        if let Some(why) = &self.ignored {
            if logging::is_ready() && !self.warned.swap(true, Ordering::Relaxed) {
                log::warn!("ignoring SSL_CERT_FILE: {why}");
            }
        }
    }
}

/// The extra CA, read once per process (the process has one `Args`): the
/// hub's TLS and an https Ollama trust the same certificates, and a file
/// that cannot be used is reported once.
static EXTRA_CA: OnceLock<Result<ExtraCa, CaError>> = OnceLock::new();

/// The owner's extra CA: the file of `--ca-file` (which must work: the
/// owner asked for it, so a broken one is a configuration error), or else
/// of `SSL_CERT_FILE` (often set machine-wide for other tools, so a broken
/// one is only a warning, and ignored); none without either.
fn extra_ca(ca_file: Option<&Path>) -> Result<&'static ExtraCa, Fatal> {
    let ca = EXTRA_CA
        .get_or_init(|| read_extra_ca(ca_file))
        .as_ref()
        .map_err(|why| Fatal::config(why.text()))?;
    ca.warn_once();
    Ok(ca)
}

fn read_extra_ca(ca_file: Option<&Path>) -> Result<ExtraCa, CaError> {
    let found = |source: String, certs| ExtraCa {
        source: Some(source),
        certs,
        ignored: None,
        warned: AtomicBool::new(false),
    };
    if let Some(path) = ca_file {
        let certs = read_ca_file(path)?;
        return Ok(found(format!("--ca-file {}", path.display()), certs));
    }
    let from_env = std::env::var_os("SSL_CERT_FILE")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from);
    let ignored = match from_env {
        None => None,
        Some(path) => match read_ca_file(&path) {
            Ok(certs) => return Ok(found(format!("SSL_CERT_FILE {}", path.display()), certs)),
            Err(e) => Some(e),
        },
    };
    Ok(ExtraCa {
        source: None,
        certs: Vec::new(),
        ignored,
        warned: AtomicBool::new(false),
    })
}

fn certificates(n: usize) -> String {
    match n {
        1 => "1 certificate".into(),
        n => format!("{n} certificates"),
    }
}

/// The roots an https Ollama's certificate is checked against: the bundled
/// Mozilla roots when `extra_ca` is empty, else those certificates alone
/// (ureq takes one set or the other, never both).
fn ollama_roots_of(extra_ca: &[CertificateDer<'static>]) -> RootCerts {
    if extra_ca.is_empty() {
        return RootCerts::WebPki;
    }
    let certs = extra_ca
        .iter()
        .map(|cert| Certificate::from_der(cert.as_ref()).to_owned());
    RootCerts::Specific(Arc::new(certs.collect()))
}

/// ureq's TLS setup for an agent that talks to Ollama.
pub fn ureq_config(roots: &RootCerts) -> TlsConfig {
    TlsConfig::builder()
        .provider(TlsProvider::Rustls)
        .unversioned_rustls_crypto_provider(provider())
        .root_certs(roots.clone())
        .build()
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
        assert!(hub_config_of(&certs).is_ok());
        assert!(hub_config_of(&[]).is_ok());
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

    #[test]
    fn no_extra_ca_means_the_mozilla_roots() {
        assert!(matches!(ollama_roots_of(&[]), RootCerts::WebPki));
        let ca = TestCa::new("ollama");
        match ollama_roots_of(&[ca.cert_der()]) {
            RootCerts::Specific(certs) => {
                assert_eq!(certs.len(), 1);
                assert_eq!(certs[0].der(), ca.cert_der().as_ref());
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn no_private_key_can_be_loaded_and_everything_else_is_rings() {
        let key = rcgen::KeyPair::generate().unwrap().serialize_der();
        let key = PrivateKeyDer::Pkcs8(key.into());
        let ring = rustls::crypto::ring::default_provider();
        assert!(ring.key_provider.load_private_key(key.clone_key()).is_ok());
        let refused = provider().key_provider.load_private_key(key);
        assert!(refused.is_err());
        assert_eq!(provider().cipher_suites, ring.cipher_suites);
        assert_eq!(provider().kx_groups.len(), ring.kx_groups.len());
    }
}
