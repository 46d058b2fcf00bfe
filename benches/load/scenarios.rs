//! The scenarios that are not plain room talk: idle connections (RSS per connection),
//! connection churn (registrations per second) and history requests under a fan-out load.

use std::io;
use std::sync::Arc;
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;
use tokio::sync::Semaphore;

use crate::conn::{self, Transport};
use crate::traffic::{self, Talk};

pub struct Idle {
    pub held: u64,
    pub failed: u64,
    /// Readers answering PINGs; dropping them closes the connections.
    pub conns: Vec<tokio::task::JoinHandle<bool>>,
}

/// Registers `n` clients (at most `parallel` registering at once) and keeps each one
/// reading and answering PINGs.
pub async fn idle(addr: &str, n: usize, parallel: usize) -> Idle {
    let gate = Arc::new(Semaphore::new(parallel));
    let mut tasks = Vec::with_capacity(n);
    for c in 0..n {
        let gate = gate.clone();
        let addr = addr.to_string();
        tasks.push(tokio::spawn(async move {
            let permit = gate.acquire().await.unwrap();
            let (r, w, _) = conn::register(&addr, Transport::Tcp, &format!("i{c}"), "").await?;
            drop(permit);
            io::Result::Ok((r, w))
        }));
    }
    let mut idle = Idle {
        held: 0,
        failed: 0,
        conns: Vec::with_capacity(n),
    };
    let mut first_error = true;
    for t in tasks {
        match t.await {
            Ok(Ok((r, w))) => {
                idle.held += 1;
                idle.conns.push(tokio::spawn(async move {
                    let _w = w;
                    r.drain().await
                }));
            }
            Ok(Err(e)) => {
                if first_error {
                    eprintln!("idle client failed: {e}");
                    first_error = false;
                }
                idle.failed += 1;
            }
            Err(_) => idle.failed += 1,
        }
    }
    idle
}

impl Idle {
    /// Connections still open.
    pub fn still_held(&self) -> u64 {
        self.conns.iter().filter(|c| !c.is_finished()).count() as u64
    }
}

/// `n` registrations, `parallel` at a time: connect, register (up to 001), then QUIT.
/// Returns the successful and failed registrations and the time until the last 001.
pub async fn connect(addr: &str, n: usize, parallel: usize) -> (u64, u64, f64) {
    let gate = Arc::new(Semaphore::new(parallel));
    let start = Instant::now();
    let mut tasks = Vec::with_capacity(n);
    for c in 0..n {
        let gate = gate.clone();
        let addr = addr.to_string();
        tasks.push(tokio::spawn(async move {
            let permit = gate.acquire().await.unwrap();
            let (r, w, _) = conn::register(&addr, Transport::Tcp, &format!("c{c}"), "").await?;
            drop(permit);
            let registered = start.elapsed();
            w.send("QUIT :bye").await?;
            // Wait for the server to close, so no connection outlives the measurement.
            let _ = tokio::time::timeout(Duration::from_secs(5), r.drain()).await;
            io::Result::Ok(registered)
        }));
    }
    let (mut ok, mut failed, mut last) = (0, 0, Duration::ZERO);
    for t in tasks {
        match t.await {
            Ok(Ok(at)) => {
                ok += 1;
                last = last.max(at);
            }
            Ok(Err(e)) => {
                if failed == 0 {
                    eprintln!("registration failed: {e}");
                }
                failed += 1;
            }
            Err(_) => failed += 1,
        }
    }
    (ok, failed, last.as_secs_f64())
}

pub struct History {
    pub latest: Histogram<u64>,
    pub search: Histogram<u64>,
    pub errors: u64,
    pub load: traffic::Checked,
}

/// Seeds `#hist` with `seed` messages, then, while `talk` runs in other rooms, alternates
/// `CHATHISTORY LATEST #hist * 50` and `SEARCH in=#hist;text=…;limit=50` on one client
/// and records how long each full answer (its batch) took.
pub async fn history(addr: &str, talk: &Talk, seed: usize) -> io::Result<History> {
    let caps = "batch server-time draft/chathistory soju.im/search";
    let (mut fr, fw, _) = conn::register(addr, Transport::Tcp, "fetcher", caps).await?;
    conn::join(&mut fr, &fw, "#hist").await?;
    let (mut sr, sw, _) = conn::register(addr, Transport::Tcp, "seeder", "").await?;
    conn::join(&mut sr, &sw, "#hist").await?;
    let words = ["deploy", "coffee", "review", "lunch", "release", "meeting"];
    let lines: Vec<String> = (0..seed)
        .map(|i| {
            format!(
                "PRIVMSG #hist :seed {i} about the {}",
                words[i % words.len()]
            )
        })
        .collect();
    for chunk in lines.chunks(100) {
        sw.send_all(chunk).await?;
    }
    // The fetcher sees the seed arrive; then give the index time to catch up.
    let mut line = String::new();
    let mut got = 0;
    while got < seed && fr.next_line(&mut line).await? {
        if conn::command(&line) == "PRIVMSG" {
            got += 1;
        }
    }
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let ready = traffic::prepare(addr, talk, 100).await;
    let (stop_tx, mut stop_rx) = tokio::sync::watch::channel(false);
    let fetch = tokio::spawn(async move {
        let mut latest = Histogram::<u64>::new(3).unwrap();
        let mut search = Histogram::<u64>::new(3).unwrap();
        let mut errors = 0;
        let mut line = String::new();
        let mut k = 0;
        while !*stop_rx.borrow_and_update() {
            let is_search = k % 2 == 1;
            let req = if is_search {
                format!(
                    "SEARCH in=#hist;text={};limit=50",
                    words[(k / 2) % words.len()]
                )
            } else {
                "CHATHISTORY LATEST #hist * 50".to_string()
            };
            k += 1;
            let t = Instant::now();
            if fw.send(&req).await.is_err() {
                errors += 1;
                break;
            }
            let answer = tokio::time::timeout(Duration::from_secs(10), async {
                let (mut depth, mut msgs) = (0, 0);
                loop {
                    if !matches!(fr.next_line(&mut line).await, Ok(true)) {
                        return None;
                    }
                    match conn::command(&line) {
                        "BATCH" if conn::params(&line).starts_with('+') => depth += 1,
                        "BATCH" => {
                            depth -= 1;
                            if depth == 0 {
                                return Some(msgs);
                            }
                        }
                        "PRIVMSG" => msgs += 1,
                        "FAIL" => return Some(0),
                        _ => {}
                    }
                }
            })
            .await;
            let msgs = match answer {
                Ok(Some(m)) => m,
                _ => {
                    errors += 1;
                    break;
                }
            };
            let us = t.elapsed().as_micros() as u64;
            if msgs == 0 {
                errors += 1;
            } else if is_search {
                let _ = search.record(us.max(1));
            } else {
                let _ = latest.record(us.max(1));
            }
        }
        (latest, search, errors)
    });
    let load = traffic::run(talk, ready, || {}).await;
    let _ = stop_tx.send(true);
    let (latest, search, errors) = fetch.await.map_err(io::Error::other)?;
    drop((sr, sw));
    Ok(History {
        latest,
        search,
        errors,
        load,
    })
}
