//! Rooms talking: clients spread over rooms, some of them sending numbered, timestamped
//! messages; every member checks that each other sender's messages arrive exactly once and
//! in order, and records their latency.
//!
//! A message is `PRIVMSG #room :<sender id> <sequence> <send time µs> <padding>`; the
//! send time counts from an instant all clients share (they live in one process).
//!
//! The clients may be spread over several servers (the nodes of a cluster, round-robin);
//! deliveries whose sender is on another node than the receiver are also timed apart.

use std::collections::HashMap;
use std::io;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;
use tokio::sync::{Barrier, Semaphore, watch};

use crate::conn::{self, Transport};

#[derive(Clone, Debug)]
pub struct Talk {
    pub rooms: usize,
    pub clients: usize,
    /// How many members of each room send.
    pub senders_per_room: usize,
    /// Messages per sender.
    pub messages: usize,
    /// Messages per second per sender; 0 sends as fast as the server takes them.
    pub rate: f64,
    pub transport: Transport,
    /// Give up waiting for deliveries after this long without progress.
    pub stall: Duration,
}

impl Talk {
    fn room_of(&self, client: usize) -> usize {
        client % self.rooms
    }

    fn is_sender(&self, client: usize) -> bool {
        client / self.rooms < self.senders_per_room
    }

    /// Deliveries expected by one client: every other sender of its room, all messages.
    fn expected_by(&self, client: usize) -> u64 {
        let room = self.room_of(client);
        let senders = (0..self.clients)
            .filter(|&c| c != client && self.room_of(c) == room && self.is_sender(c))
            .count();
        (senders * self.messages) as u64
    }

    pub fn sent_total(&self) -> u64 {
        (0..self.clients).filter(|&c| self.is_sender(c)).count() as u64 * self.messages as u64
    }
}

/// What a load produced, summed over the clients.
#[derive(Debug, Default)]
pub struct Checked {
    pub expected: u64,
    pub delivered: u64,
    pub lost: u64,
    pub duplicates: u64,
    pub reordered: u64,
    /// Connections that ended (or were refused) before the end.
    pub dropped: u64,
    pub latency: Option<Histogram<u64>>,
    /// The latency of the deliveries from a sender on another node than the receiver's
    /// (empty with one node).
    pub cross_latency: Option<Histogram<u64>>,
    /// From the first message sent to the last delivery (or to giving up).
    pub wall: f64,
}

impl Checked {
    pub fn clean(&self) -> bool {
        self.lost == 0 && self.duplicates == 0 && self.reordered == 0 && self.dropped == 0
    }
}

/// One receiver's record of one sender.
#[derive(Default)]
struct Track {
    seen: Vec<u64>,
    highest: Option<u64>,
}

struct Tally {
    hist: Histogram<u64>,
    cross: Histogram<u64>,
    distinct: u64,
    duplicates: u64,
    reordered: u64,
    dropped: bool,
}

/// Connected, registered and joined clients, ready to talk, each with the index of the
/// node (address) it is connected to.
pub struct Ready {
    clients: Vec<(conn::Reader, conn::Writer, usize)>,
    pub failed: u64,
}

/// Connects, registers and joins every client (at most `parallel` at a time).
pub async fn prepare(addr: &str, talk: &Talk, parallel: usize) -> Ready {
    prepare_on(&[addr.to_string()], talk, parallel).await
}

/// Like [`prepare`], client `c` connecting to `addrs[c % addrs.len()]`.
pub async fn prepare_on(addrs: &[String], talk: &Talk, parallel: usize) -> Ready {
    let gate = Arc::new(Semaphore::new(parallel));
    let mut tasks = Vec::with_capacity(talk.clients);
    for c in 0..talk.clients {
        let gate = gate.clone();
        let node = c % addrs.len();
        let addr = addrs[node].clone();
        let room = format!("#load{}", talk.room_of(c));
        let transport = talk.transport;
        tasks.push(tokio::spawn(async move {
            let _permit = gate.acquire().await.unwrap();
            let (mut r, w, _) = conn::register(&addr, transport, &format!("u{c}"), "").await?;
            conn::join(&mut r, &w, &room).await?;
            io::Result::Ok((r, w, node))
        }));
    }
    let mut ready = Ready {
        clients: Vec::with_capacity(talk.clients),
        failed: 0,
    };
    for t in tasks {
        match t.await {
            Ok(Ok(c)) => ready.clients.push(c),
            Ok(Err(e)) => {
                if ready.failed == 0 {
                    eprintln!("client failed to join: {e}");
                }
                ready.failed += 1;
            }
            Err(e) => {
                eprintln!("client task: {e}");
                ready.failed += 1;
            }
        }
    }
    ready
}

