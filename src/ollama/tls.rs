//! https to Ollama: ureq's TLS setup, rustls with the ring provider (ureq is
//! built without a provider of its own, and would panic at the first https
//! request without one), checked against the roots the caller chose
//! ([`roots`]). Plain `http://` addresses never use it.

use std::sync::Arc;

use rustls::pki_types::CertificateDer;
use ureq::tls::{Certificate, RootCerts, TlsConfig, TlsProvider};

/// The roots an https Ollama's certificate is checked against: the bundled
/// Mozilla roots when `extra_ca` is empty, else those certificates alone
/// (ureq takes one set or the other, never both).
pub fn roots(extra_ca: &[CertificateDer<'static>]) -> RootCerts {
    if extra_ca.is_empty() {
        return RootCerts::WebPki;
    }
    let certs = extra_ca
        .iter()
        .map(|cert| Certificate::from_der(cert.as_ref()).to_owned());
    RootCerts::Specific(Arc::new(certs.collect()))
}

/// ureq's TLS setup for an agent that talks to Ollama.
pub(super) fn config(roots: &RootCerts) -> TlsConfig {
    TlsConfig::builder()
        .provider(TlsProvider::Rustls)
        .unversioned_rustls_crypto_provider(Arc::new(rustls::crypto::ring::default_provider()))
        .root_certs(roots.clone())
        .build()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_ca::TestCa;

    #[test]
    fn no_extra_ca_means_the_mozilla_roots() {
        assert!(matches!(roots(&[]), RootCerts::WebPki));
        let ca = TestCa::new("ollama");
        match roots(&[ca.cert_der()]) {
            RootCerts::Specific(certs) => {
                assert_eq!(certs.len(), 1);
                assert_eq!(certs[0].der(), ca.cert_der().as_ref());
            }
            other => panic!("{other:?}"),
        }
    }
}
