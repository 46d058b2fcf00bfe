//! `linechat::tls` with real handshakes: rustls clients against the acceptor on 127.0.0.1,
//! certificates made by rcgen in temporary directories, reloads while connections stay up,
//! and every broken-file case reported with the file's name.

mod common;
mod tls_support;

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use linechat::tls::{ReloadableTls, TlsError};
use rustls::pki_types::{CertificateDer, ServerName};
use tls_support::TestCa;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio_rustls::TlsConnector;
use tokio_rustls::client::TlsStream;

/// Guard against a hung test; never an assertion about speed.
const GUARD: Duration = Duration::from_secs(20);

/// An echo server behind the acceptor; reports each connection's negotiated version.
async fn echo_server(tls: &ReloadableTls) -> (std::net::SocketAddr, mpsc::Receiver<&'static str>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let acceptor = tls.acceptor();
    let (versions, rx) = mpsc::channel(16);
    tokio::spawn(async move {
        loop {
            let (tcp, _) = listener.accept().await.unwrap();
            let acceptor = acceptor.clone();
            let versions = versions.clone();
            tokio::spawn(async move {
                let Ok(stream) = acceptor.accept(tcp).await else {
                    return;
                };
                let _ = versions.send(linechat::tls::protocol_name(&stream)).await;
                let (read, mut write) = tokio::io::split(stream);
                let mut lines = BufReader::new(read).lines();
                while let Ok(Some(line)) = lines.next_line().await {
                    if write
                        .write_all(format!("echo {line}\n").as_bytes())
                        .await
                        .is_err()
                    {
                        break;
                    }
                }
            });
        }
    });
    (addr, rx)
}

struct Client {
    stream: BufReader<TlsStream<TcpStream>>,
}

impl Client {
    async fn connect(addr: std::net::SocketAddr, config: Arc<rustls::ClientConfig>) -> Client {
        let tcp = TcpStream::connect(addr).await.unwrap();
        let name = ServerName::try_from("localhost").unwrap();
        let stream = tokio::time::timeout(GUARD, TlsConnector::from(config).connect(name, tcp))
            .await
            .expect("handshake hung")
            .expect("handshake failed");
        Client {
            stream: BufReader::new(stream),
        }
    }

    fn server_cert(&self) -> CertificateDer<'static> {
        let (_, conn) = self.stream.get_ref().get_ref();
        conn.peer_certificates().unwrap()[0].clone()
    }

    fn version(&self) -> rustls::ProtocolVersion {
        let (_, conn) = self.stream.get_ref().get_ref();
        conn.protocol_version().unwrap()
    }

    async fn echo(&mut self, text: &str) {
        let stream = self.stream.get_mut();
        stream
            .write_all(format!("{text}\n").as_bytes())
            .await
            .unwrap();
        stream.flush().await.unwrap();
        let mut line = String::new();
        tokio::time::timeout(GUARD, self.stream.read_line(&mut line))
            .await
            .expect("echo hung")
            .unwrap();
        assert_eq!(line, format!("echo {text}\n"));
    }
}

#[tokio::test]
async fn handshakes_with_tls12_and_tls13_clients_and_reports_the_version() {
    let ca = TestCa::new();
    let dir = tempfile::tempdir().unwrap();
    let (cert, key) = ca.leaf().write(dir.path());
    let tls = linechat::tls::load(&cert, &key).unwrap();
    let (addr, mut versions) = echo_server(&tls).await;

    let mut c12 = Client::connect(addr, ca.client_config(&[&rustls::version::TLS12])).await;
    assert_eq!(c12.version(), rustls::ProtocolVersion::TLSv1_2);
    assert_eq!(versions.recv().await, Some("TLSv1.2"));
    c12.echo("over 1.2").await;

    let mut c13 = Client::connect(addr, ca.client_config(&[&rustls::version::TLS13])).await;
    assert_eq!(c13.version(), rustls::ProtocolVersion::TLSv1_3);
    assert_eq!(versions.recv().await, Some("TLSv1.3"));
    c13.echo("over 1.3").await;

    // A client offering both gets the newest.
    let _both = Client::connect(addr, ca.client_config_any()).await;
    assert_eq!(versions.recv().await, Some("TLSv1.3"));
}

#[tokio::test]
async fn ed25519_keys_are_served_too() {
    let ca = TestCa::new();
    let dir = tempfile::tempdir().unwrap();
    let key = rcgen::KeyPair::generate_for(&rcgen::PKCS_ED25519).unwrap();
    let (cert, key) = ca.leaf_with_key(key).write(dir.path());
    let tls = ReloadableTls::load(&cert, &key).unwrap();
    let (addr, _versions) = echo_server(&tls).await;
    let mut client = Client::connect(addr, ca.client_config_any()).await;
    client.echo("ed25519").await;
}

#[tokio::test]
async fn reload_serves_the_new_certificate_while_established_connections_continue() {
    let ca = TestCa::new();
    let dir = tempfile::tempdir().unwrap();
    let first = ca.leaf();
    let (cert, key) = first.write(dir.path());
    let tls = linechat::tls::load(&cert, &key).unwrap();
    let (addr, _versions) = echo_server(&tls).await;

    let mut old = Client::connect(addr, ca.client_config_any()).await;
    assert_eq!(old.server_cert(), first.der);
    old.echo("before").await;

    let second = ca.leaf();
    second.write_to(&cert, &key);
    tls.reload().unwrap();
    assert_eq!(tls.served_certificate(), second.der);

    let mut new = Client::connect(addr, ca.client_config_any()).await;
    assert_eq!(new.server_cert(), second.der);
    new.echo("new pair").await;
    // The connection made with the old pair keeps working.
    old.echo("after the reload").await;
}

