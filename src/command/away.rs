//! AWAY: mark yourself away (presence); private senders are told your message.

use super::{Flow, Reject};
use crate::message::Message;
use crate::session::Session;
use crate::state::Op;

/// `AWAY [message]`: with text sets, without clears.
pub struct Away {
    text: Option<String>,
}

impl Away {
    /// The message is optional.
    pub fn parse_frames(msg: &Message) -> Result<Away, Reject> {
        Ok(Away {
            text: msg.params.first().filter(|t| !t.is_empty()).cloned(),
        })
    }

    /// 306 when now away, 305 when back.
    pub async fn apply(self, s: &mut Session) -> Flow {
        let away = self.text.is_some();
        let op = Op::Away {
            id: s.id,
            text: self.text,
        };
        if s.change(op).await.is_none() {
            return Flow::Continue;
        }
        if away {
            s.numeric("306", &[], "You have been marked as being away");
        } else {
            s.numeric("305", &[], "You are no longer marked as being away");
        }
        Flow::Continue
    }
}
