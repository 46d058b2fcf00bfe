//! Room operations on the shared state: JOIN, PART, KICK, INVITE, TOPIC, MODE, NAMES,
//! LIST and the idle sweep. Each asks the [`Room`] for its rules and announces what
//! happened to the room's members under the same lock, so everyone sees one order.

use std::time::Instant;

use super::{Client, ClientId, Inner, State, send_all, send_capable};
use crate::caps::Cap;
use crate::message::line;
use crate::names::room_key;
use crate::relay::Relay;
use crate::room::modes::{Mode, ModeChange};
use crate::room::{Actor, JoinRefusal, ListEntry, ModeOutcome, Room, SpeakRefusal, Topic};

/// What a joiner needs to see after joining.
pub struct Joined {
    pub room: String,
    pub topic: Option<Topic>,
    /// NAMES' channel symbol: `=` public, `@` secret.
    pub symbol: &'static str,
    /// Member nicks with their prefix (`@alice`).
    pub names: Vec<String>,
    /// The replay's end: archived messages up to this time (ms) were delivered before the
    /// join, later ones reach the joiner live. `None` for a room with no delivery yet.
    pub history_until: Option<i64>,
}

/// What a MODE line on a room did: the room's display name, the outcome, and the lists
/// (with their entries) the client asked to see.
pub struct ModesChanged {
    pub room: String,
    pub outcome: ModeOutcome,
    pub lists: Vec<(Mode, Vec<ListEntry>)>,
}

/// One row of LIST.
pub struct RoomSummary {
    pub name: String,
    pub members: usize,
    pub topic: String,
}

/// Why a room operation was refused; commands turn each into its numeric.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RoomError {
    /// 403
    NoSuchRoom,
    /// 442: the actor is not in the room.
    NotInRoom,
    /// 482
    NotOp,
    /// 401
    NoSuchNick,
    /// 441: the target is not in the room.
    TargetNotInRoom(String),
    /// 443: the target is already in the room.
    TargetInRoom(String),
    /// 471/473/474/475
    Refused(JoinRefusal),
    /// 404
    CannotSend(SpeakRefusal),
    /// 405: the client is in as many rooms as CHANLIMIT allows.
    TooManyRooms,
}

impl Inner {
    fn actor<'a>(&self, id: ClientId, mask: &'a str) -> Actor<'a> {
        Actor {
            id,
            mask,
            oper: self
                .clients
                .get(&id)
                .is_some_and(|c| c.modes.oper.is_some()),
        }
    }

    fn prefix_of(&self, id: ClientId) -> String {
        self.clients
            .get(&id)
            .map(Client::prefix)
            .unwrap_or_default()
    }

    /// Member nicks with prefixes as `viewer`'s capabilities ask (all prefixes with
    /// multi-prefix, `nick!user@host` with userhost-in-names); invisible members are left
    /// out for outsiders.
    fn member_names(&self, room: &Room, viewer: ClientId) -> Vec<String> {
        let inside = room.is_member(viewer);
        let caps = self
            .clients
            .get(&viewer)
            .map(|c| c.caps)
            .unwrap_or_default();
        let full = caps.has(Cap::UserhostInNames);
        room.members
            .iter()
            .filter_map(|(id, m)| {
                let c = self.clients.get(id)?;
                if !inside && c.modes.invisible {
                    return None;
                }
                let who = if full {
                    c.prefix()
                } else {
                    c.nick.clone().unwrap_or_else(|| "*".into())
                };
                Some(format!("{}{who}", m.prefixes_for(caps)))
            })
            .collect()
    }

    fn room_for(&self, name: &str) -> Result<&Room, RoomError> {
        self.rooms.get(&room_key(name)).ok_or(RoomError::NoSuchRoom)
    }
}

fn symbol(room: &Room) -> &'static str {
    if room.modes.secret { "@" } else { "=" }
}

