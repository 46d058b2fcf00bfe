//! NAMES: who is in a room, with their room rank (`@` operator, `+` voiced).

use super::{Flow, Reject};
use crate::message::Message;
use crate::names::canonical_room;
use crate::session::Session;

/// `NAMES [<room>[,<room>...]]`
pub struct Names {
    rooms: Vec<String>,
}

impl Names {
    /// Rooms are optional; without them only the end line is sent, as modern servers do.
    pub fn parse_frames(msg: &Message) -> Result<Names, Reject> {
        Ok(Names {
            rooms: msg
                .params
                .first()
                .map(|l| super::comma_list(l))
                .unwrap_or_default(),
        })
    }

    /// Sends 353 lines and 366 for each room (just 366 for a room that does not exist or
    /// is secret and the asker is not in it).
    pub fn apply(self, s: &mut Session) -> Flow {
        if self.rooms.is_empty() {
            s.numeric("366", &["*"], "End of /NAMES list");
        }
        for requested in &self.rooms {
            let found = canonical_room(requested)
                .ok()
                .and_then(|name| s.ctx.state.names(s.id, &name));
            match found {
                Some((room, symbol, nicks)) => send_names(s, symbol, &room, &nicks),
                None => s.numeric("366", &[requested], "End of /NAMES list"),
            }
        }
        Flow::Continue
    }
}

/// 353 RPL_NAMREPLY lines (`=` public, `@` secret) then 366 RPL_ENDOFNAMES for one room.
pub fn send_names(s: &Session, symbol: &str, room: &str, nicks: &[String]) {
    for chunk in super::word_lines(nicks.iter().map(String::as_str)) {
        s.numeric("353", &[symbol, room], &chunk);
    }
    s.numeric("366", &[room], "End of /NAMES list");
}
