//! What the benchmarks share: starting the release `chat-server` on an ephemeral loopback
//! port, tuned to measure capacity rather than the flood and sendq policies.

use std::io::BufRead;
use std::path::Path;
use std::process::{Child, Command, Stdio};

/// Starts `chat-server` archiving to `log_dir` with a `sendq` of that many bytes and flood
/// control off; returns the process and the address it listens on.
pub fn start_server(log_dir: &Path, sendq: usize) -> (Child, String) {
    let mut server = Command::new(env!("CARGO_BIN_EXE_chat-server"))
        .args(["--listen", "127.0.0.1:0", "--max-clients", "100000"])
        .arg("--sendq-bytes")
        .arg(sendq.to_string())
        // The benches measure capacity, not the flood policy.
        .args(["--flood-rate", "0"])
        .arg("--log-dir")
        .arg(log_dir)
        .env("RUST_LOG", "warn,linechat::service=info")
        .stderr(Stdio::piped())
        .spawn()
        .expect("start chat-server");
    let mut stderr = std::io::BufReader::new(server.stderr.take().unwrap());
    let addr = loop {
        let mut line = String::new();
        let n = stderr.read_line(&mut line).unwrap();
        assert!(n > 0, "chat-server exited before it logged its address");
        if let Some(rest) = line.split("listening on ").nth(1) {
            break rest.split_whitespace().next().unwrap().to_string();
        }
    };
    // Keep draining the log so the server never blocks on a full pipe.
    std::thread::spawn(move || for _ in stderr.lines() {});
    (server, addr)
}