#[tokio::test]
async fn a_bad_pair_on_reload_is_refused_and_the_old_one_kept() {
    let ca = TestCa::new();
    let dir = tempfile::tempdir().unwrap();
    let first = ca.leaf();
    let (cert, key) = first.write(dir.path());
    let tls = linechat::tls::load(&cert, &key).unwrap();
    let (addr, _versions) = echo_server(&tls).await;

    // A renewal that wrote the new certificate but not its key yet.
    let second = ca.leaf();
    std::fs::write(&cert, &second.cert_pem).unwrap();
    let err = tls.reload().unwrap_err();
    assert!(matches!(err, TlsError::KeyMismatch { .. }), "{err}");
    assert!(
        err.to_string().contains(&key.display().to_string()),
        "{err}"
    );
    assert_eq!(tls.served_certificate(), first.der);

    // A deleted key file.
    std::fs::remove_file(&key).unwrap();
    let err = tls.reload().unwrap_err();
    assert!(matches!(err, TlsError::Missing { .. }), "{err}");

    let mut client = Client::connect(addr, ca.client_config_any()).await;
    assert_eq!(client.server_cert(), first.der);
    client.echo("still the old pair").await;
}

/// Loads the pair and returns the error text, asserting it names `culprit`.
fn load_error(cert: &Path, key: &Path, culprit: &Path) -> String {
    let err = linechat::tls::load(cert, key).expect_err("a broken pair must not load");
    let text = err.to_string();
    assert!(
        text.contains(&culprit.display().to_string()),
        "error does not name {}: {text}",
        culprit.display()
    );
    text
}

#[test]
fn every_broken_file_is_reported_with_its_name() {
    let ca = TestCa::new();
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let leaf = ca.leaf();
    let (cert, key) = leaf.write(d);
    let write = |name: &str, text: &str| {
        let p = d.join(name);
        std::fs::write(&p, text).unwrap();
        p
    };

    let missing = d.join("nope.crt");
    let e = load_error(&missing, &key, &missing);
    assert!(e.contains("does not exist"), "{e}");
    let missing_key = d.join("nope.key");
    let e = load_error(&cert, &missing_key, &missing_key);
    assert!(e.contains("does not exist"), "{e}");

    // A directory where a file should be: cannot be read.
    let e = load_error(d, &key, d);
    assert!(e.contains("cannot read"), "{e}");

    let junk = write("junk.crt", "this is not a certificate\n");
    let e = load_error(&junk, &key, &junk);
    assert!(e.contains("not a PEM file"), "{e}");
    let junk_key = write("junk.key", "neither is this a key\n");
    let e = load_error(&cert, &junk_key, &junk_key);
    assert!(e.contains("not a PEM file"), "{e}");

    let torn = write(
        "torn.crt",
        "-----BEGIN CERTIFICATE-----\nMIIB\n", // no END line
    );
    let e = load_error(&torn, &key, &torn);
    assert!(e.contains("not a PEM file"), "{e}");

    // Swapped paths: the key given as the certificate and the other way round.
    let e = load_error(&key, &cert, &key);
    assert!(
        e.contains("holds no certificate") && e.contains("PRIVATE KEY"),
        "{e}"
    );
    let e = load_error(&cert, &cert, &cert);
    assert!(
        e.contains("holds no private key") && e.contains("CERTIFICATE"),
        "{e}"
    );

    let other_key = write(
        "other.key",
        &rcgen::KeyPair::generate().unwrap().serialize_pem(),
    );
    let e = load_error(&cert, &other_key, &other_key);
    assert!(e.contains("does not match"), "{e}");

    let encrypted = write(
        "enc.key",
        "-----BEGIN ENCRYPTED PRIVATE KEY-----\nMIIB\n-----END ENCRYPTED PRIVATE KEY-----\n",
    );
    let e = load_error(&cert, &encrypted, &encrypted);
    assert!(e.contains("encrypted"), "{e}");

    // An X25519 key: a real PKCS#8 key, but one that cannot sign.
    let mut x25519 = vec![
        0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x6e, 0x04, 0x22, 0x04,
        0x20,
    ];
    x25519.extend([7u8; 32]);
    let x25519_pem = pem_block("PRIVATE KEY", &x25519);
    let unsupported = write("x25519.key", &x25519_pem);
    let e = load_error(&cert, &unsupported, &unsupported);
    assert!(e.contains("unsupported key type"), "{e}");

    let bad_der = write("bad-der.crt", &pem_block("CERTIFICATE", b"not DER at all"));
    let e = load_error(&bad_der, &key, &bad_der);
    assert!(e.contains("invalid certificate"), "{e}");

    // And the good pair loads.
    linechat::tls::load(&cert, &key).unwrap();
}

fn pem_block(label: &str, der: &[u8]) -> String {
    const B64: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut body = String::new();
    for chunk in der.chunks(3) {
        let n = chunk.len();
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let v = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= n {
                body.push(B64[((v >> (18 - 6 * i)) & 63) as usize] as char);
            } else {
                body.push('=');
            }
        }
    }
    format!("-----BEGIN {label}-----\n{body}\n-----END {label}-----\n")
}
