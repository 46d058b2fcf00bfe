//! PRIVMSG (alias MSG) and NOTICE: talk to a room or privately to a nick.
//!
//! A room message is archived before anyone receives it: the archive writer runs the
//! delivery once the row is written, so acceptance order is archive order is delivery order.
//! The delivered line carries the archived time and the msgid derived from the row, so it
//! looks the same live, replayed and searched.

use bytes::Bytes;
use tokio::sync::oneshot;

use super::{Flow, Reject};
use crate::archive::{ArchiveError, Delivery};
use crate::caps::{Cap, Caps};
use crate::cluster::{Cluster, RoomLine};
use crate::context::Ctx;
use crate::inflight::{MAX_IN_FLIGHT, Ticket};
use crate::message::{Message, line};
use crate::outbox::Outbox;
use crate::relay::{Relay, ephemeral_msgid};
use crate::session::Session;
use crate::state::{ClientId, Op, Outcome};

/// The text of `FAIL PRIVMSG ARCHIVE_FAILED`.
const ARCHIVE_FAILED: &str =
    "Message not delivered: the server could not write it to the room archive";

/// `PRIVMSG <target>[,<target>...] <text>`; `MSG` is the same; `NOTICE` likewise.
pub struct Privmsg {
    command: &'static str,
    targets: Vec<String>,
    text: String,
    /// Client-only tags (`+draft/reply=…`), escaped, relayed to message-tags clients.
    client_tags: String,
}

impl Privmsg {
    /// Needs a target (411) and non-empty text (412).
    pub fn parse_frames(msg: &Message) -> Result<Privmsg, Reject> {
        let command = if msg.command == "NOTICE" {
            "NOTICE"
        } else {
            "PRIVMSG"
        };
        let targets = msg
            .params
            .first()
            .filter(|t| !t.is_empty())
            .ok_or_else(|| {
                Reject::new(
                    "411",
                    &[],
                    &format!("No recipient given ({command} <#room|nick> <text>)"),
                )
            })?;
        let text = msg
            .params
            .get(1)
            .filter(|t| !t.is_empty())
            .ok_or_else(|| Reject::new("412", &[], "No text to send"))?;
        Ok(Privmsg {
            command,
            targets: super::message_targets(targets)?,
            text: text.clone(),
            client_tags: crate::tags::client_only(&msg.tags),
        })
    }

    /// Sends to each target: rooms via the archive, nicks directly. A NOTICE never gets
    /// an error reply, whatever goes wrong (RFC 2812).
    pub async fn apply(self, s: &mut Session) -> Flow {
        let prefix = s.prefix();
        let bot = s.bot;
        s.charge_targets(self.targets.len());
        for target in &self.targets {
            if let Some(room) = target
                .strip_prefix(['@', '+'])
                .filter(|r| r.starts_with('#'))
            {
                // Delivered at once: after the sender's room messages still in flight.
                s.in_flight.settle().await;
                self.to_rank(s, &prefix, bot, &target[..1], room).await;
                continue;
            }
            let to_room = target.starts_with('#') || s.ctx.state.find_nick(target).is_none();
            if to_room {
                self.to_room(s, &prefix, bot, target).await;
            } else {
                s.in_flight.settle().await;
                self.to_nick(s, &prefix, bot, target).await;
            }
        }
        Flow::Continue
    }

    /// STATUSMSG: `@#room` reaches the room's operators, `+#room` its operators and voiced
    /// members. Like a private message it is not archived (the archive has no audience).
    async fn to_rank(&self, s: &Session, prefix: &str, bot: bool, rank: &str, room: &str) {
        let Some(room) = super::speakable_room(s, prefix, room, self.is_notice()) else {
            return;
        };
        let target = format!("{rank}{room}");
        let relay = Relay::new(line(prefix, self.command, &[&target], Some(&self.text)))
            .with_msgid(ephemeral_msgid())
            .with_client_tags(self.client_tags.clone())
            .from_bot(bot);
        let echo = s.caps.has(Cap::EchoMessage).then(|| relay.clone());
        let op = Op::ToRank {
            room,
            voiced: rank == "+",
            relay,
            except: s.id,
        };
        if s.change(op).await.is_none() {
            return;
        }
        crate::metrics::get().messages_relayed.inc();
        if let Some(echo) = echo {
            s.send(echo.for_caps(s.caps));
        }
    }

    fn is_notice(&self) -> bool {
        self.command == "NOTICE"
    }

    /// An error numeric, unless this is a NOTICE.
    fn refuse(&self, s: &Session, code: &str, params: &[&str], text: &str) {
        if !self.is_notice() {
            s.numeric(code, params, text);
        }
    }

