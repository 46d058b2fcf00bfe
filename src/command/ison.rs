//! ISON: which of these nicks are online (presence for clients' notify lists).

use super::{Flow, Reject, required};
use crate::message::Message;
use crate::session::Session;

/// `ISON <nick> [<nick>...]`
pub struct Ison {
    nicks: Vec<String>,
}

impl Ison {
    /// Needs at least one nick (461 otherwise).
    pub fn parse_frames(msg: &Message) -> Result<Ison, Reject> {
        required(msg, 0, "ISON <nick> [<nick>...]")?;
        Ok(Ison {
            nicks: super::words(msg).collect(),
        })
    }

    /// 303 with the online ones, spelled as they are registered (several 303 lines when
    /// they would not fit in one line).
    pub fn apply(self, s: &mut Session) -> Flow {
        let online: Vec<String> = self
            .nicks
            .iter()
            .filter_map(|n| s.ctx.state.nick_display(n))
            .collect();
        let lines = super::word_lines(online.iter().map(String::as_str));
        if lines.is_empty() {
            s.numeric("303", &[], "");
        }
        for nicks in lines {
            s.numeric("303", &[], &nicks);
        }
        Flow::Continue
    }
}
