//! Test certificates made with rcgen (a throwaway CA and leaf certificates for "localhost")
//! and rustls client configurations that trust that CA. Shared by `tests/tls.rs` and
//! `tests/service.rs`.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::sync::Arc;

use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, IsCa, KeyPair};
use rustls::pki_types::CertificateDer;

/// A certificate authority that signs leaf certificates for "localhost" and 127.0.0.1.
pub struct TestCa {
    issuer: CertifiedIssuer<'static, KeyPair>,
}

/// A leaf certificate and its key, as PEM, plus the DER a client sees in the handshake.
pub struct Leaf {
    pub cert_pem: String,
    pub key_pem: String,
    pub der: CertificateDer<'static>,
}

impl TestCa {
    /// A fresh CA with its own P-256 key.
    pub fn new() -> TestCa {
        let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params
            .distinguished_name
            .push(rcgen::DnType::CommonName, "linechat test CA");
        let key = KeyPair::generate().unwrap();
        TestCa {
            issuer: CertifiedIssuer::self_signed(params, key).unwrap(),
        }
    }

    /// A new leaf for localhost with a new P-256 key; each call gives a different certificate.
    pub fn leaf(&self) -> Leaf {
        self.leaf_with_key(KeyPair::generate().unwrap())
    }

    /// A new leaf for localhost with the given key.
    pub fn leaf_with_key(&self, key: KeyPair) -> Leaf {
        let params =
            CertificateParams::new(vec!["localhost".to_string(), "127.0.0.1".to_string()]).unwrap();
        let cert = params.signed_by(&key, &self.issuer).unwrap();
        Leaf {
            cert_pem: cert.pem(),
            key_pem: key.serialize_pem(),
            der: cert.der().clone(),
        }
    }

    /// The CA certificate, for a client's root store.
    pub fn der(&self) -> CertificateDer<'static> {
        self.issuer.der().clone()
    }

    /// The CA certificate as PEM, for `openssl s_client -CAfile`.
    pub fn pem(&self) -> String {
        self.issuer.pem()
    }

    /// A client configuration trusting this CA, restricted to the given protocol versions.
    pub fn client_config(
        &self,
        versions: &[&'static rustls::SupportedProtocolVersion],
    ) -> Arc<rustls::ClientConfig> {
        let mut roots = rustls::RootCertStore::empty();
        roots.add(self.der()).unwrap();
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        Arc::new(
            rustls::ClientConfig::builder_with_provider(provider)
                .with_protocol_versions(versions)
                .unwrap()
                .with_root_certificates(roots)
                .with_no_client_auth(),
        )
    }

    /// A client configuration trusting this CA, TLS 1.2 and 1.3.
    pub fn client_config_any(&self) -> Arc<rustls::ClientConfig> {
        self.client_config(&[&rustls::version::TLS13, &rustls::version::TLS12])
    }
}

impl Leaf {
    /// Writes `server.crt` and `server.key` into `dir`; returns their paths.
    pub fn write(&self, dir: &Path) -> (PathBuf, PathBuf) {
        let cert = dir.join("server.crt");
        let key = dir.join("server.key");
        self.write_to(&cert, &key);
        (cert, key)
    }

    /// Writes the certificate and key to the given paths (replacing them, as a renewal does).
    pub fn write_to(&self, cert: &Path, key: &Path) {
        std::fs::write(cert, &self.cert_pem).unwrap();
        std::fs::write(key, &self.key_pem).unwrap();
    }
}
