//! History benchmark: `CHATHISTORY LATEST 50` and JOIN-with-replay latency on a room whose
//! archive holds 1,000,000 messages, while a fan-out load runs in another room.
//!
//! Reports p50/p99/max latency figures; asserts only that every answer was complete.
//! Run with `cargo bench --bench history` (optionally `-- ROWS REQUESTS`). Loopback only.

mod support;

use std::io::Write;
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader, Lines};
use tokio::net::TcpStream;
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};

/// Clients in the fan-out room, and how many of them talk.
const LOAD_MEMBERS: usize = 100;
const LOAD_SENDERS: usize = 10;

fn main() {
    let args: Vec<usize> = std::env::args()
        .skip(1)
        .filter_map(|a| a.parse().ok())
        .collect();
    let rows = *args.first().unwrap_or(&1_000_000);
    let requests = *args.get(1).unwrap_or(&500);
    let tmp = tempfile::tempdir().unwrap();
    let made = Instant::now();
    write_archive(&tmp.path().join("history_big.csv"), rows);
    println!(
        "archive: {rows} rows in history_big.csv ({:.0} MB), written in {:.1} s",
        std::fs::metadata(tmp.path().join("history_big.csv"))
            .unwrap()
            .len() as f64
            / 1e6,
        made.elapsed().as_secs_f64()
    );
    let (mut server, addr) = support::start_server(tmp.path(), 4194304);
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let load = start_load(&addr).await;
        let (latest, join) = measure(&addr, requests).await;
        let delivered = load.stop().await;
        report("CHATHISTORY LATEST #big * 50", &latest);
        report("JOIN #big with 50-line replay", &join);
        println!(
            "fan-out load meanwhile: {LOAD_SENDERS} senders in a {LOAD_MEMBERS}-member room, {delivered} deliveries"
        );
    });
    let _ = server.kill();
    let _ = server.wait();
}

fn report(what: &str, hist: &Histogram<u64>) {
    println!(
        "{what}: {} requests, p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms",
        hist.len(),
        hist.value_at_quantile(0.50) as f64 / 1000.0,
        hist.value_at_quantile(0.99) as f64 / 1000.0,
        hist.max() as f64 / 1000.0
    );
}

/// `rows` messages one millisecond apart, ending now, in the archive's own format.
fn write_archive(path: &std::path::Path, rows: usize) {
    let file = std::fs::File::create(path).unwrap();
    let mut out = std::io::BufWriter::with_capacity(1 << 20, file);
    writeln!(out, "timestamp,username,message").unwrap();
    let end = chrono::Utc::now().timestamp_millis();
    for i in 0..rows {
        let t = chrono::DateTime::from_timestamp_millis(end - (rows - i) as i64).unwrap();
        writeln!(
            out,
            "{},user{},message number {i} about deploys and coffee",
            t.format("%Y-%m-%dT%H:%M:%S%.3fZ"),
            i % 97
        )
        .unwrap();
    }
    out.flush().unwrap();
}

struct Conn {
    lines: Lines<BufReader<OwnedReadHalf>>,
    w: OwnedWriteHalf,
}

async fn connect(addr: &str, nick: &str, caps: &str) -> Conn {
    let stream = TcpStream::connect(addr).await.unwrap();
    stream.set_nodelay(true).unwrap();
    let (r, mut w) = stream.into_split();
    let mut lines = BufReader::new(r).lines();
    let cap = if caps.is_empty() {
        String::new()
    } else {
        format!("CAP LS 302\r\nCAP REQ :{caps}\r\nCAP END\r\n")
    };
    w.write_all(format!("{cap}NICK {nick}\r\nUSER {nick} 0 * :{nick}\r\n").as_bytes())
        .await
        .unwrap();
    while let Some(l) = lines.next_line().await.unwrap() {
        if l.contains(" 376 ") || l.contains(" 422 ") {
            break;
        }
    }
    Conn { lines, w }
}

