//! WHO: the members of a room, or every visible user matching a mask (nick, user, host,
//! real name or server), with presence (`H`/`G`), server operator (`*`) and room rank
//! (`@`/`+`) flags.

use super::{Flow, Reject, required};
use crate::message::Message;
use crate::session::Session;

/// `WHO <#room|mask> [o]`
pub struct Who {
    mask: String,
    opers_only: bool,
}

impl Who {
    /// Needs a room or mask (461 otherwise); `o` keeps only server operators.
    pub fn parse_frames(msg: &Message) -> Result<Who, Reject> {
        Ok(Who {
            mask: required(msg, 0, "WHO <#room|mask> [o]")?.to_string(),
            opers_only: msg.params.get(1).is_some_and(|f| f.contains('o')),
        })
    }

    /// One 352 per match, then 315 with the mask as given.
    pub fn apply(self, s: &mut Session) -> Flow {
        let server = s.ctx.settings.server_name.clone();
        let (room, entries) = s.ctx.state.who(s.id, &self.mask, &server, self.opers_only);
        let room = room.unwrap_or_else(|| "*".to_string());
        for e in entries {
            let mut flags = String::from(if e.away { "G" } else { "H" });
            if e.oper {
                flags.push('*');
            }
            flags.push_str(e.prefix);
            s.numeric(
                "352",
                &[&room, &e.user, &e.host, &server, &e.nick, &flags],
                &format!("0 {}", e.realname),
            );
        }
        s.numeric("315", &[&self.mask], "End of /WHO list");
        Flow::Continue
    }
}
