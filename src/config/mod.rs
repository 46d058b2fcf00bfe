//! Settings: command-line flags (clap) over an optional TOML file over built-in defaults.
//!
//! Every setting can be given in either place with the same name (`--max-clients` is
//! `max-clients` in the file), so an operator can move a flag into the file unchanged.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, bail};
use clap::Parser;
use serde::Deserialize;

mod cluster;
mod values;

pub use cluster::ClusterSettings;

use values::{networks, one_or_many, resolve_addrs};

/// Flags of `chat-server`; every one may also be set in the `--config` file.
#[derive(Parser, Debug, Default, Deserialize)]
#[command(
    name = "chat-server",
    version,
    about = "A chat server for telnet, nc, openssl s_client and IRC clients, archiving every room to CSV.",
    long_about = "A chat server for telnet, nc, openssl s_client and IRC clients.\n\n\
        Connect with `nc 127.0.0.1 6667`, type `NICK yourname`, then `JOIN #general` and \
        `MSG #general hello`. Type HELP for the command list. Every room message is appended \
        to <log-dir>/history_<room>.csv before anyone receives it.\n\n\
        Each flag can also be set in the TOML file given by --config, under the same name \
        (for example `max-clients = 500`); flags override the file."
)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct Args {
    /// TOML configuration file; flags given on the command line override its settings.
    #[arg(long, value_name = "FILE")]
    #[serde(skip)]
    pub config: Option<PathBuf>,

    /// Validate the configuration (and read the TLS files) and exit: 0 when valid, 2 with the problem.
    #[arg(long)]
    #[serde(skip)]
    pub check_config: bool,

    /// Plaintext listen address, HOST:PORT (repeatable; a host name binds every address it
    /// resolves to). `none` disables plaintext. [default: 127.0.0.1:6667]
    #[arg(long, value_name = "ADDR")]
    #[serde(default, deserialize_with = "one_or_many")]
    pub listen: Option<Vec<String>>,

    /// TLS listen address, HOST:PORT (repeatable); needs --tls-cert and --tls-key.
    #[arg(long, value_name = "ADDR")]
    #[serde(default, deserialize_with = "one_or_many")]
    pub tls_listen: Option<Vec<String>>,

    /// Web client and WebSocket (IRCv3 binding) listen address, HOST:PORT (repeatable);
    /// `none` disables HTTP. [default: 127.0.0.1:8080]
    #[arg(long, value_name = "ADDR")]
    #[serde(default, deserialize_with = "one_or_many")]
    pub http_listen: Option<Vec<String>>,

    /// HTTPS listen address for the web client and secure WebSocket, with the certificate
    /// of --tls-cert (repeatable).
    #[arg(long, value_name = "ADDR")]
    #[serde(default, deserialize_with = "one_or_many")]
    pub https_listen: Option<Vec<String>>,

    /// Origin allowed to open a WebSocket besides the page's own, e.g.
    /// `https://chat.example.org` (repeatable); `*` allows any site.
    #[arg(long, value_name = "ORIGIN")]
    #[serde(default, deserialize_with = "one_or_many")]
    pub web_origin: Option<Vec<String>>,

    /// Reverse proxy whose X-Forwarded-For / X-Real-IP is believed, CIDR (repeatable);
    /// it is also exempt from the per-address limits, which apply to the forwarded address.
    #[arg(long, value_name = "CIDR")]
    #[serde(default, deserialize_with = "one_or_many")]
    pub trusted_proxy: Option<Vec<String>>,

    /// PEM file with the certificate chain for TLS listeners.
    #[arg(long, value_name = "FILE")]
    pub tls_cert: Option<PathBuf>,

    /// PEM file with the private key for TLS listeners.
    #[arg(long, value_name = "FILE")]
    pub tls_key: Option<PathBuf>,

    /// Seconds a TLS client has to finish its handshake. [default: 10]
    #[arg(long, value_name = "SECS")]
    pub handshake_timeout: Option<u64>,

    /// Directory holding the room archives (history_<room>.csv). [default: ./logs]
    #[arg(long, value_name = "DIR")]
    pub log_dir: Option<PathBuf>,

    /// Create --log-dir with any missing parent directories. Without it a log directory
    /// whose parent does not exist is refused, so a mistyped path is not taken for a new,
    /// empty archive.
    #[arg(long)]
    #[serde(default)]
    pub create_log_dir: bool,

    /// Connection password clients must send with PASS before registering.
    #[arg(
        long,
        value_name = "PASSWORD",
        env = "LINECHAT_PASSWORD",
        hide_env_values = true
    )]
    pub password: Option<String>,

    /// Name the server uses as the source of its replies. [default: linechat]
    #[arg(long, value_name = "NAME")]
    pub server_name: Option<String>,

    /// Most simultaneous connections; more are refused with an ERROR. [default: 10000]
    #[arg(long, value_name = "N")]
    pub max_clients: Option<usize>,

    /// Connections one IPv4 address (or IPv6 /64) may hold at once (0: no limit).
    /// [default: 16]
    #[arg(long, value_name = "N")]
    pub max_connections_per_address: Option<usize>,

    /// New connections one address may open at once, and then per --connect-rate-secs
    /// (0: no limit). [default: 16]
    #[arg(long, value_name = "N")]
    pub connect_rate: Option<u32>,

    /// The window of --connect-rate, in seconds. [default: 10]
    #[arg(long, value_name = "SECS")]
    pub connect_rate_secs: Option<u64>,

    /// Network exempt from the per-address limits, CIDR (repeatable); `none` exempts
    /// nothing. [default: 127.0.0.0/8 and ::1]
    #[arg(long, value_name = "CIDR")]
    #[serde(default, deserialize_with = "one_or_many")]
    pub limit_exempt: Option<Vec<String>>,

    /// TLS handshakes in progress at once; connections beyond are closed at once.
    /// [default: 256]
    #[arg(long, value_name = "N")]
    pub max_tls_handshakes: Option<usize>,

    /// Seconds of silence from a client before the server sends it a PING. [default: 90]
    #[arg(long, value_name = "SECS")]
    pub ping_interval: Option<u64>,

    /// Seconds a pinged client has to answer before it is dropped. [default: 60]
    #[arg(long, value_name = "SECS")]
    pub ping_timeout: Option<u64>,

    /// Seconds a connection has to register (NICK) before it is dropped. [default: 60]
    #[arg(long, value_name = "SECS")]
    pub registration_timeout: Option<u64>,

    /// Longest accepted line in bytes, excluding the line ending (IRC uses 512). [default: 512]
    #[arg(long, value_name = "BYTES")]
    pub max_line_bytes: Option<usize>,

    /// Bytes of output a slow client may have queued before it is dropped. [default: 98304]
    #[arg(long, value_name = "BYTES")]
    pub sendq_bytes: Option<usize>,

    /// Lines a client may send at once before flood control paces it. [default: 10]
    #[arg(long, value_name = "LINES")]
    pub flood_burst: Option<u32>,

    /// Lines per second a client may send after its burst; the rest wait, unread
    /// (0 turns flood control off). [default: 2]
    #[arg(long, value_name = "PER_SEC")]
    pub flood_rate: Option<f64>,

    /// Message of the day shown after registration (use \n for more lines).
    #[arg(long, value_name = "TEXT")]
    pub motd: Option<String>,

    /// Most results the SEARCH command returns. [default: 100]
    #[arg(long, value_name = "N")]
    pub search_max_results: Option<usize>,

    /// Keep the search index (`on`) or not (`off`: no indexing cost, SEARCH answers that
    /// search is off; `chat-search index` can still build one by hand). [default: on]
    #[arg(long, value_name = "on|off")]
    pub search_index: Option<String>,

    /// Most rooms one client may be in at once (ISUPPORT CHANLIMIT). [default: 100]
    #[arg(long, value_name = "N")]
    pub max_rooms_per_client: Option<usize>,

    /// Contact line ADMIN shows (an e-mail address, say).
    #[arg(long, value_name = "TEXT")]
    pub admin_contact: Option<String>,

    /// Most archived lines replayed to a client joining a room (0 turns the replay off;
    /// clients that negotiated draft/chathistory fetch their own). [default: 50]
    #[arg(long, value_name = "N")]
    pub history_replay_lines: Option<usize>,

    /// How far back, in hours, the replay on JOIN reaches. [default: 24]
    #[arg(long, value_name = "HOURS")]
    pub history_replay_hours: Option<u64>,

    /// Most messages one CHATHISTORY request returns (ISUPPORT CHATHISTORY). [default: 1000]
    #[arg(long, value_name = "N")]
    pub chathistory_max: Option<usize>,

    /// Print the argon2 hash of a password read from standard input, for an `[[oper]]`
    /// entry of the config file, and exit.
    #[arg(long)]
    #[serde(skip)]
    pub hash_password: bool,

    /// Join a network of nodes through these NATS servers (comma-separated URLs).
    #[arg(long, value_name = "URLS")]
    pub cluster: Option<String>,

    /// This node's name in the network (required with --cluster).
    #[arg(long, value_name = "NAME")]
    pub node_name: Option<String>,

    /// The JetStream stream that holds the network's events.
    #[arg(long, value_name = "NAME")]
    pub cluster_stream: Option<String>,

    /// How many NATS servers keep each event (JetStream replicas).
    #[arg(long, value_name = "N")]
    pub cluster_replicas: Option<usize>,

    /// NATS credentials file (JWT + NKEY seed).
    #[arg(long, value_name = "FILE")]
    pub cluster_credentials: Option<PathBuf>,

    /// CA certificate for tls:// NATS servers.
    #[arg(long, value_name = "FILE")]
    pub cluster_tls_ca: Option<PathBuf>,

    /// Client certificate for NATS servers that verify clients.
    #[arg(long, value_name = "FILE")]
    pub cluster_tls_cert: Option<PathBuf>,

    /// The client certificate's key.
    #[arg(long, value_name = "FILE")]
    pub cluster_tls_key: Option<PathBuf>,

    /// Longest a change waits for the stream's acknowledgement.
    #[arg(long, value_name = "SECS")]
    pub cluster_ack_timeout_secs: Option<u64>,

    /// Server operators (`OPER name password`), config file only: `[[oper]]` tables with
    /// `name` and `password` (an argon2 hash from `chat-server --hash-password`).
    #[arg(skip)]
    #[serde(default)]
    pub oper: Vec<OperEntry>,
}