    /// Hands a room message to the archive. Unless the line is labeled, the session goes on
    /// reading while it is written: its delivery, the sender's echo and a failure's FAIL are
    /// sent by the archive writer (see [`crate::inflight`]). A labeled line waits for the
    /// outcome, so the echo or FAIL carries the label.
    async fn to_room(&self, s: &mut Session, prefix: &str, bot: bool, target: &str) {
        let room = match super::room_to_speak_in(s, prefix, target) {
            Ok(room) => room,
            Err(denied) => {
                if !self.is_notice() {
                    s.in_flight.settle().await;
                    denied.report(s);
                }
                return;
            }
        };
        if let Some(cluster) = s.ctx.cluster.clone() {
            return self.to_room_in_network(s, &cluster, room).await;
        }
        if s.in_flight.pending() >= MAX_IN_FLIGHT {
            s.in_flight.settle().await;
        }
        let labeled = crate::reply::capturing(s.outbox.owner_key());
        let echo = s.caps.has(Cap::EchoMessage).then_some(s.caps);
        let (reply, outcome) = if labeled {
            let (tx, rx) = oneshot::channel();
            (Reply::Session(tx), Some(rx))
        } else {
            let outbox = s.outbox.clone();
            (Reply::Outbox { outbox, echo }, None)
        };
        let message = Box::new(RoomMessage {
            ctx: s.ctx.clone(),
            sender: s.id,
            room: room.clone(),
            author: s.target().to_string(),
            text: self.text.clone(),
            line: line(prefix, self.command, &[&room], Some(&self.text)),
            client_tags: self.client_tags.clone(),
            bot,
            command: self.command,
            reply,
            _ticket: Some(s.in_flight.start()),
            _sender_ticket: None,
            stamp: None,
        });
        s.ctx.archive.append(message).await;
        let Some(outcome) = outcome else { return };
        match outcome.await {
            Ok(Ok(relay)) => {
                if let Some(caps) = echo {
                    s.send(relay.for_caps(caps));
                }
            }
            Ok(Err(_)) | Err(_) => {
                if !self.is_notice() {
                    s.fail(self.command, "ARCHIVE_FAILED", &[&room], ARCHIVE_FAILED);
                }
            }
        }
    }

    /// A room message on a cluster node: published to the network's stream, which checks
    /// it against the room's rules in the network's order; delivered (and echoed) once
    /// this node's archive has it. Unlabeled, the session reads the next line once the
    /// stream has stored it (pipelined, as on a single server); labeled, it waits for the
    /// outcome so the echo or FAIL carries the label.
    async fn to_room_in_network(&self, s: &mut Session, cluster: &Cluster, room: String) {
        let line = RoomLine {
            sender: s.id,
            room: room.clone(),
            author: s.target().to_string(),
            text: self.text.clone(),
            command: self.command.to_string(),
            client_tags: self.client_tags.clone(),
            bot: s.bot,
        };
        let owner = s.outbox.owner_key();
        let Some(labeled) = crate::reply::capturing(owner).then_some(owner) else {
            if s.in_flight.pending() >= MAX_IN_FLIGHT {
                s.in_flight.settle().await;
            }
            let ticket = s.in_flight.start();
            if let Err(e) = cluster.send_room_line_pipelined(line, ticket).await
                && !self.is_notice()
            {
                s.in_flight.settle().await;
                let text = format!("Message not sent: {e}");
                s.fail(self.command, "CLUSTER_UNAVAILABLE", &[&room], &text);
            }
            return;
        };
        let written = match cluster.send_room_line(line, Some(labeled)).await {
            Ok(Ok(written)) => written,
            Ok(Err(refused)) => {
                if !self.is_notice() {
                    super::room_error(s, &room, &refused);
                }
                return;
            }
            Err(e) => {
                if !self.is_notice() {
                    s.fail(
                        self.command,
                        "CLUSTER_UNAVAILABLE",
                        &[&room],
                        &format!("Message not sent: {e}"),
                    );
                }
                return;
            }
        };
        match written.await {
            Ok(Ok(relay)) => {
                if s.caps.has(Cap::EchoMessage) {
                    s.send(relay.for_caps(s.caps));
                }
            }
            Ok(Err(_)) | Err(_) => {
                if !self.is_notice() {
                    s.fail(self.command, "ARCHIVE_FAILED", &[&room], ARCHIVE_FAILED);
                }
            }
        }
    }

    async fn to_nick(&self, s: &Session, prefix: &str, bot: bool, target: &str) {
        let Some(nick) = s.ctx.state.nick_display(target) else {
            self.refuse(s, "401", &[target], "No such nick or room");
            return;
        };
        let relay = Relay::new(line(prefix, self.command, &[&nick], Some(&self.text)))
            .with_msgid(ephemeral_msgid())
            .with_client_tags(self.client_tags.clone())
            .from_bot(bot);
        let echo = s.caps.has(Cap::EchoMessage).then(|| relay.clone());
        let op = Op::ToNick {
            nick: nick.clone(),
            relay,
            needs: None,
        };
        let Some(Outcome::ToNick(result)) = s.change(op).await else {
            return;
        };
        match result {
            Ok(away) => {
                crate::metrics::get().messages_relayed.inc();
                if let Some(echo) = echo {
                    s.send(echo.for_caps(s.caps));
                }
                if let Some(away) = away
                    && !self.is_notice()
                {
                    s.numeric("301", &[&nick], &away);
                }
            }
            Err(_) => self.refuse(s, "401", &[target], "No such nick or room"),
        }
    }
}

