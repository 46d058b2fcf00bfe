//! Who is connected and which rooms exist: the shared state every session reads and changes.
//!
//! One mutex guards it all; every operation is short, never awaits while holding the lock,
//! and fans lines out with non-blocking queue pushes, so the lock also fixes one order of
//! events that every member of a room sees.

use std::collections::{BTreeSet, HashMap};
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use bytes::Bytes;

use crate::message::line;
use crate::names::{nick_key, room_key};
use crate::outbox::Outbox;

/// Identifies a connection for its whole life, across nick changes.
pub type ClientId = u64;

/// A connected client as the rest of the server sees it.
#[derive(Debug)]
pub struct Client {
    pub nick: Option<String>,
    pub user: String,
    pub realname: String,
    pub host: String,
    pub registered: bool,
    pub away: Option<String>,
    pub signon: i64,
    pub outbox: Outbox,
    /// Keys of the rooms this client is in.
    pub rooms: BTreeSet<String>,
}

impl Client {
    /// `nick!user@host`, the source of everything this client says.
    pub fn prefix(&self) -> String {
        format!(
            "{}!{}@{}",
            self.nick.as_deref().unwrap_or("*"),
            self.user,
            self.host
        )
    }
}

/// A room's topic and who set it when.
#[derive(Debug, Clone)]
pub struct Topic {
    pub text: String,
    pub set_by: String,
    pub set_at: i64,
}

/// A room: it exists while it has members.
#[derive(Debug)]
pub struct Room {
    /// Display name with `#`, as its creator typed it.
    pub name: String,
    pub topic: Option<Topic>,
    pub members: BTreeSet<ClientId>,
    pub created: i64,
}

/// Why a state change was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StateError {
    NickInUse,
    NoSuchRoom,
    NotInRoom,
    NoSuchNick,
}

#[derive(Default)]
struct Inner {
    nicks: HashMap<String, ClientId>,
    clients: HashMap<ClientId, Client>,
    rooms: HashMap<String, Room>,
}

/// Shared server state; wrap in an `Arc` and share.
pub struct State {
    inner: Mutex<Inner>,
    next_id: AtomicU64,
}

/// What a joiner needs to see after joining.
pub struct Joined {
    pub room: String,
    pub topic: Option<Topic>,
    pub names: Vec<String>,
}

/// One row of LIST.
pub struct RoomSummary {
    pub name: String,
    pub members: usize,
    pub topic: String,
}

/// One row of WHO.
pub struct WhoEntry {
    pub nick: String,
    pub user: String,
    pub host: String,
    pub realname: String,
    pub away: bool,
}

/// What WHOIS shows.
pub struct WhoisEntry {
    pub nick: String,
    pub user: String,
    pub host: String,
    pub realname: String,
    pub away: Option<String>,
    pub rooms: Vec<String>,
    pub signon: i64,
}

fn send_all<'a>(
    clients: &HashMap<ClientId, Client>,
    ids: impl IntoIterator<Item = &'a ClientId>,
    msg: &Bytes,
) {
    for id in ids {
        if let Some(c) = clients.get(id) {
            c.outbox.send(msg.clone());
        }
    }
}

impl Inner {
    /// Every client sharing a room with `id`, each once, without `id`.
    fn neighbours(&self, id: ClientId) -> BTreeSet<ClientId> {
        let mut out = BTreeSet::new();
        if let Some(c) = self.clients.get(&id) {
            for key in &c.rooms {
                if let Some(room) = self.rooms.get(key) {
                    out.extend(room.members.iter().copied());
                }
            }
        }
        out.remove(&id);
        out
    }

    fn leave_room(&mut self, id: ClientId, key: &str) {
        if let Some(room) = self.rooms.get_mut(key) {
            room.members.remove(&id);
            if room.members.is_empty() {
                self.rooms.remove(key);
            }
        }
        if let Some(c) = self.clients.get_mut(&id) {
            c.rooms.remove(key);
        }
    }

    fn nick_of(&self, id: ClientId) -> String {
        self.clients
            .get(&id)
            .and_then(|c| c.nick.clone())
            .unwrap_or_default()
    }
}

impl Default for State {
    fn default() -> Self {
        Self::new()
    }
}

