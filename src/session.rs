//! One client's conversation, from its first byte to its QUIT.
//!
//! Generic over the transport: [`run`] takes any `AsyncRead + AsyncWrite` stream (plaintext
//! TCP, TLS) and [`serve`] any stream of input lines with a writer (WebSocket frames), so
//! every transport runs the same code. Reading, timers and shutdown are multiplexed in one
//! loop; output goes through the client's [`Outbox`], drained to the socket by a separate
//! writer task ([`crate::writer`]). Room messages are pipelined: the next line is read
//! while earlier ones are being archived, and every other command waits for them
//! ([`crate::inflight`]).

use std::future::Future;
use std::net::SocketAddr;
use std::time::Duration;

use bytes::Bytes;
use futures::{Stream, StreamExt};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::sync::broadcast;
use tokio::time::{Instant, sleep_until};
use tokio_util::codec::FramedRead;

use crate::caps::{Cap, Caps};
use crate::codec::{Inbound, LineCodec};
use crate::command::{Command, Flow};
use crate::context::Ctx;
use crate::flood::FloodGate;
use crate::inflight::InFlight;
use crate::message::{Message, ParseError, line};
use crate::metrics::Transport;
use crate::outbox::{Outbox, OutboxReceiver, SOFT_SENDQ, replying};
use crate::state::{ClientId, Op, Outcome};

/// How long a nick-only (telnet) client may idle before registration completes anyway.
const NICK_ONLY_GRACE: Duration = Duration::from_secs(2);
/// The read buffer a connection starts with.
const READ_BUFFER: usize = 512;
/// How long the final lines of a closing connection may take to reach the client.
const CLOSE_FLUSH: Duration = Duration::from_secs(5);
/// The session timer's setting when no deadline is pending.
const FAR: Duration = Duration::from_secs(24 * 3600);

/// A client's protocol state; command modules read and change it.
pub struct Session {
    pub id: ClientId,
    pub ctx: Ctx,
    pub outbox: Outbox,
    pub host: String,
    pub nick: Option<String>,
    /// USER's username and realname, once given.
    pub user: Option<(String, String)>,
    pub registered: bool,
    /// True between `CAP LS`/`CAP REQ` and `CAP END`: registration waits for it.
    pub cap_negotiating: bool,
    /// The IRCv3 capabilities enabled (also recorded in the shared state for deliveries).
    pub caps: Caps,
    /// The version given with `CAP LS` (302 gets capability values and cap-notify).
    pub cap_version: u32,
    pub pass_ok: bool,
    /// Whether the server PINGs this client when it is silent: it is an IRC client (it
    /// sent USER before registering, or CAP) or has answered a PING. A telnet-style
    /// session (NICK alone) is never pinged, since a person cannot answer; TCP keepalive
    /// finds its dead peers instead ([`crate::server::keepalive`]).
    pub pinged: bool,
    /// User mode `+B`, kept here so the message path tags bot lines without a lookup.
    pub bot: bool,
    /// Lines of flood control the command being handled costs beyond its own line (see
    /// [`Session::charge_targets`]); charged after each line.
    pub extra_cost: u32,
    /// Room messages handed to the archive and not yet delivered: every other command
    /// waits for them (see [`crate::inflight`]).
    pub in_flight: InFlight,
}

impl Session {
    /// The source prefix of this client: `nick!user@host`.
    pub fn prefix(&self) -> String {
        let nick = self.nick.as_deref().unwrap_or("*");
        let user = self.user.as_ref().map_or(nick, |(u, _)| u.as_str());
        format!("{nick}!{user}@{}", self.host)
    }

    /// Flood control charges a command with several targets one line per target (its own
    /// line is charged when it is read).
    pub fn charge_targets(&mut self, targets: usize) {
        self.extra_cost = u32::try_from(targets.saturating_sub(1)).unwrap_or(u32::MAX);
    }

    /// The nick to address replies to (`*` before one is set).
    pub fn target(&self) -> &str {
        self.nick.as_deref().unwrap_or("*")
    }

    /// Queues a raw line to this client.
    pub fn send(&self, msg: Bytes) {
        self.outbox.send(msg);
    }

    /// Sends a numeric reply: `:server CODE nick params... :text`.
    pub fn numeric(&self, code: &str, params: &[&str], text: &str) {
        let mut middle = Vec::with_capacity(params.len() + 1);
        middle.push(self.target());
        middle.extend_from_slice(params);
        self.send(line(
            &self.ctx.settings.server_name,
            code,
            &middle,
            Some(text),
        ));
    }