/// A room message on its way through the archive writer, which runs its delivery.
struct RoomMessage {
    ctx: Ctx,
    sender: ClientId,
    /// The room's display name.
    room: String,
    /// The sender's nick, as archived.
    author: String,
    text: String,
    /// The line as relayed, before tags.
    line: Bytes,
    client_tags: String,
    bot: bool,
    command: &'static str,
    reply: Reply,
    /// Counts the message in flight until it is delivered or refused.
    _ticket: Option<Ticket>,
    /// On a cluster node, the sender's session's count too (the other is the applier's).
    _sender_ticket: Option<Ticket>,
    /// Fixed by the cluster's stream (see [`Delivery::stamp`]); `None` on a single server.
    stamp: Option<i64>,
}

/// Where the outcome for the sender goes.
enum Reply {
    /// Straight to the sender's queue: its echo (echo-message, as its `Caps` render it)
    /// or the FAIL.
    Outbox { outbox: Outbox, echo: Option<Caps> },
    /// Back to the session, answering a labeled line.
    Session(oneshot::Sender<Result<Relay, ArchiveError>>),
    /// Nobody here waits: the sender is on another cluster node.
    Elsewhere,
}

/// How the session of a room message's sender, when it is connected to this cluster
/// node, waits for the message's outcome.
pub enum SenderWait {
    /// A labeled line: the session sends the echo or FAIL itself, under the label.
    Labeled(oneshot::Sender<Result<Relay, ArchiveError>>),
    /// An unlabeled line the session did not wait for: the echo or FAIL goes straight
    /// to the sender's queue with the room's delivery (so it keeps the room's order), and
    /// the ticket counts it in the session's messages in flight until then.
    Pipelined(Option<Ticket>),
}

/// A room message from the cluster's stream, as this node archives and delivers it:
/// `room` is the display name and `mask` the sender's `nick!user@host` as the stream's
/// order found them, `stamp` the row's time fixed from the stream, `wait` the sender's
/// session when the sender is connected here, and `ticket` counts it in the applier's
/// messages in flight until it is delivered.
pub fn cluster_room_delivery(
    ctx: Ctx,
    line: crate::cluster::RoomLine,
    room: String,
    mask: &str,
    stamp: i64,
    wait: Option<SenderWait>,
    ticket: Ticket,
) -> Box<dyn Delivery> {
    let mut sender_ticket = None;
    let reply = match wait {
        None => Reply::Elsewhere,
        Some(SenderWait::Labeled(tx)) => Reply::Session(tx),
        Some(SenderWait::Pipelined(ticket)) => {
            sender_ticket = ticket;
            let sender = ctx
                .state
                .with_client(line.sender, |c| (c.outbox.clone(), c.caps));
            match sender {
                Some((outbox, caps)) => Reply::Outbox {
                    outbox,
                    echo: caps.has(Cap::EchoMessage).then_some(caps),
                },
                None => Reply::Elsewhere,
            }
        }
    };
    let command = if line.command == "NOTICE" {
        "NOTICE"
    } else {
        "PRIVMSG"
    };
    Box::new(RoomMessage {
        ctx,
        sender: line.sender,
        line: crate::message::line(mask, command, &[&room], Some(&line.text)),
        room,
        author: line.author,
        text: line.text,
        client_tags: line.client_tags,
        bot: line.bot,
        command,
        reply,
        _ticket: Some(ticket),
        _sender_ticket: sender_ticket,
        stamp: Some(stamp),
    })
}

impl Delivery for RoomMessage {
    fn row(&self) -> [&str; 3] {
        [&self.room, &self.author, &self.text]
    }

    fn written(self: Box<Self>, key: &str, stamp: String, millis: i64) {
        let msgid = crate::history::msgid_for_key(key, millis, &self.author, &self.text);
        let relay = Relay::at(self.line, stamp)
            .with_msgid(msgid)
            .with_client_tags(self.client_tags)
            .from_bot(self.bot);
        self.ctx
            .state
            .deliver_archived(key, &relay, self.sender, millis);
        crate::metrics::get().messages_relayed.inc();
        match self.reply {
            Reply::Outbox {
                outbox,
                echo: Some(caps),
            } => {
                outbox.send(relay.for_caps(caps));
            }
            Reply::Outbox { echo: None, .. } | Reply::Elsewhere => {}
            Reply::Session(tx) => {
                let _ = tx.send(Ok(relay));
            }
        }
    }

    fn stamp(&self) -> Option<i64> {
        self.stamp
    }

    fn failed(self: Box<Self>, error: ArchiveError) {
        tracing::error!(client = self.sender, room = %self.room, error = %error, "message not archived");
        match self.reply {
            Reply::Outbox { outbox, .. } if self.command != "NOTICE" => {
                let context = [self.command, "ARCHIVE_FAILED", &self.room];
                let server = &self.ctx.settings.server_name;
                outbox.send(line(server, "FAIL", &context, Some(ARCHIVE_FAILED)));
            }
            Reply::Outbox { .. } | Reply::Elsewhere => {}
            Reply::Session(tx) => {
                let _ = tx.send(Err(error));
            }
        }
    }
}
