//! PART: leave one or more rooms, with an optional reason.

use super::{Flow, Reject, required};
use crate::message::Message;
use crate::names::canonical_room;
use crate::session::Session;
use crate::state::{Op, Outcome, RoomError};

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
    pub async fn apply(self, s: &mut Session) -> Flow {
        for requested in &self.rooms {
            let result = match canonical_room(requested) {
                Err(_) => Err(RoomError::NoSuchRoom),
                Ok(name) => match leave(s, name, self.reason.clone()).await {
                    Some(result) => result,
                    None => continue,
                },
            };
            if let Err(e) = result {
                super::room_error(s, requested, &e);
            }
        }
        Flow::Continue
    }
}

/// Leaves one room (PART, `JOIN 0`); `None` if the network could not take it.
pub async fn leave(
    s: &Session,
    room: String,
    reason: Option<String>,
) -> Option<Result<(), RoomError>> {
    match s
        .change(Op::Part {
            id: s.id,
            room,
            reason,
        })
        .await
    {
        Some(Outcome::Room(result)) => Some(result),
        _ => None,
    }
}