impl State {
    /// Joins a room (creating it, with the joiner as operator) if its rules allow,
    /// announcing the JOIN to its members and the joiner. `Ok(None)` if already a member.
    pub fn join(
        &self,
        id: ClientId,
        name: &str,
        key: Option<&str>,
        max_rooms: usize,
    ) -> Result<Option<Joined>, RoomError> {
        let mut inner = self.lock();
        let key_name = room_key(name);
        let client = inner.clients.get(&id).ok_or(RoomError::NoSuchNick)?;
        let mask = client.prefix();
        if client.rooms.contains(&key_name) {
            return Ok(None);
        }
        if client.rooms.len() >= max_rooms {
            return Err(RoomError::TooManyRooms);
        }
        let now = chrono::Utc::now().timestamp();
        if let Some(room) = inner.rooms.get(&key_name) {
            room.admit(id, &mask, key).map_err(RoomError::Refused)?;
        }
        let room = inner.rooms.entry(key_name.clone()).or_insert_with(|| {
            // What the archive holds for a new room was said before it existed.
            let mut room = Room::new(name, now);
            room.last_delivered_ms = Some(chrono::Utc::now().timestamp_millis());
            room
        });
        room.add_member(id, Instant::now());
        if let Some(c) = inner.clients.get_mut(&id) {
            c.rooms.insert(key_name.clone());
        }
        let room = &inner.rooms[&key_name];
        let joiner = &inner.clients[&id];
        let plain = Relay::new(line(&mask, "JOIN", &[&room.name], None));
        // extended-join: `JOIN #room <account> :<realname>`; no accounts here, so `*`.
        let extended = Relay::new(line(
            &mask,
            "JOIN",
            &[&room.name, "*"],
            Some(&joiner.realname),
        ));
        for member in room.members.keys() {
            if let Some(c) = inner.clients.get(member) {
                let msg = if c.caps.has(Cap::ExtendedJoin) {
                    &extended
                } else {
                    &plain
                };
                c.outbox.send(msg.for_caps(c.caps));
            }
        }
        if let Some(away) = &joiner.away {
            let msg = Relay::new(line(&mask, "AWAY", &[], Some(away)));
            let others = room.members.keys().filter(|m| **m != id);
            send_capable(&inner.clients, others, Cap::AwayNotify, &msg);
        }
        Ok(Some(Joined {
            room: room.name.clone(),
            topic: room.topic.clone(),
            symbol: symbol(room),
            names: inner.member_names(room, id),
            history_until: room.last_delivered_ms,
        }))
    }

    /// Leaves a room, announcing the PART to its members including the leaver.
    pub fn part(&self, id: ClientId, name: &str, reason: Option<&str>) -> Result<(), RoomError> {
        let mut inner = self.lock();
        let key = room_key(name);
        let room = inner.room_for(name)?;
        if !room.is_member(id) {
            return Err(RoomError::NotInRoom);
        }
        let msg = Relay::new(line(&inner.prefix_of(id), "PART", &[&room.name], reason));
        send_all(&inner.clients, room.members.keys(), &msg);
        inner.leave_room(id, &key);
        Ok(())
    }

    /// Removes `target` from a room on an operator's word, announced to every member
    /// (the kicked one included). Returns the room's display name.
    pub fn kick(
        &self,
        id: ClientId,
        name: &str,
        target: &str,
        reason: &str,
    ) -> Result<String, RoomError> {
        let mut inner = self.lock();
        let key = room_key(name);
        let mask = inner.prefix_of(id);
        let room = inner.room_for(name)?;
        let actor = inner.actor(id, &mask);
        if !room.is_member(id) && !actor.oper {
            return Err(RoomError::NotInRoom);
        }
        if !room.can_moderate(actor) {
            return Err(RoomError::NotOp);
        }
        let (target_id, target_client) = inner.registered(target).ok_or(RoomError::NoSuchNick)?;
        let target_nick = target_client.nick.clone().unwrap_or_default();
        if !room.is_member(target_id) {
            return Err(RoomError::TargetNotInRoom(target_nick));
        }
        let msg = Relay::new(line(
            &mask,
            "KICK",
            &[&room.name, &target_nick],
            Some(reason),
        ));
        send_all(&inner.clients, room.members.keys(), &msg);
        let display = room.name.clone();
        inner.leave_room(target_id, &key);
        Ok(display)
    }

