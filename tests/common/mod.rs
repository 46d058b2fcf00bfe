//! Test harness: the real `chat-server` binary on an ephemeral port, real TCP clients,
//! real files in temporary directories.
#![allow(dead_code)]

pub mod logs;
pub mod nats;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Condvar, Mutex};
use std::time::Duration;

/// Guard against a hung test; never an assertion about speed.
pub const GUARD: Duration = Duration::from_secs(20);

/// Lines the server wrote to stderr, with a way to wait for one.
#[derive(Clone, Default)]
pub struct Log(Arc<(Mutex<Vec<String>>, Condvar)>);

impl Log {
    /// Waits until a log line containing `needle` appears; returns it.
    pub fn wait_for(&self, needle: &str) -> String {
        self.wait_for_nth(needle, 1)
    }

    /// Waits until `n` log lines containing `needle` have appeared; returns the last.
    pub fn wait_for_nth(&self, needle: &str, n: usize) -> String {
        let (lock, cond) = &*self.0;
        let mut lines = lock.lock().unwrap();
        loop {
            let found: Vec<&String> = lines.iter().filter(|l| l.contains(needle)).collect();
            if found.len() >= n {
                return found[n - 1].clone();
            }
            let (next, timeout) = cond.wait_timeout(lines, GUARD).unwrap();
            lines = next;
            if timeout.timed_out() {
                panic!("server never logged {needle:?}; log:\n{}", lines.join("\n"));
            }
        }
    }

    /// Everything logged so far.
    pub fn text(&self) -> String {
        self.0.0.lock().unwrap().join("\n")
    }
}

/// A running server process.
pub struct TestServer {
    pub child: Child,
    pub addr: SocketAddr,
    pub log_dir: PathBuf,
    pub log: Log,
    _tmp: Option<tempfile::TempDir>,
}

impl TestServer {
    /// Starts a server with a fresh temporary log directory.
    pub fn start(args: &[&str]) -> TestServer {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("logs");
        let mut server = TestServer::start_in(&dir, args);
        server._tmp = Some(tmp);
        server
    }

    /// Starts a server whose archives live in `log_dir`.
    pub fn start_in(log_dir: &Path, args: &[&str]) -> TestServer {
        TestServer::spawn(TestServer::command(log_dir, args), log_dir)
    }

    /// The command line `start_in` runs, for a test that adds environment (NOTIFY_SOCKET)
    /// before handing it to [`TestServer::spawn`].
    pub fn command(log_dir: &Path, args: &[&str]) -> Command {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_chat-server"));
        cmd.arg("--log-dir").arg(log_dir);
        if !args.contains(&"--listen") {
            cmd.args(["--listen", "127.0.0.1:0"]);
        }
        // Tests run side by side: no web listener unless a test asks for one.
        if !args.contains(&"--http-listen") {
            cmd.args(["--http-listen", "none"]);
        }
        cmd.args(args);
        cmd
    }

