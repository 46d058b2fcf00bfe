//! Who is connected and which rooms exist: the shared state every session reads and changes.
//!
//! One mutex guards it all; every operation is short, never awaits while holding the lock,
//! and fans lines out with non-blocking queue pushes, so the lock also fixes one order of
//! events that every member of a room sees. Room operations live in [`rooms`], read-only
//! lookups (WHO, WHOIS, WHOWAS, LUSERS) in [`lookup`].

mod lookup;
mod monitor;
mod op;
mod rooms;
mod whowas;

use std::collections::{BTreeSet, HashMap};
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use bytes::Bytes;

use crate::caps::{Cap, Caps};
use crate::message::line;
use crate::names::nick_key;
use crate::outbox::Outbox;
use crate::relay::Relay;
use crate::room::Room;

pub use crate::room::Topic;
pub use lookup::{Lusers, WhoEntry, WhoisEntry};
pub use monitor::{MONITOR_LIMIT, MonitorAdded};
pub use op::{Op, Outcome};
pub use rooms::{Joined, ModesChanged, RoomError, RoomSummary};
pub use whowas::{WHOWAS_CAPACITY, WhowasEntry};

/// Identifies a connection for its whole life, across nick changes, network-wide: the
/// high bits are the run tag of the node it is on (see [`run_of`]).
pub type ClientId = u64;

/// Bits of a [`ClientId`] below the run tag: a run hands out 2^40 ids.
const RUN_SHIFT: u32 = 40;

/// The run tag of the node process a client is connected to (0 for a single server).
pub fn run_of(id: ClientId) -> u64 {
    id >> RUN_SHIFT
}

/// A client's user modes.
#[derive(Debug, Clone, Default)]
pub struct UserModes {
    /// `+i`: hidden from WHO and NAMES of those who share no room with it.
    pub invisible: bool,
    /// `+w`: receives WALLOPS.
    pub wallops: bool,
    /// `+o`: a server operator, logged in with OPER under this operator name.
    pub oper: Option<String>,
    /// `+B`: a bot (IRCv3 bot mode): flagged in WHO and WHOIS, its messages tagged `bot`.
    pub bot: bool,
}

impl UserModes {
    /// RPL_UMODEIS's text: `+iw`, `+o`…
    pub fn describe(&self) -> String {
        let mut s = String::from("+");
        if self.bot {
            s.push('B');
        }
        if self.invisible {
            s.push('i');
        }
        if self.oper.is_some() {
            s.push('o');
        }
        if self.wallops {
            s.push('w');
        }
        s
    }
}

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
    pub modes: UserModes,
    /// The IRCv3 capabilities the client has enabled.
    pub caps: Caps,
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
    whowas: whowas::WhoWas,
    /// Most registered clients seen at once (RPL_LOCALUSERS' max).
    max_users: usize,
    /// Most registered clients of this node at once (RPL_LOCALUSERS' max).
    max_local: usize,
    /// This process's run tag (see [`run_of`]): its own clients are the local ones.
    run: u64,
    monitors: monitor::Monitors,
    /// The source of server-originated notices sent from here (MONITOR's 730/731).
    server_name: String,
}

/// Shared server state; wrap in an `Arc` and share.
pub struct State {
    inner: Mutex<Inner>,
    next_id: AtomicU64,
}

/// Sends a relayed line to each of `ids`, tagged as each one's capabilities ask.
fn send_all<'a>(
    clients: &HashMap<ClientId, Client>,
    ids: impl IntoIterator<Item = &'a ClientId>,
    msg: &Relay,
) {
    for id in ids {
        if let Some(c) = clients.get(id) {
            c.outbox.send(msg.for_caps(c.caps));
        }
    }
}

