//! MODE: IRC clients query modes after joining; no modes are settable, so queries get the
//! current (empty apart from the defaults) modes and changes get a clear refusal.

use super::{Flow, Reject, required};
use crate::message::{Message, line};
use crate::names::canonical_room;
use crate::session::Session;

/// `MODE <room|nick> [changes]`
pub struct Mode {
    target: String,
    change: Option<String>,
}

impl Mode {
    /// Needs a target (461 otherwise).
    pub fn parse_frames(msg: &Message) -> Result<Mode, Reject> {
        Ok(Mode {
            target: required(msg, 0, "MODE <#room|nick>")?.to_string(),
            change: msg.params.get(1).cloned(),
        })
    }

    /// 324/329 for rooms, 221 for yourself, an echo for +i/+w, 472/501/502 otherwise.
    pub fn apply(self, s: &mut Session) -> Flow {
        if self.target.starts_with('#') {
            let found = canonical_room(&self.target)
                .ok()
                .and_then(|n| s.ctx.state.topic(&n));
            let Some((room, _, created)) = found else {
                s.numeric("403", &[&self.target], "No such room");
                return Flow::Continue;
            };
            match self.change.as_deref() {
                None => {
                    let server = &s.ctx.settings.server_name;
                    let created = created.to_string();
                    s.send(line(server, "324", &[s.target(), &room, "+n"], None));
                    s.send(line(server, "329", &[s.target(), &room, &created], None));
                }
                Some("b") | Some("+b") => s.numeric("368", &[&room], "End of room ban list"),
                Some(other) => s.numeric(
                    "472",
                    &[other],
                    "Room modes cannot be changed on this server",
                ),
            }
            return Flow::Continue;
        }
        if !self.target.eq_ignore_ascii_case(s.target()) {
            s.numeric("502", &[], "Can't change mode for other users");
        } else if let Some(change) = &self.change {
            // Clients set +i on connect; invisibility is already how WHO works here.
            if change.chars().all(|c| matches!(c, '+' | '-' | 'i' | 'w')) {
                let prefix = s.prefix();
                let nick = s.target().to_string();
                s.send(line(&prefix, "MODE", &[&nick], Some(change)));
            } else {
                s.numeric("501", &[], "Unknown user mode: only +i and +w are accepted");
            }
        } else {
            s.numeric("221", &[], "+");
        }
        Flow::Continue
    }
}
