//! Accepting connections and shutting down cleanly.
//!
//! Shaped like mini-redis: `Server::run` accepts on every listener until the shutdown
//! future resolves, then tells every session, waits for them to say goodbye, and closes
//! the archive only after the last message has been written.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::io::AsyncReadExt;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{OwnedSemaphorePermit, Semaphore, broadcast};
use tokio_util::task::TaskTracker;

use crate::archive::{Archive, ArchiveWriter};
use crate::config::Settings;
use crate::context::{Context, Ctx};
use crate::limits::{AddrLimits, AddrPermit, QuietLog};
use crate::logdir::{Found, LogDirLock};
use crate::metrics::Transport;
use crate::search::{LiveConfig, LiveIndex};
use crate::state::State;

/// What a listener's connections speak.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Protocol {
    /// IRC lines (telnet, nc, IRC clients).
    Irc,
    /// HTTP: the web client, WebSocket, `/health`, `/metrics`.
    Http,
}

/// A bound listening socket, plaintext or TLS.
pub struct Listener {
    pub tcp: TcpListener,
    /// Present for TLS listeners: every connection is handshaken first.
    pub tls: Option<tokio_rustls::TlsAcceptor>,
    pub protocol: Protocol,
}

impl Listener {
    /// A plaintext IRC listener.
    pub fn plain(tcp: TcpListener) -> Listener {
        Listener {
            tcp,
            tls: None,
            protocol: Protocol::Irc,
        }
    }

    /// Its kind as `/health` names it: `irc`, `irc-tls`, `http` or `https`.
    pub fn kind(&self) -> &'static str {
        match (self.protocol, self.tls.is_some()) {
            (Protocol::Irc, false) => "irc",
            (Protocol::Irc, true) => "irc-tls",
            (Protocol::Http, false) => "http",
            (Protocol::Http, true) => "https",
        }
    }

    /// The address it is bound to.
    pub fn local_addr(&self) -> std::io::Result<SocketAddr> {
        self.tcp.local_addr()
    }
}

/// A server with its archive open, ready to accept.
pub struct Server {
    ctx: Ctx,
    writer: ArchiveWriter,
    /// Held until [`Server::run`] has closed the archive: one archive, one server.
    _lock: LogDirLock,
}

impl Server {
    /// Checks the log directory (creating it when allowed), locks it against a second
    /// server, and opens (and repairs) the archive. A directory that cannot be used fails
    /// with a [`crate::logdir::LogDirError`].
    pub fn new(settings: Settings) -> anyhow::Result<Server> {
        if settings.cluster.is_some() {
            anyhow::bail!("a cluster node is opened with Server::open");
        }
        Server::build(settings, None)
    }

    /// Like [`Server::new`], and with `--cluster` joins the network first: connects to
    /// NATS, catches up with the network's stream (its state and this node's archives)
    /// and starts heartbeating, so the first client sees the whole network.
    pub async fn open(settings: Settings) -> anyhow::Result<Server> {
        let Some(cluster_settings) = settings.cluster.clone() else {
            return Server::build(settings, None);
        };
        let cluster = crate::cluster::Cluster::connect(&cluster_settings).await?;
        let server = Server::build(settings, Some(cluster.clone()))?;
        crate::cluster::spawn_applier(server.ctx.clone(), cluster.clone()).await?;
        crate::cluster::spawn_liveness(server.ctx.clone(), cluster);
        Ok(server)
    }

    fn build(
        settings: Settings,
        cluster: Option<Arc<crate::cluster::Cluster>>,
    ) -> anyhow::Result<Server> {
        let dir = &settings.log_dir;
        let found = crate::logdir::prepare(dir, settings.create_log_dir)?;
        let lock = LogDirLock::acquire(dir)?;
        let (archive, writer) = Archive::open(dir)
            .map_err(|e| anyhow::anyhow!("cannot open log directory {}: {e}", dir.display()))?;
        match found {
            Found::Missing => {
                tracing::info!("created a new, empty archive in {}", dir.display())
            }
            Found::Existing => {
                let rooms = crate::logdir::count_rooms(dir).unwrap_or(0);
                let plural = if rooms == 1 { "" } else { "s" };
                tracing::info!("opened archive {}: {rooms} room{plural}", dir.display());
            }
        }
        let search = open_search(&settings);
        let state = match &cluster {
            Some(c) => State::for_run(&settings.server_name, c.run()),
            None => State::named(&settings.server_name),
        };
        let ctx = Arc::new(Context {
            settings,
            state,
            archive,
            search,
            started: chrono::Utc::now(),
            cluster,
        });
        Ok(Server {
            ctx,
            writer,
            _lock: lock,
        })
    }

