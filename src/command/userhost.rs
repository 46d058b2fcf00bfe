//! USERHOST: `nick=+user@host` for up to five nicks (`*` marks an operator, `-` away).

use super::{Flow, Reject, required};
use crate::message::Message;
use crate::session::Session;

/// Nicks answered per USERHOST, as RFC 2812 says.
const MAX_NICKS: usize = 5;

/// `USERHOST <nick> [<nick>...]`
pub struct Userhost {
    nicks: Vec<String>,
}

impl Userhost {
    /// Needs at least one nick (461 otherwise).
    pub fn parse_frames(msg: &Message) -> Result<Userhost, Reject> {
        required(msg, 0, "USERHOST <nick> [<nick>...]")?;
        Ok(Userhost {
            nicks: super::words(msg).take(MAX_NICKS).collect(),
        })
    }

    /// One 302 with the replies for the nicks that are online.
    pub fn apply(self, s: &mut Session) -> Flow {
        let replies = s.ctx.state.userhost(&self.nicks);
        s.numeric("302", &[], &replies.join(" "));
        Flow::Continue
    }
}
