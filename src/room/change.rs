//! Applying a MODE line to a room: permissions, parameters checked, lists and ranks
//! changed, and only the changes that changed something returned, to be echoed as one line.

use super::{Actor, ListEntry, MAX_LIMIT, Room, mask, modes};
use crate::state::ClientId;
use modes::{MAX_LIST_ENTRIES, Mode, ModeChange, ModeClass};

/// What went wrong with one change of a MODE line; the command turns each into a numeric.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ModeError {
    /// 482: the actor is not a room operator.
    NotOp,
    /// 401: no such nick for `+o`/`+v`.
    NoSuchNick(String),
    /// 441: that nick is not in the room.
    NotInRoom(String),
    /// 696: the parameter is not valid for the mode.
    InvalidParam {
        letter: char,
        param: String,
        why: String,
    },
    /// 478: the list is full.
    ListFull(char, String),
}

/// The result of applying a MODE line: what changed (one MODE line to the room), what
/// failed, and which lists the actor asked to see.
#[derive(Debug, Default)]
pub struct ModeOutcome {
    pub applied: Vec<ModeChange>,
    pub errors: Vec<ModeError>,
    pub lists: Vec<Mode>,
}

impl Room {
    /// Applies a parsed MODE line under the room's rules. `resolve` finds a nick's client
    /// and display spelling. Only changes that changed something are returned as applied.
    pub fn apply_modes(
        &mut self,
        actor: Actor,
        changes: Vec<ModeChange>,
        resolve: impl Fn(&str) -> Option<(ClientId, String)>,
        now: i64,
    ) -> ModeOutcome {
        let mut out = ModeOutcome::default();
        let allowed = self.can_moderate(actor);
        let refuse = |out: &mut ModeOutcome| {
            if !out.errors.contains(&ModeError::NotOp) {
                out.errors.push(ModeError::NotOp);
            }
        };
        for change in changes {
            if change.is_list_query() {
                if change.mode == Mode::Ban || allowed {
                    if !out.lists.contains(&change.mode) {
                        out.lists.push(change.mode);
                    }
                } else {
                    refuse(&mut out);
                }
                continue;
            }
            if !allowed {
                refuse(&mut out);
                continue;
            }
            if let Some(applied) = self.apply_one(actor, change, &resolve, now, &mut out.errors) {
                out.applied.push(applied);
            }
        }
        out
    }

    fn apply_one(
        &mut self,
        actor: Actor,
        change: ModeChange,
        resolve: &impl Fn(&str) -> Option<(ClientId, String)>,
        now: i64,
        errors: &mut Vec<ModeError>,
    ) -> Option<ModeChange> {
        let ModeChange { add, mode, arg } = change;
        let letter = mode.letter();
        let invalid = |param: &str, why: &str| ModeError::InvalidParam {
            letter,
            param: param.to_string(),
            why: why.to_string(),
        };
        let done = |arg: Option<String>| Some(ModeChange { add, mode, arg });
        match mode.def().class {
            ModeClass::Flag => {
                let flag = self.modes.flag_mut(mode)?;
                if *flag == add {
                    return None;
                }
                *flag = add;
                done(None)
            }
            ModeClass::Prefix => {
                let nick = arg?;
                let Some((id, display)) = resolve(&nick) else {
                    errors.push(ModeError::NoSuchNick(nick));
                    return None;
                };
                let Some(member) = self.members.get_mut(&id) else {
                    errors.push(ModeError::NotInRoom(display));
                    return None;
                };
                let rank = if mode == Mode::Op {
                    &mut member.op
                } else {
                    &mut member.voice
                };
                if *rank == add {
                    return None;
                }
                *rank = add;
                done(Some(display))
            }
            ModeClass::AlwaysParam => {
                if !add {
                    let old = self.modes.key.take()?;
                    return done(Some(arg.unwrap_or(old)));
                }
                let key = arg?;
                if !modes::valid_key(&key) {
                    errors.push(invalid(
                        &key,
                        &format!(
                            "A key is 1-{} characters without spaces or commas",
                            modes::MAX_KEY_BYTES
                        ),
                    ));
                    return None;
                }
                if self.modes.key.as_deref() == Some(key.as_str()) {
                    return None;
                }
                self.modes.key = Some(key.clone());
                done(Some(key))
            }
            ModeClass::ParamWhenSet if mode == Mode::Limit => {
                if !add {
                    self.modes.limit.take()?;
                    return done(None);
                }
                let text = arg?;
                match text.parse::<usize>() {
                    Ok(n) if (1..=MAX_LIMIT).contains(&n) => {
                        if self.modes.limit == Some(n) {
                            return None;
                        }
                        self.modes.limit = Some(n);
                        done(Some(n.to_string()))
                    }
                    _ => {
                        errors.push(invalid(
                            &text,
                            &format!("The limit is a whole number from 1 to {MAX_LIMIT}"),
                        ));
                        None
                    }
                }
            }
            ModeClass::ParamWhenSet => {
                if !add {
                    self.modes.idle_kick.take()?;
                    return done(None);
                }
                let text = arg?;
                let Some(d) = modes::parse_idle(&text) else {
                    errors.push(invalid(
                        &text,
                        "The idle time is minutes (5) or a number with s, m or h (90s, 2h), up to a week",
                    ));
                    return None;
                };
                if self.modes.idle_kick == Some(d) {
                    return None;
                }
                self.modes.idle_kick = Some(d);
                done(Some(modes::format_idle(d)))
            }
            ModeClass::List => {
                let raw = arg?;
                let typed = match mask::normalize(&raw) {
                    Ok(m) => m,
                    Err(e) if add => {
                        errors.push(invalid(&raw, &e.to_string()));
                        return None;
                    }
                    Err(_) => raw.clone(),
                };
                let list = self.list_mut(mode);
                let found = list
                    .iter()
                    .position(|e| e.mask.eq_ignore_ascii_case(&typed));
                if !add {
                    let entry = list.remove(found?);
                    return done(Some(entry.mask));
                }
                if found.is_some() {
                    return None;
                }
                if list.len() >= MAX_LIST_ENTRIES {
                    errors.push(ModeError::ListFull(letter, typed));
                    return None;
                }
                list.push(ListEntry {
                    mask: typed.clone(),
                    set_by: actor.mask.to_string(),
                    set_at: now,
                });
                done(Some(typed))
            }
        }
    }
}

/// Renders applied changes as one MODE line's mode string and parameters: `+kl-t key 10`.
pub fn render_changes(changes: &[ModeChange]) -> (String, Vec<String>) {
    let mut text = String::new();
    let mut params = Vec::new();
    let mut sign = None;
    for c in changes {
        if sign != Some(c.add) {
            text.push(if c.add { '+' } else { '-' });
            sign = Some(c.add);
        }
        text.push(c.mode.letter());
        params.extend(c.arg.clone());
    }
    (text, params)
}