    /// Invites `target` to a room: only members may invite, only operators when the room
    /// is `+i`. Sends the INVITE line to the target; returns its nick and away message.
    pub fn invite(
        &self,
        id: ClientId,
        target: &str,
        name: &str,
    ) -> Result<(String, String, Option<String>), RoomError> {
        let mut inner = self.lock();
        let mask = inner.prefix_of(id);
        let (target_id, target_client) = inner.registered(target).ok_or(RoomError::NoSuchNick)?;
        let target_nick = target_client.nick.clone().unwrap_or_default();
        let away = target_client.away.clone();
        let room = inner.room_for(name)?;
        let actor = inner.actor(id, &mask);
        if !room.is_member(id) && !actor.oper {
            return Err(RoomError::NotInRoom);
        }
        if room.modes.invite_only && !room.can_moderate(actor) {
            return Err(RoomError::NotOp);
        }
        if room.is_member(target_id) {
            return Err(RoomError::TargetInRoom(target_nick));
        }
        let display = room.name.clone();
        let msg = Relay::new(line(&mask, "INVITE", &[&target_nick, &display], None));
        let target_caps = inner.clients[&target_id].caps;
        inner.clients[&target_id]
            .outbox
            .send(msg.for_caps(target_caps));
        // invite-notify: members who enabled it and could invite too (everyone, or only
        // operators in a +i room, as ergo does) see the INVITE.
        let watchers = room
            .members
            .iter()
            .filter(|(m, member)| **m != id && (!room.modes.invite_only || member.op));
        send_capable(
            &inner.clients,
            watchers.map(|(m, _)| m),
            Cap::InviteNotify,
            &msg,
        );
        if let Some(room) = inner.rooms.get_mut(&room_key(name)) {
            room.invite(target_id);
        }
        Ok((target_nick, display, away))
    }

    /// The rooms a client has pending invitations to (INVITE with no parameters).
    pub fn invitations(&self, id: ClientId) -> Vec<String> {
        let inner = self.lock();
        let mut rooms: Vec<String> = inner
            .rooms
            .values()
            .filter(|r| r.invited.contains(&id))
            .map(|r| r.name.clone())
            .collect();
        rooms.sort();
        rooms
    }

    /// Checks that `id` (whose `nick!user@host` is `mask`) may send to a room, noting the
    /// activity for `+W`; returns the room's display name. The caller passes the mask it
    /// already built, so the per-message path formats it once.
    pub fn speak_in(&self, id: ClientId, mask: &str, name: &str) -> Result<String, RoomError> {
        let mut inner = self.lock();
        let room = inner
            .rooms
            .get_mut(&room_key(name))
            .ok_or(RoomError::NoSuchRoom)?;
        room.may_speak(id, mask).map_err(RoomError::CannotSend)?;
        if let Some(m) = room.members.get_mut(&id) {
            m.last_active = Instant::now();
        }
        Ok(room.name.clone())
    }

    /// The display name of a room `id` is a member of.
    pub fn member_room(&self, id: ClientId, name: &str) -> Result<String, RoomError> {
        let inner = self.lock();
        let room = inner.room_for(name)?;
        if !room.is_member(id) {
            return Err(RoomError::NotInRoom);
        }
        Ok(room.name.clone())
    }

    /// Delivers an archived room message (archived at `millis`) to every member except the
    /// sender, and notes it as the room's last delivered message (see [`Joined`]). `key`
    /// is the room's [`room_key`], which the archive writer already made.
    pub fn deliver_archived(&self, key: &str, msg: &Relay, except: ClientId, millis: i64) {
        let mut inner = self.lock();
        let inner = &mut *inner;
        if let Some(room) = inner.rooms.get_mut(key) {
            room.last_delivered_ms = Some(millis);
            send_all(
                &inner.clients,
                room.members.keys().filter(|m| **m != except),
                msg,
            );
        }
    }

