//! NICK: choose a nick before registering, or change it later (announced to shared rooms).

use super::{Flow, Reject};
use crate::message::Message;
use crate::names::validate_nick;
use crate::session::Session;
use crate::state::{Op, Outcome, StateError};

/// `NICK <nick>`
pub struct Nick {
    nick: String,
}

impl Nick {
    /// Needs one valid nick (431 when missing, 432 when malformed).
    pub fn parse_frames(msg: &Message) -> Result<Nick, Reject> {
        let nick = msg
            .params
            .first()
            .filter(|n| !n.is_empty())
            .ok_or_else(|| Reject::new("431", &[], "No nickname given. Usage: NICK <nick>"))?;
        validate_nick(nick)
            .map_err(|e| Reject::new("432", &[nick], &format!("Erroneous nickname: {e}")))?;
        Ok(Nick { nick: nick.clone() })
    }

    /// Claims the nick; 433 if someone else has it.
    pub async fn apply(self, s: &mut Session) -> Flow {
        if s.nick.as_deref() == Some(self.nick.as_str()) {
            return Flow::Continue;
        }
        let op = Op::Nick {
            id: s.id,
            nick: self.nick.clone(),
        };
        let Some(Outcome::Nick(result)) = s.change(op).await else {
            return Flow::Continue;
        };
        match result {
            Ok(()) => {
                s.nick = Some(self.nick);
                match s.try_register(false).await {
                    Some(reason) => Flow::Close(reason),
                    None => Flow::Continue,
                }
            }
            Err(StateError::NickInUse) => {
                s.numeric(
                    "433",
                    &[&self.nick],
                    "Nickname is already in use; pick another with NICK <nick>",
                );
                Flow::Continue
            }
            Err(_) => Flow::Continue,
        }
    }
}
