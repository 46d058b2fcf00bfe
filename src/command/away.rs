//! AWAY: mark yourself away (presence); private senders are told your message.

use super::{Flow, Reject};
use crate::message::Message;
use crate::session::Session;

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
    pub fn apply(self, s: &mut Session) -> Flow {
        let away = self.text.is_some();
        s.ctx.state.set_away(s.id, self.text);
        if away {
            s.numeric("306", &[], "You have been marked as being away");
        } else {
            s.numeric("305", &[], "You are no longer marked as being away");
        }
        Flow::Continue
    }
}