    /// Sends `lines` as one batch of type `kind` if the client enabled `batch`, else as
    /// they are (CHATHISTORY, search results, history replay).
    pub fn send_batch(&self, kind: &str, params: &[&str], lines: Vec<Bytes>) {
        let lines = if self.caps.has(Cap::Batch) {
            crate::reply::batch(&self.ctx.settings.server_name, kind, params, lines)
        } else {
            lines
        };
        for l in lines {
            self.send(l);
        }
    }

    /// Applies a change to the shared state: at once on a single server; on a cluster
    /// node through the network's stream, in the network's order. `None` if the network
    /// could not take it, after telling the client with
    /// `FAIL <command> CLUSTER_UNAVAILABLE`.
    pub async fn change(&self, op: Op) -> Option<Outcome> {
        let Some(cluster) = &self.ctx.cluster else {
            return Some(op.apply(&self.ctx.state));
        };
        let command = op.command();
        let owner = self.outbox.owner_key();
        let labeled = crate::reply::capturing(owner).then_some(owner);
        match cluster.submit(op, labeled).await {
            Ok((outcome, lines)) => {
                for l in lines {
                    self.send(l);
                }
                Some(outcome)
            }
            Err(e) => {
                self.fail(
                    command,
                    "CLUSTER_UNAVAILABLE",
                    &[],
                    &format!("Not done: {e}"),
                );
                None
            }
        }
    }

    /// Sends a standard-replies FAIL: `FAIL COMMAND CODE [context...] :text`.
    pub fn fail(&self, command: &str, code: &str, context: &[&str], text: &str) {
        let mut middle = vec![command, code];
        middle.extend_from_slice(context);
        self.send(line(
            &self.ctx.settings.server_name,
            "FAIL",
            &middle,
            Some(text),
        ));
    }

    /// Sends a server NOTICE to this client (used for HELP and readable results).
    pub fn notice(&self, text: &str) {
        self.send(line(
            &self.ctx.settings.server_name,
            "NOTICE",
            &[self.target()],
            Some(text),
        ));
    }

    /// Completes registration when NICK (and USER, unless `force`) are in and CAP is done.
    /// Returns a close reason if the password check fails.
    pub async fn try_register(&mut self, force: bool) -> Option<String> {
        if self.registered || self.nick.is_none() || self.cap_negotiating {
            return None;
        }
        if self.user.is_none() && !force {
            return None;
        }
        if self.ctx.settings.password.is_some() && !self.pass_ok {
            self.numeric(
                "464",
                &[],
                "Password incorrect: send PASS <password> before NICK",
            );
            return Some("Bad password".to_string());
        }
        let nick = self.nick.clone().unwrap_or_default();
        let (user, realname) = self
            .user
            .clone()
            .unwrap_or_else(|| (nick.clone(), nick.clone()));
        let op = Op::Register {
            id: self.id,
            user: user.clone(),
            realname: realname.clone(),
        };
        self.change(op).await?;
        self.user = Some((user, realname));
        self.registered = true;
        crate::command::welcome(self);
        tracing::info!(client = self.id, nick = %nick, "registered");
        None
    }