    /// Sends `msg` to every current member of a room except `except` (only to those that
    /// enabled `needs`, when given: TAGMSG goes to message-tags clients only).
    pub fn deliver_to_room(&self, name: &str, msg: &Relay, except: ClientId, needs: Option<Cap>) {
        let inner = self.lock();
        if let Some(room) = inner.rooms.get(&room_key(name)) {
            let others = room.members.keys().filter(|m| **m != except);
            match needs {
                Some(cap) => send_capable(&inner.clients, others, cap, msg),
                None => send_all(&inner.clients, others, msg),
            }
        }
    }

    /// Sends a STATUSMSG (`PRIVMSG @#room`) to the room's operators, or with `voiced` to
    /// its operators and voiced members, except `except`.
    pub fn deliver_to_rank(&self, name: &str, voiced: bool, msg: &Relay, except: ClientId) {
        let inner = self.lock();
        if let Some(room) = inner.rooms.get(&room_key(name)) {
            let ranked = room
                .members
                .iter()
                .filter(|(id, m)| **id != except && (m.op || (voiced && m.voice)))
                .map(|(id, _)| id);
            send_all(&inner.clients, ranked, msg);
        }
    }

    /// Display name, NAMES symbol and member nicks (with prefixes) of a room, as `viewer`
    /// may see them: a secret room is invisible to outsiders.
    pub fn names(
        &self,
        viewer: ClientId,
        name: &str,
    ) -> Option<(String, &'static str, Vec<String>)> {
        let inner = self.lock();
        let room = inner.room_for(name).ok()?;
        if room.modes.secret && !room.is_member(viewer) {
            return None;
        }
        Some((
            room.name.clone(),
            symbol(room),
            inner.member_names(room, viewer),
        ))
    }

    /// Every room `viewer` may see, with its member count and topic, sorted by name.
    pub fn list(&self, viewer: ClientId) -> Vec<RoomSummary> {
        let inner = self.lock();
        let mut rooms: Vec<RoomSummary> = inner
            .rooms
            .values()
            .filter(|r| !r.modes.secret || r.is_member(viewer))
            .map(|r| RoomSummary {
                name: r.name.clone(),
                members: r.members.len(),
                topic: r.topic.as_ref().map(|t| t.text.clone()).unwrap_or_default(),
            })
            .collect();
        rooms.sort_by(|a, b| a.name.cmp(&b.name));
        rooms
    }

    /// The room's display name, topic and creation time, as `viewer` may see them.
    pub fn topic(
        &self,
        viewer: ClientId,
        name: &str,
    ) -> Result<(String, Option<Topic>), RoomError> {
        let inner = self.lock();
        let room = inner.room_for(name)?;
        if room.modes.secret && !room.is_member(viewer) {
            return Err(RoomError::NotInRoom);
        }
        Ok((room.name.clone(), room.topic.clone()))
    }

    /// Sets (or, with empty text, clears) a room's topic under `+t` and announces it.
    pub fn set_topic(&self, id: ClientId, name: &str, text: &str) -> Result<(), RoomError> {
        let mut inner = self.lock();
        let mask = inner.prefix_of(id);
        let nick = inner.nick_of(id);
        let actor = inner.actor(id, &mask);
        let room = inner
            .rooms
            .get_mut(&room_key(name))
            .ok_or(RoomError::NoSuchRoom)?;
        room.may_set_topic(actor).map_err(|not_member| {
            if not_member {
                RoomError::NotInRoom
            } else {
                RoomError::NotOp
            }
        })?;
        // Setting the topic it already has changes nothing, so nobody is told anything.
        if room.topic.as_ref().map_or("", |t| t.text.as_str()) == text {
            return Ok(());
        }
        room.topic = (!text.is_empty()).then(|| Topic {
            text: text.to_string(),
            set_by: nick,
            set_at: chrono::Utc::now().timestamp(),
        });
        let msg = Relay::new(line(&mask, "TOPIC", &[&room.name], Some(text)));
        let room = &inner.rooms[&room_key(name)];
        send_all(&inner.clients, room.members.keys(), &msg);
        Ok(())
    }

