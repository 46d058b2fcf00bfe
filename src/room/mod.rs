//! A room and its rules: who is in it with which rank, its modes and lists, and the one
//! place that decides who may join, speak, set the topic, invite, kick and change modes.
//!
//! Commands ask the room (through [`crate::state::State`], under its lock) instead of
//! re-implementing checks, the way ergo keeps them in `channel.go`.

mod change;
pub mod mask;
pub mod modes;

pub use change::{ModeError, ModeOutcome, render_changes};

use std::collections::BTreeMap;
use std::time::Instant;

use crate::state::ClientId;
use modes::{Mode, RoomModes};

/// Most pending invitations a room keeps (the oldest go first).
pub const MAX_INVITES: usize = 100;
/// Largest `+l` accepted.
pub const MAX_LIMIT: usize = 1_000_000;

/// A room's topic and who set it when.
#[derive(Debug, Clone)]
pub struct Topic {
    pub text: String,
    pub set_by: String,
    pub set_at: i64,
}

/// One member's standing in a room.
#[derive(Debug, Clone)]
pub struct Member {
    /// Room operator (`@`): may change modes, kick, invite, set a locked topic.
    pub op: bool,
    /// Voiced (`+`): may speak in a moderated room.
    pub voice: bool,
    /// When the member joined or last spoke in the room, for `+W`.
    pub last_active: Instant,
}

impl Member {
    /// The highest prefix, as NAMES and WHO show it without multi-prefix.
    pub fn prefix(&self) -> &'static str {
        if self.op {
            "@"
        } else if self.voice {
            "+"
        } else {
            ""
        }
    }

    /// Every prefix, highest first (`@+`): what clients with `multi-prefix` see.
    pub fn all_prefixes(&self) -> &'static str {
        match (self.op, self.voice) {
            (true, true) => "@+",
            (true, false) => "@",
            (false, true) => "+",
            (false, false) => "",
        }
    }

    /// The prefixes a client with `caps` is shown.
    pub fn prefixes_for(&self, caps: crate::caps::Caps) -> &'static str {
        if caps.has(crate::caps::Cap::MultiPrefix) {
            self.all_prefixes()
        } else {
            self.prefix()
        }
    }
}

/// An entry of a ban, ban-exception or invite-exception list (367/348/346 show all three).
#[derive(Debug, Clone)]
pub struct ListEntry {
    pub mask: String,
    pub set_by: String,
    pub set_at: i64,
}

/// Who is acting on a room.
#[derive(Debug, Clone, Copy)]
pub struct Actor<'a> {
    pub id: ClientId,
    /// `nick!user@host`, matched against the lists and recorded as the setter.
    pub mask: &'a str,
    /// A server operator (user mode `+o`) acts as a room operator everywhere.
    pub oper: bool,
}

/// Why a JOIN was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JoinRefusal {
    Full,
    InviteOnly,
    Banned,
    BadKey,
}

impl JoinRefusal {
    /// The numeric and its text.
    pub fn reply(self) -> (&'static str, &'static str) {
        match self {
            JoinRefusal::Full => ("471", "Cannot join room (+l): the room is full"),
            JoinRefusal::InviteOnly => ("473", "Cannot join room (+i): you must be invited"),
            JoinRefusal::Banned => ("474", "Cannot join room (+b): you are banned"),
            JoinRefusal::BadKey => (
                "475",
                "Cannot join room (+k): wrong or missing key (JOIN #room key)",
            ),
        }
    }
}

/// Why a message to a room was refused (all answered with 404).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SpeakRefusal {
    NotMember,
    Moderated,
    Banned,
}

impl SpeakRefusal {
    /// ERR_CANNOTSENDTOCHAN's text.
    pub fn text(self) -> &'static str {
        match self {
            SpeakRefusal::NotMember => "Cannot send to room: you are not in it (+n; JOIN it first)",
            SpeakRefusal::Moderated => {
                "Cannot send to room (+m): only operators and voiced members may speak"
            }
            SpeakRefusal::Banned => "Cannot send to room (+b): you are banned",
        }
    }
}

/// A room: it exists while it has members.
#[derive(Debug)]
pub struct Room {
    /// Display name with `#`, as its creator typed it.
    pub name: String,
    pub topic: Option<Topic>,
    pub members: BTreeMap<ClientId, Member>,
    /// Unix time the room was created (RPL_CREATIONTIME).
    pub created: i64,
    pub modes: RoomModes,
    pub bans: Vec<ListEntry>,
    pub excepts: Vec<ListEntry>,
    pub invex: Vec<ListEntry>,
    /// Clients invited with INVITE who have not joined yet.
    pub invited: Vec<ClientId>,
    /// Archived time (ms) of the last room message delivered to the members: a joiner's
    /// replay is the archive up to here, and everything later reaches it live, so nothing
    /// is shown twice or missed (the archive delivers a room's rows in time order).
    pub last_delivered_ms: Option<i64>,
}

