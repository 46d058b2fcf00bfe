//! JOIN: enter one or more rooms (comma-separated), creating them as needed.

use super::{Flow, Reject, required};
use crate::message::Message;
use crate::names::canonical_room;
use crate::session::Session;

/// `JOIN <room>[,<room>...]` (`#` optional); `JOIN 0` leaves every room.
pub struct Join {
    rooms: Vec<String>,
}

impl Join {
    /// Needs at least one room (461 otherwise).
    pub fn parse_frames(msg: &Message) -> Result<Join, Reject> {
        let list = required(msg, 0, "JOIN <#room>[,<#room>...]")?;
        Ok(Join {
            rooms: super::comma_list(list),
        })
    }

    /// Joins each room, sending the joiner its JOIN echo, the topic and the names list.
    pub fn apply(self, s: &mut Session) -> Flow {
        if self.rooms == ["0"] {
            let rooms = s
                .ctx
                .state
                .with_client(s.id, |c| c.rooms.iter().cloned().collect::<Vec<_>>())
                .unwrap_or_default();
            for room in rooms {
                let _ = s.ctx.state.part(s.id, &room, Some("Left all rooms"));
            }
            return Flow::Continue;
        }
        for requested in &self.rooms {
            let name = match canonical_room(requested) {
                Ok(name) => name,
                Err(e) => {
                    s.numeric("479", &[requested], &format!("Illegal room name: {e}"));
                    continue;
                }
            };
            let Some(joined) = s.ctx.state.join(s.id, &name) else {
                continue; // already a member: nothing to do, as on IRC
            };
            if let Some(topic) = &joined.topic {
                s.numeric("332", &[&joined.room], &topic.text);
                let set_at = topic.set_at.to_string();
                s.send(crate::message::line(
                    &s.ctx.settings.server_name,
                    "333",
                    &[s.target(), &joined.room, &topic.set_by, &set_at],
                    None,
                ));
            }
            super::names::send_names(s, &joined.room, &joined.names);
        }
        Flow::Continue
    }
}
