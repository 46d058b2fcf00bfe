//! WALLOPS: a server operator's message to everyone with user mode `+w`.

use super::{Flow, Reject, required};
use crate::message::{Message, line};
use crate::session::Session;
use crate::state::Op;

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
    pub async fn apply(self, s: &mut Session) -> Flow {
        if super::require_oper(s) {
            let line = line(&s.prefix(), "WALLOPS", &[], Some(&self.text));
            let line = String::from_utf8_lossy(&line).into_owned();
            s.change(Op::Wallops { line }).await;
        }
        Flow::Continue
    }
}
