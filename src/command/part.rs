//! PART: leave one or more rooms, with an optional reason.

use super::{Flow, Reject, required};
use crate::message::Message;
use crate::names::canonical_room;
use crate::session::Session;
use crate::state::RoomError;

/// `PART <room>[,<room>...] [reason]`
pub struct Part {
    rooms: Vec<String>,
    reason: Option<String>,
}

impl Part {
    /// Needs at least one room (461 otherwise).
    pub fn parse_frames(msg: &Message) -> Result<Part, Reject> {
        let list = required(msg, 0, "PART <#room>[,<#room>...] [reason]")?;
        Ok(Part {
            rooms: super::comma_list(list),
            reason: msg.params.get(1).filter(|r| !r.is_empty()).cloned(),
        })
    }

    /// Leaves each room, announced to its members; 403 or 442 when that is not possible.
    pub fn apply(self, s: &mut Session) -> Flow {
        for requested in &self.rooms {
            let result = canonical_room(requested)
                .map_err(|_| RoomError::NoSuchRoom)
                .and_then(|name| s.ctx.state.part(s.id, &name, self.reason.as_deref()));
            if let Err(e) = result {
                super::room_error(s, requested, &e);
            }
        }
        Flow::Continue
    }
}
