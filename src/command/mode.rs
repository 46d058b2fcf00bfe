//! MODE: a room's modes (query, change, ban/exception/invite-exception lists) and a
//! client's own user modes. The rules live with the room ([`crate::room`]); this module
//! only reads the line and turns the outcome into replies.

use super::{Flow, Reject, required};
use crate::message::{Message, line};
use crate::names::canonical_room;
use crate::room::ModeError;
use crate::room::modes::{Mode as RoomMode, ParseIssue, parse_changes};
use crate::session::Session;
use crate::state::{ModesChanged, Op, Outcome};

/// `MODE <room|nick> [changes] [parameters...]`
pub struct Mode {
    target: String,
    change: Option<String>,
    args: Vec<String>,
}

impl Mode {
    /// Needs a target (461 otherwise).
    pub fn parse_frames(msg: &Message) -> Result<Mode, Reject> {
        Ok(Mode {
            target: required(msg, 0, "MODE <#room|nick> [+-modes] [parameters]")?.to_string(),
            change: msg.params.get(1).cloned(),
            args: msg.params.iter().skip(2).cloned().collect(),
        })
    }

    /// Rooms: 324/329, lists, or changes echoed to the room as one MODE line. Nicks: 221 or
    /// the applied change; 502 for someone else's modes.
    pub async fn apply(self, s: &mut Session) -> Flow {
        if self.target.starts_with('#') || s.ctx.state.find_nick(&self.target).is_none() {
            self.room(s).await;
        } else {
            self.user(s).await;
        }
        Flow::Continue
    }

    async fn room(self, s: &Session) {
        let Ok(name) = canonical_room(&self.target) else {
            s.numeric("403", &[&self.target], "No such room");
            return;
        };
        let server = s.ctx.settings.server_name.clone();
        let Some(modestring) = self.change.as_deref().filter(|m| !m.is_empty()) else {
            match s.ctx.state.room_modes(s.id, &name) {
                Ok((room, modes, params, created)) => {
                    let mut middle = vec![s.target(), &room, &modes];
                    middle.extend(params.iter().map(String::as_str));
                    s.send(line(&server, "324", &middle, None));
                    let created = created.to_string();
                    s.send(line(&server, "329", &[s.target(), &room, &created], None));
                }
                Err(e) => super::room_error(s, &self.target, &e),
            }
            return;
        };
        let (changes, issues) = parse_changes(modestring, &self.args);
        for issue in &issues {
            match issue {
                ParseIssue::Unknown(c) => s.numeric(
                    "472",
                    &[&c.to_string()],
                    "is an unknown mode character to me (HELP MODE lists them)",
                ),
                ParseIssue::MissingParam(c) => s.numeric(
                    "461",
                    &["MODE"],
                    &format!("Not enough parameters: mode {c} needs a parameter"),
                ),
            }
        }
        if changes.is_empty() {
            return;
        }
        let op = Op::RoomModes {
            id: s.id,
            room: name.clone(),
            changes,
        };
        let ModesChanged {
            room,
            outcome,
            lists,
        } = match s.change(op).await {
            Some(Outcome::Modes(Ok(done))) => done,
            Some(Outcome::Modes(Err(e))) => return super::room_error(s, &self.target, &e),
            _ => return,
        };
        for error in &outcome.errors {
            match error {
                ModeError::NotOp => s.numeric(
                    "482",
                    &[&room],
                    "You're not a room operator: only operators change its modes",
                ),
                ModeError::NoSuchNick(nick) => s.numeric("401", &[nick], "No such nick"),
                ModeError::NotInRoom(nick) => {
                    s.numeric("441", &[nick, &room], "They aren't in that room")
                }
                ModeError::InvalidParam { letter, param, why } => {
                    // A rejected key is never repeated back.
                    let shown = if *letter == 'k' { "*" } else { param.as_str() };
                    s.numeric("696", &[&room, &letter.to_string(), shown], why);
                }
                ModeError::ListFull(letter, mask) => s.numeric(
                    "478",
                    &[&room, mask],
                    &format!("The room's +{letter} list is full"),
                ),
            }
        }
        for (mode, entries) in lists {
            let (item, end, what) = match mode {
                RoomMode::BanExcept => ("348", "349", "ban exception"),
                RoomMode::InviteExcept => ("346", "347", "invite exception"),
                _ => ("367", "368", "ban"),
            };
            for e in entries {
                let at = e.set_at.to_string();
                s.send(line(
                    &server,
                    item,
                    &[s.target(), &room, &e.mask, &e.set_by, &at],
                    None,
                ));
            }
            s.numeric(end, &[&room], &format!("End of room {what} list"));
        }
    }

    async fn user(self, s: &mut Session) {
        if !self.target.eq_ignore_ascii_case(s.target()) {
            s.numeric("502", &[], "Can't change mode for other users");
            return;
        }
        let Some(change) = &self.change else {
            let modes = s
                .ctx
                .state
                .with_client(s.id, |c| c.modes.describe())
                .unwrap_or_default();
            s.numeric("221", &[], &modes);
            return;
        };
        let mut add = true;
        let mut changes = Vec::new();
        let mut unknown = false;
        for c in change.chars() {
            match c {
                '+' => add = true,
                '-' => add = false,
                // +o comes only from OPER; asking for it is silently ignored, as on ircd.
                'i' | 'w' | 'o' | 'B' => changes.push((add, c)),
                _ => unknown = true,
            }
        }
        let op = Op::UserModes { id: s.id, changes };
        let Some(Outcome::UserModes(applied)) = s.change(op).await else {
            return;
        };
        let mut adding = true;
        for c in applied.chars() {
            match c {
                '+' => adding = true,
                '-' => adding = false,
                'B' => s.bot = adding,
                _ => {}
            }
        }
        if !applied.is_empty() {
            s.send(line(&s.prefix(), "MODE", &[s.target()], Some(&applied)));
        }
        if unknown {
            s.numeric(
                "501",
                &[],
                "Unknown user mode: the user modes are B, i, w and o",
            );
        }
    }
}
