//! USER: the username and real name IRC clients send while registering (optional here).

use super::{Flow, Reject, required};
use crate::message::Message;
use crate::session::Session;

/// `USER <username> <mode> <unused> :<realname>`
pub struct User {
    username: String,
    realname: String,
}

impl User {
    /// Needs the username and the real name (461 otherwise).
    pub fn parse_frames(msg: &Message) -> Result<User, Reject> {
        let usage = "USER <username> 0 * :<real name>";
        let username = required(msg, 0, usage)?;
        let realname = required(msg, 3, usage)?;
        // The username shows in nick!user@host: keep it to characters that cannot break it.
        let username: String = username
            .chars()
            .filter(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | '~'))
            .take(16)
            .collect();
        Ok(User {
            username: if username.is_empty() {
                "user".into()
            } else {
                username
            },
            realname: realname.to_string(),
        })
    }

    /// Records the names; 462 once registered.
    pub async fn apply(self, s: &mut Session) -> Flow {
        if s.registered {
            s.numeric("462", &[], "You may not reregister");
            return Flow::Continue;
        }
        s.user = Some((self.username, self.realname));
        match s.try_register(false).await {
            Some(reason) => Flow::Close(reason),
            None => Flow::Continue,
        }
    }
}
