//! PRIVMSG (alias MSG) and NOTICE: talk to a room or privately to a nick.
//!
//! A room message is archived before anyone receives it: the archive writer runs the
//! delivery once the row is written, so acceptance order is archive order is delivery order.

use super::{Flow, Reject};
use crate::message::{Message, line};
use crate::session::Session;
use crate::state::RoomError;

/// `PRIVMSG <target>[,<target>...] <text>`; `MSG` is the same; `NOTICE` likewise.
pub struct Privmsg {
    command: &'static str,
    targets: Vec<String>,
    text: String,
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
            targets: super::comma_list(targets),
            text: text.clone(),
        })
    }

    /// Sends to each target: rooms via the archive, nicks directly. A NOTICE never gets
    /// an error reply, whatever goes wrong (RFC 2812).
    pub async fn apply(self, s: &mut Session) -> Flow {
        let prefix = s.prefix();
        for target in &self.targets {
            let to_room = target.starts_with('#') || s.ctx.state.find_nick(target).is_none();
            if to_room {
                self.to_room(s, &prefix, target).await;
            } else {
                self.to_nick(s, &prefix, target);
            }
        }
        Flow::Continue
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

    async fn to_room(&self, s: &Session, prefix: &str, target: &str) {
        let Ok(name) = crate::names::canonical_room(target) else {
            self.refuse(s, "401", &[target], "No such nick or room");
            return;
        };
        let room = match s.ctx.state.speak_in(s.id, prefix, &name) {
            Ok(room) => room,
            Err(RoomError::NoSuchRoom) if !target.starts_with('#') => {
                self.refuse(s, "401", &[target], "No such nick or room");
                return;
            }
            Err(e) => {
                if !self.is_notice() {
                    super::room_error(s, &name, &e);
                }
                return;
            }
        };
        let msg = line(prefix, self.command, &[&room], Some(&self.text));
        let ctx = s.ctx.clone();
        let (id, room_for_delivery) = (s.id, room.clone());
        let deliver = Box::new(move |_stamp: &str| {
            ctx.state.deliver_to_room(&room_for_delivery, &msg, id);
        });
        let nick = s.target().to_string();
        if let Err(e) = s
            .ctx
            .archive
            .append(&room, &nick, &self.text, deliver)
            .await
        {
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

    fn to_nick(&self, s: &Session, prefix: &str, target: &str) {
        let Some(nick) = s.ctx.state.nick_display(target) else {
            self.refuse(s, "401", &[target], "No such nick or room");
            return;
        };
        let msg = line(prefix, self.command, &[&nick], Some(&self.text));
        match s.ctx.state.deliver_to_nick(&nick, &msg) {
            Ok(Some(away)) if !self.is_notice() => {
                s.numeric("301", &[&nick], &away);
            }
            Ok(_) => {}
            Err(_) => self.refuse(s, "401", &[target], "No such nick or room"),
        }
    }
}
