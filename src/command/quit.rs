//! QUIT: leave the server; everyone sharing a room sees the reason.

use super::Flow;
use crate::message::Message;
use crate::session::Session;

/// `QUIT [reason]`
pub struct Quit {
    reason: Option<String>,
}

impl Quit {
    /// The reason is optional.
    pub fn parse_frames(msg: &Message) -> Quit {
        Quit {
            reason: msg.params.first().filter(|r| !r.is_empty()).cloned(),
        }
    }

    /// Closes the connection; others see `QUIT :Quit: <reason>`.
    pub fn apply(self, _s: &mut Session) -> Flow {
        Flow::Close(match self.reason {
            Some(r) => format!("Quit: {r}"),
            None => "Quit".to_string(),
        })
    }
}