    /// The settings it runs with.
    pub fn settings(&self) -> &Settings {
        &self.ctx.settings
    }

    /// The archive, for SIGHUP reopening and for the search indexer.
    pub fn archive(&self) -> Archive {
        self.ctx.archive.clone()
    }

    /// Serves until `shutdown` resolves, then closes every connection and the archive.
    pub async fn run(self, listeners: Vec<Listener>, shutdown: impl Future) -> anyhow::Result<()> {
        let (notify, _) = broadcast::channel::<()>(1);
        let sessions = TaskTracker::new();
        let gate = Arc::new(Gate::new(&self.ctx));
        let accepting = TaskTracker::new();
        // The indexer follows the archive writer's counter and stops once the writer has
        // closed (its end of the channel drops), after a last catch-up.
        let indexer = self
            .ctx
            .search
            .as_ref()
            .map(|live| live.spawn(self.ctx.archive.written(), std::future::pending()));
        let bound = listeners
            .iter()
            .filter_map(|l| Some((l.local_addr().ok()?, l.kind())))
            .collect();
        let web = crate::web::Web::new(self.ctx.clone(), gate.addrs.clone(), bound).router();
        for listener in listeners {
            accepting.spawn(accept_loop(
                listener,
                self.ctx.clone(),
                notify.clone(),
                sessions.clone(),
                gate.clone(),
                web.clone(),
            ));
        }
        accepting.close();
        let sweeper = tokio::spawn(sweep_idle_members(self.ctx.clone()));

        let trimmer = tokio::spawn(return_memory(gate.clone()));
        shutdown.await;
        sweeper.abort();
        trimmer.abort();
        tracing::info!("shutting down: closing every connection");
        // Stop accepting first, so no session starts after the notice goes out.
        let _ = notify.send(());
        accepting.wait().await;
        sessions.close();
        sessions.wait().await;
        if let Some(cluster) = &self.ctx.cluster {
            // The network forgets this node's clients now, not after its heartbeat stops.
            cluster.leave().await;
        }
        self.writer.close().await;
        if let Some(indexer) = indexer {
            // A broken indexer (disk full, damaged index) must not hold up the exit: the
            // next start catches up from the archives anyway.
            match tokio::time::timeout(INDEX_SHUTDOWN_WAIT, indexer).await {
                Ok(Ok(true)) => tracing::info!("search index up to date"),
                Ok(_) => tracing::warn!(
                    "search index not up to date; it catches up from the archives at the next start"
                ),
                Err(_) => tracing::warn!(
                    "search index still busy after {} s; not waiting for it (it catches up \
                     from the archives at the next start)",
                    INDEX_SHUTDOWN_WAIT.as_secs()
                ),
            }
        }
        tracing::info!("archive closed; bye");
        Ok(())
    }
}

/// Longest the shutdown waits for the indexer's last catch-up.
const INDEX_SHUTDOWN_WAIT: Duration = Duration::from_secs(5);

/// The search index in `<log-dir>/.index`. Nothing is opened here: the indexer task
/// opens, verifies and if need be rebuilds it in the background, so whatever state the
/// index is in, chat starts; SEARCH says meanwhile why it cannot answer.
fn open_search(settings: &Settings) -> Option<LiveIndex> {
    if !settings.search_index {
        tracing::info!("search index off (--search-index off): SEARCH is not answered");
        return None;
    }
    let index_dir = crate::search::cli::default_index_dir(&settings.log_dir);
    let config = LiveConfig {
        max_results: settings.search_max_results,
        ..LiveConfig::default()
    };
    Some(LiveIndex::start(&settings.log_dir, &index_dir, config))
}

/// Room mode `+W`: once a second, kick members idle past their room's limit. A cluster
/// node judges its own clients and announces each kick to the network.
async fn sweep_idle_members(ctx: Ctx) {
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let server = ctx.settings.server_name.clone();
    loop {
        tick.tick().await;
        let now = std::time::Instant::now();
        let kicked = match &ctx.cluster {
            None => ctx.state.sweep_idle(&server, now),
            Some(cluster) => {
                let idle = ctx.state.idle_members(now, Some(cluster.run()));
                for (room_key, id) in &idle {
                    let op = crate::state::Op::IdleKick {
                        room_key: room_key.clone(),
                        id: *id,
                        server: server.clone(),
                    };
                    if let Err(e) = cluster.submit(op, None).await {
                        tracing::warn!(error = %e, "cluster: idle kick not announced; retrying");
                        break;
                    }
                }
                idle.len()
            }
        };
        if kicked > 0 {
            tracing::info!(kicked, "idle members kicked (room mode +W)");
        }
    }
}

