//! TLS for the `--tls-listen` listeners: a certificate and key read from PEM files that can be
//! swapped while the server runs.
//!
//! Certificates expire and get renewed (certbot, an internal CA) while people stay connected
//! for days, so the pair is served through a resolver over an [`ArcSwap`]: [`ReloadableTls::reload`]
//! (called on SIGHUP) changes what *new* handshakes get, established sessions keep their keys,
//! and a broken renewal is refused with the old pair kept. Every problem with the files is
//! reported naming the file, because the person reading it is an operator at a terminal.
//!
//! Only the `ring` provider is used, passed explicitly: the process never depends on a
//! process-wide default provider being installed.

use std::fmt;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use arc_swap::ArcSwap;
use rustls::ServerConfig;
use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::{PemObject, SectionKind};
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;
use tokio_rustls::TlsAcceptor;

/// Which of the two files a problem is in, so messages can say "certificate file X".
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileRole {
    /// The PEM certificate chain (`--tls-cert`).
    Certificate,
    /// The PEM private key (`--tls-key`).
    PrivateKey,
}

impl fmt::Display for FileRole {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            FileRole::Certificate => "certificate",
            FileRole::PrivateKey => "private key",
        })
    }
}

/// Why a certificate/key pair could not be used; every variant names the file at fault so
/// an operator can fix it without reading code.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    /// The file does not exist (a typo in the path, or a renewal that moved it).
    #[error("TLS {role} file {path} does not exist")]
    Missing { role: FileRole, path: PathBuf },
    /// The file exists but cannot be read (permissions, a directory, an I/O error).
    #[error("cannot read TLS {role} file {path}: {source}")]
    Unreadable {
        role: FileRole,
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    /// The file is not PEM at all, or its PEM is damaged.
    #[error("TLS {role} file {path} is not a PEM file: {detail}")]
    NotPem {
        role: FileRole,
        path: PathBuf,
        detail: String,
    },
    /// The certificate file is PEM but holds no `CERTIFICATE` block.
    #[error("TLS certificate file {path} holds no certificate{found}")]
    NoCertificate { path: PathBuf, found: Found },
    /// The key file is PEM but holds no usable private key block.
    #[error("TLS private key file {path} holds no private key{found}")]
    NoPrivateKey { path: PathBuf, found: Found },
    /// The key file holds a passphrase-protected key, which a daemon cannot unlock.
    #[error(
        "TLS private key file {path} holds an encrypted key; decrypt it first (openssl pkey -in KEY -out PLAIN)"
    )]
    EncryptedKey { path: PathBuf },
    /// The key is of a kind the server cannot sign with (only RSA, ECDSA P-256/P-384 and Ed25519).
    #[error(
        "TLS private key file {path} holds an unsupported key type (use RSA, ECDSA P-256/P-384 or Ed25519): {detail}"
    )]
    UnsupportedKey { path: PathBuf, detail: String },
    /// The first certificate cannot be parsed as X.509.
    #[error("TLS certificate file {path} holds an invalid certificate: {detail}")]
    BadCertificate { path: PathBuf, detail: String },
    /// Both files are fine alone, but the key is not the one the certificate was issued for.
    #[error("TLS private key file {key} does not match the certificate in {cert}")]
    KeyMismatch { cert: PathBuf, key: PathBuf },
    /// rustls refused the configuration (not expected with the built-in provider).
    #[error("cannot build the TLS configuration: {0}")]
    Config(#[source] rustls::Error),
}

/// The PEM block kinds seen in a file, appended to "holds no certificate" so the operator
/// sees at once that the certificate and key paths are swapped.
#[derive(Debug, Default, Clone)]
pub struct Found(Vec<&'static str>);

impl fmt::Display for Found {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0.is_empty() {
            return Ok(());
        }
        write!(f, " (it holds: {})", self.0.join(", "))
    }
}

/// A TLS server setup whose certificate can be replaced while it runs.
///
/// Cloning is cheap and every clone serves (and reloads) the same pair.
#[derive(Clone)]
pub struct ReloadableTls {
    cert_path: PathBuf,
    key_path: PathBuf,
    resolver: Arc<SwappableCert>,
    acceptor: TlsAcceptor,
}

