//! Several chat-server nodes serving one network through NATS JetStream.
//!
//! Every change to the shared state ([`Op`]) and every room message is published to one
//! replicated JetStream stream, and every node applies the stream in order to its own copy
//! of the state ([`applier`]). So each node knows every client and room, nick collisions
//! are settled by whichever NICK the stream took first, and every member of a room, on
//! whichever node, sees the room's events in the stream's order. A room message reaches
//! nobody before the stream has stored it (the publisher waits for JetStream's
//! acknowledgement), and each node keeping archives writes `history_<room>.csv` from the
//! stream, stamping each row from the stream's own time, so every archive and every msgid
//! is the same on every node.
//!
//! Nodes announce themselves on a plain NATS subject ([`liveness`]); a node that falls
//! silent (killed, cut off) is removed by a [`Op::NodeGone`] that any node publishes, and
//! its clients QUIT everywhere. docs/cluster.md shows a deployment.

mod applier;
mod liveness;
mod publish;

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_nats::jetstream::{self, stream};
use serde::{Deserialize, Serialize};
use tokio::sync::{oneshot, watch};

use crate::archive::ArchiveError;
use crate::config::ClusterSettings;
use crate::outbox::Outbox;
use crate::relay::Relay;
use crate::state::{ClientId, Op, Outcome, RoomError};

pub use applier::spawn_applier;
pub use liveness::spawn_liveness;
use publish::{ATTEMPT_TIMEOUT, Waiter};

/// Why a change could not be confirmed; the client is told (FAIL).
#[derive(Debug, thiserror::Error)]
pub enum ClusterError {
    /// Not connected to any NATS server: nothing was stored, nor ever will be.
    #[error("the network's message store (NATS) cannot be reached; try again shortly")]
    Unavailable,
    /// No acknowledgement in time: whatever NATS stores late is ignored by every node.
    #[error("the network's message store did not confirm in time; try again shortly")]
    Timeout,
    /// Stored, but this node's reader did not bring it back within minutes.
    #[error("stored, but this server has not caught up with the network yet")]
    Stalled,
}

/// A room message as it travels through the stream: what the sender's node checked and
/// the line every node relays.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RoomLine {
    /// Who sent it (its id carries its node's run).
    pub sender: ClientId,
    /// The room as the sender named it.
    pub room: String,
    /// The sender's nick, as archived.
    pub author: String,
    /// The message as typed, archived as it is.
    pub text: String,
    /// `PRIVMSG` or `NOTICE`.
    pub command: String,
    /// The relayed line's client-only tags, escaped (`+draft/reply=…`).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub client_tags: String,
    /// Sent by a `+B` client (the `bot` tag).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub bot: bool,
}

/// What travels in the stream.
#[derive(Debug, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
enum Event {
    State(Op),
    Message(RoomLine),
    /// A node's first event after start: nothing to apply, but it names its run.
    Hello,
}

/// One stream message: the event and who published it (node, run, request number).
#[derive(Debug, Serialize, Deserialize)]
struct Envelope {
    node: String,
    run: u64,
    req: u64,
    /// Unix ms after which the publisher has told its client the change failed: stored
    /// later than that (NATS flushed it after a reconnection), every node ignores it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    deadline: Option<i64>,
    event: Event,
}

/// What the node that published an event learns once the stream brought it back.
enum Applied {
    /// What the change did, and the lines it queued for the requesting client when that
    /// client's line was labeled (they go out inside the label's response).
    State(Outcome, Vec<bytes::Bytes>),
    /// A room message: refused by the room's rules, or accepted, in which case the
    /// receiver resolves once the local archive has it (with the relayed line, for the
    /// sender's echo).
    Message(Result<oneshot::Receiver<Result<Relay, ArchiveError>>, RoomError>),
}

/// Figures for `/health` and `/metrics`.
#[derive(Debug, Clone, Default, Serialize)]
pub struct ClusterStatus {
    /// This node's name.
    pub node: String,
    /// The JetStream stream's name.
    pub stream: String,
    /// Whether the NATS connection is up.
    pub connected: bool,
    /// The last stream sequence this node applied.
    pub applied: u64,
    /// The stream's last sequence as last seen.
    pub stream_last: u64,
    /// Nodes heard from in the last few seconds, this one included, sorted.
    pub nodes: Vec<String>,
    /// Events stored in the stream and not yet applied here.
    pub lag: u64,
}

impl ClusterStatus {
    /// Events stored in the stream and not yet applied here.
    pub fn lag(&self) -> u64 {
        self.stream_last.saturating_sub(self.applied)
    }
}

