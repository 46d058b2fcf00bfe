//! Memory after connection floods: starts `chat-server` (the binary next to this example,
//! or `--server PATH`), then runs rounds of many connections that register, join a room
//! and talk (50 rooms, every client reading), closes them all, and prints the server's
//! RSS with them and once idle again after each round.
//!
//! ```text
//! cargo build --release && cargo run --release --example conn_flood -- --rounds 5 --conns 2000
//! ```
//!
//! Loopback is exempt from the per-address limits by default, so one machine can make
//! thousands of connections.

use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;
use tokio::net::tcp::OwnedWriteHalf;

struct Opts {
    server: PathBuf,
    rounds: usize,
    conns: usize,
}

fn opts() -> Opts {
    let mut o = Opts {
        server: std::env::current_exe()
            .ok()
            .and_then(|p| Some(p.parent()?.parent()?.join("chat-server")))
            .unwrap_or_else(|| PathBuf::from("chat-server")),
        rounds: 5,
        conns: 2000,
    };
    let args: Vec<String> = std::env::args().skip(1).collect();
    for pair in args.chunks(2) {
        let value = pair.get(1).cloned().unwrap_or_default();
        match pair[0].as_str() {
            "--server" => o.server = value.into(),
            "--rounds" => o.rounds = value.parse().expect("--rounds N"),
            "--conns" => o.conns = value.parse().expect("--conns N"),
            other => panic!("unknown flag {other}"),
        }
    }
    o
}

/// The server's resident set in KiB (VmRSS).
fn rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .unwrap_or(0)
}

/// One client: registers, joins one of 50 rooms, says one line and waits for its own
/// echo; then a task keeps reading what the room says until the server closes. Returns
/// the write half (for QUIT) and that task.
async fn client(
    addr: std::net::SocketAddr,
    i: usize,
) -> std::io::Result<(OwnedWriteHalf, tokio::task::JoinHandle<()>)> {
    let stream = TcpStream::connect(addr).await?;
    let (read, mut write) = stream.into_split();
    let nick = format!("f{i}");
    let room = i % 50;
    write
        .write_all(
            format!(
                "CAP REQ :echo-message\r\nCAP END\r\nNICK {nick}\r\nUSER {nick} 0 * :{nick}\r\n\
                 JOIN #flood{room}\r\nPRIVMSG #flood{room} :hello from {nick}\r\n"
            )
            .as_bytes(),
        )
        .await?;
    let mut lines = BufReader::new(read).lines();
    let mine = format!(":hello from {nick}");
    while let Some(line) = lines.next_line().await? {
        if line.contains(" PRIVMSG ") && line.ends_with(&mine) {
            break;
        }
        if line.starts_with("ERROR") {
            return Err(std::io::Error::other(line));
        }
    }
    let drain = tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
    Ok((write, drain))
}

#[tokio::main]
async fn main() {
    let o = opts();
    let dir = tempfile::tempdir().unwrap();
    let mut child = Command::new(&o.server)
        .arg("--log-dir")
        .arg(dir.path().join("logs"))
        .args(["--listen", "127.0.0.1:0", "--flood-rate", "0"])
        .env("RUST_LOG", "warn,linechat::service=info")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {}: {e}", o.server.display()));
    let stderr = child.stderr.take().unwrap();
    let mut lines = std::io::BufRead::lines(std::io::BufReader::new(stderr));
    let addr: std::net::SocketAddr = loop {
        let line = lines.next().expect("server exited").unwrap();
        if let Some(rest) = line.split("listening on ").nth(1) {
            break rest.split_whitespace().next().unwrap().parse().unwrap();
        }
    };
    std::thread::spawn(move || for _ in lines {});
    let pid = child.id();
    println!("server pid {pid}; idle RSS at start: {} KiB", rss_kib(pid));
    for round in 1..=o.rounds {
        let started = Instant::now();
        let tasks: Vec<_> = (0..o.conns)
            .map(|i| tokio::spawn(client(addr, round * 100_000 + i)))
            .collect();
        let mut open = Vec::with_capacity(o.conns);
        let mut failed = 0;
        for t in tasks {
            match t.await.unwrap() {
                Ok(client) => open.push(client),
                // A listen queue overflowing under the burst resets a few; count them.
                Err(e) => {
                    if failed == 0 {
                        eprintln!("round {round}: a client failed: {e}");
                    }
                    failed += 1;
                }
            }
        }
        let peak = rss_kib(pid);
        let mut draining = Vec::with_capacity(open.len());
        for (mut write, drain) in open {
            let _ = write.write_all(b"QUIT\r\n").await;
            draining.push(drain);
        }
        for drain in draining {
            let _ = drain.await;
        }
        // Idle again: the server checks every 5 s whether to hand freed memory back.
        tokio::time::sleep(Duration::from_secs(12)).await;
        let idle = rss_kib(pid);
        println!(
            "round {round}: {} connections ({failed} failed) in {:.1} s, RSS {peak} KiB with them, \
             {idle} KiB idle after",
            o.conns - failed,
            started.elapsed().as_secs_f64()
        );
    }
    let _ = child.kill();
    let _ = child.wait();
}
