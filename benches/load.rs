//! Load benchmark: many clients in many rooms talking at once against the release server.
//!
//! Reports figures (throughput, delivery latency percentiles, archive rows); asserts only
//! that nothing was lost. Run with `cargo bench --bench load` (optionally
//! `-- CLIENTS ROOMS MESSAGES_PER_CLIENT RATE`, RATE in messages per second per client, 0 for
//! as fast as possible). Loopback only.

mod support;

use std::sync::Arc;
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;
use tokio::sync::Barrier;

fn main() {
    let args: Vec<usize> = std::env::args()
        .skip(1)
        .filter_map(|a| a.parse().ok())
        .collect();
    let clients = *args.first().unwrap_or(&200);
    let rooms = *args.get(1).unwrap_or(&10);
    let per_client = *args.get(2).unwrap_or(&200);
    let rate = *args.get(3).unwrap_or(&0);
    let tmp = tempfile::tempdir().unwrap();
    let (mut server, addr) = support::start_server(tmp.path(), 1048576);
    let rt = tokio::runtime::Runtime::new().unwrap();
    let (elapsed, hist, delivered) = rt.block_on(run(&addr, clients, rooms, per_client, rate));
    let sent = clients * per_client;
    let expected_deliveries: usize = (0..rooms)
        .map(|r| {
            let members = (0..clients).filter(|c| c % rooms == r).count();
            members * per_client * members.saturating_sub(1)
        })
        .sum();
    let _ = server.kill();
    let _ = server.wait();
    let archived: usize = std::fs::read_dir(tmp.path())
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "csv"))
        .map(|p| std::fs::read_to_string(p).unwrap().lines().count() - 1)
        .sum();
    let pace = if rate == 0 {
        "as fast as possible".to_string()
    } else {
        format!("{rate}/s each")
    };
    println!("clients {clients}, rooms {rooms}, messages per client {per_client} ({pace})");
    println!(
        "accepted {sent} messages in {:.2} s: {:.0} messages/s, {:.0} deliveries/s",
        elapsed.as_secs_f64(),
        sent as f64 / elapsed.as_secs_f64(),
        delivered as f64 / elapsed.as_secs_f64()
    );
    println!(
        "delivery latency (send to receipt by another member): p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms",
        hist.value_at_quantile(0.50) as f64 / 1000.0,
        hist.value_at_quantile(0.99) as f64 / 1000.0,
        hist.max() as f64 / 1000.0
    );
    println!("archived rows {archived}, deliveries {delivered} of {expected_deliveries}");
    assert_eq!(archived, sent, "every accepted message is archived");
    assert_eq!(delivered, expected_deliveries, "every delivery arrived");
}

async fn run(
    addr: &str,
    clients: usize,
    rooms: usize,
    per_client: usize,
    rate: usize,
) -> (Duration, Histogram<u64>, usize) {
    let base = Instant::now();
    let joined = Arc::new(Barrier::new(clients + 1));
    let mut tasks = Vec::new();
    for c in 0..clients {
        let addr = addr.to_string();
        let joined = joined.clone();
        let members = (0..clients).filter(|x| x % rooms == c % rooms).count();
        tasks.push(tokio::spawn(async move {
            let stream = TcpStream::connect(&addr).await.unwrap();
            stream.set_nodelay(true).unwrap();
            let (r, mut w) = stream.into_split();
            let mut lines = BufReader::new(r).lines();
            let room = format!("#room{}", c % rooms);
            w.write_all(format!("NICK u{c}\r\nUSER u{c} 0 * :u\r\nJOIN {room}\r\n").as_bytes())
                .await
                .unwrap();
            while let Some(l) = lines.next_line().await.unwrap() {
                if l.contains(" 366 ") {
                    break;
                }
            }
            joined.wait().await;
            let expect = per_client * (members - 1);
            let reader = tokio::spawn(async move {
                let mut hist = Histogram::<u64>::new(3).unwrap();
                let mut got = 0;
                while got < expect {
                    let Some(l) = lines.next_line().await.unwrap() else {
                        break;
                    };
                    if let Some(text) = l.split(" PRIVMSG ").nth(1) {
                        let sent: u64 = text.rsplit(' ').next().unwrap().parse().unwrap();
                        let now = base.elapsed().as_micros() as u64;
                        hist.record(now.saturating_sub(sent)).unwrap();
                        got += 1;
                    }
                }
                (hist, got)
            });
            let mut tick = (rate > 0)
                .then(|| tokio::time::interval(Duration::from_secs_f64(1.0 / rate as f64)));
            for _ in 0..per_client {
                if let Some(tick) = tick.as_mut() {
                    tick.tick().await;
                }
                let now = base.elapsed().as_micros();
                w.write_all(format!("PRIVMSG {room} :load test message {now}\r\n").as_bytes())
                    .await
                    .unwrap();
            }
            let result = reader.await.unwrap();
            w.write_all(b"QUIT\r\n").await.unwrap();
            result
        }));
    }
    joined.wait().await;
    let start = Instant::now();
    let mut hist = Histogram::<u64>::new(3).unwrap();
    let mut delivered = 0;
    for t in tasks {
        let (h, got) = t.await.unwrap();
        hist.add(h).unwrap();
        delivered += got;
    }
    (start.elapsed(), hist, delivered)
}
