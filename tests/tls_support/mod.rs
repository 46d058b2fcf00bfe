//! TLS test support, shared by `tests/tls.rs` and `tests/service.rs`: certificates made with
//! rcgen (a throwaway CA and leaf certificates for "localhost"), rustls client configurations
//! that trust that CA, and a blocking line-oriented TLS client for the real server.
#![allow(dead_code)]

use std::io::{BufRead, BufReader, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, IsCa, KeyPair};
use rustls::pki_types::{CertificateDer, ServerName};
use rustls::{ClientConnection, StreamOwned};

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

/// A blocking TLS client speaking lines, like the plaintext `common::Client`.
pub struct TlsClient {
    reader: BufReader<StreamOwned<ClientConnection, TcpStream>>,
    /// Everything received so far, for failure messages.
    pub seen: Vec<String>,
}

impl TlsClient {
    /// Connects and completes the handshake (so the server has logged "connected").
    pub fn connect(addr: SocketAddr, config: Arc<rustls::ClientConfig>) -> TlsClient {
        let tcp = TcpStream::connect(addr).expect("connect");
        // Guard against a hung test; never an assertion about speed.
        tcp.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
        let name = ServerName::try_from("localhost").unwrap();
        let conn = ClientConnection::new(config, name).unwrap();
        let mut stream = StreamOwned::new(conn, tcp);
        while stream.conn.is_handshaking() {
            stream
                .conn
                .complete_io(&mut stream.sock)
                .expect("TLS handshake");
        }
        TlsClient {
            reader: BufReader::new(stream),
            seen: Vec::new(),
        }
    }

    /// The end-entity certificate the server presented.
    pub fn server_cert(&self) -> CertificateDer<'static> {
        self.reader.get_ref().conn.peer_certificates().unwrap()[0].clone()
    }

    /// The negotiated protocol version.
    pub fn version(&self) -> rustls::ProtocolVersion {
        self.reader.get_ref().conn.protocol_version().unwrap()
    }

    /// Sends one line with CRLF.
    pub fn send(&mut self, line: &str) {
        let stream = self.reader.get_mut();
        stream
            .write_all(format!("{line}\r\n").as_bytes())
            .expect("send");
        stream.flush().expect("flush");
    }

    /// The next line without its CRLF, or `None` once the server has closed.
    pub fn next_line(&mut self) -> Option<String> {
        let mut buf = Vec::new();
        match self.reader.read_until(b'\n', &mut buf) {
            Ok(0) => None,
            Ok(_) => {
                let line = String::from_utf8(buf).expect("server sent UTF-8");
                let line = line.trim_end_matches("\r\n").to_string();
                self.seen.push(line.clone());
                Some(line)
            }
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::UnexpectedEof | std::io::ErrorKind::ConnectionReset
                ) =>
            {
                None
            }
            Err(e) => panic!("read failed ({e}); seen so far:\n{}", self.seen.join("\n")),
        }
    }

    /// Reads until a line contains `needle`; returns it.
    pub fn expect(&mut self, needle: &str) -> String {
        loop {
            match self.next_line() {
                Some(line) if line.contains(needle) => return line,
                Some(_) => {}
                None => panic!(
                    "connection closed before {needle:?}; seen:\n{}",
                    self.seen.join("\n")
                ),
            }
        }
    }

    /// Registers as `nick` (NICK + USER) and reads the welcome burst; returns the 001 line.
    pub fn register(&mut self, nick: &str) -> String {
        self.send(&format!("NICK {nick}"));
        self.send(&format!("USER {nick} 0 * :{nick} over tls"));
        let welcome = self.expect(" 001 ");
        loop {
            let line = self.expect(" ");
            if line.contains(" 376 ") || line.contains(" 422 ") {
                return welcome;
            }
        }
    }

    /// Round-trips a PING: everything sent before it has been handled by the server.
    pub fn sync(&mut self) -> Vec<String> {
        let token = format!("sync{}", self.seen.len());
        self.send(&format!("PING {token}"));
        let mut before = Vec::new();
        loop {
            let line = self
                .next_line()
                .unwrap_or_else(|| panic!("closed while syncing; seen:\n{}", self.seen.join("\n")));
            if line.contains(" PONG ") && line.ends_with(&token) {
                return before;
            }
            before.push(line);
        }
    }

    /// Reads until the server closes the connection; returns the lines read.
    pub fn read_to_close(&mut self) -> Vec<String> {
        let mut out = Vec::new();
        while let Some(line) = self.next_line() {
            out.push(line);
        }
        out
    }
}
