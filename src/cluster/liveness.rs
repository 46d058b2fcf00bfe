//! Which nodes are alive: each node says so on a plain NATS subject every second, and a
//! node that has clients in the network but has been silent for [`NODE_TIMEOUT`] is
//! declared gone with an [`Op::NodeGone`], so its clients QUIT everywhere.
//!
//! A node that stops hearing even itself is the one cut off, not everyone else: it
//! declares nobody gone until it hears itself again, and then gives every node a fresh
//! [`NODE_TIMEOUT`] (so a NATS restart, which silences everyone, removes nobody).

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::StreamExt;
use serde::{Deserialize, Serialize};

use super::Cluster;
use crate::context::Ctx;
use crate::state::Op;

/// How long a node may be silent before the network forgets its clients.
pub const NODE_TIMEOUT: Duration = Duration::from_secs(5);
/// How often each node says it is alive.
const BEAT: Duration = Duration::from_secs(1);
/// Not hearing ourselves for this long means we are the one cut off.
const SELF_TIMEOUT: Duration = Duration::from_secs(3);

#[derive(Serialize, Deserialize)]
struct Beat {
    node: String,
    run: u64,
    /// The highest stream sequence the node knows stored (see [`Cluster`]'s readers'
    /// stall check).
    #[serde(default)]
    stored: u64,
}

/// Starts heartbeating and watching the other nodes' heartbeats.
pub fn spawn_liveness(ctx: Ctx, cluster: Arc<Cluster>) -> tokio::task::JoinHandle<()> {
    tokio::spawn(run(ctx, cluster))
}

async fn run(ctx: Ctx, cluster: Arc<Cluster>) {
    let subject = format!("linechat.{}.alive", cluster.settings.stream);
    let mut beats = loop {
        match cluster.client.subscribe(subject.clone()).await {
            Ok(sub) => break sub,
            Err(e) => {
                tracing::warn!(error = %e, "cluster: cannot watch heartbeats; retrying");
                tokio::time::sleep(BEAT).await;
            }
        }
    };
    let mut seen: HashMap<u64, (Instant, String)> = HashMap::new();
    let mut heard_self = Instant::now();
    let mut declared: HashSet<u64> = HashSet::new();
    let mut tick = tokio::time::interval(BEAT);
    loop {
        tokio::select! {
            _ = tick.tick() => {
                let beat = serde_json::to_vec(&Beat {
                    node: cluster.node_name().to_string(),
                    run: cluster.run(),
                    stored: cluster.stored(),
                })
                .expect("beats serialise");
                let _ = cluster.client.publish(subject.clone(), beat.into()).await;
                let now = Instant::now();
                if now - heard_self > SELF_TIMEOUT {
                    // Cut off: judge nobody, and give everyone a fresh start once back.
                    for (at, _) in seen.values_mut() {
                        *at = now;
                    }
                    continue;
                }
                let runs = ctx.state.runs();
                declared.retain(|run| runs.contains(run));
                for run in runs {
                    if run == 0 || run == cluster.run() || declared.contains(&run) {
                        continue;
                    }
                    let name = cluster.name_of_run(run).unwrap_or_else(|| "a node".into());
                    let (at, _) = seen.entry(run).or_insert((now, name.clone()));
                    if now - *at > NODE_TIMEOUT {
                        tracing::warn!(node = %name, run, "cluster: node silent; removing its clients");
                        declared.insert(run);
                        cluster.submit_eventually(Op::NodeGone {
                            tag: run,
                            reason: format!("{name} left the network"),
                        });
                    }
                }
                let mut nodes: Vec<String> = seen
                    .iter()
                    .filter(|(_, (at, _))| now - *at <= SELF_TIMEOUT)
                    .map(|(_, (_, name))| name.clone())
                    .collect();
                nodes.sort();
                nodes.dedup();
                cluster.status.send_modify(|s| s.nodes = nodes);
            }
            message = beats.next() => {
                let Some(message) = message else {
                    tracing::error!("cluster: heartbeat subscription ended");
                    return;
                };
                let Ok(b) = serde_json::from_slice::<Beat>(&message.payload) else { continue };
                let now = Instant::now();
                if b.run == cluster.run() {
                    heard_self = now;
                }
                cluster.note_stored(b.stored);
                seen.insert(b.run, (now, b.node));
            }
        }
    }
}
