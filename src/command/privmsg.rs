//! PRIVMSG (alias MSG) and NOTICE: talk to a room or privately to a nick.
//!
//! A room message is archived before anyone receives it: the archive writer runs the
//! delivery once the row is written, so acceptance order is archive order is delivery order.
//! The delivered line carries the archived time and the msgid derived from the row, so it
//! looks the same live, replayed and searched.

use tokio::sync::oneshot;

use super::{Flow, Reject};
use crate::caps::Cap;
use crate::message::{Message, line};
use crate::relay::{Relay, ephemeral_msgid};
use crate::session::Session;

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
                self.to_rank(s, &prefix, bot, &target[..1], room);
                continue;
            }
            let to_room = target.starts_with('#') || s.ctx.state.find_nick(target).is_none();
            if to_room {
                self.to_room(s, &prefix, bot, target).await;
            } else {
                self.to_nick(s, &prefix, bot, target);
            }
        }
        Flow::Continue
    }

    /// STATUSMSG: `@#room` reaches the room's operators, `+#room` its operators and voiced
    /// members. Like a private message it is not archived (the archive has no audience).
    fn to_rank(&self, s: &Session, prefix: &str, bot: bool, rank: &str, room: &str) {
        let Some(room) = super::speakable_room(s, prefix, room, self.is_notice()) else {
            return;
        };
        let target = format!("{rank}{room}");
        let relay = Relay::new(line(prefix, self.command, &[&target], Some(&self.text)))
            .with_msgid(ephemeral_msgid())
            .with_client_tags(self.client_tags.clone())
            .from_bot(bot);
        s.ctx
            .state
            .deliver_to_rank(&room, rank == "+", &relay, s.id);
        crate::metrics::get().messages_relayed.inc();
        if s.caps.has(Cap::EchoMessage) {
            s.send(relay.for_caps(s.caps));
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

    async fn to_room(&self, s: &Session, prefix: &str, bot: bool, target: &str) {
        let Some(room) = super::speakable_room(s, prefix, target, self.is_notice()) else {
            return;
        };
        let msg = line(prefix, self.command, &[&room], Some(&self.text));
        let ctx = s.ctx.clone();
        let (id, room_for_delivery) = (s.id, room.clone());
        let nick = s.target().to_string();
        let (text, tags) = (self.text.clone(), self.client_tags.clone());
        let (echo_tx, echo) = oneshot::channel();
        let author = nick.clone();
        let deliver = Box::new(move |stamp: &str, millis: i64| {
            let msgid = crate::history::msgid(&room_for_delivery, millis, &author, &text);
            let relay = Relay::at(msg, stamp.to_string())
                .with_msgid(msgid)
                .with_client_tags(tags)
                .from_bot(bot);
            ctx.state
                .deliver_archived(&room_for_delivery, &relay, id, millis);
            let _ = echo_tx.send(relay);
        });
        match s
            .ctx
            .archive
            .append(&room, &nick, &self.text, deliver)
            .await
        {
            Ok(()) => {
                crate::metrics::get().messages_relayed.inc();
                if s.caps.has(Cap::EchoMessage)
                    && let Ok(relay) = echo.await
                {
                    s.send(relay.for_caps(s.caps));
                }
            }
            Err(e) => {
                tracing::error!(client = s.id, room = %room, error = %e, "message not archived");
                if !self.is_notice() {
                    s.fail(
                        self.command,
                        "ARCHIVE_FAILED",
                        &[&room],
                        "Message not delivered: the server could not write it to the room archive",
                    );
                }
            }
        }
    }

    fn to_nick(&self, s: &Session, prefix: &str, bot: bool, target: &str) {
        let Some(nick) = s.ctx.state.nick_display(target) else {
            self.refuse(s, "401", &[target], "No such nick or room");
            return;
        };
        let relay = Relay::new(line(prefix, self.command, &[&nick], Some(&self.text)))
            .with_msgid(ephemeral_msgid())
            .with_client_tags(self.client_tags.clone())
            .from_bot(bot);
        match s.ctx.state.deliver_to_nick(&nick, &relay, None) {
            Ok(away) => {
                crate::metrics::get().messages_relayed.inc();
                if s.caps.has(Cap::EchoMessage) {
                    s.send(relay.for_caps(s.caps));
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