impl Room {
    /// A new, empty room with the default modes (`+nt`).
    pub fn new(name: &str, now: i64) -> Room {
        Room {
            name: name.to_string(),
            topic: None,
            members: BTreeMap::new(),
            created: now,
            modes: RoomModes::default(),
            bans: Vec::new(),
            excepts: Vec::new(),
            invex: Vec::new(),
            invited: Vec::new(),
            last_delivered_ms: None,
        }
    }

    /// Whether `id` is a room operator.
    pub fn is_op(&self, id: ClientId) -> bool {
        self.members.get(&id).is_some_and(|m| m.op)
    }

    /// Whether the actor may do what room operators do here.
    pub fn can_moderate(&self, actor: Actor) -> bool {
        actor.oper || self.is_op(actor.id)
    }

    /// Whether a member may see what only members see (the key, a secret room).
    pub fn is_member(&self, id: ClientId) -> bool {
        self.members.contains_key(&id)
    }

    fn listed(list: &[ListEntry], mask: &str) -> bool {
        list.iter().any(|e| mask::matches(&e.mask, mask))
    }

    /// Banned: a ban matches and no ban exception does.
    pub fn is_banned(&self, mask: &str) -> bool {
        Room::listed(&self.bans, mask) && !Room::listed(&self.excepts, mask)
    }

    /// Whether a client may join: an invitation passes +i, +k, +l and +b (InspIRCd's
    /// `invitebypassmodes`); a +I mask passes +i and +k.
    pub fn admit(&self, id: ClientId, mask: &str, key: Option<&str>) -> Result<(), JoinRefusal> {
        if self.invited.contains(&id) {
            return Ok(());
        }
        let invex = Room::listed(&self.invex, mask);
        if self.is_banned(mask) {
            return Err(JoinRefusal::Banned);
        }
        if self.modes.invite_only && !invex {
            return Err(JoinRefusal::InviteOnly);
        }
        if let Some(k) = &self.modes.key
            && key != Some(k.as_str())
            && !invex
        {
            return Err(JoinRefusal::BadKey);
        }
        if self.modes.limit.is_some_and(|l| self.members.len() >= l) {
            return Err(JoinRefusal::Full);
        }
        Ok(())
    }

    /// Adds a member (the first one becomes operator) and uses up its invitation.
    pub fn add_member(&mut self, id: ClientId, now: Instant) {
        let op = self.members.is_empty();
        self.members.insert(
            id,
            Member {
                op,
                voice: false,
                last_active: now,
            },
        );
        self.invited.retain(|i| *i != id);
    }

    /// Records an invitation, forgetting the oldest past [`MAX_INVITES`].
    pub fn invite(&mut self, id: ClientId) {
        if self.invited.contains(&id) {
            return;
        }
        if self.invited.len() >= MAX_INVITES {
            self.invited.remove(0);
        }
        self.invited.push(id);
    }

    /// Whether `id` (with mask `mask`) may send to the room: +n, +m and +b as InspIRCd does
    /// (operators and voiced members speak even when a ban matches).
    pub fn may_speak(&self, id: ClientId, mask: &str) -> Result<(), SpeakRefusal> {
        let Some(member) = self.members.get(&id) else {
            if self.modes.no_external {
                return Err(SpeakRefusal::NotMember);
            }
            if self.modes.moderated {
                return Err(SpeakRefusal::Moderated);
            }
            if self.is_banned(mask) {
                return Err(SpeakRefusal::Banned);
            }
            return Ok(());
        };
        if member.op || member.voice {
            return Ok(());
        }
        if self.modes.moderated {
            return Err(SpeakRefusal::Moderated);
        }
        if self.is_banned(mask) {
            return Err(SpeakRefusal::Banned);
        }
        Ok(())
    }

    /// Whether the actor may set the topic: any member unless +t, then operators.
    /// `Err(true)` means not a member (442), `Err(false)` not an operator (482).
    pub fn may_set_topic(&self, actor: Actor) -> Result<(), bool> {
        if actor.oper {
            return Ok(());
        }
        match self.members.get(&actor.id) {
            None => Err(true),
            Some(m) if self.modes.topic_lock && !m.op => Err(false),
            Some(_) => Ok(()),
        }
    }

    /// The list a list mode keeps.
    pub fn list(&self, mode: Mode) -> &[ListEntry] {
        match mode {
            Mode::BanExcept => &self.excepts,
            Mode::InviteExcept => &self.invex,
            _ => &self.bans,
        }
    }

    fn list_mut(&mut self, mode: Mode) -> &mut Vec<ListEntry> {
        match mode {
            Mode::BanExcept => &mut self.excepts,
            Mode::InviteExcept => &mut self.invex,
            _ => &mut self.bans,
        }
    }

    /// Members idle past the room's `+W` time (operators are exempt).
    pub fn idle_members(&self, now: Instant) -> Vec<ClientId> {
        let Some(limit) = self.modes.idle_kick else {
            return Vec::new();
        };
        self.members
            .iter()
            .filter(|(_, m)| !m.op && now.saturating_duration_since(m.last_active) >= limit)
            .map(|(id, _)| *id)
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use modes::parse_changes;

    fn actor(id: ClientId) -> Actor<'static> {
        Actor {
            id,
            mask: "op!op@h",
            oper: false,
        }
    }