/// After a flood of connections has gone, hands the freed memory back to the operating
/// system: glibc's allocator keeps freed blocks in its per-thread arenas otherwise, and a
/// server left idle after 5 rounds of 2,000 connections kept 146 MB (see README, "Limits
/// and safety"). Checked every 5 s; trims once the connections fell by a quarter (at
/// least 256) from their peak since the last trim, and once more 5 s later.
async fn return_memory(gate: Arc<Gate>) {
    let mut tick = tokio::time::interval(Duration::from_secs(5));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut peak = 0;
    // Closing connections free their last buffers a little later: trim once more then.
    let mut again = false;
    loop {
        tick.tick().await;
        let live = gate.live();
        peak = peak.max(live);
        if again || peak - live >= (peak / 4).max(256) {
            let released = tokio::task::spawn_blocking(crate::limits::trim_heap).await;
            tracing::debug!(live, peak, ?released, "returned freed memory to the system");
            again = !again && live < peak;
            peak = live;
        }
    }
}

/// What every accept loop shares: the connection slots (the smaller of `--max-clients`
/// and the descriptor budget), the per-address limits, the TLS handshakes in progress,
/// and the throttled refusal log.
struct Gate {
    /// Connections the slots allow in all.
    budget: usize,
    slots: Arc<Semaphore>,
    addrs: Arc<AddrLimits>,
    handshakes: Arc<Semaphore>,
    quiet: QuietLog,
}

impl Gate {
    fn new(ctx: &Ctx) -> Gate {
        let settings = &ctx.settings;
        let (budget, limit) = crate::limits::connection_budget(settings.max_clients);
        if budget < settings.max_clients {
            tracing::warn!(
                "descriptor limit {limit}: at most {budget} connections (max-clients is {}); \
                 raise the hard limit (LimitNOFILE=) for more",
                settings.max_clients
            );
        } else {
            tracing::info!("descriptor limit {limit}: up to {budget} connections");
        }
        Gate {
            budget,
            slots: Arc::new(Semaphore::new(budget)),
            // Trusted proxies carry many users: the limits apply to the forwarded address.
            addrs: Arc::new(AddrLimits::new(
                settings.max_connections_per_address,
                settings.connect_rate,
                settings.connect_rate_window,
                [&settings.limit_exempt[..], &settings.trusted_proxies[..]].concat(),
            )),
            handshakes: Arc::new(Semaphore::new(settings.max_tls_handshakes)),
            quiet: QuietLog::default(),
        }
    }

    /// Connections held now.
    fn live(&self) -> usize {
        self.budget - self.slots.available_permits()
    }

    /// Logs a refusal, at most once a second for each reason.
    fn refused(&self, peer: SocketAddr, why: &'static str) {
        if let Some(skipped) = self.quiet.allow(why) {
            if skipped > 0 {
                tracing::warn!(%peer, "refused: {why} ({skipped} more refused since the last report)");
            } else {
                tracing::warn!(%peer, "refused: {why}");
            }
        }
    }
}

/// A connection's hold on the server: its slot and its address's share. A WebSocket
/// session keeps its HTTP connection's.
struct Admitted {
    _slot: OwnedSemaphorePermit,
    _addr: AddrPermit,
}

