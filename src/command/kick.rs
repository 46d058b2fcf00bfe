//! KICK: a room operator removes members from a room, with a reason everyone sees.

use super::{Flow, Reject, required};
use crate::message::Message;
use crate::names::canonical_room;
use crate::session::Session;
use crate::state::{Op, Outcome, RoomError};

/// Most nicks kicked by one KICK line (ISUPPORT `TARGMAX=KICK:4`); more are ignored.
pub const MAX_KICK_TARGETS: usize = 4;
/// Longest kick reason kept, in bytes (ISUPPORT KICKLEN).
pub const KICK_LEN: usize = 255;

/// `KICK <#room>[,<#room>...] <nick>[,<nick>...] [reason]`: one room and several nicks, or
/// as many rooms as nicks, paired in order (RFC 2812).
pub struct Kick {
    pairs: Vec<(String, String)>,
    reason: Option<String>,
}

impl Kick {
    /// Needs a room and a nick (461 otherwise).
    pub fn parse_frames(msg: &Message) -> Result<Kick, Reject> {
        const USAGE: &str = "KICK <#room> <nick>[,<nick>...] [reason]";
        let rooms = super::comma_list(required(msg, 0, USAGE)?);
        let nicks = super::comma_list(required(msg, 1, USAGE)?);
        let pairs: Vec<(String, String)> = match rooms.len() {
            1 => nicks
                .iter()
                .map(|n| (rooms[0].clone(), n.clone()))
                .collect(),
            n if n == nicks.len() => rooms.into_iter().zip(nicks).collect(),
            _ => return Err(Reject::need_more_params("KICK", USAGE)),
        };
        let mut reason = msg.params.get(2).filter(|r| !r.is_empty()).cloned();
        if let Some(r) = reason.as_mut() {
            crate::message::truncate_to(r, KICK_LEN);
        }
        Ok(Kick {
            pairs: pairs.into_iter().take(MAX_KICK_TARGETS).collect(),
            reason,
        })
    }

    /// Kicks each nick, one KICK line per nick to the room; the default reason is the
    /// kicker's nick (RFC 2812). 403, 442, 482, 401 or 441 when it cannot be done.
    pub async fn apply(self, s: &mut Session) -> Flow {
        let reason = self.reason.unwrap_or_else(|| s.target().to_string());
        s.charge_targets(self.pairs.len());
        for (room, nick) in &self.pairs {
            let result = match canonical_room(room) {
                Err(_) => Err(RoomError::NoSuchRoom),
                Ok(name) => {
                    let op = Op::Kick {
                        id: s.id,
                        room: name,
                        nick: nick.clone(),
                        reason: reason.clone(),
                    };
                    match s.change(op).await {
                        Some(Outcome::Kick(result)) => result,
                        _ => continue,
                    }
                }
            };
            match result {
                Ok(_) => {}
                Err(RoomError::NoSuchNick) => s.numeric("401", &[nick], "No such nick"),
                Err(e) => super::room_error(s, room, &e),
            }
        }
        Flow::Continue
    }
}