/// One server operator of the config file.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OperEntry {
    /// The name given to OPER.
    pub name: String,
    /// The password's argon2 hash in PHC form (`$argon2id$v=19$...`), never the password.
    pub password: String,
}

/// Resolved settings the server runs with.
#[derive(Clone)]
pub struct Settings {
    pub listen: Vec<SocketAddr>,
    pub tls_listen: Vec<SocketAddr>,
    pub tls_cert: Option<PathBuf>,
    pub tls_key: Option<PathBuf>,
    /// HTTP listeners (web client, WebSocket).
    pub http_listen: Vec<SocketAddr>,
    /// Whether `http_listen` was given: the default one failing to bind only warns.
    pub http_listen_given: bool,
    pub https_listen: Vec<SocketAddr>,
    /// Origins allowed to open a WebSocket besides the page's own (`*`: any).
    pub web_origins: Vec<String>,
    /// Proxies whose forwarded-for headers are believed.
    pub trusted_proxies: Vec<crate::limits::Cidr>,
    pub handshake_timeout: Duration,
    pub log_dir: PathBuf,
    /// Create the log directory's missing parents (`--create-log-dir`).
    pub create_log_dir: bool,
    pub password: Option<String>,
    pub server_name: String,
    pub max_clients: usize,
    /// Connections at once per IPv4 address or IPv6 /64 (0: no limit).
    pub max_connections_per_address: usize,
    /// New connections per address per `connect_rate_window` (0: no limit).
    pub connect_rate: u32,
    pub connect_rate_window: Duration,
    /// Networks exempt from the per-address limits.
    pub limit_exempt: Vec<crate::limits::Cidr>,
    /// TLS handshakes in progress at once.
    pub max_tls_handshakes: usize,
    pub ping_interval: Duration,
    pub ping_timeout: Duration,
    pub registration_timeout: Duration,
    pub max_line_bytes: usize,
    pub sendq_bytes: usize,
    pub flood_burst: u32,
    pub flood_rate: f64,
    pub motd: Vec<String>,
    pub search_max_results: usize,
    /// Whether the server keeps the search index (`--search-index`).
    pub search_index: bool,
    pub max_rooms_per_client: usize,
    pub admin_contact: Option<String>,
    /// Lines replayed on JOIN (0: none).
    pub history_replay_lines: usize,
    /// How far back the replay on JOIN reaches.
    pub history_replay_age: Duration,
    /// Most messages per CHATHISTORY request.
    pub chathistory_max: usize,
    /// Set with `--cluster`: this server is one node of a network (see docs/cluster.md).
    pub cluster: Option<ClusterSettings>,
    /// Server operators; each password is an argon2 hash.
    pub opers: Vec<OperEntry>,
}