impl fmt::Debug for ReloadableTls {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ReloadableTls")
            .field("cert_path", &self.cert_path)
            .field("key_path", &self.key_path)
            .finish_non_exhaustive()
    }
}

/// Reads the pair and builds a TLS 1.2 + 1.3 server setup serving it; see [`ReloadableTls`].
pub fn load(
    cert_path: impl AsRef<Path>,
    key_path: impl AsRef<Path>,
) -> Result<ReloadableTls, TlsError> {
    ReloadableTls::load(cert_path, key_path)
}

impl ReloadableTls {
    /// Reads the pair and builds a TLS 1.2 + 1.3 server setup serving it.
    pub fn load(
        cert_path: impl AsRef<Path>,
        key_path: impl AsRef<Path>,
    ) -> Result<ReloadableTls, TlsError> {
        let cert_path = cert_path.as_ref().to_path_buf();
        let key_path = key_path.as_ref().to_path_buf();
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let pair = read_pair(&cert_path, &key_path, &provider)?;
        let resolver = Arc::new(SwappableCert(ArcSwap::from_pointee(pair)));
        let config = ServerConfig::builder_with_provider(provider)
            .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])
            .map_err(TlsError::Config)?
            .with_no_client_auth()
            .with_cert_resolver(resolver.clone());
        Ok(ReloadableTls {
            cert_path,
            key_path,
            resolver,
            acceptor: TlsAcceptor::from(Arc::new(config)),
        })
    }

    /// Re-reads both files; new handshakes get the new pair, established connections are
    /// untouched. On error the previous pair stays in service and the error is returned.
    pub fn reload(&self) -> Result<(), TlsError> {
        let provider = rustls::crypto::ring::default_provider();
        let pair = read_pair(&self.cert_path, &self.key_path, &provider)?;
        self.resolver.0.store(Arc::new(pair));
        Ok(())
    }

    /// The acceptor for a TLS listener; it always serves the most recently loaded pair.
    pub fn acceptor(&self) -> TlsAcceptor {
        self.acceptor.clone()
    }

    /// The certificate file, for log lines.
    pub fn cert_path(&self) -> &Path {
        &self.cert_path
    }

    /// The key file, for log lines.
    pub fn key_path(&self) -> &Path {
        &self.key_path
    }

    /// The end-entity certificate new handshakes are served, so a reload can be verified.
    pub fn served_certificate(&self) -> CertificateDer<'static> {
        self.resolver.0.load().cert[0].clone()
    }
}

/// The negotiated protocol as the short name operators know from openssl ("TLSv1.3"), for
/// the connect log line.
pub fn protocol_name<IO>(stream: &tokio_rustls::server::TlsStream<IO>) -> &'static str {
    version_name(stream.get_ref().1.protocol_version())
}

/// A rustls protocol version as "TLSv1.2"/"TLSv1.3" ("unknown" before the handshake).
pub fn version_name(version: Option<rustls::ProtocolVersion>) -> &'static str {
    match version {
        Some(rustls::ProtocolVersion::TLSv1_3) => "TLSv1.3",
        Some(rustls::ProtocolVersion::TLSv1_2) => "TLSv1.2",
        Some(rustls::ProtocolVersion::TLSv1_1) => "TLSv1.1",
        Some(rustls::ProtocolVersion::TLSv1_0) => "TLSv1.0",
        _ => "unknown",
    }
}

/// Serves whatever pair is current to every handshake (no SNI: one server, one name).
#[derive(Debug)]
struct SwappableCert(ArcSwap<CertifiedKey>);

impl ResolvesServerCert for SwappableCert {
    fn resolve(&self, _hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        Some(self.0.load_full())
    }
}