async fn accept_loop(
    listener: Listener,
    ctx: Ctx,
    notify: broadcast::Sender<()>,
    sessions: TaskTracker,
    gate: Arc<Gate>,
    web: axum::Router,
) {
    let mut stop = notify.subscribe();
    let mut backoff = Backoff::default();
    loop {
        let accepted = tokio::select! {
            _ = stop.recv() => return,
            accepted = listener.tcp.accept() => accepted,
        };
        let (stream, peer) = match accepted {
            Ok(pair) => {
                backoff.recovered();
                pair
            }
            Err(e) => {
                // Running out of descriptors must neither end the listener nor spin on it.
                let pause = backoff.failed(&e);
                tokio::select! {
                    _ = stop.recv() => return,
                    _ = tokio::time::sleep(pause) => {}
                }
                continue;
            }
        };
        let tls = listener.tls.clone();
        let addr = match gate.addrs.admit(peer.ip()) {
            Ok(permit) => permit,
            Err(refused) => {
                gate.refused(peer, refused.reason());
                refuse(stream, tls.is_none().then(|| refused.error_line()));
                continue;
            }
        };
        let Ok(slot) = gate.slots.clone().try_acquire_owned() else {
            gate.refused(peer, "server full");
            refuse(stream, tls.is_none().then(|| FULL.to_string()));
            continue;
        };
        // A TLS handshake is work and a descriptor for up to --handshake-timeout: only so
        // many at once, the rest closed before any of it is done.
        let handshake = match &tls {
            None => None,
            Some(_) => match gate.handshakes.clone().try_acquire_owned() {
                Ok(permit) => Some(permit),
                Err(_) => {
                    gate.refused(peer, "too many TLS handshakes in progress");
                    refuse(stream, None);
                    continue;
                }
            },
        };
        let _ = stream.set_nodelay(true);
        if let Err(e) = keepalive(&stream, ctx.settings.ping_interval) {
            tracing::warn!(%peer, error = %e, "cannot enable TCP keepalive");
        }
        let admitted = Arc::new(Admitted {
            _slot: slot,
            _addr: addr,
        });
        let conn = Accepted {
            peer,
            tls,
            handshake,
            protocol: listener.protocol,
            ctx: ctx.clone(),
            notify: notify.clone(),
            sessions: sessions.clone(),
            hold: admitted,
            web: web.clone(),
        };
        sessions.spawn(async move {
            serve(stream, conn).await;
            tracing::debug!(%peer, "connection slot released");
        });
    }
}

/// An admitted connection and what serving it needs.
struct Accepted {
    peer: SocketAddr,
    tls: Option<tokio_rustls::TlsAcceptor>,
    /// The TLS handshake slot, given back once the handshake is over.
    handshake: Option<OwnedSemaphorePermit>,
    protocol: Protocol,
    ctx: Ctx,
    notify: broadcast::Sender<()>,
    sessions: TaskTracker,
    hold: Arc<Admitted>,
    web: axum::Router,
}

impl Accepted {
    /// Runs the connection's protocol over `io`, plain or TLS.
    async fn run<IO>(self, io: IO, shutdown: broadcast::Receiver<()>)
    where
        IO: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
    {
        let secure = self.tls.is_some();
        match self.protocol {
            Protocol::Irc => {
                let transport = if secure {
                    Transport::Tls
                } else {
                    Transport::Plain
                };
                crate::session::run(io, self.peer, transport, self.ctx, shutdown).await;
            }
            Protocol::Http => {
                let conn = crate::web::Conn {
                    peer: self.peer,
                    secure,
                    hold: self.hold,
                    sessions: self.sessions,
                    shutdown: self.notify,
                };
                crate::web::serve_connection(io, conn, self.web).await;
            }
        }
    }
}

/// Runs one admitted connection: the TLS handshake first on a TLS listener.
///
/// Only the plaintext IRC path runs inline: the TLS and HTTP paths are boxed, so the task
/// of every idle plaintext connection is no larger than its session needs (their futures,
/// a handshake's or hyper's, are several kilobytes).
async fn serve(stream: TcpStream, conn: Accepted) {
    let shutdown = conn.notify.subscribe();
    match (&conn.tls, conn.protocol) {
        (None, Protocol::Irc) => {
            tracing::info!(peer = %conn.peer, transport = "plain", "connected");
            crate::session::run(stream, conn.peer, Transport::Plain, conn.ctx, shutdown).await;
        }
        (None, Protocol::Http) => Box::pin(conn.run(stream, shutdown)).await,
        (Some(_), _) => Box::pin(serve_tls(stream, conn, shutdown)).await,
    }
}

/// The TLS handshake, then the listener's protocol over TLS.
async fn serve_tls(stream: TcpStream, mut conn: Accepted, mut shutdown: broadcast::Receiver<()>) {
    let peer = conn.peer;
    let Some(acceptor) = conn.tls.clone() else {
        return;
    };
    let handshake = conn.handshake.take();
    let timeout = conn.ctx.settings.handshake_timeout;
    // A client that never finishes its handshake holds a slot until the timeout, and must
    // not hold up shutdown either.
    let done = tokio::select! {
        done = tokio::time::timeout(timeout, acceptor.accept(stream)) => done,
        _ = shutdown.recv() => return,
    };
    drop(handshake);
    match done {
        Ok(Ok(tls_stream)) => {
            if conn.protocol == Protocol::Irc {
                let version = crate::tls::protocol_name(&tls_stream);
                tracing::info!(%peer, transport = "tls", tls_version = version, "connected");
            }
            conn.run(tls_stream, shutdown).await;
        }
        Ok(Err(e)) => tracing::info!(%peer, error = %e, "TLS handshake failed"),
        Err(_) => tracing::info!(%peer, "TLS handshake timed out; dropped"),
    }
}