/// The password never reaches logs, even through `{:?}`.
impl std::fmt::Debug for Settings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Settings")
            .field("listen", &self.listen)
            .field("tls_listen", &self.tls_listen)
            .field("tls_cert", &self.tls_cert)
            .field("tls_key", &self.tls_key)
            .field("log_dir", &self.log_dir)
            .field("password", &self.password.as_ref().map(|_| "<redacted>"))
            .field(
                "opers",
                &self.opers.iter().map(|o| &o.name).collect::<Vec<_>>(),
            )
            .field("server_name", &self.server_name)
            .field("max_clients", &self.max_clients)
            .field("max_line_bytes", &self.max_line_bytes)
            .field("cluster", &self.cluster)
            .finish_non_exhaustive()
    }
}

impl Default for Settings {
    fn default() -> Self {
        Settings::resolve(Args::default(), Args::default()).expect("defaults are valid")
    }
}

impl Settings {
    /// Settings for tests and embedding: defaults with the given log directory.
    pub fn with_log_dir(log_dir: impl Into<PathBuf>) -> Self {
        Settings {
            log_dir: log_dir.into(),
            ..Settings::default()
        }
    }

    /// Reads the `--config` file (if any) and lays the flags over it.
    pub fn from_args(args: Args) -> anyhow::Result<Self> {
        let file = match &args.config {
            Some(path) => read_file(path)?,
            None => Args::default(),
        };
        Settings::resolve(args, file)
    }

