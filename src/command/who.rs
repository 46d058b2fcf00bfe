//! WHO: the members of a room, or one nick, with their user and host.

use super::{Flow, Reject, required};
use crate::message::Message;
use crate::session::Session;

/// `WHO <#room|nick>`
pub struct Who {
    mask: String,
}

impl Who {
    /// Needs a room or nick (461 otherwise).
    pub fn parse_frames(msg: &Message) -> Result<Who, Reject> {
        Ok(Who {
            mask: required(msg, 0, "WHO <#room|nick>")?.to_string(),
        })
    }

    /// One 352 per match, then 315.
    pub fn apply(self, s: &mut Session) -> Flow {
        let (room, entries) = s.ctx.state.who(&self.mask);
        let room = room.unwrap_or_else(|| "*".to_string());
        let server = s.ctx.settings.server_name.clone();
        for e in entries {
            let flags = if e.away { "G" } else { "H" };
            s.numeric(
                "352",
                &[&room, &e.user, &e.host, &server, &e.nick, flags],
                &format!("0 {}", e.realname),
            );
        }
        s.numeric("315", &[&self.mask], "End of /WHO list");
        Flow::Continue
    }
}
