//! The server under load: our release `chat-server`, started fresh for each measurement in
//! a temporary log directory (archive and index on), or any IRC daemon already listening,
//! whose PID is given or found.

use std::io::BufRead;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use crate::sys;

/// How to start linechat.
#[derive(Clone, Debug)]
pub struct LinechatOpts {
    pub bin: PathBuf,
    /// Put the log directory on /dev/shm instead of the temporary directory's disk.
    pub tmpfs: bool,
    /// `--search-index off` (when the binary has the flag).
    pub index_off: bool,
    pub server_cpu: Option<usize>,
    pub sendq: u64,
}

impl LinechatOpts {
    /// The target's name in the report.
    pub fn name(&self) -> &'static str {
        match (self.tmpfs, self.index_off) {
            (false, false) => "linechat",
            (true, false) => "linechat (tmpfs)",
            (false, true) => "linechat (index off)",
            (true, true) => "linechat (tmpfs, index off)",
        }
    }
}

pub struct Target {
    pub name: String,
    pub addr: String,
    /// `ws://` host:port of the WebSocket endpoint (linechat only).
    pub ws_addr: Option<String>,
    pub pid: u32,
    pub linechat: bool,
    child: Option<Child>,
    _dir: Option<tempfile::TempDir>,
}

impl Target {
    /// Starts a fresh linechat and waits until it listens.
    pub fn start_linechat(o: &LinechatOpts) -> Result<Self, String> {
        Self::launch(o, o.name(), &[])
    }

    /// Starts a fresh linechat as node `node` of the network whose stream is on the NATS
    /// server at `nats` (`nats://127.0.0.1:PORT`), and waits until it listens.
    pub fn start_linechat_node(o: &LinechatOpts, nats: &str, node: &str) -> Result<Self, String> {
        let args = ["--cluster", nats, "--node-name", node].map(String::from);
        Self::launch(o, &format!("linechat node {node}"), &args)
    }

    fn launch(o: &LinechatOpts, name: &str, extra: &[String]) -> Result<Self, String> {
        let dir = if o.tmpfs {
            tempfile::Builder::new()
                .prefix("linechat-bench-")
                .tempdir_in("/dev/shm")
        } else {
            tempfile::Builder::new()
                .prefix("linechat-bench-")
                .tempdir_in(std::env::temp_dir())
        }
        .map_err(|e| format!("log dir: {e}"))?;
        let mut cmd = Command::new(&o.bin);
        cmd.args(["--listen", "127.0.0.1:0", "--http-listen", "127.0.0.1:0"])
            .args(["--max-clients", "200000", "--flood-rate", "0"])
            .args(["--registration-timeout", "600"])
            .arg("--sendq-bytes")
            .arg(o.sendq.to_string())
            .arg("--log-dir")
            .arg(dir.path())
            .args(extra)
            .env("RUST_LOG", "warn,linechat::service=info")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        if o.index_off {
            cmd.args(["--search-index", "off"]);
        }
        if let Some(cpu) = o.server_cpu {
            use std::os::unix::process::CommandExt;
            // SAFETY: sched_setaffinity is a plain system call, safe between fork and exec.
            unsafe {
                cmd.pre_exec(move || sys::pin_thread(0, cpu));
            }
        }
        let mut child = cmd
            .spawn()
            .map_err(|e| format!("start {}: {e}", o.bin.display()))?;
        let mut stderr = std::io::BufReader::new(child.stderr.take().unwrap());
        let (mut addr, mut ws_addr) = (None, None);
        let mut last = String::new();
        while addr.is_none() || ws_addr.is_none() {
            let mut line = String::new();
            if stderr.read_line(&mut line).unwrap_or(0) == 0 {
                let _ = child.kill();
                let _ = child.wait();
                return Err(format!(
                    "chat-server exited before it logged its addresses (last line: {})",
                    last.trim()
                ));
            }
            if !line.trim().is_empty() {
                last.clone_from(&line);
            }
            if let Some(rest) = line.split("listening on ").nth(1) {
                addr = rest.split_whitespace().next().map(str::to_string);
            }
            if let Some(rest) = line.split("web client at http://").nth(1) {
                ws_addr = rest.split('/').next().map(str::to_string);
            }
        }
        // Keep draining the log so the server never blocks on a full pipe.
        std::thread::spawn(move || for _ in stderr.lines() {});
        let pid = child.id();
        Ok(Target {
            name: name.to_string(),
            addr: addr.unwrap(),
            ws_addr,
            pid,
            linechat: true,
            child: Some(child),
            _dir: Some(dir),
        })
    }

    /// A daemon already listening on `addr`, with its PID given, read from a pidfile, or
    /// found with `pgrep -o -x NAME`.
    pub fn external(
        name: &str,
        addr: &str,
        pid: Option<u32>,
        pidfile: Option<&PathBuf>,
        pgrep: Option<&str>,
        server_cpu: Option<usize>,
    ) -> Result<Self, String> {
        let pid = match (pid, pidfile, pgrep) {
            (Some(p), _, _) => p,
            (None, Some(f), _) => std::fs::read_to_string(f)
                .map_err(|e| format!("{}: {e}", f.display()))?
                .trim()
                .parse()
                .map_err(|e| format!("{}: {e}", f.display()))?,
            (None, None, Some(n)) => {
                let out = Command::new("pgrep")
                    .args(["-o", "-x", n])
                    .output()
                    .map_err(|e| format!("pgrep: {e}"))?;
                String::from_utf8_lossy(&out.stdout)
                    .trim()
                    .parse()
                    .map_err(|_| format!("no process named {n}"))?
            }
            _ => return Err("--target ADDR needs --pid, --pidfile or --pgrep".into()),
        };
        if !sys::alive(pid) {
            return Err(format!("process {pid} is not running"));
        }
        if let Some(cpu) = server_cpu {
            sys::pin_process(pid, cpu).map_err(|e| format!("pin {pid}: {e}"))?;
        }
        Ok(Target {
            name: name.to_string(),
            addr: addr.to_string(),
            ws_addr: None,
            pid,
            linechat: false,
            child: None,
            _dir: None,
        })
    }

    pub fn cpu(&self) -> sys::CpuTime {
        sys::CpuTime::read(self.pid)
    }

    pub fn rss_kib(&self) -> u64 {
        sys::rss_kib(self.pid).unwrap_or(0)
    }

    pub fn alive(&self) -> bool {
        sys::alive(self.pid)
    }
}

impl Drop for Target {
    fn drop(&mut self) {
        if let Some(child) = self.child.as_mut() {
            let _ = child.kill();
            let _ = child.wait();
            // Let the kernel take the sockets down before the next server starts.
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}
