//! CAP: IRCv3 capability negotiation (version 302): `LS`, `LIST`, `REQ`, `END`.
//!
//! Registration waits between the first `CAP LS`/`REQ` and `CAP END`; a telnet user who
//! never sends CAP registers as before. The offered set is [`crate::caps::OFFERED`].

use super::{Flow, Reject, required};
use crate::caps::{self, OFFERED, request};
use crate::message::{Message, line};
use crate::session::Session;

/// Longest capability list put on one `CAP LS` line before it continues on the next.
const LS_LINE_BYTES: usize = 400;

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

    /// Lists, enables or ends; a REQ is acknowledged or refused whole.
    pub async fn apply(self, s: &mut Session) -> Flow {
        let server = s.ctx.settings.server_name.clone();
        let target = s.target().to_string();
        match self.sub.as_str() {
            "LS" => {
                if !s.registered {
                    s.cap_negotiating = true;
                }
                let version = self.arg.parse::<u32>().unwrap_or(0);
                tracing::debug!(client = s.id, nick = %target, version, "CAP LS");
                if version >= 302 {
                    s.cap_version = s.cap_version.max(version);
                    // cap-notify is implied by 302 (capability-negotiation spec).
                    s.caps.set(caps::Cap::CapNotify, true);
                    s.ctx.state.set_caps(s.id, s.caps);
                }
                let names: Vec<&str> = OFFERED.iter().map(|c| c.name()).collect();
                let mut chunks: Vec<String> = vec![String::new()];
                for name in names {
                    let last = chunks.last_mut().expect("one chunk");
                    if !last.is_empty() && last.len() + name.len() + 1 > LS_LINE_BYTES {
                        chunks.push(name.to_string());
                    } else {
                        if !last.is_empty() {
                            last.push(' ');
                        }
                        last.push_str(name);
                    }
                }
                let multiline = s.cap_version >= 302;
                let count = chunks.len();
                for (i, chunk) in chunks.iter().enumerate() {
                    if i + 1 < count && multiline {
                        s.send(line(&server, "CAP", &[&target, "LS", "*"], Some(chunk)));
                    } else {
                        s.send(line(&server, "CAP", &[&target, "LS"], Some(chunk)));
                    }
                }
            }
            "LIST" => {
                let names = s.caps.names();
                s.send(line(&server, "CAP", &[&target, "LIST"], Some(&names)));
            }
            "REQ" => {
                if !s.registered {
                    s.cap_negotiating = true;
                }
                let asked = self.arg.trim();
                match request(s.caps, asked) {
                    Some(caps) => {
                        tracing::debug!(client = s.id, nick = %target, requested = asked, "CAP ACK");
                        s.caps = caps;
                        s.ctx.state.set_caps(s.id, caps);
                        s.send(line(&server, "CAP", &[&target, "ACK"], Some(asked)));
                    }
                    None => {
                        tracing::debug!(client = s.id, nick = %target, requested = asked, "CAP NAK");
                        s.send(line(&server, "CAP", &[&target, "NAK"], Some(asked)));
                    }
                }
            }
            "END" => {
                tracing::debug!(
                    client = s.id,
                    nick = %target,
                    enabled = %s.caps.names(),
                    "CAP END"
                );
                s.cap_negotiating = false;
                if let Some(reason) = s.try_register(false).await {
                    return Flow::Close(reason);
                }
            }
            other => s.numeric("410", &[other], "Invalid CAP subcommand"),
        }
        Flow::Continue
    }
}