fn read_pair(
    cert_path: &Path,
    key_path: &Path,
    provider: &CryptoProvider,
) -> Result<CertifiedKey, TlsError> {
    let chain = read_chain(cert_path)?;
    let key = read_key(key_path)?;
    let signing_key =
        provider
            .key_provider
            .load_private_key(key)
            .map_err(|e| TlsError::UnsupportedKey {
                path: key_path.to_path_buf(),
                detail: e.to_string(),
            })?;
    let pair = CertifiedKey::new(chain, signing_key);
    match pair.keys_match() {
        Ok(()) => Ok(pair),
        // The provider cannot tell (not the case with ring): let the handshake decide.
        Err(rustls::Error::InconsistentKeys(rustls::InconsistentKeys::Unknown)) => Ok(pair),
        Err(rustls::Error::InconsistentKeys(_)) => Err(TlsError::KeyMismatch {
            cert: cert_path.to_path_buf(),
            key: key_path.to_path_buf(),
        }),
        Err(e) => Err(TlsError::BadCertificate {
            path: cert_path.to_path_buf(),
            detail: e.to_string(),
        }),
    }
}

fn read_chain(path: &Path) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let role = FileRole::Certificate;
    let bytes = read_file(path, role)?;
    let chain = CertificateDer::pem_slice_iter(&bytes)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| not_pem(path, role, e))?;
    if chain.is_empty() {
        let found = found_kinds(path, role, &bytes)?;
        return Err(TlsError::NoCertificate {
            path: path.to_path_buf(),
            found,
        });
    }
    Ok(chain)
}

fn read_key(path: &Path) -> Result<PrivateKeyDer<'static>, TlsError> {
    let role = FileRole::PrivateKey;
    let bytes = read_file(path, role)?;
    match PrivateKeyDer::from_pem_slice(&bytes) {
        Ok(key) => Ok(key),
        Err(rustls::pki_types::pem::Error::NoItemsFound) => {
            if contains(&bytes, b"-----BEGIN ENCRYPTED PRIVATE KEY-----") {
                return Err(TlsError::EncryptedKey {
                    path: path.to_path_buf(),
                });
            }
            let found = found_kinds(path, role, &bytes)?;
            Err(TlsError::NoPrivateKey {
                path: path.to_path_buf(),
                found,
            })
        }
        Err(e) => Err(not_pem(path, role, e)),
    }
}

fn read_file(path: &Path, role: FileRole) -> Result<Vec<u8>, TlsError> {
    std::fs::read(path).map_err(|source| match source.kind() {
        io::ErrorKind::NotFound => TlsError::Missing {
            role,
            path: path.to_path_buf(),
        },
        _ => TlsError::Unreadable {
            role,
            path: path.to_path_buf(),
            source,
        },
    })
}

/// Lists the PEM blocks in a file that lacked the wanted one; a file with no PEM block at
/// all (a DER file, a config file given by mistake) is reported as "not a PEM file".
fn found_kinds(path: &Path, role: FileRole, bytes: &[u8]) -> Result<Found, TlsError> {
    let mut kinds = Vec::new();
    for item in <(SectionKind, Vec<u8>)>::pem_slice_iter(bytes) {
        let (kind, _) = item.map_err(|e| not_pem(path, role, e))?;
        let name = match kind {
            SectionKind::Certificate => "CERTIFICATE",
            SectionKind::PublicKey => "PUBLIC KEY",
            SectionKind::RsaPrivateKey => "RSA PRIVATE KEY",
            SectionKind::PrivateKey => "PRIVATE KEY",
            SectionKind::EcPrivateKey => "EC PRIVATE KEY",
            SectionKind::Crl => "X509 CRL",
            SectionKind::Csr => "CERTIFICATE REQUEST",
            _ => "other PEM block",
        };
        if !kinds.contains(&name) {
            kinds.push(name);
        }
    }
    if kinds.is_empty() && !contains(bytes, b"-----BEGIN ") {
        return Err(TlsError::NotPem {
            role,
            path: path.to_path_buf(),
            detail: "no -----BEGIN line".to_string(),
        });
    }
    Ok(Found(kinds))
}

fn not_pem(path: &Path, role: FileRole, e: rustls::pki_types::pem::Error) -> TlsError {
    TlsError::NotPem {
        role,
        path: path.to_path_buf(),
        detail: e.to_string(),
    }
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}