impl Conn {
    async fn send(&mut self, line: &str) {
        self.w
            .write_all(format!("{line}\r\n").as_bytes())
            .await
            .unwrap();
    }

    /// Reads to the end of the outermost batch; returns the PRIVMSG lines in it.
    async fn read_batch(&mut self) -> usize {
        let mut depth = 0;
        let mut messages = 0;
        while let Some(l) = self.lines.next_line().await.unwrap() {
            if l.contains(" BATCH +") {
                depth += 1;
            } else if l.contains(" BATCH -") {
                depth -= 1;
                if depth == 0 {
                    return messages;
                }
            } else if l.contains(" PRIVMSG #big ") {
                messages += 1;
            }
        }
        panic!("connection closed inside a batch");
    }
}

async fn measure(addr: &str, requests: usize) -> (Histogram<u64>, Histogram<u64>) {
    let mut latest = Histogram::<u64>::new(3).unwrap();
    let mut join = Histogram::<u64>::new(3).unwrap();
    let mut fetcher = connect(addr, "fetcher", "batch server-time draft/chathistory").await;
    fetcher.send("JOIN #big").await;
    while let Some(l) = fetcher.lines.next_line().await.unwrap() {
        if l.contains(" 366 ") {
            break;
        }
    }
    let mut joiner = connect(addr, "joiner", "batch server-time").await;
    for _ in 0..requests {
        let t = Instant::now();
        fetcher.send("CHATHISTORY LATEST #big * 50").await;
        assert_eq!(fetcher.read_batch().await, 50, "LATEST 50 returns 50");
        latest.record(t.elapsed().as_micros() as u64).unwrap();
    }
    for _ in 0..requests {
        let t = Instant::now();
        joiner.send("JOIN #big").await;
        // JOIN, 353, 366, then the replay batch.
        assert_eq!(joiner.read_batch().await, 50, "the replay holds 50 lines");
        join.record(t.elapsed().as_micros() as u64).unwrap();
        joiner.send("PART #big").await;
        while let Some(l) = joiner.lines.next_line().await.unwrap() {
            if l.contains(" PART #big") {
                break;
            }
        }
    }
    (latest, join)
}

struct Load {
    stop: tokio::sync::watch::Sender<bool>,
    tasks: Vec<tokio::task::JoinHandle<usize>>,
}

impl Load {
    async fn stop(self) -> usize {
        let _ = self.stop.send(true);
        let mut total = 0;
        for t in self.tasks {
            total += t.await.unwrap_or(0);
        }
        total
    }
}

/// A room of [`LOAD_MEMBERS`] where [`LOAD_SENDERS`] talk without pause until stopped.
async fn start_load(addr: &str) -> Load {
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let mut tasks = Vec::new();
    for i in 0..LOAD_MEMBERS {
        let mut c = connect(addr, &format!("load{i}"), "").await;
        c.send("JOIN #load").await;
        while let Some(l) = c.lines.next_line().await.unwrap() {
            if l.contains(" 366 ") {
                break;
            }
        }
        let mut stopped = stopped.clone();
        tasks.push(tokio::spawn(async move {
            let Conn { mut lines, mut w } = c;
            let reader = tokio::spawn(async move {
                let mut n = 0;
                while let Ok(Some(l)) = lines.next_line().await {
                    if l.contains(" PRIVMSG #load ") {
                        n += 1;
                    }
                }
                n
            });
            if i < LOAD_SENDERS {
                let mut k = 0u64;
                while !*stopped.borrow() {
                    k += 1;
                    let line = format!("PRIVMSG #load :fan-out load line {k}\r\n");
                    if w.write_all(line.as_bytes()).await.is_err() {
                        break;
                    }
                    tokio::time::sleep(Duration::from_millis(2)).await;
                }
            } else {
                let _ = stopped.changed().await;
            }
            let _ = w.write_all(b"QUIT\r\n").await;
            reader.await.unwrap_or(0)
        }));
    }
    Load { stop, tasks }
}
