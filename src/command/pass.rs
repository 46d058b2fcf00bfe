//! PASS: the connection password, checked when registration completes.

use super::{Flow, Reject, required};
use crate::message::Message;
use crate::session::Session;

/// `PASS <password>`
pub struct Pass {
    password: String,
}

impl Pass {
    /// Needs the password (461 otherwise).
    pub fn parse_frames(msg: &Message) -> Result<Pass, Reject> {
        Ok(Pass {
            password: required(msg, 0, "PASS <password>")?.to_string(),
        })
    }

    /// Remembers whether it matched; 462 once registered. The password is never logged.
    pub fn apply(self, s: &mut Session) -> Flow {
        if s.registered {
            s.numeric("462", &[], "You may not reregister");
            return Flow::Continue;
        }
        s.pass_ok = match &s.ctx.settings.password {
            Some(expected) => constant_time_eq(expected.as_bytes(), self.password.as_bytes()),
            None => true,
        };
        Flow::Continue
    }
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}