impl State {
    /// Empty state: no clients, no rooms.
    pub fn new() -> State {
        State {
            inner: Mutex::new(Inner::default()),
            next_id: AtomicU64::new(1),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        // A panic elsewhere must not take every session down with a poisoned lock.
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Adds a new, unregistered connection and returns its id.
    pub fn connect(&self, host: String, outbox: Outbox) -> ClientId {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let client = Client {
            nick: None,
            user: String::new(),
            realname: String::new(),
            host,
            registered: false,
            away: None,
            signon: chrono::Utc::now().timestamp(),
            outbox,
            rooms: BTreeSet::new(),
        };
        self.lock().clients.insert(id, client);
        id
    }

    /// Number of open connections, registered or not.
    pub fn client_count(&self) -> usize {
        self.lock().clients.len()
    }

    /// Runs `f` on this client's record.
    pub fn with_client<R>(&self, id: ClientId, f: impl FnOnce(&mut Client) -> R) -> Option<R> {
        self.lock().clients.get_mut(&id).map(f)
    }

    /// Sets or changes a nick. Once registered, the change is announced to the client and
    /// everyone sharing a room with it.
    pub fn set_nick(&self, id: ClientId, nick: &str) -> Result<(), StateError> {
        let mut inner = self.lock();
        let key = nick_key(nick);
        match inner.nicks.get(&key) {
            Some(other) if *other != id => return Err(StateError::NickInUse),
            _ => {}
        }
        let Some(client) = inner.clients.get_mut(&id) else {
            return Err(StateError::NoSuchNick);
        };
        let old = client.nick.replace(nick.to_string());
        let old_prefix = old
            .as_ref()
            .map(|o| format!("{o}!{}@{}", client.user, client.host));
        let registered = client.registered;
        if let Some(old) = &old {
            inner.nicks.remove(&nick_key(old));
        }
        inner.nicks.insert(key, id);
        if let (true, Some(prefix)) = (registered, old_prefix) {
            let msg = line(&prefix, "NICK", &[], Some(nick));
            let mut targets = inner.neighbours(id);
            targets.insert(id);
            send_all(&inner.clients, &targets, &msg);
        }
        Ok(())
    }

    /// The id of the client using `nick`, if any.
    pub fn find_nick(&self, nick: &str) -> Option<ClientId> {
        self.lock().nicks.get(&nick_key(nick)).copied()
    }

    /// Removes a client, telling everyone who shared a room with it why it left.
    pub fn disconnect(&self, id: ClientId, reason: &str) {
        let mut inner = self.lock();
        let Some(client) = inner.clients.get(&id) else {
            return;
        };
        if client.registered {
            let msg = line(&client.prefix(), "QUIT", &[], Some(reason));
            let targets = inner.neighbours(id);
            send_all(&inner.clients, &targets, &msg);
        }
        let rooms: Vec<String> = client.rooms.iter().cloned().collect();
        for key in rooms {
            inner.leave_room(id, &key);
        }
        if let Some(client) = inner.clients.remove(&id)
            && let Some(nick) = client.nick
            && inner.nicks.get(&nick_key(&nick)) == Some(&id)
        {
            inner.nicks.remove(&nick_key(&nick));
        }
    }

    /// Joins a room (creating it), announcing the JOIN to its members and the joiner.
    /// Returns `None` if the client was already a member.
    pub fn join(&self, id: ClientId, name: &str) -> Option<Joined> {
        let mut inner = self.lock();
        let key = room_key(name);
        let now = chrono::Utc::now().timestamp();
        let room = inner.rooms.entry(key.clone()).or_insert_with(|| Room {
            name: name.to_string(),
            topic: None,
            members: BTreeSet::new(),
            created: now,
        });
        if !room.members.insert(id) {
            return None;
        }
        let room_name = room.name.clone();
        let topic = room.topic.clone();
        let members: Vec<ClientId> = room.members.iter().copied().collect();
        let client = inner.clients.get_mut(&id)?;
        client.rooms.insert(key);
        let msg = line(&client.prefix(), "JOIN", &[&room_name], None);
        send_all(&inner.clients, &members, &msg);
        let names = members.iter().map(|m| inner.nick_of(*m)).collect();
        Some(Joined {
            room: room_name,
            topic,
            names,
        })
    }

    /// Leaves a room, announcing the PART to its members including the leaver.
    pub fn part(&self, id: ClientId, name: &str, reason: Option<&str>) -> Result<(), StateError> {
        let mut inner = self.lock();
        let key = room_key(name);
        let room = inner.rooms.get(&key).ok_or(StateError::NoSuchRoom)?;
        if !room.members.contains(&id) {
            return Err(StateError::NotInRoom);
        }
        let prefix = inner
            .clients
            .get(&id)
            .map(Client::prefix)
            .unwrap_or_default();
        let msg = line(&prefix, "PART", &[&room.name], reason);
        send_all(&inner.clients, &room.members, &msg);
        inner.leave_room(id, &key);
        Ok(())
    }

    /// The display name of a room `id` may speak in, checking it exists and `id` is a member.
    pub fn member_room(&self, id: ClientId, name: &str) -> Result<String, StateError> {
        let inner = self.lock();
        let room = inner
            .rooms
            .get(&room_key(name))
            .ok_or(StateError::NoSuchRoom)?;
        if !room.members.contains(&id) {
            return Err(StateError::NotInRoom);
        }
        Ok(room.name.clone())
    }

    /// Sends `msg` to every current member of a room except `except`.
    pub fn deliver_to_room(&self, name: &str, msg: &Bytes, except: ClientId) {
        let inner = self.lock();
        if let Some(room) = inner.rooms.get(&room_key(name)) {
            send_all(
                &inner.clients,
                room.members.iter().filter(|m| **m != except),
                msg,
            );
        }
    }

    /// Sends `msg` to one nick; returns its away message, if set.
    pub fn deliver_to_nick(&self, nick: &str, msg: &Bytes) -> Result<Option<String>, StateError> {
        let inner = self.lock();
        let id = inner
            .nicks
            .get(&nick_key(nick))
            .ok_or(StateError::NoSuchNick)?;
        let client = inner.clients.get(id).ok_or(StateError::NoSuchNick)?;
        if !client.registered {
            return Err(StateError::NoSuchNick);
        }
        client.outbox.send(msg.clone());
        Ok(client.away.clone())
    }

    /// The nick of the registered client using `nick`, spelled as it was set.
    pub fn nick_display(&self, nick: &str) -> Option<String> {
        let inner = self.lock();
        let id = inner.nicks.get(&nick_key(nick))?;
        inner
            .clients
            .get(id)
            .filter(|c| c.registered)
            .and_then(|c| c.nick.clone())
    }

    /// Display name and member nicks of a room.
    pub fn names(&self, name: &str) -> Option<(String, Vec<String>)> {
        let inner = self.lock();
        let room = inner.rooms.get(&room_key(name))?;
        let nicks = room.members.iter().map(|m| inner.nick_of(*m)).collect();
        Some((room.name.clone(), nicks))
    }

    /// Every room with its member count and topic, sorted by name.
    pub fn list(&self) -> Vec<RoomSummary> {
        let inner = self.lock();
        let mut rooms: Vec<RoomSummary> = inner
            .rooms
            .values()
            .map(|r| RoomSummary {
                name: r.name.clone(),
                members: r.members.len(),
                topic: r.topic.as_ref().map(|t| t.text.clone()).unwrap_or_default(),
            })
            .collect();
        rooms.sort_by(|a, b| a.name.cmp(&b.name));
        rooms
    }

    /// The room's display name and topic.
    pub fn topic(&self, name: &str) -> Option<(String, Option<Topic>, i64)> {
        let inner = self.lock();
        let room = inner.rooms.get(&room_key(name))?;
        Some((room.name.clone(), room.topic.clone(), room.created))
    }

    /// Sets (or, with empty text, clears) a room's topic and announces it to every member.
    pub fn set_topic(&self, id: ClientId, name: &str, text: &str) -> Result<(), StateError> {
        let mut inner = self.lock();
        let key = room_key(name);
        let client = inner.clients.get(&id).ok_or(StateError::NoSuchNick)?;
        let prefix = client.prefix();
        let nick = client.nick.clone().unwrap_or_default();
        let room = inner.rooms.get_mut(&key).ok_or(StateError::NoSuchRoom)?;
        if !room.members.contains(&id) {
            return Err(StateError::NotInRoom);
        }
        room.topic = (!text.is_empty()).then(|| Topic {
            text: text.to_string(),
            set_by: nick,
            set_at: chrono::Utc::now().timestamp(),
        });
        let msg = line(&prefix, "TOPIC", &[&room.name], Some(text));
        let inner = &*inner;
        let room = &inner.rooms[&key];
        send_all(&inner.clients, &room.members, &msg);
        Ok(())
    }

    /// Members of a room for WHO, or the one client with that nick.
    pub fn who(&self, mask: &str) -> (Option<String>, Vec<WhoEntry>) {
        let inner = self.lock();
        let entry = |c: &Client| WhoEntry {
            nick: c.nick.clone().unwrap_or_default(),
            user: c.user.clone(),
            host: c.host.clone(),
            realname: c.realname.clone(),
            away: c.away.is_some(),
        };
        if let Some(room) = inner.rooms.get(&room_key(mask))
            && (mask.starts_with('#'))
        {
            let list = room
                .members
                .iter()
                .filter_map(|m| inner.clients.get(m))
                .map(entry)
                .collect();
            return (Some(room.name.clone()), list);
        }
        let list = inner
            .nicks
            .get(&nick_key(mask))
            .and_then(|id| inner.clients.get(id))
            .filter(|c| c.registered)
            .map(entry)
            .into_iter()
            .collect();
        (None, list)
    }

    /// What WHOIS tells about a nick.
    pub fn whois(&self, nick: &str) -> Option<WhoisEntry> {
        let inner = self.lock();
        let c = inner.clients.get(inner.nicks.get(&nick_key(nick))?)?;
        if !c.registered {
            return None;
        }
        Some(WhoisEntry {
            nick: c.nick.clone().unwrap_or_default(),
            user: c.user.clone(),
            host: c.host.clone(),
            realname: c.realname.clone(),
            away: c.away.clone(),
            rooms: c
                .rooms
                .iter()
                .filter_map(|k| inner.rooms.get(k).map(|r| r.name.clone()))
                .collect(),
            signon: c.signon,
        })
    }
}