    fn apply(room: &mut Room, who: ClientId, line: &[&str]) -> ModeOutcome {
        let args: Vec<String> = line[1..].iter().map(|s| s.to_string()).collect();
        let (changes, _) = parse_changes(line[0], &args);
        let resolve = |n: &str| match n {
            "bob" => Some((2, "bob".to_string())),
            "carl" => Some((3, "carl".to_string())),
            _ => None,
        };
        room.apply_modes(actor(who), changes, resolve, 0)
    }

    fn room_with_op_and_bob() -> Room {
        let mut r = Room::new("#r", 0);
        let now = Instant::now();
        r.add_member(1, now);
        r.add_member(2, now);
        r
    }

    #[test]
    fn the_first_member_is_operator_and_only_operators_change_modes() {
        let mut r = room_with_op_and_bob();
        assert!(r.is_op(1) && !r.is_op(2));
        let out = apply(&mut r, 2, &["+i"]);
        assert_eq!(out.errors, vec![ModeError::NotOp]);
        assert!(!r.modes.invite_only);
        let out = apply(&mut r, 1, &["+kl-t", "key", "10"]);
        assert!(out.errors.is_empty());
        assert_eq!(
            render_changes(&out.applied),
            ("+kl-t".to_string(), vec!["key".into(), "10".into()])
        );
        // Repeating changes nothing, so nothing is echoed.
        assert!(apply(&mut r, 1, &["+kl-t", "key", "10"]).applied.is_empty());
    }

    #[test]
    fn prefix_modes_name_members() {
        let mut r = room_with_op_and_bob();
        let out = apply(&mut r, 1, &["+ov", "bob", "carl"]);
        assert_eq!(render_changes(&out.applied).0, "+o");
        assert_eq!(out.errors, vec![ModeError::NotInRoom("carl".into())]);
        let out = apply(&mut r, 1, &["+v", "nobody"]);
        assert_eq!(out.errors, vec![ModeError::NoSuchNick("nobody".into())]);
        assert!(r.is_op(2));
    }

    #[test]
    fn join_rules() {
        let mut r = room_with_op_and_bob();
        apply(&mut r, 1, &["+kl", "sesame", "2"]);
        assert_eq!(r.admit(3, "c!c@h", Some("sesame")), Err(JoinRefusal::Full));
        apply(&mut r, 1, &["+l", "5"]);
        assert_eq!(r.admit(3, "c!c@h", None), Err(JoinRefusal::BadKey));
        assert_eq!(r.admit(3, "c!c@h", Some("sesame")), Ok(()));
        apply(&mut r, 1, &["+b", "c"]);
        assert_eq!(r.bans[0].mask, "c!*@*");
        assert_eq!(
            r.admit(3, "c!c@h", Some("sesame")),
            Err(JoinRefusal::Banned)
        );
        apply(&mut r, 1, &["+e", "*!*@h"]);
        assert_eq!(r.admit(3, "c!c@h", Some("sesame")), Ok(()));
        apply(&mut r, 1, &["+i"]);
        assert_eq!(
            r.admit(3, "c!c@h", Some("sesame")),
            Err(JoinRefusal::InviteOnly)
        );
        r.invite(3);
        assert_eq!(r.admit(3, "c!c@h", None), Ok(()));
        r.add_member(3, Instant::now());
        assert!(r.invited.is_empty() && !r.is_op(3));
    }

    #[test]
    fn speaking_rules() {
        let mut r = room_with_op_and_bob();
        assert_eq!(r.may_speak(9, "x!x@h"), Err(SpeakRefusal::NotMember));
        apply(&mut r, 1, &["+mb", "bob"]);
        assert_eq!(r.may_speak(2, "bob!b@h"), Err(SpeakRefusal::Moderated));
        assert_eq!(r.may_speak(1, "op!op@h"), Ok(()));
        apply(&mut r, 1, &["-m"]);
        assert_eq!(r.may_speak(2, "bob!b@h"), Err(SpeakRefusal::Banned));
        apply(&mut r, 1, &["+v", "bob"]);
        assert_eq!(r.may_speak(2, "bob!b@h"), Ok(()));
    }

    #[test]
    fn bad_parameters_are_reported() {
        let mut r = room_with_op_and_bob();
        let out = apply(&mut r, 1, &["+lW", "many", "soon"]);
        assert!(out.applied.is_empty());
        assert!(matches!(
            &out.errors[..],
            [
                ModeError::InvalidParam { letter: 'l', .. },
                ModeError::InvalidParam { letter: 'W', .. }
            ]
        ));
        let out = apply(&mut r, 2, &["b"]);
        assert_eq!(out.lists, vec![Mode::Ban]);
        let out = apply(&mut r, 2, &["e"]);
        assert_eq!(out.errors, vec![ModeError::NotOp]);
    }
}
