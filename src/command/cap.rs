//! CAP: IRCv3 capability negotiation. No capabilities are offered yet, but the exchange
//! must complete so clients such as irssi and weechat register normally.

use super::{Flow, Reject, required};
use crate::message::{Message, line};
use crate::session::Session;

/// `CAP LS [302]`, `CAP LIST`, `CAP REQ :caps`, `CAP END`
pub struct Cap {
    sub: String,
    arg: String,
}

impl Cap {
    /// Needs a subcommand (461 otherwise).
    pub fn parse_frames(msg: &Message) -> Result<Cap, Reject> {
        let sub = required(msg, 0, "CAP LS|LIST|REQ|END")?.to_ascii_uppercase();
        let arg = msg.params.get(1).cloned().unwrap_or_default();
        Ok(Cap { sub, arg })
    }

    /// Answers with an empty capability list; registration waits for `CAP END`.
    pub fn apply(self, s: &mut Session) -> Flow {
        let server = s.ctx.settings.server_name.clone();
        let target = s.target().to_string();
        match self.sub.as_str() {
            "LS" | "LIST" => {
                if !s.registered {
                    s.cap_negotiating = true;
                }
                s.send(line(&server, "CAP", &[&target, &self.sub], Some("")));
            }
            "REQ" => {
                if !s.registered {
                    s.cap_negotiating = true;
                }
                s.send(line(&server, "CAP", &[&target, "NAK"], Some(&self.arg)));
            }
            "END" => {
                s.cap_negotiating = false;
                if let Some(reason) = s.try_register(false) {
                    return Flow::Close(reason);
                }
            }
            other => s.numeric("410", &[other], "Invalid CAP subcommand"),
        }
        Flow::Continue
    }
}
