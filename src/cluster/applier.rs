//! Applies the network's stream, in order, to this node's state and archive.
//!
//! One task reads the stream from its first event (a node that starts, or restarts after
//! a crash, rebuilds the network's state and catches its archives up this way) and applies
//! each event as every other node does. Room messages are stamped from the stream's own
//! time, so the archived rows, and the msgids derived from them, are the same everywhere;
//! a row this node's archive already has (it crashed after writing, before the stream
//! moved on) is recognised by its stamp and not written twice.

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::Arc;
use std::time::{Duration, Instant};

use async_nats::jetstream::consumer::{DeliverPolicy, pull};
use futures::StreamExt;
use tokio::sync::{oneshot, watch};

use super::{Applied, Cluster, Envelope, Event, RoomLine, Waiter};
use crate::command::SenderWait;
use crate::context::Ctx;
use crate::inflight::InFlight;
use crate::names::room_key;
use crate::state::Op;

/// How often the reader checks that it keeps up with what is known to be stored.
const STALL_CHECK: Duration = Duration::from_millis(500);
/// How long a reader may bring nothing while stored events wait before it is restarted.
const STALLED: Duration = Duration::from_millis(1500);

/// Starts applying the stream and returns once this node has caught up with everything
/// the stream held when it started (so clients see the whole network from the start).
pub async fn spawn_applier(ctx: Ctx, cluster: Arc<Cluster>) -> anyhow::Result<()> {
    let mut stream = cluster.js.get_stream(&cluster.settings.stream).await?;
    let target = stream.info().await?.state.last_sequence;
    let (applied_tx, mut applied_rx) = watch::channel(0u64);
    let state_ctx = ctx.clone();
    let applier = Applier {
        ctx,
        cluster: cluster.clone(),
        stamps: HashMap::new(),
        applied: applied_tx,
        recent: RecentRequests::default(),
        in_flight: InFlight::default(),
    };
    tokio::spawn(applier.run(stream));
    if target > 0 {
        tracing::info!(
            events = target,
            "cluster: catching up with the network's stream"
        );
        let started = std::time::Instant::now();
        applied_rx.wait_for(|seq| *seq >= target).await?;
        tracing::info!(
            events = target,
            secs = format!("{:.2}", started.elapsed().as_secs_f64()),
            "cluster: caught up"
        );
    }
    cluster
        .hello()
        .await
        .map_err(|e| anyhow::anyhow!("cannot announce this node: {e}"))?;
    // A restarted node's previous run is gone, whatever its clients' sockets did.
    for run in cluster.own_earlier_runs() {
        if state_ctx.state.runs().contains(&run) {
            let reason = format!("{} restarted", cluster.node_name());
            cluster.submit_eventually(Op::NodeGone { tag: run, reason });
        }
    }
    Ok(())
}

struct Applier {
    ctx: Ctx,
    cluster: Arc<Cluster>,
    /// Each room's last stamp (ms) in stream order: a room's stamps strictly increase.
    stamps: HashMap<String, i64>,
    /// The last stream sequence applied.
    applied: watch::Sender<u64>,
    /// Room messages handed to the archive and not yet delivered. A state change waits
    /// for them, so every node shows a room's messages and its joins, parts, kicks and
    /// quits in the stream's order (messages are delivered by the archive writer, changes
    /// by this task).
    in_flight: InFlight,
    /// Requests applied lately, as (run, request number): a publish attempt stored
    /// twice (its first acknowledgement was lost) is applied once. Every node applies
    /// the same stream from its start, so every node keeps the same window.
    recent: RecentRequests,
}

/// The last [`RECENT_REQUESTS`] requests applied, for [`Applier::recent`].
#[derive(Default)]
struct RecentRequests {
    seen: HashSet<(u64, u64)>,
    order: VecDeque<(u64, u64)>,
}

/// How many applied requests are remembered: far more than can be retried at once.
const RECENT_REQUESTS: usize = 1 << 16;

impl RecentRequests {
    /// Records a request; `false` if it was already applied.
    fn first_time(&mut self, key: (u64, u64)) -> bool {
        if !self.seen.insert(key) {
            return false;
        }
        self.order.push_back(key);
        if self.order.len() > RECENT_REQUESTS
            && let Some(old) = self.order.pop_front()
        {
            self.seen.remove(&old);
        }
        true
    }
}

