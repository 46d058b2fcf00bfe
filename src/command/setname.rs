//! SETNAME (IRCv3 setname): change your real name; those sharing a room with you who
//! enabled `setname` see it.

use super::{Flow, Reject};
use crate::message::Message;
use crate::session::Session;
use crate::state::Op;

/// Longest real name accepted, in bytes (ergo's default `realnamelen`).
pub const MAX_REALNAME_BYTES: usize = 150;

/// `SETNAME :<new real name>`
pub struct Setname {
    realname: String,
}

impl Setname {
    /// Needs the new name (461 otherwise).
    pub fn parse_frames(msg: &Message) -> Result<Setname, Reject> {
        let realname = msg
            .params
            .first()
            .filter(|r| !r.is_empty())
            .ok_or_else(|| Reject::need_more_params("SETNAME", "SETNAME :<realname>"))?;
        Ok(Setname {
            realname: realname.clone(),
        })
    }

    /// Changes it, or `FAIL SETNAME INVALID_REALNAME` if it is too long or has control
    /// characters.
    pub async fn apply(self, s: &mut Session) -> Flow {
        if self.realname.len() > MAX_REALNAME_BYTES || self.realname.chars().any(char::is_control) {
            s.fail(
                "SETNAME",
                "INVALID_REALNAME",
                &[],
                &format!(
                    "Realname is not valid: at most {MAX_REALNAME_BYTES} bytes, no control characters"
                ),
            );
            return Flow::Continue;
        }
        let op = Op::Realname {
            id: s.id,
            realname: self.realname.clone(),
        };
        if s.change(op).await.is_none() {
            return Flow::Continue;
        }
        if let Some((user, _)) = &s.user {
            s.user = Some((user.clone(), self.realname));
        }
        Flow::Continue
    }
}