/// Runs the load on prepared clients; `started` is called once every client is ready,
/// right before the first message (the measured phase starts there).
pub async fn run(talk: &Talk, ready: Ready, started: impl FnOnce()) -> Checked {
    let base = Instant::now();
    let n = ready.clients.len();
    let go = Arc::new(Barrier::new(n + 1));
    let done = Arc::new(AtomicUsize::new(0));
    let progress = Arc::new(AtomicU64::new(0));
    let (stop_tx, stop_rx) = watch::channel(false);
    // The node of every client, by the id it sends under.
    let node_of: Arc<Vec<usize>> = Arc::new(ready.clients.iter().map(|c| c.2).collect());
    let mut readers = Vec::with_capacity(n);
    let mut senders = Vec::new();
    for (c, (mut r, w, node)) in ready.clients.into_iter().enumerate() {
        let expected = talk.expected_by(c);
        let (go, done, progress) = (go.clone(), done.clone(), progress.clone());
        let node_of = node_of.clone();
        let mut stop = stop_rx.clone();
        readers.push(tokio::spawn(async move {
            let mut tally = Tally {
                hist: Histogram::new(3).unwrap(),
                cross: Histogram::new(3).unwrap(),
                distinct: 0,
                duplicates: 0,
                reordered: 0,
                dropped: false,
            };
            let mut tracks: HashMap<u64, Track> = HashMap::new();
            let mut line = String::new();
            let mut finished = expected == 0;
            if finished {
                done.fetch_add(1, Ordering::Relaxed);
            }
            while !finished {
                let got = tokio::select! {
                    got = r.next_line(&mut line) => got,
                    _ = stop.changed() => break,
                };
                if !matches!(got, Ok(true)) {
                    tally.dropped = true;
                    break;
                }
                if conn::command(&line) != "PRIVMSG" {
                    continue;
                }
                let Some((_, text)) = line.split_once(" :") else {
                    continue;
                };
                let mut f = text.split(' ');
                let (Some(Ok(from)), Some(Ok(seq)), Some(Ok(at))) = (
                    f.next().map(str::parse::<u64>),
                    f.next().map(str::parse::<u64>),
                    f.next().map(str::parse::<u64>),
                ) else {
                    continue;
                };
                let now = base.elapsed().as_micros() as u64;
                let us = now.saturating_sub(at).max(1);
                let _ = tally.hist.record(us);
                if node_of.get(from as usize).is_some_and(|&n| n != node) {
                    let _ = tally.cross.record(us);
                }
                let t = tracks.entry(from).or_default();
                let (word, bit) = ((seq / 64) as usize, 1u64 << (seq % 64));
                if t.seen.len() <= word {
                    t.seen.resize(word + 1, 0);
                }
                if t.seen[word] & bit != 0 {
                    tally.duplicates += 1;
                    continue;
                }
                t.seen[word] |= bit;
                if t.highest.is_some_and(|h| seq < h) {
                    tally.reordered += 1;
                }
                t.highest = Some(t.highest.map_or(seq, |h| h.max(seq)));
                tally.distinct += 1;
                progress.fetch_add(1, Ordering::Relaxed);
                if tally.distinct >= expected {
                    finished = true;
                    done.fetch_add(1, Ordering::Relaxed);
                }
            }
            (tally, expected, r)
        }));
        if talk.is_sender(c) {
            let go = go.clone();
            let room = format!("#load{}", talk.room_of(c));
            let (messages, rate) = (talk.messages, talk.rate);
            senders.push(tokio::spawn(async move {
                go.wait().await;
                let mut tick = (rate > 0.0)
                    .then(|| tokio::time::interval(Duration::from_secs_f64(1.0 / rate)));
                for seq in 0..messages {
                    if let Some(t) = tick.as_mut() {
                        t.tick().await;
                    }
                    let at = base.elapsed().as_micros();
                    let line = format!("PRIVMSG {room} :{c} {seq} {at} the quick brown fox");
                    if w.send(&line).await.is_err() {
                        break;
                    }
                }
                w
            }));
        } else {
            drop(w);
            tokio::spawn(async move { go.wait().await });
        }
    }
    go.wait().await;
    started();
    let start = Instant::now();
    let mut last = (0, Instant::now());
    loop {
        tokio::time::sleep(Duration::from_millis(20)).await;
        if done.load(Ordering::Relaxed) >= n {
            break;
        }
        let p = progress.load(Ordering::Relaxed);
        if p != last.0 {
            last = (p, Instant::now());
        } else if last.1.elapsed() > talk.stall {
            eprintln!("no delivery for {:?}: giving up", talk.stall);
            break;
        }
    }
    let wall = if done.load(Ordering::Relaxed) >= n {
        start.elapsed()
    } else {
        last.1.duration_since(start)
    };
    let _ = stop_tx.send(true);
    let mut checked = Checked {
        wall: wall.as_secs_f64(),
        ..Default::default()
    };
    let mut hist = Histogram::<u64>::new(3).unwrap();
    let mut cross = Histogram::<u64>::new(3).unwrap();
    let mut keep = Vec::new();
    for t in readers {
        let Ok((tally, expected, r)) = t.await else {
            checked.dropped += 1;
            continue;
        };
        let _ = hist.add(&tally.hist);
        let _ = cross.add(&tally.cross);
        checked.expected += expected;
        checked.delivered += tally.distinct;
        checked.lost += expected.saturating_sub(tally.distinct);
        checked.duplicates += tally.duplicates;
        checked.reordered += tally.reordered;
        checked.dropped += u64::from(tally.dropped);
        keep.push(r);
    }
    for s in senders {
        let _ = s.await;
    }
    checked.latency = Some(hist);
    checked.cross_latency = Some(cross);
    checked
}
