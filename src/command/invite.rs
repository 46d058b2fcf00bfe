//! INVITE: ask someone into a room; the invitation lets them past `+i`, `+k`, `+l` and
//! `+b` once (InspIRCd's default). With no parameters, lists your pending invitations.

use super::{Flow, Reject, required};
use crate::message::{Message, line};
use crate::names::canonical_room;
use crate::session::Session;
use crate::state::{Op, Outcome, RoomError};

/// `INVITE <nick> <#room>`, or `INVITE` alone for the list.
pub struct Invite {
    target: Option<(String, String)>,
}

impl Invite {
    /// Either no parameters or a nick and a room (461 otherwise).
    pub fn parse_frames(msg: &Message) -> Result<Invite, Reject> {
        if msg.params.is_empty() {
            return Ok(Invite { target: None });
        }
        let nick = required(msg, 0, "INVITE <nick> <#room>")?;
        let room = required(msg, 1, "INVITE <nick> <#room>")?;
        Ok(Invite {
            target: Some((nick.to_string(), room.to_string())),
        })
    }

    /// 341 to the inviter and the INVITE line to the invitee (301 too if away);
    /// 401, 403, 442, 482 or 443 when it cannot be done. The list: 336 each, then 337.
    pub async fn apply(self, s: &mut Session) -> Flow {
        let server = s.ctx.settings.server_name.clone();
        let Some((nick, room)) = self.target else {
            for room in s.ctx.state.invitations(s.id) {
                s.send(line(&server, "336", &[s.target(), &room], None));
            }
            s.numeric("337", &[], "End of /INVITE list");
            return Flow::Continue;
        };
        let result = match canonical_room(&room) {
            Err(_) => Err(RoomError::NoSuchRoom),
            Ok(name) => {
                let op = Op::Invite {
                    id: s.id,
                    nick: nick.clone(),
                    room: name,
                };
                match s.change(op).await {
                    Some(Outcome::Invite(result)) => result,
                    _ => return Flow::Continue,
                }
            }
        };
        match result {
            Ok((nick, room, away)) => {
                s.send(line(&server, "341", &[s.target(), &nick, &room], None));
                if let Some(away) = away {
                    s.numeric("301", &[&nick], &away);
                }
            }
            Err(RoomError::NoSuchNick) => s.numeric("401", &[&nick], "No such nick"),
            Err(e) => super::room_error(s, &room, &e),
        }
        Flow::Continue
    }
}
