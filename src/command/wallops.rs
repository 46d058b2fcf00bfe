//! WALLOPS: a server operator's message to everyone with user mode `+w`.

use super::{Flow, Reject, required};
use crate::message::{Message, line};
use crate::session::Session;

/// `WALLOPS <text>`
pub struct Wallops {
    text: String,
}

impl Wallops {
    /// Needs text (461 otherwise).
    pub fn parse_frames(msg: &Message) -> Result<Wallops, Reject> {
        Ok(Wallops {
            text: required(msg, 0, "WALLOPS <text>")?.to_string(),
        })
    }

    /// 481 for non-operators; otherwise `:oper!u@h WALLOPS :text` to every `+w` client.
    pub fn apply(self, s: &mut Session) -> Flow {
        if super::require_oper(s) {
            s.ctx
                .state
                .wallops(&line(&s.prefix(), "WALLOPS", &[], Some(&self.text)));
        }
        Flow::Continue
    }
}