impl Applier {
    async fn run(mut self, stream: async_nats::jetstream::stream::Stream) {
        let mut next = 1u64;
        loop {
            let deliver_policy = if next == 1 {
                DeliverPolicy::All
            } else {
                DeliverPolicy::ByStartSequence {
                    start_sequence: next,
                }
            };
            let consumer = stream
                .create_consumer(pull::OrderedConfig {
                    deliver_policy,
                    // Short pulls, so a consumer lost with its NATS server (or a NATS
                    // restart) is noticed by missing heartbeats within seconds, and the
                    // ordered consumer recreates itself where it left off.
                    max_expires: Duration::from_secs(2),
                    ..Default::default()
                })
                .await;
            let messages = match consumer {
                Ok(c) => c.messages().await,
                Err(e) => {
                    tracing::warn!(error = %e, "cluster: cannot read the stream; retrying");
                    tokio::time::sleep(Duration::from_secs(1)).await;
                    continue;
                }
            };
            let mut messages = match messages {
                Ok(m) => m,
                Err(e) => {
                    tracing::warn!(error = %e, "cluster: cannot read the stream; retrying");
                    tokio::time::sleep(Duration::from_secs(1)).await;
                    continue;
                }
            };
            let reconnected = self.cluster.reconnected.clone();
            let mut check = tokio::time::interval(STALL_CHECK);
            let mut progress = Instant::now();
            loop {
                let message = tokio::select! {
                    m = messages.next() => m,
                    () = reconnected.notified() => {
                        tracing::info!("cluster: reconnected; reading the stream from {next}");
                        break;
                    }
                    _ = check.tick() => {
                        // Events are stored that this reader has not brought: its consumer
                        // went with a NATS server. Start it afresh rather than wait for
                        // its missed heartbeats.
                        if self.cluster.stored() < next {
                            progress = Instant::now();
                        } else if progress.elapsed() > STALLED {
                            tracing::warn!(next, stored = self.cluster.stored(),
                                "cluster: stream reader stalled; restarting it");
                            break;
                        }
                        continue;
                    }
                };
                progress = Instant::now();
                let Some(message) = message else { break };
                let message = match message {
                    Ok(m) => m,
                    Err(e) => {
                        tracing::warn!(error = %e, "cluster: stream read interrupted; resuming");
                        break;
                    }
                };
                let Ok(info) = message.info() else { continue };
                let seq = info.stream_sequence;
                if seq < next {
                    continue;
                }
                let millis = (info.published.unix_timestamp_nanos() / 1_000_000) as i64;
                match serde_json::from_slice::<Envelope>(&message.payload) {
                    Ok(envelope) => self.apply(envelope, millis).await,
                    Err(e) => tracing::error!(seq, error = %e, "cluster: unreadable event skipped"),
                }
                next = seq + 1;
                self.applied.send_replace(seq);
                self.cluster.status.send_modify(|s| {
                    s.applied = seq;
                    s.stream_last = s.stream_last.max(info.pending + seq);
                });
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    async fn apply(&mut self, envelope: Envelope, millis: i64) {
        let Envelope {
            node,
            run,
            req,
            deadline,
            event,
        } = envelope;
        self.cluster.note_run(run, &node);
        if deadline.is_some_and(|d| millis > d) {
            // Its publisher gave up on it (and told its client) before NATS stored it.
            tracing::debug!(node = %node, req, "cluster: event stored after its deadline; ignored");
            return;
        }
        if !self.recent.first_time((run, req)) {
            return; // another attempt of a request already applied
        }
        match event {
            Event::Hello => self.cluster.answer(run, req, || {
                Applied::State(crate::state::Outcome::Done, Vec::new())
            }),
            Event::State(mut op) => {
                self.in_flight.settle().await;
                if let Op::Connect { id, outbox, .. } = &mut op {
                    *outbox = self.cluster.take_outbox(*id);
                }
                // A labeled request's replies are captured for its session.
                let (outcome, lines) = match self.cluster.awaited(run, req).flatten() {
                    Some(owner) => crate::reply::captured_sync(owner, || op.apply(&self.ctx.state)),
                    None => (op.apply(&self.ctx.state), Vec::new()),
                };
                self.cluster
                    .answer(run, req, || Applied::State(outcome, lines));
            }
            Event::Message(line) => self.message(line, run, req, millis).await,
        }
    }

    /// A room message: checked against the room's rules as the stream found it, stamped,
    /// then archived here and delivered to this node's members once written.
    async fn message(&mut self, line: RoomLine, run: u64, req: u64, millis: i64) {
        let state = &self.ctx.state;
        let Some(mask) = state.with_client(line.sender, |c| c.prefix()) else {
            return;
        };
        let waiter = self.cluster.take_waiter(run, req);
        let room = match state.speak_in(line.sender, &mask, &line.room) {
            Ok(room) => room,
            Err(e) => {
                match waiter {
                    Some(Waiter { tx: Some(tx), .. }) => {
                        let _ = tx.send(Applied::Message(Err(e)));
                    }
                    Some(Waiter { tx: None, .. }) if line.command != "NOTICE" => {
                        crate::command::report_refusal(&self.ctx, line.sender, &line.room, &e);
                    }
                    _ => {}
                }
                return;
            }
        };
        let key = room_key(&room);
        let last = self.stamps.get(&key).copied().unwrap_or(i64::MIN);
        let stamp = next_stamp(last, millis);
        self.stamps.insert(key, stamp);
        let reply = waiter.map(|w| match w.tx {
            Some(tx) => {
                let (done, rx) = oneshot::channel();
                let _ = tx.send(Applied::Message(Ok(rx)));
                SenderWait::Labeled(done)
            }
            None => SenderWait::Pipelined(w.ticket),
        });
        let delivery = crate::command::cluster_room_delivery(
            self.ctx.clone(),
            line,
            room,
            &mask,
            stamp,
            reply,
            self.in_flight.start(),
        );
        self.ctx.archive.append(delivery).await;
    }
}

/// A room's next stamp: the stream's time, or one past the room's last stamp while that
/// is ahead (several messages in one millisecond, or the stream's clock stepped back, for
/// a minute at most), as the single server's archive does.
fn next_stamp(last: i64, stream_millis: i64) -> i64 {
    if last >= stream_millis && last - stream_millis < 60_000 {
        last + 1
    } else {
        stream_millis
    }
}

#[cfg(test)]
mod tests {
    use super::next_stamp;

    #[test]
    fn stamps_strictly_increase_within_a_minute_of_skew() {
        assert_eq!(next_stamp(i64::MIN, 1000), 1000);
        assert_eq!(next_stamp(1000, 1000), 1001);
        assert_eq!(next_stamp(1001, 1000), 1002);
        assert_eq!(next_stamp(1000, 2000), 2000);
        assert_eq!(next_stamp(200_000, 100_000), 100_000);
    }
}
