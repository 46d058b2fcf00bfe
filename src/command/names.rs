//! NAMES: who is in a room.

use super::{Flow, Reject};
use crate::message::Message;
use crate::names::canonical_room;
use crate::session::Session;

/// Nicks per 353 line, keeping each line well under 512 bytes.
const NICKS_PER_LINE: usize = 12;

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

    /// Sends 353 lines and 366 for each room (just 366 for a room that does not exist).
    pub fn apply(self, s: &mut Session) -> Flow {
        if self.rooms.is_empty() {
            s.numeric("366", &["*"], "End of /NAMES list");
        }
        for requested in &self.rooms {
            let found = canonical_room(requested)
                .ok()
                .and_then(|name| s.ctx.state.names(&name));
            match found {
                Some((room, nicks)) => send_names(s, &room, &nicks),
                None => s.numeric("366", &[requested], "End of /NAMES list"),
            }
        }
        Flow::Continue
    }
}

/// 353 RPL_NAMREPLY lines then 366 RPL_ENDOFNAMES for one room.
pub fn send_names(s: &Session, room: &str, nicks: &[String]) {
    for chunk in nicks.chunks(NICKS_PER_LINE) {
        s.numeric("353", &["=", room], &chunk.join(" "));
    }
    s.numeric("366", &[room], "End of /NAMES list");
}