    fn resolve(flags: Args, file: Args) -> anyhow::Result<Self> {
        macro_rules! pick {
            ($field:ident) => {
                flags.$field.or(file.$field)
            };
        }
        let listen = resolve_addrs(
            "listen",
            &pick!(listen).unwrap_or_else(|| vec!["127.0.0.1:6667".to_string()]),
        )?;
        let tls_listen = resolve_addrs("tls-listen", &pick!(tls_listen).unwrap_or_default())?;
        let tls_cert = pick!(tls_cert);
        let tls_key = pick!(tls_key);
        if !tls_listen.is_empty() && (tls_cert.is_none() || tls_key.is_none()) {
            bail!("--tls-listen needs both --tls-cert and --tls-key");
        }
        let http_listen_given = flags.http_listen.is_some() || file.http_listen.is_some();
        let http_listen = resolve_addrs(
            "http-listen",
            &pick!(http_listen).unwrap_or_else(|| vec!["127.0.0.1:8080".to_string()]),
        )?;
        let https_listen = resolve_addrs("https-listen", &pick!(https_listen).unwrap_or_default())?;
        if !https_listen.is_empty() && (tls_cert.is_none() || tls_key.is_none()) {
            bail!("--https-listen needs both --tls-cert and --tls-key");
        }
        if tls_cert.is_some() != tls_key.is_some() {
            bail!("--tls-cert and --tls-key must be given together");
        }
        if listen.is_empty() && tls_listen.is_empty() {
            bail!("no listener: give --listen or --tls-listen");
        }
        let max_line_bytes = pick!(max_line_bytes).unwrap_or(512);
        if max_line_bytes < 64 {
            bail!("max-line-bytes must be at least 64");
        }
        let secs = |v: Option<u64>, default: u64, name: &str| -> anyhow::Result<Duration> {
            let v = v.unwrap_or(default);
            if v == 0 {
                bail!("{name} must be at least 1 second");
            }
            Ok(Duration::from_secs(v))
        };
        let flood_rate = pick!(flood_rate).unwrap_or(2.0);
        if !(flood_rate.is_finite() && flood_rate >= 0.0) {
            bail!("flood-rate must be a number of lines per second, 0 or more");
        }
        let flood_burst = pick!(flood_burst).unwrap_or(10);
        if flood_burst == 0 {
            bail!("flood-burst must be at least 1 line");
        }
        let server_name = pick!(server_name).unwrap_or_else(|| "linechat".to_string());
        if server_name.is_empty() || server_name.contains(|c: char| c.is_whitespace() || c == ':') {
            bail!("server-name may not be empty or contain spaces or colons");
        }
        Ok(Settings {
            listen,
            tls_listen,
            tls_cert,
            tls_key,
            http_listen,
            http_listen_given,
            https_listen,
            web_origins: pick!(web_origin)
                .unwrap_or_default()
                .into_iter()
                .map(|o| o.trim().trim_end_matches('/').to_string())
                .filter(|o| !o.is_empty() && !o.eq_ignore_ascii_case("none"))
                .collect(),
            trusted_proxies: networks("trusted-proxy", pick!(trusted_proxy).unwrap_or_default())?,
            handshake_timeout: secs(pick!(handshake_timeout), 10, "handshake-timeout")?,
            log_dir: pick!(log_dir).unwrap_or_else(|| PathBuf::from("./logs")),
            create_log_dir: flags.create_log_dir || file.create_log_dir,
            password: pick!(password).filter(|p| !p.is_empty()),
            server_name,
            max_clients: pick!(max_clients).unwrap_or(10_000).max(1),
            max_connections_per_address: pick!(max_connections_per_address).unwrap_or(16),
            connect_rate: pick!(connect_rate).unwrap_or(16),
            connect_rate_window: secs(pick!(connect_rate_secs), 10, "connect-rate-secs")?,
            limit_exempt: networks(
                "limit-exempt",
                pick!(limit_exempt).unwrap_or_else(|| vec!["127.0.0.0/8".into(), "::1".into()]),
            )?,
            max_tls_handshakes: pick!(max_tls_handshakes).unwrap_or(256).max(1),
            ping_interval: secs(pick!(ping_interval), 90, "ping-interval")?,
            ping_timeout: secs(pick!(ping_timeout), 60, "ping-timeout")?,
            registration_timeout: secs(pick!(registration_timeout), 60, "registration-timeout")?,
            max_line_bytes,
            sendq_bytes: pick!(sendq_bytes).unwrap_or(96 * 1024).max(4096),
            flood_burst,
            flood_rate,
            motd: pick!(motd)
                .map(|m| m.replace("\\n", "\n").lines().map(str::to_string).collect())
                .unwrap_or_default(),
            search_max_results: pick!(search_max_results).unwrap_or(100).clamp(1, 10_000),
            search_index: match pick!(search_index).as_deref().map(str::trim) {
                None => true,
                Some(v)
                    if ["on", "true", "yes"]
                        .iter()
                        .any(|w| v.eq_ignore_ascii_case(w)) =>
                {
                    true
                }
                Some(v)
                    if ["off", "false", "no"]
                        .iter()
                        .any(|w| v.eq_ignore_ascii_case(w)) =>
                {
                    false
                }
                Some(v) => bail!("--search-index takes `on` or `off`, not `{v}`"),
            },
            max_rooms_per_client: pick!(max_rooms_per_client).unwrap_or(100).max(1),
            admin_contact: pick!(admin_contact).filter(|c| !c.is_empty()),
            history_replay_lines: pick!(history_replay_lines).unwrap_or(50).min(1000),
            history_replay_age: Duration::from_secs(
                pick!(history_replay_hours).unwrap_or(24).min(24 * 3650) * 3600,
            ),
            chathistory_max: pick!(chathistory_max).unwrap_or(1000).clamp(1, 10_000),
            cluster: cluster::resolve(cluster::ClusterArgs {
                cluster: pick!(cluster),
                node_name: pick!(node_name),
                stream: pick!(cluster_stream),
                replicas: pick!(cluster_replicas),
                credentials: pick!(cluster_credentials),
                tls_ca: pick!(cluster_tls_ca),
                tls_cert: pick!(cluster_tls_cert),
                tls_key: pick!(cluster_tls_key),
                ack_timeout_secs: pick!(cluster_ack_timeout_secs),
            })?,
            opers: check_opers(if flags.oper.is_empty() {
                file.oper
            } else {
                flags.oper
            })?,
        })
    }
}