/// This node's handle on the network.
pub struct Cluster {
    settings: ClusterSettings,
    /// Tags this process's client ids (see [`crate::state::run_of`]).
    run: u64,
    client: async_nats::Client,
    js: jetstream::Context,
    subject: String,
    next_req: AtomicU64,
    /// Requests waiting for their event to come back applied.
    pending: Mutex<HashMap<u64, Waiter>>,
    /// Queues of connections announced but not yet applied (see [`Op::Connect`]).
    outboxes: Mutex<HashMap<ClientId, Outbox>>,
    /// The node name of every run seen in the stream.
    run_names: Mutex<HashMap<u64, String>>,
    status: watch::Sender<ClusterStatus>,
    /// Signalled on every (re)connection to NATS.
    reconnected: Arc<tokio::sync::Notify>,
    /// The highest stream sequence known to be stored: from this node's acknowledgements
    /// and the other nodes' heartbeats. A reader that stays behind it is stalled.
    stored: AtomicU64,
}

impl Cluster {
    /// Connects to NATS and makes sure the stream exists. Fails if no NATS server of the
    /// list answers.
    pub async fn connect(settings: &ClusterSettings) -> anyhow::Result<Arc<Cluster>> {
        let reconnected = Arc::new(tokio::sync::Notify::new());
        let on_connect = reconnected.clone();
        let mut options = async_nats::ConnectOptions::new()
            .name(format!("linechat node {}", settings.node_name))
            .connection_timeout(Duration::from_secs(5))
            .max_reconnects(None)
            .reconnect_delay_callback(|attempt| {
                Duration::from_millis((100 * (attempt as u64 + 1)).min(2000))
            })
            .event_callback(move |event| {
                let on_connect = on_connect.clone();
                async move {
                    match event {
                        async_nats::Event::Connected => {
                            tracing::info!("cluster: NATS connected");
                            // The stream's reader starts afresh from where it was: a
                            // restarted NATS server has forgotten its consumer.
                            on_connect.notify_one();
                        }
                        async_nats::Event::Disconnected => {
                            tracing::warn!(
                                "cluster: NATS disconnected; refusing changes until it is back"
                            )
                        }
                        other => tracing::info!("cluster: NATS {other}"),
                    }
                }
            });
        if let Some(path) = &settings.credentials {
            options = options.credentials_file(path).await.map_err(|e| {
                anyhow::anyhow!("cannot read NATS credentials {}: {e}", path.display())
            })?;
        }
        if let Some(ca) = &settings.tls_ca {
            options = options.add_root_certificates(ca.clone()).require_tls(true);
        }
        if let (Some(cert), Some(key)) = (&settings.tls_cert, &settings.tls_key) {
            options = options.add_client_certificate(cert.clone(), key.clone());
        }
        let addrs: Vec<async_nats::ServerAddr> = settings
            .servers
            .iter()
            .map(|u| u.parse())
            .collect::<Result<_, _>>()
            .map_err(|e| anyhow::anyhow!("bad NATS URL: {e}"))?;
        let shown = settings.redacted_servers().join(",");
        let client = options
            .connect(addrs)
            .await
            .map_err(|e| anyhow::anyhow!("cannot connect to NATS at {shown}: {e}"))?;
        let mut js = jetstream::new(client.clone());
        js.set_timeout(ATTEMPT_TIMEOUT);
        let subject = format!("linechat.{}.events", settings.stream);
        let config = stream::Config {
            name: settings.stream.clone(),
            subjects: vec![subject.clone()],
            storage: stream::StorageType::File,
            num_replicas: settings.replicas,
            duplicate_window: Duration::from_secs(120),
            ..Default::default()
        };
        let mut made = None;
        for attempt in 0..20 {
            match js.get_or_create_stream(config.clone()).await {
                Ok(s) => {
                    made = Some(s);
                    break;
                }
                // A JetStream cluster still electing its leader answers "unavailable".
                Err(e) if attempt < 19 => {
                    tracing::info!(error = %e, "cluster: stream not ready yet; retrying");
                    tokio::time::sleep(Duration::from_millis(500)).await;
                }
                Err(e) => {
                    anyhow::bail!(
                        "cannot open JetStream stream {} on {shown}: {e} (is JetStream enabled: nats-server -js?)",
                        settings.stream
                    )
                }
            }
        }
        let mut stream = made.expect("loop returns or breaks");
        let info = stream.info().await?;
        if info.config.num_replicas != settings.replicas {
            tracing::warn!(
                stream = %settings.stream,
                has = info.config.num_replicas,
                asked = settings.replicas,
                "cluster: the stream exists with another replica count; keeping it"
            );
        }
        let run = new_run_tag(&settings.node_name);
        let (status, _) = watch::channel(ClusterStatus {
            node: settings.node_name.clone(),
            stream: settings.stream.clone(),
            connected: true,
            stream_last: info.state.last_sequence,
            ..ClusterStatus::default()
        });
        tracing::info!(
            node = %settings.node_name,
            servers = %shown,
            stream = %settings.stream,
            replicas = info.config.num_replicas,
            events = info.state.messages,
            "cluster: joined"
        );
        Ok(Arc::new(Cluster {
            settings: settings.clone(),
            run,
            client,
            js,
            subject,
            next_req: AtomicU64::new(1),
            pending: Mutex::new(HashMap::new()),
            outboxes: Mutex::new(HashMap::new()),
            run_names: Mutex::new(HashMap::new()),
            status,
            reconnected,
            stored: AtomicU64::new(info.state.last_sequence),
        }))
    }