    /// Runs `cmd` (which must start a chat-server archiving to `log_dir`) and waits until it
    /// logs its first listening address.
    pub fn spawn(mut cmd: Command, log_dir: &Path) -> TestServer {
        // A test may ask for another level (RUST_LOG=debug) on the command it passes.
        if cmd.get_envs().all(|(key, _)| key != "RUST_LOG") {
            cmd.env("RUST_LOG", "info");
        }
        cmd.env_remove("LINECHAT_PASSWORD")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        let mut child = cmd.spawn().expect("start chat-server");
        let stderr = child.stderr.take().unwrap();
        let log = Log::default();
        let sink = log.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines() {
                let Ok(line) = line else { break };
                let (lock, cond) = &*sink.0;
                lock.lock().unwrap().push(line);
                cond.notify_all();
            }
            // Wake waiters on exit so they can report the log.
            sink.0.1.notify_all();
        });
        let listening = log.wait_for("listening on ");
        let addr = listening
            .split("listening on ")
            .nth(1)
            .and_then(|rest| rest.split_whitespace().next())
            .and_then(|a| a.parse().ok())
            .unwrap_or_else(|| panic!("no address in {listening:?}"));
        TestServer {
            child,
            addr,
            log_dir: log_dir.to_path_buf(),
            log,
            _tmp: None,
        }
    }

    /// A connected, unregistered client.
    pub fn connect(&self) -> Client {
        Client::connect(self.addr)
    }

    /// A client registered as `nick` (NICK + USER), with the welcome burst read.
    pub fn client(&self, nick: &str) -> Client {
        let mut c = self.connect();
        c.register(nick);
        c
    }

    /// A client that negotiated `caps` (`CAP LS 302`, `CAP REQ`, `CAP END`) and registered
    /// as `nick`, with the welcome burst read.
    pub fn cap_client(&self, nick: &str, caps: &[&str]) -> Client {
        let mut c = self.connect();
        c.send("CAP LS 302");
        while c.expect(" CAP * LS ").contains(" LS * ") {}
        c.send(&format!("NICK {nick}"));
        c.send(&format!("USER {nick} 0 * :{nick}"));
        if !caps.is_empty() {
            let list = caps.join(" ");
            c.send(&format!("CAP REQ :{list}"));
            let ack = c.expect(" CAP ");
            assert!(ack.ends_with(&format!(" ACK :{list}")), "{ack}");
        }
        c.send("CAP END");
        c.expect(" 001 ");
        c.expect_any(&[" 376 ", " 422 "]);
        c
    }

    /// Registers each nick and joins it to `room`, in order; on return every client has
    /// read its welcome, its names list and the JOINs of those after it.
    pub fn members<const N: usize>(&self, room: &str, nicks: [&str; N]) -> [Client; N] {
        let mut clients: Vec<Client> = Vec::with_capacity(N);
        for nick in nicks {
            let mut c = self.client(nick);
            c.send(&format!("JOIN {room}"));
            c.expect(" 366 ");
            for earlier in clients.iter_mut() {
                earlier.expect(&format!(":{nick}!"));
            }
            clients.push(c);
        }
        match clients.try_into() {
            Ok(array) => array,
            Err(_) => unreachable!("one client per nick"),
        }
    }

    /// Sends a signal to the server process.
    pub fn signal(&self, signal: i32) {
        // SAFETY: kill(2) on our own child's pid.
        unsafe { libc::kill(self.child.id() as i32, signal) };
    }

    /// The TLS address the server logged ("listening on ADDR (tls)").
    pub fn tls_addr(&self) -> SocketAddr {
        let line = self.log.wait_for("(tls");
        line.split("listening on ")
            .nth(1)
            .and_then(|rest| rest.split_whitespace().next())
            .and_then(|a| a.parse().ok())
            .unwrap_or_else(|| panic!("no address in {line:?}"))
    }

    /// The HTTP address the server logged ("web client at http://ADDR/").
    pub fn http_addr(&self) -> SocketAddr {
        self.web_addr("http")
    }

    /// The web address the server logged for `scheme` (`http`, `https`).
    pub fn web_addr(&self, scheme: &str) -> SocketAddr {
        let needle = format!("web client at {scheme}://");
        let line = self.log.wait_for(&needle);
        line.split(&needle)
            .nth(1)
            .and_then(|rest| rest.split('/').next())
            .and_then(|a| a.parse().ok())
            .unwrap_or_else(|| panic!("no address in {line:?}"))
    }

    /// The archive file of a room, by its file name.
    pub fn archive(&self, file: &str) -> PathBuf {
        self.log_dir.join(file)
    }

    /// Waits for the process to exit and returns its exit code.
    pub fn wait(&mut self) -> Option<i32> {
        self.child.wait().unwrap().code()
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A line-oriented client over any blocking stream: plain TCP here, TLS in `tls_support`.
pub struct Client<S: Read + Write = TcpStream> {
    stream: BufReader<S>,
    /// Everything received so far, for failure messages.
    pub seen: Vec<String>,
}

impl Client {
    pub fn connect(addr: SocketAddr) -> Client {
        let stream = TcpStream::connect(addr).expect("connect");
        stream.set_read_timeout(Some(GUARD)).unwrap();
        Client::over(stream)
    }

    /// The raw socket, for writers on other threads.
    pub fn writer(&self) -> &TcpStream {
        self.stream.get_ref()
    }
}

impl<S: Read + Write> Client<S> {
    /// A client over an established stream.
    pub fn over(stream: S) -> Client<S> {
        Client {
            stream: BufReader::new(stream),
            seen: Vec::new(),
        }
    }

    /// The underlying stream, for what only it knows (a TLS session's certificate).
    pub fn stream(&self) -> &S {
        self.stream.get_ref()
    }

    /// The stream itself, for another protocol over it (WebSocket over TLS); nothing
    /// has been read from it yet.
    pub fn into_stream(self) -> S {
        assert!(
            self.stream.buffer().is_empty(),
            "unread input would be lost"
        );
        self.stream.into_inner()
    }

    /// Sends one line with CRLF.
    pub fn send(&mut self, line: &str) {
        self.send_raw(format!("{line}\r\n").as_bytes());
    }

    /// Sends bytes as they are.
    pub fn send_raw(&mut self, bytes: &[u8]) {
        let stream = self.stream.get_mut();
        stream.write_all(bytes).expect("send");
        stream.flush().expect("flush");
    }

    /// The next line without its CRLF, or `None` at end of stream.
    pub fn next_line(&mut self) -> Option<String> {
        let mut buf = Vec::new();
        match self.stream.read_until(b'\n', &mut buf) {
            Ok(0) => None,
            Ok(_) => {
                let line = String::from_utf8(buf).expect("server sent UTF-8");
                assert!(line.ends_with("\r\n"), "server line without CRLF: {line:?}");
                let line = line.trim_end_matches("\r\n").to_string();
                self.seen.push(line.clone());
                Some(line)
            }
            // A reset, or (TLS) a close without close_notify, ends the stream too.
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::ConnectionReset | std::io::ErrorKind::UnexpectedEof
                ) =>
            {
                None
            }
            Err(e) => panic!("read failed ({e}); seen so far:\n{}", self.seen.join("\n")),
        }
    }

    /// Registers as `nick` (NICK + USER) and reads the welcome burst; returns the 001 line.
    pub fn register(&mut self, nick: &str) -> String {
        self.send(&format!("NICK {nick}"));
        self.send(&format!("USER {nick} 0 * :{nick}"));
        let welcome = self.expect(" 001 ");
        self.expect_any(&[" 376 ", " 422 "]);
        welcome
    }

    /// Reads until a line contains `needle`; returns it.
    pub fn expect(&mut self, needle: &str) -> String {
        self.expect_any(&[needle])
    }

    /// Reads until a line contains one of `needles`; returns it.
    pub fn expect_any(&mut self, needles: &[&str]) -> String {
        loop {
            match self.next_line() {
                Some(line) if needles.iter().any(|n| line.contains(n)) => return line,
                Some(_) => {}
                None => panic!(
                    "connection closed before {needles:?}; seen:\n{}",
                    self.seen.join("\n")
                ),
            }
        }
    }

    /// Sends a PING and returns every line that arrives before its PONG: proof of what was
    /// (not) delivered before it, without sleeping.
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

    /// Sends one SEARCH and returns its NOTICE/FAIL lines up to and including the end line
    /// (or the FAIL).
    pub fn search_answer(&mut self, line: &str) -> Vec<String> {
        self.send(line);
        let mut out = Vec::new();
        loop {
            let l = self.next_line().expect("connection open");
            let end = l.contains("End of SEARCH") || l.contains(" FAIL SEARCH ");
            if l.contains(" NOTICE ") || l.contains(" FAIL ") {
                out.push(l);
            }
            if end {
                return out;
            }
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

/// Reads an archive CSV as (timestamp, user, message) rows, checking the header.
pub fn read_archive(path: &Path) -> Vec<(String, String, String)> {
    let mut reader = csv::Reader::from_path(path)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    let headers = reader.headers().unwrap().clone();
    assert_eq!(
        headers.iter().collect::<Vec<_>>(),
        ["timestamp", "username", "message"]
    );
    reader
        .records()
        .map(|r| {
            let r = r.unwrap();
            (r[0].to_string(), r[1].to_string(), r[2].to_string())
        })
        .collect()
}

/// A received line's IRCv3 tags (values unescaped) and the line without them.
pub fn split_tags(line: &str) -> (std::collections::BTreeMap<String, String>, &str) {
    let mut tags = std::collections::BTreeMap::new();
    let Some(tagged) = line.strip_prefix('@') else {
        return (tags, line);
    };
    let (section, rest) = tagged.split_once(' ').unwrap_or((tagged, ""));
    for item in section.split(';') {
        let (key, raw) = item.split_once('=').unwrap_or((item, ""));
        let mut value = String::new();
        let mut chars = raw.chars();
        while let Some(c) = chars.next() {
            if c != '\\' {
                value.push(c);
                continue;
            }
            match chars.next() {
                Some(':') => value.push(';'),
                Some('s') => value.push(' '),
                Some('r') => value.push('\r'),
                Some('n') => value.push('\n'),
                Some(other) => value.push(other),
                None => {}
            }
        }
        tags.insert(key.to_string(), value);
    }
    (tags, rest)
}

/// Runs a command to completion with no input; returns (exit code, stdout, stderr).
pub fn run_to_exit(mut cmd: Command) -> (Option<i32>, String, String) {
    let out = cmd.stdin(Stdio::null()).output().unwrap();
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Whether every tool a test drives is here: a command on the PATH, or an absolute path.
/// Under `CI` a missing one fails the test (CI must install it: `hint`); elsewhere the test
/// is skipped with a note.
pub fn tools_present(tools: &[&str], hint: &str) -> bool {
    let missing: Vec<&str> = tools
        .iter()
        .copied()
        .filter(|tool| {
            if tool.starts_with('/') {
                !Path::new(tool).exists()
            } else {
                !Command::new("sh")
                    .args(["-c", &format!("command -v {tool}")])
                    .output()
                    .is_ok_and(|o| o.status.success())
            }
        })
        .collect();
    if missing.is_empty() {
        return true;
    }
    assert!(
        std::env::var_os("CI").is_none(),
        "CI must install {} ({hint})",
        missing.join(", ")
    );
    eprintln!("skipping: {} not installed", missing.join(", "));
    false
}

/// `GET path` over HTTP/1.1 on `addr`: the status, the head (lower-cased) and the body.
pub fn http_get(addr: SocketAddr, path: &str) -> (u16, String, String) {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(GUARD)).unwrap();
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut raw = String::new();
    s.read_to_string(&mut raw).unwrap();
    let (head, body) = raw.split_once("\r\n\r\n").unwrap();
    let code = head.split_whitespace().nth(1).unwrap().parse().unwrap();
    (code, head.to_ascii_lowercase(), body.to_string())
}