    async fn handle(&mut self, inbound: Inbound) -> Flow {
        let max = self.ctx.settings.max_line_bytes;
        let (text, utf8) = match inbound {
            Inbound::Line(text) => (text, true),
            Inbound::TooLong => {
                self.in_flight.settle().await;
                self.numeric(
                    "417",
                    &[],
                    &format!("Input line was too long (the limit is {max} bytes); it was ignored"),
                );
                return Flow::Continue;
            }
            // Refused once its command and label are read (UTF8ONLY: `FAIL PRIVMSG
            // INVALID_UTF8`, labeled as asked, as ergo does).
            Inbound::InvalidUtf8(lossy) => (lossy, false),
            Inbound::Alive => return Flow::Continue,
        };
        let tag_bytes = if text.starts_with('@') {
            text.find(' ').map_or(text.len(), |i| i + 1)
        } else {
            0
        };
        let msg = Message::parse(&text);
        if !(utf8 && matches!(&msg, Ok(Some(m)) if crate::command::pipelines(m))) {
            // Every other line, and the refusal of a bad one, is answered after the
            // client's room messages in flight.
            self.in_flight.settle().await;
        }
        if tag_bytes > crate::tags::MAX_CLIENT_TAG_BYTES {
            self.numeric(
                "417",
                &[],
                &format!(
                    "Message tags were too long (the limit is {} bytes); the line was ignored",
                    crate::tags::MAX_CLIENT_TAG_BYTES - 2
                ),
            );
            return Flow::Continue;
        }
        if text.len() - tag_bytes > max {
            self.numeric(
                "417",
                &[],
                &format!("Input line was too long (the limit is {max} bytes); it was ignored"),
            );
            return Flow::Continue;
        }
        let msg = match msg {
            Ok(Some(msg)) => {
                tracing::debug!(
                    client = self.id,
                    nick = %self.target(),
                    command = %msg.command,
                    params = ?crate::command::loggable_params(&msg),
                    "command"
                );
                msg
            }
            Ok(None) => return Flow::Continue,
            Err(_) if !utf8 => {
                self.refuse_invalid_utf8("*");
                return Flow::Continue;
            }
            Err(ParseError::NoCommand) => {
                self.numeric("421", &["*"], "Line has no command");
                return Flow::Continue;
            }
            Err(e) => {
                self.fail(
                    "*",
                    "INVALID_CHARACTER",
                    &[],
                    &format!("Message rejected: {e}"),
                );
                return Flow::Continue;
            }
        };
        let label = msg
            .tag("label")
            .filter(|l| !l.is_empty() && self.caps.has(Cap::LabeledResponse))
            .map(str::to_string);
        let Some(label) = label else {
            return self.run(msg, utf8).await;
        };
        let owner = self.outbox.owner_key();
        let (flow, lines) = crate::reply::captured(owner, self.run(msg, utf8)).await;
        for l in crate::reply::labeled(&self.ctx.settings.server_name, &label, lines) {
            self.send(l);
        }
        flow
    }

    /// Runs one parsed line: its command, or the refusal of a line that was not UTF-8.
    async fn run(&mut self, msg: Message, utf8: bool) -> Flow {
        if utf8 {
            return self.dispatch(msg).await;
        }
        let named = msg.command.bytes().all(|b| b.is_ascii_alphanumeric());
        self.refuse_invalid_utf8(if named { &msg.command } else { "*" });
        Flow::Continue
    }

    /// `FAIL <command> INVALID_UTF8`: the line was dropped unread.
    fn refuse_invalid_utf8(&self, command: &str) {
        self.fail(
            command,
            "INVALID_UTF8",
            &[],
            "Message rejected for containing invalid UTF-8",
        );
    }

    /// Checks and runs one parsed command.
    async fn dispatch(&mut self, msg: Message) -> Flow {
        let command = match Command::parse(&msg) {
            Ok(c) => c,
            Err(reject) => {
                self.in_flight.settle().await;
                if !self.registered
                    && !reject.before_registration
                    && let Some(flow) = self.register_or_refuse().await
                {
                    return flow;
                }
                reject.send(self);
                return Flow::Continue;
            }
        };
        if !self.registered
            && !command.allowed_before_registration()
            && let Some(flow) = self.register_or_refuse().await
        {
            return flow;
        }
        if !self.pinged && command.marks_irc_client(self.registered) {
            tracing::debug!(client = self.id, "an IRC client: pinged when silent");
            self.pinged = true;
        }
        command.apply(self).await
    }

    /// Before registration, a non-registration command either completes a nick-only
    /// (telnet) registration or is refused with 451. `Some` means stop handling the line.
    async fn register_or_refuse(&mut self) -> Option<Flow> {
        if self.nick.is_some() && !self.cap_negotiating {
            if let Some(reason) = self.try_register(true).await {
                return Some(Flow::Close(reason));
            }
            // Registration could not reach the network: the client was told (FAIL).
            return (!self.registered).then_some(Flow::Continue);
        }
        self.numeric(
            "451",
            &[],
            "You have not registered: send NICK <yourname> first",
        );
        Some(Flow::Continue)
    }
}