/// The line a plaintext connection gets when every slot is taken.
const FULL: &str = "ERROR :Server is full, try again later\r\n";

/// Refuses a connection without waiting on it: the `ERROR` line (plaintext only) goes into
/// the fresh socket's empty send buffer, then our side is shut so the line is followed by
/// a FIN. What the client may already have sent is read and dropped for a moment (closing
/// with unread input would reset the connection, and the line with it), but only while
/// few refusals linger; past that the socket is closed at once.
fn refuse(stream: TcpStream, line: Option<String>) {
    let socket = socket2::SockRef::from(&stream);
    if let Some(line) = &line {
        // Straight to the socket: tokio's readiness is not known yet for a fresh stream.
        let _ = socket.send(line.as_bytes());
    }
    let _ = socket.shutdown(std::net::Shutdown::Write);
    if line.is_none() {
        return;
    }
    static LINGERING: Semaphore = Semaphore::const_new(32);
    let Ok(permit) = LINGERING.try_acquire() else {
        return;
    };
    tokio::spawn(async move {
        let _permit = permit;
        let mut stream = stream;
        let mut sink = [0u8; 1024];
        let drain = async { while matches!(stream.read(&mut sink).await, Ok(n) if n > 0) {} };
        let _ = tokio::time::timeout(Duration::from_secs(1), drain).await;
    });
}

/// Pacing of the accept loop after errors: out of descriptors it waits 10 ms, doubling up
/// to 1 s, and logs once per run of failures rather than once per attempt.
#[derive(Default)]
struct Backoff {
    failures: u64,
}

impl Backoff {
    fn failed(&mut self, e: &std::io::Error) -> Duration {
        self.failures += 1;
        if self.failures == 1 {
            if crate::limits::out_of_descriptors(e) {
                tracing::error!(error = %e, "accept failed: out of file descriptors; pausing new connections");
            } else {
                tracing::warn!(error = %e, "accept failed");
            }
        }
        let exp = self.failures.min(7) as u32 - 1;
        Duration::from_millis(10 * 2u64.pow(exp)).min(Duration::from_secs(1))
    }

    fn recovered(&mut self) {
        if self.failures > 1 {
            tracing::info!(failures = self.failures, "accepting again");
        }
        self.failures = 0;
    }
}

/// Seconds between TCP keepalive probes once the connection has been idle.
const KEEPALIVE_INTERVAL: Duration = Duration::from_secs(10);
/// Unanswered keepalive probes before the kernel gives the connection up.
const KEEPALIVE_PROBES: u32 = 6;

/// TCP keepalive on an accepted socket, before any TLS: after `idle` (the ping interval)
/// without traffic the kernel probes every 10 s and closes the connection after 6 missed
/// probes. It is what finds a dead telnet peer, which is never sent an IRC PING (see
/// `session`). Unacknowledged output is bounded the same way (`TCP_USER_TIMEOUT`), so a
/// peer that vanished while its room was busy is found too, not after 15 minutes of
/// retransmissions.
pub fn keepalive(stream: &tokio::net::TcpStream, idle: Duration) -> std::io::Result<()> {
    let socket = socket2::SockRef::from(stream);
    let params = socket2::TcpKeepalive::new()
        .with_time(idle)
        .with_interval(KEEPALIVE_INTERVAL)
        .with_retries(KEEPALIVE_PROBES);
    socket.set_tcp_keepalive(&params)?;
    #[cfg(any(target_os = "linux", target_os = "android"))]
    socket.set_tcp_user_timeout(Some(idle + KEEPALIVE_INTERVAL * KEEPALIVE_PROBES))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn accepted_sockets_get_short_keepalive_probes_following_the_ping_interval() {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let client = tokio::net::TcpStream::connect(listener.local_addr().unwrap());
        let (client, accepted) = tokio::join!(client, listener.accept());
        let (stream, _) = accepted.unwrap();
        keepalive(&stream, Duration::from_secs(90)).unwrap();
        let socket = socket2::SockRef::from(&stream);
        assert!(socket.keepalive().unwrap());
        assert_eq!(
            socket.tcp_keepalive_time().unwrap(),
            Duration::from_secs(90)
        );
        assert_eq!(socket.tcp_keepalive_interval().unwrap(), KEEPALIVE_INTERVAL);
        assert_eq!(socket.tcp_keepalive_retries().unwrap(), KEEPALIVE_PROBES);
        #[cfg(target_os = "linux")]
        assert_eq!(
            socket.tcp_user_timeout().unwrap(),
            Some(Duration::from_secs(150))
        );
        drop(client);
    }
}