/// Like [`send_all`], only to those of `ids` that enabled `cap` (away-notify, setname…).
fn send_capable<'a>(
    clients: &HashMap<ClientId, Client>,
    ids: impl IntoIterator<Item = &'a ClientId>,
    cap: Cap,
    msg: &Relay,
) {
    for id in ids {
        if let Some(c) = clients.get(id).filter(|c| c.caps.has(cap)) {
            c.outbox.send(msg.for_caps(c.caps));
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
                    out.extend(room.members.keys().copied());
                }
            }
        }
        out.remove(&id);
        out
    }

    /// Whether two clients share a room (what makes an invisible user visible).
    fn share_room(&self, a: ClientId, b: ClientId) -> bool {
        match (self.clients.get(&a), self.clients.get(&b)) {
            (Some(a), Some(b)) => a.rooms.intersection(&b.rooms).next().is_some(),
            _ => false,
        }
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

    /// The registered client using `nick`.
    fn registered(&self, nick: &str) -> Option<(ClientId, &Client)> {
        let id = *self.nicks.get(&nick_key(nick))?;
        let c = self.clients.get(&id).filter(|c| c.registered)?;
        Some((id, c))
    }

    /// Registered clients in the network, and those of this node's run, in one pass.
    fn registered_counts(&self) -> (usize, usize) {
        self.clients
            .iter()
            .filter(|(_, c)| c.registered)
            .fold((0, 0), |(all, here), (id, _)| {
                (all + 1, here + usize::from(run_of(*id) == self.run))
            })
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
        State::named("linechat")
    }

    /// Empty state for a server called `server_name` (the source of its notices).
    pub fn named(server_name: &str) -> State {
        State::for_run(server_name, 0)
    }

    /// Empty state for a cluster node whose process run is tagged `run` (24 bits): the
    /// ids it hands out never meet another node's, nor its own earlier runs'.
    pub fn for_run(server_name: &str, run: u64) -> State {
        State {
            inner: Mutex::new(Inner {
                server_name: server_name.to_string(),
                run: run & 0xff_ffff,
                ..Inner::default()
            }),
            next_id: AtomicU64::new(((run & 0xff_ffff) << RUN_SHIFT) + 1),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        // A panic elsewhere must not take every session down with a poisoned lock.
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Adds a new, unregistered connection and returns its id.
    pub fn connect(&self, host: String, outbox: Outbox) -> ClientId {
        let id = self.new_id();
        self.connect_as(id, host, outbox);
        id
    }

    /// An id for a connection about to be announced ([`Op::Connect`]).
    pub fn new_id(&self) -> ClientId {
        self.next_id.fetch_add(1, Ordering::Relaxed)
    }

    /// Adds an unregistered connection under an id already handed out (by this node or,
    /// in a cluster, by the node it is on).
    pub fn connect_as(&self, id: ClientId, host: String, outbox: Outbox) {
        let client = Client {
            nick: None,
            user: String::new(),
            realname: String::new(),
            host,
            registered: false,
            away: None,
            signon: chrono::Utc::now().timestamp(),
            modes: UserModes::default(),
            caps: Caps::NONE,
            outbox,
            rooms: BTreeSet::new(),
        };
        self.lock().clients.insert(id, client);
    }

    /// Removes every client of node run `run` (a node that left the network), each seen
    /// to QUIT with `reason`; clients connected here are closed too.
    pub fn drop_run(&self, run: u64, reason: &str) {
        let ids: Vec<ClientId> = {
            let inner = self.lock();
            inner
                .clients
                .iter()
                .filter(|(id, _)| run_of(**id) == run)
                .map(|(id, c)| {
                    c.outbox.close(reason, &format!("Closing link: {reason}"));
                    *id
                })
                .collect()
        };
        for id in ids {
            self.disconnect(id, reason);
        }
    }

    /// The run tags of the node processes that have clients in the network now.
    pub fn runs(&self) -> BTreeSet<u64> {
        self.lock().clients.keys().map(|id| run_of(*id)).collect()
    }

    /// Number of open connections, registered or not.
    pub fn client_count(&self) -> usize {
        self.lock().clients.len()
    }

    /// Runs `f` on this client's record.
    pub fn with_client<R>(&self, id: ClientId, f: impl FnOnce(&mut Client) -> R) -> Option<R> {
        self.lock().clients.get_mut(&id).map(f)
    }

    /// Marks a client registered with its user name and real name.
    pub fn register(&self, id: ClientId, user: String, realname: String) {
        let mut inner = self.lock();
        if let Some(c) = inner.clients.get_mut(&id) {
            c.user = user;
            c.realname = realname;
            c.registered = true;
        }
        let (count, local) = inner.registered_counts();
        inner.max_users = inner.max_users.max(count);
        inner.max_local = inner.max_local.max(local);
        if let Some(c) = inner.clients.get(&id)
            && let Some(nick) = &c.nick
        {
            inner.notify_watchers(nick, "730", &c.prefix());
        }
    }

    /// Sets or changes a nick. Once registered, the change is announced to the client and
    /// everyone sharing a room with it, and the old nick goes to WHOWAS.
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
        let registered = client.registered;
        let before = registered.then(|| WhowasEntry::of(client));
        let old = client.nick.replace(nick.to_string());
        if let Some(old) = &old {
            inner.nicks.remove(&nick_key(old));
        }
        inner.nicks.insert(key, id);
        if let (Some(entry), Some(old)) = (before, &old) {
            let msg = Relay::new(line(&entry.prefix(), "NICK", &[], Some(nick)));
            inner.whowas.record(entry);
            let mut targets = inner.neighbours(id);
            targets.insert(id);
            send_all(&inner.clients, &targets, &msg);
            if nick_key(old) != nick_key(nick) {
                inner.notify_watchers(old, "731", old);
                let now = inner.clients[&id].prefix();
                inner.notify_watchers(nick, "730", &now);
            }
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
            let msg = Relay::new(line(&client.prefix(), "QUIT", &[], Some(reason)));
            let nick = client.nick.clone().unwrap_or_default();
            let entry = WhowasEntry::of(client);
            inner.whowas.record(entry);
            let targets = inner.neighbours(id);
            send_all(&inner.clients, &targets, &msg);
            inner.drop_monitors(id);
            inner.notify_watchers(&nick, "731", &nick);
        } else {
            inner.drop_monitors(id);
        }
        let rooms: Vec<String> = inner.clients[&id].rooms.iter().cloned().collect();
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

    /// Sends `msg` to one nick (only if it enabled `needs`, when given); returns its away
    /// message, if set.
    pub fn deliver_to_nick(
        &self,
        nick: &str,
        msg: &Relay,
        needs: Option<Cap>,
    ) -> Result<Option<String>, StateError> {
        let inner = self.lock();
        let (_, client) = inner.registered(nick).ok_or(StateError::NoSuchNick)?;
        if needs.is_none_or(|cap| client.caps.has(cap)) {
            client.outbox.deliver(msg.for_caps(client.caps));
        }
        Ok(client.away.clone())
    }

    /// Records the capabilities a client enabled (CAP REQ).
    pub fn set_caps(&self, id: ClientId, caps: Caps) {
        if let Some(c) = self.lock().clients.get_mut(&id) {
            c.caps = caps;
        }
    }

    /// Sets or clears a client's away message; with away-notify, everyone sharing a room
    /// with it who enabled the capability is told (`AWAY [:text]`).
    pub fn set_away(&self, id: ClientId, away: Option<String>) {
        let mut inner = self.lock();
        let Some(c) = inner.clients.get_mut(&id) else {
            return;
        };
        if c.away == away {
            return;
        }
        c.away = away;
        let msg = Relay::new(line(&c.prefix(), "AWAY", &[], c.away.as_deref()));
        let targets = inner.neighbours(id);
        send_capable(&inner.clients, &targets, Cap::AwayNotify, &msg);
    }

    /// Changes a client's real name (SETNAME), told to it and to those sharing a room with
    /// it that enabled `setname`.
    pub fn set_realname(&self, id: ClientId, realname: &str) {
        let mut inner = self.lock();
        let Some(c) = inner.clients.get_mut(&id) else {
            return;
        };
        c.realname = realname.to_string();
        let msg = Relay::new(line(&c.prefix(), "SETNAME", &[], Some(realname)));
        let mut targets = inner.neighbours(id);
        targets.insert(id);
        send_capable(&inner.clients, &targets, Cap::Setname, &msg);
    }

    /// The nick of the registered client using `nick`, spelled as it was set.
    pub fn nick_display(&self, nick: &str) -> Option<String> {
        let inner = self.lock();
        inner.registered(nick).and_then(|(_, c)| c.nick.clone())
    }

    /// Changes user modes `i` and `w` of a client; returns the applied change (`+iw`).
    pub fn set_user_modes(&self, id: ClientId, changes: &[(bool, char)]) -> String {
        let mut inner = self.lock();
        let Some(c) = inner.clients.get_mut(&id) else {
            return String::new();
        };
        let mut applied = Vec::new();
        for &(add, letter) in changes {
            let flag = match letter {
                'i' => &mut c.modes.invisible,
                'w' => &mut c.modes.wallops,
                'B' => &mut c.modes.bot,
                'o' if !add && c.modes.oper.is_some() => {
                    c.modes.oper = None;
                    applied.push((add, letter));
                    continue;
                }
                _ => continue,
            };
            if *flag != add {
                *flag = add;
                applied.push((add, letter));
            }
        }
        let mut out = String::new();
        let mut sign = None;
        for (add, letter) in applied {
            if sign != Some(add) {
                out.push(if add { '+' } else { '-' });
                sign = Some(add);
            }
            out.push(letter);
        }
        out
    }

    /// Makes a client a server operator (`+o`) under `name`.
    pub fn set_oper(&self, id: ClientId, name: &str) {
        if let Some(c) = self.lock().clients.get_mut(&id) {
            c.modes.oper = Some(name.to_string());
        }
    }

    /// Whether the client is a server operator.
    pub fn is_oper(&self, id: ClientId) -> bool {
        self.lock()
            .clients
            .get(&id)
            .is_some_and(|c| c.modes.oper.is_some())
    }

    /// Disconnects the client using `nick` (KILL): its session sends the ERROR and
    /// everyone sharing a room sees `QUIT :<quit>`. Returns its display nick.
    pub fn kill(&self, nick: &str, quit: &str) -> Result<String, StateError> {
        let inner = self.lock();
        let (_, c) = inner.registered(nick).ok_or(StateError::NoSuchNick)?;
        let error = format!(
            "Closing link: {} ({quit})",
            c.nick.as_deref().unwrap_or("*")
        );
        c.outbox.close(quit, &error);
        Ok(c.nick.clone().unwrap_or_default())
    }

    /// Sends a WALLOPS line to every client with user mode `+w`.
    pub fn wallops(&self, msg: &Bytes) {
        let inner = self.lock();
        let msg = Relay::new(msg.clone());
        for c in inner.clients.values() {
            if c.registered && c.modes.wallops {
                c.outbox.send(msg.for_caps(c.caps));
            }
        }
    }
}
