//! Read-only questions about who is here: WHO (with masks), WHOIS, WHOWAS, LUSERS and
//! USERHOST, answered with what the asker may see (invisible users and secret rooms stay
//! hidden from strangers).

use super::run_of;
use super::{Client, ClientId, Inner, State, WhowasEntry};
use crate::names::room_key;
use crate::room::mask;

/// One row of WHO.
pub struct WhoEntry {
    pub nick: String,
    pub user: String,
    pub host: String,
    pub realname: String,
    pub away: bool,
    pub oper: bool,
    /// User mode `+B`.
    pub bot: bool,
    /// The member's prefix in the room asked about (`@`, `+`, or empty).
    pub prefix: &'static str,
}

/// What WHOIS shows.
pub struct WhoisEntry {
    pub nick: String,
    pub user: String,
    pub host: String,
    pub realname: String,
    pub away: Option<String>,
    /// Rooms with the member's prefix (`@#dev`), secret ones only for those inside.
    pub rooms: Vec<String>,
    pub signon: i64,
    pub oper: bool,
    /// User mode `+B` (RPL_WHOISBOT).
    pub bot: bool,
}

/// The counts LUSERS reports (251-255, 265/266).
pub struct Lusers {
    pub visible: usize,
    pub invisible: usize,
    pub opers: usize,
    pub unknown: usize,
    pub rooms: usize,
    pub max: usize,
    /// Registered users connected to this server (on a cluster node, not the network's).
    pub local: usize,
    pub max_local: usize,
}

impl Inner {
    fn who_entry(c: &Client, prefix: &'static str) -> WhoEntry {
        WhoEntry {
            nick: c.nick.clone().unwrap_or_default(),
            user: c.user.clone(),
            host: c.host.clone(),
            realname: c.realname.clone(),
            away: c.away.is_some(),
            oper: c.modes.oper.is_some(),
            bot: c.modes.bot,
            prefix,
        }
    }

    /// Whether `viewer` may see `id` in a WHO listing by mask.
    fn visible_to(&self, viewer: ClientId, id: ClientId, c: &Client) -> bool {
        !c.modes.invisible || viewer == id || self.share_room(viewer, id)
    }
}

impl State {
    /// WHO: the members of a room (`#room`), or every visible user whose nick, user, host,
    /// real name or server matches the mask; `opers_only` keeps server operators.
    /// Returns the room's display name when the mask named one.
    pub fn who(
        &self,
        viewer: ClientId,
        target: &str,
        server: &str,
        opers_only: bool,
    ) -> (Option<String>, Vec<WhoEntry>) {
        let inner = self.lock();
        let keep = |e: &WhoEntry| !opers_only || e.oper;
        if target.starts_with('#') {
            let Some(room) = inner.rooms.get(&room_key(target)) else {
                return (None, Vec::new());
            };
            let inside = room.is_member(viewer);
            if room.modes.secret && !inside {
                return (None, Vec::new());
            }
            let caps = inner
                .clients
                .get(&viewer)
                .map(|c| c.caps)
                .unwrap_or_default();
            let list = room
                .members
                .iter()
                .filter_map(|(id, m)| Some((inner.clients.get(id)?, m)))
                .filter(|(c, _)| inside || !c.modes.invisible)
                .map(|(c, m)| Inner::who_entry(c, m.prefixes_for(caps)))
                .filter(keep)
                .collect();
            return (Some(room.name.clone()), list);
        }
        let everyone = target == "*" || target == "0";
        let mut list: Vec<WhoEntry> = inner
            .clients
            .iter()
            .filter(|(_, c)| c.registered)
            .filter(|(id, c)| {
                let nick = c.nick.as_deref().unwrap_or("");
                // An exact nick is always found; masks find only those visible.
                if nick.eq_ignore_ascii_case(target) {
                    return true;
                }
                if !inner.visible_to(viewer, **id, c) {
                    return false;
                }
                everyone
                    || [nick, &c.user, &c.host, &c.realname, server]
                        .iter()
                        .any(|field| mask::matches(target, field))
            })
            .map(|(_, c)| Inner::who_entry(c, ""))
            .filter(keep)
            .collect();
        list.sort_by(|a, b| a.nick.cmp(&b.nick));
        (None, list)
    }

    /// What WHOIS tells `viewer` about a nick.
    pub fn whois(&self, viewer: ClientId, nick: &str) -> Option<WhoisEntry> {
        let inner = self.lock();
        let (id, c) = inner.registered(nick)?;
        let viewer_is_oper = inner
            .clients
            .get(&viewer)
            .is_some_and(|v| v.modes.oper.is_some());
        let viewer_caps = inner
            .clients
            .get(&viewer)
            .map(|v| v.caps)
            .unwrap_or_default();
        let rooms = c
            .rooms
            .iter()
            .filter_map(|k| inner.rooms.get(k))
            .filter(|r| !r.modes.secret || r.is_member(viewer) || viewer_is_oper)
            .map(|r| format!("{}{}", r.members[&id].prefixes_for(viewer_caps), r.name))
            .collect();
        Some(WhoisEntry {
            nick: c.nick.clone().unwrap_or_default(),
            user: c.user.clone(),
            host: c.host.clone(),
            realname: c.realname.clone(),
            away: c.away.clone(),
            rooms,
            signon: c.signon,
            oper: c.modes.oper.is_some(),
            bot: c.modes.bot,
        })
    }

    /// Up to `count` WHOWAS entries for a nick, newest first.
    pub fn whowas(&self, nick: &str, count: usize) -> Vec<WhowasEntry> {
        self.lock().whowas.find(nick, count)
    }

    /// The LUSERS counts.
    pub fn lusers(&self) -> Lusers {
        let inner = self.lock();
        let mut l = Lusers {
            visible: 0,
            invisible: 0,
            opers: 0,
            unknown: 0,
            rooms: inner.rooms.len(),
            max: inner.max_users,
            local: 0,
            max_local: inner.max_local,
        };
        for (id, c) in &inner.clients {
            if c.registered && run_of(*id) == inner.run {
                l.local += 1;
            }
            if !c.registered {
                l.unknown += 1;
            } else if c.modes.invisible {
                l.invisible += 1;
            } else {
                l.visible += 1;
            }
            if c.modes.oper.is_some() {
                l.opers += 1;
            }
        }
        l
    }

    /// USERHOST replies (`nick*=+user@host`) for the nicks that are online.
    pub fn userhost(&self, nicks: &[String]) -> Vec<String> {
        let inner = self.lock();
        nicks
            .iter()
            .filter_map(|n| inner.registered(n))
            .map(|(_, c)| {
                format!(
                    "{}{}={}{}@{}",
                    c.nick.as_deref().unwrap_or("*"),
                    if c.modes.oper.is_some() { "*" } else { "" },
                    if c.away.is_some() { "-" } else { "+" },
                    c.user,
                    c.host
                )
            })
            .collect()
    }
}