    /// This node's name.
    pub fn node_name(&self) -> &str {
        &self.settings.node_name
    }

    /// This process's run tag: the high bits of every client id it hands out.
    pub fn run(&self) -> u64 {
        self.run
    }

    /// The current figures (membership, stream position).
    pub fn status(&self) -> ClusterStatus {
        let mut s = self.status.borrow().clone();
        s.stream_last = s.stream_last.max(self.stored());
        s.connected = self.client.connection_state() == async_nats::connection::State::Connected;
        s.lag = s.lag();
        s
    }

    /// Announces a new connection: its queue waits here until the stream brings the
    /// [`Op::Connect`] back, then becomes the client's queue in the state. On failure the
    /// announcement may still be stored late, so its departure is announced too.
    pub async fn connect_client(
        self: &Arc<Self>,
        id: ClientId,
        host: String,
        outbox: Outbox,
    ) -> Result<(), ClusterError> {
        self.lock_outboxes().insert(id, outbox);
        let op = Op::Connect {
            id,
            host,
            outbox: None,
        };
        let result = self.submit(op, None).await.map(|_| ());
        self.lock_outboxes().remove(&id);
        if result.is_err() {
            self.submit_eventually(Op::Disconnect {
                id,
                reason: "Network unavailable".into(),
            });
        }
        result
    }

    /// Publishes a state change and waits until this node has applied it, returning what
    /// it did and, for a labeled line (`labeled` is the client's outbox identity), the
    /// lines it caused for that client.
    pub async fn submit(
        &self,
        op: Op,
        labeled: Option<usize>,
    ) -> Result<(Outcome, Vec<bytes::Bytes>), ClusterError> {
        match self.publish(Event::State(op), labeled).await? {
            Applied::State(outcome, lines) => Ok((outcome, lines)),
            Applied::Message(_) => unreachable!("a state event comes back as one"),
        }
    }

    /// Like [`Cluster::submit`] for a change that must not be lost to a NATS outage (a
    /// client leaving): retried in the background until the stream takes it.
    pub fn submit_eventually(self: &Arc<Self>, op: Op) {
        let cluster = self.clone();
        let req = self.next_req.fetch_add(1, Ordering::Relaxed);
        tokio::spawn(async move {
            let event = serde_json::to_value(Event::State(op)).expect("events serialise");
            for attempt in 0u64.. {
                // The same message id each time: JetStream keeps one copy.
                let payload = |deadline| cluster.envelope(req, &event, deadline);
                match cluster.publish_payload(req, payload, false).await {
                    Ok(()) => return,
                    Err(e) if attempt < 600 => {
                        tracing::debug!(error = %e, "cluster: retrying a departure");
                        tokio::time::sleep(Duration::from_secs(1)).await;
                    }
                    Err(e) => {
                        tracing::error!(error = %e, "cluster: gave up announcing a departure");
                        return;
                    }
                }
            }
        });
    }

    /// Leaves the network on shutdown: every client still known here QUITs everywhere
    /// with `Server shutting down`. Waits a few seconds at most (NATS may be gone); the
    /// heartbeat's silence does the same a little later.
    pub async fn leave(&self) {
        let op = Op::NodeGone {
            tag: self.run,
            reason: "Server shutting down".into(),
        };
        match tokio::time::timeout(Duration::from_secs(5), self.submit(op, None)).await {
            Ok(Ok(_)) => tracing::info!("cluster: left the network"),
            _ => tracing::warn!("cluster: could not say goodbye; the network notices the silence"),
        }
    }