    /// RPL_CHANNELMODEIS for `viewer`: display name, mode string, parameters (the key
    /// only for members and operators) and creation time.
    pub fn room_modes(
        &self,
        viewer: ClientId,
        name: &str,
    ) -> Result<(String, String, Vec<String>, i64), RoomError> {
        let inner = self.lock();
        let room = inner.room_for(name)?;
        let show_key = room.is_member(viewer)
            || inner
                .clients
                .get(&viewer)
                .is_some_and(|c| c.modes.oper.is_some());
        let (modes, params) = room.modes.describe(show_key);
        Ok((room.name.clone(), modes, params, room.created))
    }

    /// Applies a MODE line to a room; what changed goes to every member as one MODE line.
    /// Returns the room's display name, the outcome and the lists that were asked for.
    pub fn change_room_modes(
        &self,
        id: ClientId,
        name: &str,
        changes: Vec<ModeChange>,
    ) -> Result<ModesChanged, RoomError> {
        let mut inner = self.lock();
        let mask = inner.prefix_of(id);
        let actor = inner.actor(id, &mask);
        let inner = &mut *inner;
        let room = inner
            .rooms
            .get_mut(&room_key(name))
            .ok_or(RoomError::NoSuchRoom)?;
        let nicks = &inner.nicks;
        let clients = &inner.clients;
        let resolve = |nick: &str| {
            let id = *nicks.get(&crate::names::nick_key(nick))?;
            let c = clients.get(&id).filter(|c| c.registered)?;
            Some((id, c.nick.clone().unwrap_or_default()))
        };
        let outcome = room.apply_modes(actor, changes, resolve, chrono::Utc::now().timestamp());
        if !outcome.applied.is_empty() {
            let (modes, params) = crate::room::render_changes(&outcome.applied);
            let mut middle: Vec<&str> = vec![&room.name, &modes];
            middle.extend(params.iter().map(String::as_str));
            let msg = Relay::new(line(&mask, "MODE", &middle, None));
            send_all(clients, room.members.keys(), &msg);
        }
        let lists = outcome
            .lists
            .iter()
            .map(|m| (*m, room.list(*m).to_vec()))
            .collect();
        Ok(ModesChanged {
            room: room.name.clone(),
            outcome,
            lists,
        })
    }

    /// Kicks members idle past their room's `+W` time, announced as a KICK from the
    /// server. Returns how many were removed.
    pub fn sweep_idle(&self, server: &str, now: Instant) -> usize {
        let idle = self.idle_members(now, None);
        idle.iter()
            .filter(|(key, id)| self.kick_idle(server, key, *id))
            .count()
    }

    /// Members idle past their room's `+W` time, as (room key, client); with `run`, only
    /// the clients of that node run (each cluster node judges its own clients).
    pub fn idle_members(&self, now: Instant, run: Option<u64>) -> Vec<(String, ClientId)> {
        let inner = self.lock();
        inner
            .rooms
            .iter()
            .filter(|(_, r)| r.modes.idle_kick.is_some())
            .flat_map(|(k, r)| {
                r.idle_members(now)
                    .into_iter()
                    .filter(|id| run.is_none_or(|run| super::run_of(*id) == run))
                    .map(|id| (k.clone(), id))
            })
            .collect()
    }

    /// Removes an idle member from a room (keyed by [`room_key`]) with a KICK from
    /// `server`, if it is still a member and the room still has `+W`.
    pub fn kick_idle(&self, server: &str, key: &str, id: ClientId) -> bool {
        let mut inner = self.lock();
        let Some(room) = inner.rooms.get(key) else {
            return false;
        };
        let Some(limit) = room.modes.idle_kick.map(|d| d.as_secs()) else {
            return false;
        };
        if !room.is_member(id) {
            return false;
        }
        let reason = if limit.is_multiple_of(60) {
            format!("Idle for {} minutes (room mode +W)", limit / 60)
        } else {
            format!("Idle for {limit} seconds (room mode +W)")
        };
        let nick = inner.nick_of(id);
        let msg = Relay::new(line(server, "KICK", &[&room.name, &nick], Some(&reason)));
        send_all(&inner.clients, room.members.keys(), &msg);
        inner.leave_room(id, key);
        true
    }
}
