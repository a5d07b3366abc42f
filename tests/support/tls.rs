//! Throw-away certificate authorities for TLS tests.
//!
//! A [`TestCa`] owns one self-signed CA (an rcgen key pair plus certificate,
//! kept only in memory). Tests hand its PEM to the client under test
//! ([`TestCa::write_pem`] for `--ca-file` / `SSL_CERT_FILE`) and give
//! [`TestCa::server_config`] to a server such as the hub emulator, which then
//! presents a fresh leaf for `localhost` and `127.0.0.1` signed by this CA.
//! Two CAs built with different names never trust each other, so "wrong CA"
//! cases are just a second `TestCa`.
//!
//! All rustls configs use the ring provider explicitly, so no process-wide
//! default provider has to be installed.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::sync::Arc;

use rcgen::{
    BasicConstraints, CertificateParams, CertifiedIssuer, DnType, ExtendedKeyUsagePurpose, IsCa,
    KeyPair, KeyUsagePurpose,
};
use rustls::crypto::CryptoProvider;
use rustls::pki_types::{CertificateDer, PrivatePkcs8KeyDer};
use rustls::{ClientConfig, RootCertStore, ServerConfig};

/// A self-signed certificate authority that lives as long as the test needs it.
pub struct TestCa {
    name: String,
    issuer: CertifiedIssuer<'static, KeyPair>,
}

impl TestCa {
    /// Creates a new CA; `name` appears in its common name and PEM file name.
    pub fn new(name: &str) -> TestCa {
        let mut params = CertificateParams::new(Vec::<String>::new()).expect("CA params");
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params
            .distinguished_name
            .push(DnType::CommonName, format!("{name} test CA"));
        params.key_usages = vec![
            KeyUsagePurpose::KeyCertSign,
            KeyUsagePurpose::CrlSign,
            KeyUsagePurpose::DigitalSignature,
        ];
        let key = KeyPair::generate().expect("CA key");
        let issuer = CertifiedIssuer::self_signed(params, key).expect("self-signed CA");
        TestCa {
            name: name.to_owned(),
            issuer,
        }
    }

    /// The name given to [`TestCa::new`].
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The CA certificate, PEM encoded.
    pub fn cert_pem(&self) -> String {
        self.issuer.pem()
    }

    /// The CA certificate, DER encoded.
    pub fn cert_der(&self) -> CertificateDer<'static> {
        self.issuer.der().clone()
    }

    /// Writes the CA certificate to `<dir>/<name>-ca.pem` and returns that path.
    pub fn write_pem(&self, dir: &Path) -> PathBuf {
        let path = dir.join(format!("{}-ca.pem", self.name));
        std::fs::write(&path, self.cert_pem())
            .unwrap_or_else(|e| panic!("writing {}: {e}", path.display()));
        path
    }

    /// A server config presenting a new leaf certificate for `localhost` and
    /// `127.0.0.1`, signed by this CA.
    pub fn server_config(&self) -> Arc<ServerConfig> {
        let mut params = CertificateParams::new(vec!["localhost".into(), "127.0.0.1".into()])
            .expect("leaf params");
        params
            .distinguished_name
            .push(DnType::CommonName, "localhost");
        params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        params.use_authority_key_identifier_extension = true;
        let key = KeyPair::generate().expect("leaf key");
        let leaf = params.signed_by(&key, &self.issuer).expect("sign leaf");

        let config = ServerConfig::builder_with_provider(provider())
            .with_safe_default_protocol_versions()
            .expect("ring supports the default protocol versions")
            .with_no_client_auth()
            .with_single_cert(
                vec![leaf.der().clone()],
                PrivatePkcs8KeyDer::from(key.serialize_der()).into(),
            )
            .expect("server certificate");
        Arc::new(config)
    }

    /// A client config that trusts this CA and nothing else.
    pub fn client_config(&self) -> Arc<ClientConfig> {
        let mut roots = RootCertStore::empty();
        roots.add(self.cert_der()).expect("CA certificate is valid");
        let config = ClientConfig::builder_with_provider(provider())
            .with_safe_default_protocol_versions()
            .expect("ring supports the default protocol versions")
            .with_root_certificates(roots)
            .with_no_client_auth();
        Arc::new(config)
    }
}

fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}
