//! PING: a client checking the server is alive (PONG from clients just counts as activity).

use super::{Flow, Reject, required};
use crate::message::{Message, line};
use crate::session::Session;

/// `PING <token>`
pub struct Ping {
    token: String,
}

impl Ping {
    /// Needs a token (461 otherwise).
    pub fn parse_frames(msg: &Message) -> Result<Ping, Reject> {
        Ok(Ping {
            token: required(msg, 0, "PING <token>")?.to_string(),
        })
    }

    /// Answers `PONG <server> :<token>`.
    pub fn apply(self, s: &mut Session) -> Flow {
        let server = s.ctx.settings.server_name.clone();
        s.send(line(&server, "PONG", &[&server], Some(&self.token)));
        Flow::Continue
    }
}
