//! The cluster settings: which NATS servers to join through, as which node, and how the
//! network's stream is kept (see [`crate::cluster`] and docs/cluster.md).

use std::path::PathBuf;
use std::time::Duration;

use anyhow::bail;

/// How this node joins a network of linechat nodes through NATS JetStream.
#[derive(Clone)]
pub struct ClusterSettings {
    /// NATS server URLs (`nats://host:4222`, `tls://…`); the client fails over among them.
    /// Credentials in a URL (`nats://user:pass@host`) are accepted and never logged.
    pub servers: Vec<String>,
    /// This node's name, unique in the network (`a`, `chat-1`…).
    pub node_name: String,
    /// The JetStream stream holding the network's events (default `LINECHAT`).
    pub stream: String,
    /// How many NATS servers keep each event (JetStream replicas: 1, 3 or 5).
    pub replicas: usize,
    /// A NATS credentials file (JWT and NKEY seed), as `nsc` writes it.
    pub credentials: Option<PathBuf>,
    /// CA certificate to trust for `tls://` NATS servers.
    pub tls_ca: Option<PathBuf>,
    /// Client certificate, when the NATS servers verify clients.
    pub tls_cert: Option<PathBuf>,
    /// The client certificate's key.
    pub tls_key: Option<PathBuf>,
    /// How long a change may wait for the stream's acknowledgement (retrying) before the
    /// client is told the network is unavailable; cut off from every NATS server, a node
    /// gives up after 3 s.
    pub ack_timeout: Duration,
}

/// The password of a `user:pass@` URL is never shown.
impl std::fmt::Debug for ClusterSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClusterSettings")
            .field("servers", &self.redacted_servers())
            .field("node_name", &self.node_name)
            .field("stream", &self.stream)
            .field("replicas", &self.replicas)
            .finish_non_exhaustive()
    }
}

impl ClusterSettings {
    /// The server URLs with any `user:password@` replaced by `***@`, for logs.
    pub fn redacted_servers(&self) -> Vec<String> {
        self.servers
            .iter()
            .map(|url| match (url.find("://"), url.rfind('@')) {
                (Some(scheme), Some(at)) if at > scheme => {
                    format!("{}***{}", &url[..scheme + 3], &url[at..])
                }
                _ => url.clone(),
            })
            .collect()
    }
}

/// The flags and file keys that make up [`ClusterSettings`], already merged.
pub struct ClusterArgs {
    /// `--cluster`: the NATS URLs, comma-separated.
    pub cluster: Option<String>,
    /// `--node-name`.
    pub node_name: Option<String>,
    /// `--cluster-stream`.
    pub stream: Option<String>,
    /// `--cluster-replicas`.
    pub replicas: Option<usize>,
    /// `--cluster-credentials`.
    pub credentials: Option<PathBuf>,
    /// `--cluster-tls-ca`.
    pub tls_ca: Option<PathBuf>,
    /// `--cluster-tls-cert`.
    pub tls_cert: Option<PathBuf>,
    /// `--cluster-tls-key`.
    pub tls_key: Option<PathBuf>,
    /// `--cluster-ack-timeout-secs`.
    pub ack_timeout_secs: Option<u64>,
}

/// `None` without `--cluster`; otherwise checked settings (a node name is required).
pub fn resolve(args: ClusterArgs) -> anyhow::Result<Option<ClusterSettings>> {
    let Some(urls) = args.cluster.filter(|u| !u.trim().is_empty()) else {
        if args.node_name.is_some() {
            bail!("--node-name needs --cluster nats://host:4222");
        }
        return Ok(None);
    };
    let servers: Vec<String> = urls
        .split(',')
        .map(str::trim)
        .filter(|u| !u.is_empty())
        .map(str::to_string)
        .collect();
    for url in &servers {
        if !["nats://", "tls://", "ws://", "wss://"]
            .iter()
            .any(|s| url.starts_with(s))
        {
            bail!("--cluster takes nats:// (or tls://) URLs, comma-separated; not {url:?}");
        }
    }
    let Some(node_name) = args.node_name.filter(|n| !n.is_empty()) else {
        bail!("--cluster needs --node-name NAME, unique in the network");
    };
    if !node_name
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        || node_name.len() > 32
    {
        bail!("--node-name must be 1-32 letters, digits, - or _; not {node_name:?}");
    }
    let stream = args.stream.unwrap_or_else(|| "LINECHAT".into());
    if stream.is_empty()
        || !stream
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
    {
        bail!("--cluster-stream must be letters, digits, - or _; not {stream:?}");
    }
    let replicas = args.replicas.unwrap_or(1);
    if !(1..=5).contains(&replicas) {
        bail!("--cluster-replicas must be 1 to 5 (JetStream's limit), not {replicas}");
    }
    if args.tls_cert.is_some() != args.tls_key.is_some() {
        bail!("--cluster-tls-cert and --cluster-tls-key must be given together");
    }
    // Long enough for a JetStream stream to elect a new leader after losing one.
    let ack = args.ack_timeout_secs.unwrap_or(15);
    if ack == 0 {
        bail!("cluster-ack-timeout-secs must be at least 1 second");
    }
    Ok(Some(ClusterSettings {
        servers,
        node_name,
        stream,
        replicas,
        credentials: args.credentials,
        tls_ca: args.tls_ca,
        tls_cert: args.tls_cert,
        tls_key: args.tls_key,
        ack_timeout: Duration::from_secs(ack),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(cluster: Option<&str>, node: Option<&str>) -> ClusterArgs {
        ClusterArgs {
            cluster: cluster.map(str::to_string),
            node_name: node.map(str::to_string),
            stream: None,
            replicas: None,
            credentials: None,
            tls_ca: None,
            tls_cert: None,
            tls_key: None,
            ack_timeout_secs: None,
        }
    }

    #[test]
    fn a_cluster_needs_a_node_name_and_nats_urls() {
        assert!(resolve(args(None, None)).unwrap().is_none());
        assert!(resolve(args(Some("nats://127.0.0.1:4222"), None)).is_err());
        assert!(resolve(args(None, Some("a"))).is_err());
        assert!(resolve(args(Some("http://x"), Some("a"))).is_err());
        assert!(resolve(args(Some("nats://h:1"), Some("a b"))).is_err());
        let s = resolve(args(Some("nats://h:1, nats://u:secret@h:2"), Some("a")))
            .unwrap()
            .unwrap();
        assert_eq!(s.servers.len(), 2);
        assert_eq!(s.stream, "LINECHAT");
        assert_eq!(s.replicas, 1);
        assert!(!format!("{s:?}").contains("secret"));
    }
}