/// Serves one byte-stream connection (TCP, TLS) until it quits, fails, times out or the
/// server shuts down. (A plain function returning the session's future, so no wrapper
/// future of its own adds to every connection's size.)
pub fn run<S>(
    stream: S,
    peer: SocketAddr,
    transport: Transport,
    ctx: Ctx,
    shutdown: broadcast::Receiver<()>,
) -> impl Future<Output = ()> + Send
where
    S: AsyncRead + AsyncWrite + Send + 'static,
{
    let (reader, writer) = tokio::io::split(stream);
    // A small read buffer to start with: most lines are short, and an idle connection
    // keeps this buffer (it grows for long lines).
    let lines = FramedRead::with_capacity(
        reader,
        LineCodec::new(ctx.settings.max_line_bytes + crate::tags::MAX_CLIENT_TAG_BYTES),
        READ_BUFFER,
    );
    serve(
        lines,
        |rx| crate::writer::write_loop(writer, rx),
        peer,
        transport,
        ctx,
        shutdown,
    )
}

/// Serves one connection given as a stream of input lines and a writer that drains the
/// client's outbox: what every transport (byte streams, WebSocket frames) shares.
pub async fn serve<L, W, F>(
    mut lines: L,
    writer: W,
    peer: SocketAddr,
    transport: Transport,
    ctx: Ctx,
    mut shutdown: broadcast::Receiver<()>,
) where
    L: Stream<Item = Result<Inbound, std::io::Error>> + Unpin,
    W: FnOnce(OutboxReceiver) -> F,
    F: Future<Output = ()> + Send + 'static,
{
    let _counted = crate::metrics::get().connection(transport);
    let (outbox, rx) = Outbox::new(ctx.settings.sendq_bytes);
    let writer = tokio::spawn(writer(rx));
    let host = display_host(peer);
    let id = match &ctx.cluster {
        None => ctx.state.connect(host.clone(), outbox.clone()),
        Some(cluster) => {
            let id = ctx.state.new_id();
            if let Err(e) = cluster
                .connect_client(id, host.clone(), outbox.clone())
                .await
            {
                tracing::warn!(%peer, error = %e, "connection refused: the network is unavailable");
                outbox.send_final(line("", "ERROR", &[], Some(&format!("Closing link: {e}"))));
                drop(outbox);
                let _ = tokio::time::timeout(CLOSE_FLUSH, writer).await;
                return;
            }
            id
        }
    };
    let mut session = Session {
        id,
        ctx: ctx.clone(),
        outbox: outbox.clone(),
        host,
        nick: None,
        user: None,
        registered: false,
        cap_negotiating: false,
        caps: Caps::NONE,
        cap_version: 0,
        pass_ok: false,
        pinged: false,
        bot: false,
        extra_cost: 0,
        in_flight: InFlight::default(),
    };
    let settings = &ctx.settings;
    let registration_deadline = Instant::now() + settings.registration_timeout;
    let mut ping_deadline = Instant::now() + settings.ping_interval;
    let mut awaiting_pong = false;
    let mut grace: Option<Instant> = None;
    let mut flood = FloodGate::new(settings.flood_burst, settings.flood_rate);
    // Whether the next line read waited for the flood gate (for the metric).
    let mut paced = false;
    // One timer for every deadline (flood pacing, nick-only grace, registration, ping),
    // and the shutdown and close signals, made once and kept across lines: re-creating
    // them for every line read was most of a chatty connection's per-line cost. The timer
    // is moved only when a deadline comes *earlier* than it is set for; a deadline that
    // moved later (the ping deadline, on every line) is found when it fires, and it is
    // set again for what is then due.
    let owner = outbox.owner_key();
    // (A block, so the pinned futures borrowing the outbox end with the loop.)
    let reason: String = {
        let timer = sleep_until(Instant::now() + FAR);
        tokio::pin!(timer);
        let mut timer_at = Instant::now() + FAR;
        let shutting_down = shutdown.recv();
        tokio::pin!(shutting_down);
        let closed = outbox.closed();
        tokio::pin!(closed);

        loop {
            let now = Instant::now();
            let throttled = flood.wait_until(now);
            if flood.report(now) {
                tracing::info!(client = id, %peer, "flood control: input paced");
            }
            if let Some(at) = throttled {
                paced = true;
                if at < timer_at {
                    timer.as_mut().reset(at);
                    timer_at = at;
                }
            }
            if grace.is_some_and(|at| at <= now) {
                grace = None;
                if let Some(reason) = session.try_register(true).await {
                    let text = format!("Closing link: {} ({reason})", session.target());
                    outbox.send_final(line("", "ERROR", &[], Some(&text)));
                    break reason;
                }
            }
            if !session.registered && registration_deadline <= now {
                outbox.send_final(line(
                    "",
                    "ERROR",
                    &[],
                    Some("Closing link: registration timed out"),
                ));
                break "Registration timed out".into();
            }
            let pinging = session.registered && session.pinged;
            if pinging && ping_deadline <= now {
                if awaiting_pong {
                    outbox.send_final(line("", "ERROR", &[], Some("Closing link: ping timeout")));
                    break "Ping timeout".into();
                }
                outbox.send(line("", "PING", &[], Some(&settings.server_name)));
                awaiting_pong = true;
                ping_deadline = now + settings.ping_timeout;
            }
            let next = [
                throttled,
                grace,
                (!session.registered).then_some(registration_deadline),
                pinging.then_some(ping_deadline),
            ]
            .into_iter()
            .flatten()
            .min()
            .unwrap_or(now + FAR);
            if next < timer_at || timer_at <= now {
                timer.as_mut().reset(next);
                timer_at = next;
            }
            // Soft sendq: while the answers to its own commands are unread, the client's next
            // command waits (see `outbox`); others' traffic keeps the hard limit.
            let backlogged = outbox.own_backlog() >= SOFT_SENDQ;
            tokio::select! {
                _ = &mut shutting_down => {
                    outbox.send_final(line("", "ERROR", &[], Some("Server shutting down")));
                    break "Server shutting down".into();
                }
                closing = &mut closed => {
                    outbox.send_final(line("", "ERROR", &[], Some(&closing.error)));
                    break closing.reason;
                }
                // Whatever fell due is handled at the top of the loop.
                _ = &mut timer => {
                    timer_at = Instant::now();
                }
                _ = outbox.replies_drained(), if backlogged => {}
                // While throttled, input stays unread until the flood gate opens.
                item = lines.next(), if throttled.is_none() && !backlogged => {
                    let inbound = match item {
                        None => break "Connection closed".into(),
                        Some(Err(e)) => break format!("Read error: {e}"),
                        Some(Ok(Inbound::Alive)) => {
                            ping_deadline = Instant::now() + settings.ping_interval;
                            awaiting_pong = false;
                            continue;
                        }
                        Some(Ok(inbound)) => inbound,
                    };
                    if std::mem::take(&mut paced) {
                        crate::metrics::get().flood_paced_lines.inc();
                    }
                    let read_at = Instant::now();
                    flood.charge(read_at);
                    ping_deadline = read_at + settings.ping_interval;
                    awaiting_pong = false;
                    // Boxed: a command's future (SEARCH, CHATHISTORY…) is large, and kept inline
                    // it would make every idle connection's future that large too.
                    let flow = Box::pin(replying(owner, session.handle(inbound))).await;
                    for _ in 0..std::mem::take(&mut session.extra_cost) {
                        flood.charge(read_at);
                    }
                    match flow {
                        Flow::Continue => {}
                        Flow::Close(reason) => {
                            let text = format!("Closing link: {} ({reason})", session.target());
                            outbox.send_final(line("", "ERROR", &[], Some(&text)));
                            break reason;
                        }
                    }
                    grace = (!session.registered && session.nick.is_some() && session.user.is_none()
                        && !session.cap_negotiating)
                        .then(|| grace.unwrap_or_else(|| Instant::now() + NICK_ONLY_GRACE));
                }
            }
        }
    };

    // The messages the client sent before it left reach the room before its QUIT.
    let _ = tokio::time::timeout(CLOSE_FLUSH, session.in_flight.settle()).await;
    match &ctx.cluster {
        None => ctx.state.disconnect(id, &reason),
        Some(cluster) => cluster.submit_eventually(Op::Disconnect {
            id,
            reason: reason.clone(),
        }),
    }
    let logged = crate::command::loggable_reason(&reason);
    tracing::info!(client = id, %peer, reason = %logged, "disconnected");
    drop(session);
    drop(outbox);
    // The writer ends once every outbox clone is gone and the last lines are written.
    let mut writer = writer;
    if tokio::time::timeout(CLOSE_FLUSH, &mut writer)
        .await
        .is_err()
    {
        writer.abort();
    }
}

/// The host part of `nick!user@host`: an IPv6 address like `::1` is written `0::1`, as
/// IRC servers do, so it can never be read as a trailing parameter.
fn display_host(peer: SocketAddr) -> String {
    let ip = peer.ip().to_canonical().to_string();
    if ip.starts_with(':') {
        format!("0{ip}")
    } else {
        ip
    }
}