/// Every operator needs a name and a password hash argon2 can read: a plain password in
/// the file is refused, so it cannot be left there by mistake.
fn check_opers(opers: Vec<OperEntry>) -> anyhow::Result<Vec<OperEntry>> {
    for o in &opers {
        if o.name.is_empty() || o.name.contains(char::is_whitespace) {
            bail!("[[oper]] name {:?} must be one word", o.name);
        }
        if argon2::PasswordHash::new(&o.password).is_err() {
            bail!(
                "[[oper]] {}: password must be an argon2 hash (make one with `chat-server --hash-password`), not the password itself",
                o.name
            );
        }
    }
    Ok(opers)
}

fn read_file(path: &Path) -> anyhow::Result<Args> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read config file {}", path.display()))?;
    toml::from_str(&text).with_context(|| format!("config file {} is not valid", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_override_file_and_file_overrides_defaults() {
        let file: Args = toml::from_str("max-clients = 5\nlog-dir = \"/srv/a\"\n").unwrap();
        let flags = Args::parse_from(["chat-server", "--max-clients", "7"]);
        let s = Settings::resolve(flags, file).unwrap();
        assert_eq!(s.max_clients, 7);
        assert_eq!(s.log_dir, PathBuf::from("/srv/a"));
        assert_eq!(s.max_line_bytes, 512);
    }

    #[test]
    fn unknown_file_keys_and_bad_values_are_errors() {
        assert!(toml::from_str::<Args>("max-client = 5").is_err());
        let flags = Args::parse_from(["chat-server", "--listen", "nowhere"]);
        let err = Settings::resolve(flags, Args::default()).unwrap_err();
        assert!(err.to_string().contains("nowhere"), "{err}");
        let flags = Args::parse_from(["chat-server", "--tls-listen", "127.0.0.1:6697"]);
        assert!(Settings::resolve(flags, Args::default()).is_err());
    }

    #[test]
    fn listen_takes_one_string_or_a_list_and_host_names() {
        let file: Args = toml::from_str("listen = \"127.0.0.1:6670\"\n").unwrap();
        let s = Settings::resolve(Args::default(), file).unwrap();
        assert_eq!(s.listen, ["127.0.0.1:6670".parse::<SocketAddr>().unwrap()]);
        let file: Args =
            toml::from_str("listen = [\"127.0.0.1:6670\", \"none\", \"127.0.0.1:6670\"]\n")
                .unwrap();
        let s = Settings::resolve(Args::default(), file).unwrap();
        assert_eq!(s.listen.len(), 1, "duplicates bind once");
        let flags = Args::parse_from(["chat-server", "--listen", "localhost:6670"]);
        let s = Settings::resolve(flags, Args::default()).unwrap();
        assert!(!s.listen.is_empty() && s.listen.iter().all(|a| a.ip().is_loopback()));
        let flags = Args::parse_from(["chat-server", "--listen", "localhost"]);
        let err = Settings::resolve(flags, Args::default()).unwrap_err();
        assert!(err.to_string().contains("is not HOST:PORT"), "{err}");
    }

    #[test]
    fn limit_exemptions_default_to_loopback_and_none_clears_them() {
        let s = Settings::default();
        assert_eq!(s.max_connections_per_address, 16);
        assert!(
            s.limit_exempt
                .iter()
                .any(|n| n.contains("127.0.0.1".parse().unwrap()))
        );
        assert!(
            s.limit_exempt
                .iter()
                .any(|n| n.contains("::1".parse().unwrap()))
        );
        let flags = Args::parse_from(["chat-server", "--limit-exempt", "none"]);
        assert!(
            Settings::resolve(flags, Args::default())
                .unwrap()
                .limit_exempt
                .is_empty()
        );
        let file: Args = toml::from_str("limit-exempt = [\"10.0.0.0/8\", \"fd00::/8\"]\n").unwrap();
        let s = Settings::resolve(Args::default(), file).unwrap();
        assert_eq!(s.limit_exempt.len(), 2);
        let flags = Args::parse_from(["chat-server", "--limit-exempt", "10.0.0.0/99"]);
        let err = Settings::resolve(flags, Args::default()).unwrap_err();
        assert!(err.to_string().contains("limit-exempt"), "{err}");
    }

    #[test]
    fn password_is_redacted_in_debug() {
        let flags = Args::parse_from(["chat-server", "--password", "hunter2"]);
        let s = Settings::resolve(flags, Args::default()).unwrap();
        assert!(!format!("{s:?}").contains("hunter2"));
    }
}
