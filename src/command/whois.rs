//! WHOIS: presence details of one nick: who, where, which rooms (with rank), operator,
//! away or not.

use super::{Flow, Reject};
use crate::message::Message;
use crate::session::Session;

/// `WHOIS [server] <nick>`
pub struct Whois {
    nick: String,
}

impl Whois {
    /// Needs a nick (431 otherwise); a leading server parameter is skipped.
    pub fn parse_frames(msg: &Message) -> Result<Whois, Reject> {
        let nick = msg.params.iter().rev().find(|n| !n.is_empty());
        let nick =
            nick.ok_or_else(|| Reject::new("431", &[], "No nickname given. Usage: WHOIS <nick>"))?;
        Ok(Whois { nick: nick.clone() })
    }

    /// 311, 319, 312, 313, 301, 317, then 318; 401 if nobody has the nick.
    pub fn apply(self, s: &mut Session) -> Flow {
        let Some(w) = s.ctx.state.whois(s.id, &self.nick) else {
            s.numeric("401", &[&self.nick], "No such nick");
            s.numeric("318", &[&self.nick], "End of /WHOIS list");
            return Flow::Continue;
        };
        let server = s.ctx.settings.server_name.clone();
        s.numeric("311", &[&w.nick, &w.user, &w.host, "*"], &w.realname);
        // A client in many rooms gets several 319 lines, each within 512 bytes.
        for rooms in super::word_lines(w.rooms.iter().map(String::as_str)) {
            s.numeric("319", &[&w.nick], &rooms);
        }
        s.numeric("312", &[&w.nick, &server], "linechat");
        if w.bot {
            s.numeric("335", &[&w.nick], "is a bot");
        }
        if w.oper {
            s.numeric("313", &[&w.nick], "is an IRC operator");
        }
        if let Some(away) = &w.away {
            s.numeric("301", &[&w.nick], away);
        }
        s.numeric(
            "317",
            &[&w.nick, "0", &w.signon.to_string()],
            "seconds idle, signon time",
        );
        s.numeric("318", &[&w.nick], "End of /WHOIS list");
        Flow::Continue
    }
}
