//! OPER: become a server operator with a name and password from the config file's
//! `[[oper]]` entries. The password is checked against its argon2 hash on a blocking
//! thread, and never logged.

use super::{Flow, Reject, required};
use crate::message::{Message, line};
use crate::session::Session;
use crate::state::Op;

/// `OPER <name> <password>`
pub struct Oper {
    name: String,
    password: String,
}

impl Oper {
    /// Needs a name and a password (461 otherwise).
    pub fn parse_frames(msg: &Message) -> Result<Oper, Reject> {
        Ok(Oper {
            name: required(msg, 0, "OPER <name> <password>")?.to_string(),
            password: required(msg, 1, "OPER <name> <password>")?.to_string(),
        })
    }

    /// 381 and `MODE nick +o` on success; 464 for a wrong name or password (the same
    /// answer for both, so names cannot be guessed), logged without the password.
    pub async fn apply(self, s: &mut Session) -> Flow {
        let entry = s
            .ctx
            .settings
            .opers
            .iter()
            .find(|o| o.name == self.name)
            .cloned();
        let ok = match entry {
            Some(entry) => {
                let password = self.password;
                tokio::task::spawn_blocking(move || {
                    crate::password::verify(&password, &entry.password)
                })
                .await
                .unwrap_or(false)
            }
            None => false,
        };
        if !ok {
            tracing::warn!(client = s.id, nick = %s.target(), host = %s.host, oper = %self.name, "OPER failed");
            s.numeric("464", &[], "Password incorrect");
            return Flow::Continue;
        }
        let op = Op::Oper {
            id: s.id,
            name: self.name.clone(),
        };
        if s.change(op).await.is_none() {
            return Flow::Continue;
        }
        tracing::info!(client = s.id, nick = %s.target(), oper = %self.name, "OPER: now a server operator");
        s.numeric("381", &[], "You are now an IRC operator");
        s.send(line(&s.prefix(), "MODE", &[s.target()], Some("+o")));
        Flow::Continue
    }
}
