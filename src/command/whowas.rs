//! WHOWAS: who recently used a nick (after a nick change or a quit), newest first.

use super::{Flow, Reject};
use crate::message::Message;
use crate::session::Session;

/// `WHOWAS <nick> [count]`
pub struct Whowas {
    nick: String,
    count: usize,
}

impl Whowas {
    /// Needs a nick (431 otherwise); a count of 0 or less, or none, means all.
    pub fn parse_frames(msg: &Message) -> Result<Whowas, Reject> {
        let nick = msg
            .params
            .first()
            .filter(|n| !n.is_empty())
            .ok_or_else(|| Reject::new("431", &[], "No nickname given. Usage: WHOWAS <nick>"))?;
        let count = msg
            .params
            .get(1)
            .and_then(|c| c.parse::<i64>().ok())
            .filter(|c| *c > 0)
            .map_or(usize::MAX, |c| c as usize);
        Ok(Whowas {
            nick: nick.clone(),
            count,
        })
    }

    /// 314 and 312 per entry, or 406; then 369.
    pub fn apply(self, s: &mut Session) -> Flow {
        let entries = s.ctx.state.whowas(&self.nick, self.count);
        if entries.is_empty() {
            s.numeric("406", &[&self.nick], "There was no such nickname");
        }
        let server = s.ctx.settings.server_name.clone();
        for e in entries {
            s.numeric("314", &[&e.nick, &e.user, &e.host, "*"], &e.realname);
            let when = chrono::DateTime::from_timestamp(e.left_at, 0)
                .map(|t| t.format("%Y-%m-%d %H:%M:%S UTC").to_string())
                .unwrap_or_default();
            s.numeric("312", &[&e.nick, &server], &when);
        }
        s.numeric("369", &[&self.nick], "End of WHOWAS");
        Flow::Continue
    }
}