    /// Publishes a room message; once the stream has it and this node has checked it
    /// against the room's rules, returns a receiver that resolves when the local archive
    /// has written it.
    /// For a labeled line, whose echo or FAIL the session sends under the label (an
    /// unlabeled one goes through [`Cluster::send_room_line_pipelined`]).
    pub async fn send_room_line(
        &self,
        line: RoomLine,
        labeled: Option<usize>,
    ) -> Result<Result<oneshot::Receiver<Result<Relay, ArchiveError>>, RoomError>, ClusterError>
    {
        match self.publish(Event::Message(line), labeled).await? {
            Applied::Message(result) => Ok(result),
            Applied::State(..) => unreachable!("a message comes back as one"),
        }
    }

    /// Publishes an unlabeled room message and returns once the stream has stored it,
    /// without waiting for it to come back: the session reads its client's next line
    /// meanwhile, as a single server pipelines room messages. `ticket` keeps the message
    /// in the session's count until this node has delivered it. The echo goes out with
    /// the room's delivery; a refusal by the room's rules in the stream's order comes
    /// back as its numeric, straight to the sender. The stream keeps the client's order:
    /// each message is stored before the next is published.
    pub async fn send_room_line_pipelined(
        &self,
        line: RoomLine,
        ticket: crate::inflight::Ticket,
    ) -> Result<(), ClusterError> {
        let req = self.next_req.fetch_add(1, Ordering::Relaxed);
        let waiter = Waiter {
            tx: None,
            labeled: None,
            ticket: Some(ticket),
        };
        self.lock_pending().insert(req, waiter);
        let event = serde_json::to_value(Event::Message(line)).expect("events serialise");
        let payload = |deadline| self.envelope(req, &event, deadline);
        let published = self.publish_payload(req, payload, true).await;
        if published.is_err() {
            self.lock_pending().remove(&req);
        }
        published
    }

    /// Publishes a node's first event, naming its run (see [`Event::Hello`]).
    /// Retried for a while: a stream just created on a NATS cluster may have no leader yet.
    async fn hello(&self) -> Result<(), ClusterError> {
        let mut tries = 0;
        loop {
            match self.publish(Event::Hello, None).await {
                Ok(_) => return Ok(()),
                Err(e) if tries >= 10 => return Err(e),
                Err(e) => {
                    tracing::info!(error = %e, "cluster: stream not answering yet; retrying");
                    tries += 1;
                    tokio::time::sleep(Duration::from_millis(500)).await;
                }
            }
        }
    }

    /// Notes that the stream holds at least `seq` events.
    fn note_stored(&self, seq: u64) {
        self.stored.fetch_max(seq, Ordering::Relaxed);
    }

    /// The highest stream sequence known to be stored.
    fn stored(&self) -> u64 {
        self.stored.load(Ordering::Relaxed)
    }

    fn take_outbox(&self, id: ClientId) -> Option<Outbox> {
        self.lock_outboxes().get(&id).cloned()
    }

    fn note_run(&self, run: u64, node: &str) {
        let mut names = self.run_names.lock().unwrap_or_else(|e| e.into_inner());
        names.entry(run).or_insert_with(|| node.to_string());
    }

    fn name_of_run(&self, run: u64) -> Option<String> {
        let names = self.run_names.lock().unwrap_or_else(|e| e.into_inner());
        names.get(&run).cloned()
    }

    /// Earlier runs of this node's name (a restart): their clients are gone.
    fn own_earlier_runs(&self) -> Vec<u64> {
        let names = self.run_names.lock().unwrap_or_else(|e| e.into_inner());
        names
            .iter()
            .filter(|(run, name)| **run != self.run && **name == self.settings.node_name)
            .map(|(run, _)| *run)
            .collect()
    }

    fn lock_outboxes(&self) -> std::sync::MutexGuard<'_, HashMap<ClientId, Outbox>> {
        self.outboxes.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// A 24-bit tag for this process's run: from the node name and the start time, so a
/// restarted node never reuses its previous run's client ids. Never 0 (a single server).
fn new_run_tag(node: &str) -> u64 {
    use std::hash::Hasher;
    let mut h = fnv::FnvHasher::default();
    h.write(node.as_bytes());
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or_default();
    h.write(&nanos.to_le_bytes());
    h.write(&std::process::id().to_le_bytes());
    (h.finish() & 0xff_ffff).max(1)
}
