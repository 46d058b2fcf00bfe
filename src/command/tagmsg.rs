//! TAGMSG: a message made only of tags (`+typing=active`, `+draft/react=👍`), relayed to
//! room members and nicks that enabled `message-tags`, never archived.

use super::{Flow, Reject, required};
use crate::caps::Cap;
use crate::message::{Message, line};
use crate::relay::{Relay, ephemeral_msgid};
use crate::session::Session;
use crate::state::Op;

/// `@+typing=active TAGMSG <target>[,<target>...]`
pub struct Tagmsg {
    targets: Vec<String>,
    client_tags: String,
}

impl Tagmsg {
    /// Needs a target (461 otherwise).
    pub fn parse_frames(msg: &Message) -> Result<Tagmsg, Reject> {
        let targets = required(msg, 0, "@+tag=value TAGMSG <#room|nick>")?;
        Ok(Tagmsg {
            targets: super::message_targets(targets)?,
            client_tags: crate::tags::client_only(&msg.tags),
        })
    }

    /// Relays to each target under the same rules as PRIVMSG (+m, +n, bans); the sender
    /// gets its echo with echo-message.
    pub async fn apply(self, s: &mut Session) -> Flow {
        let prefix = s.prefix();
        let bot = s.bot;
        s.charge_targets(self.targets.len());
        let echoes = s.caps.has(Cap::EchoMessage) && s.caps.has(Cap::MessageTags);
        for target in &self.targets {
            let to_room = target.starts_with('#') || s.ctx.state.find_nick(target).is_none();
            let echo = if to_room {
                let Some(room) = super::speakable_room(s, &prefix, target, false) else {
                    continue;
                };
                let relay = self.relay(&prefix, &room, bot);
                let echo = echoes.then(|| relay.clone());
                let op = Op::ToRoom {
                    room,
                    relay,
                    except: s.id,
                    needs: Some(Cap::MessageTags),
                };
                if s.change(op).await.is_none() {
                    continue;
                }
                echo
            } else {
                let Some(nick) = s.ctx.state.nick_display(target) else {
                    s.numeric("401", &[target], "No such nick or room");
                    continue;
                };
                let relay = self.relay(&prefix, &nick, bot);
                let echo = echoes.then(|| relay.clone());
                let op = Op::ToNick {
                    nick,
                    relay,
                    needs: Some(Cap::MessageTags),
                };
                if s.change(op).await.is_none() {
                    continue;
                }
                echo
            };
            crate::metrics::get().messages_relayed.inc();
            if let Some(echo) = echo {
                s.send(echo.for_caps(s.caps));
            }
        }
        Flow::Continue
    }

    fn relay(&self, prefix: &str, target: &str, bot: bool) -> Relay {
        Relay::new(line(prefix, "TAGMSG", &[target], None))
            .with_msgid(ephemeral_msgid())
            .with_client_tags(self.client_tags.clone())
            .from_bot(bot)
    }
}
