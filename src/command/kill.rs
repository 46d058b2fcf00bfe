//! KILL: a server operator disconnects a client; everyone sharing a room sees
//! `QUIT :Killed (oper (reason))`.

use super::{Flow, Reject, required};
use crate::message::Message;
use crate::session::Session;
use crate::state::{Op, Outcome};

/// `KILL <nick> [reason]`
pub struct Kill {
    nick: String,
    reason: Option<String>,
}

impl Kill {
    /// Needs a nick (461 otherwise); the reason is optional.
    pub fn parse_frames(msg: &Message) -> Result<Kill, Reject> {
        Ok(Kill {
            nick: required(msg, 0, "KILL <nick> [reason]")?.to_string(),
            reason: msg.params.get(1).filter(|r| !r.is_empty()).cloned(),
        })
    }

    /// 481 for non-operators, 401 for an unknown nick; otherwise the client is closed.
    pub async fn apply(self, s: &mut Session) -> Flow {
        if !super::require_oper(s) {
            return Flow::Continue;
        }
        let reason = self.reason.as_deref().unwrap_or("No reason given");
        let quit = format!("Killed ({} ({reason}))", s.target());
        let op = Op::Kill {
            nick: self.nick.clone(),
            quit,
        };
        let Some(Outcome::Kill(result)) = s.change(op).await else {
            return Flow::Continue;
        };
        match result {
            Ok(nick) => {
                tracing::info!(client = s.id, oper = %s.target(), victim = %nick, "KILL");
            }
            Err(_) => s.numeric("401", &[&self.nick], "No such nick"),
        }
        Flow::Continue
    }
}
