//! MONITOR (IRCv3): who watches which nick, and the 730/731 notices when a watched nick
//! comes online (registers, or a client takes the nick) or goes offline.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use super::{ClientId, Inner, State};
use crate::message::line;
use crate::names::nick_key;

/// Most nicks one client may monitor (ISUPPORT `MONITOR=`).
pub const MONITOR_LIMIT: usize = 100;

/// The watch lists, both ways.
#[derive(Default)]
pub(super) struct Monitors {
    /// Folded nick -> the clients watching it.
    watchers: HashMap<String, BTreeSet<ClientId>>,
    /// Client -> the nicks it watches (folded -> as given).
    lists: HashMap<ClientId, BTreeMap<String, String>>,
}

/// What `MONITOR +` did: the nicks online (`nick!user@host`), offline, and those that did
/// not fit in the list.
#[derive(Debug, Default)]
pub struct MonitorAdded {
    pub online: Vec<String>,
    pub offline: Vec<String>,
    pub refused: Vec<String>,
}

impl Inner {
    /// Sends `code` about `who` to every watcher of `nick`.
    pub(super) fn notify_watchers(&self, nick: &str, code: &str, who: &str) {
        let Some(watchers) = self.monitors.watchers.get(&nick_key(nick)) else {
            return;
        };
        for id in watchers {
            if let Some(c) = self.clients.get(id) {
                let me = c.nick.as_deref().unwrap_or("*");
                c.outbox
                    .send(line(&self.server_name, code, &[me], Some(who)));
            }
        }
    }

    /// Forgets a departing client's watch list.
    pub(super) fn drop_monitors(&mut self, id: ClientId) {
        if let Some(list) = self.monitors.lists.remove(&id) {
            for key in list.keys() {
                if let Some(w) = self.monitors.watchers.get_mut(key) {
                    w.remove(&id);
                    if w.is_empty() {
                        self.monitors.watchers.remove(key);
                    }
                }
            }
        }
    }
}

impl State {
    /// `MONITOR + nicks`: adds them (up to [`MONITOR_LIMIT`]) and says which are online.
    pub fn monitor_add(&self, id: ClientId, nicks: &[String]) -> MonitorAdded {
        let mut inner = self.lock();
        let mut out = MonitorAdded::default();
        for nick in nicks {
            let key = nick_key(nick);
            let list = inner.monitors.lists.entry(id).or_default();
            if !list.contains_key(&key) {
                if list.len() >= MONITOR_LIMIT {
                    out.refused.push(nick.clone());
                    continue;
                }
                list.insert(key.clone(), nick.clone());
                inner
                    .monitors
                    .watchers
                    .entry(key.clone())
                    .or_default()
                    .insert(id);
            }
            match inner.registered(nick) {
                Some((_, c)) => out.online.push(c.prefix()),
                None => out.offline.push(nick.clone()),
            }
        }
        out
    }

    /// `MONITOR - nicks`: stops watching them.
    pub fn monitor_remove(&self, id: ClientId, nicks: &[String]) {
        let mut inner = self.lock();
        for nick in nicks {
            let key = nick_key(nick);
            if let Some(list) = inner.monitors.lists.get_mut(&id) {
                list.remove(&key);
            }
            if let Some(w) = inner.monitors.watchers.get_mut(&key) {
                w.remove(&id);
                if w.is_empty() {
                    inner.monitors.watchers.remove(&key);
                }
            }
        }
    }

    /// `MONITOR C`: clears the list.
    pub fn monitor_clear(&self, id: ClientId) {
        self.lock().drop_monitors(id);
    }

    /// The watched nicks as given, sorted (MONITOR L), or with their state (MONITOR S:
    /// `Ok(nick!user@host)` online, `Err(nick)` offline).
    pub fn monitor_list(&self, id: ClientId) -> Vec<Result<String, String>> {
        let inner = self.lock();
        let Some(list) = inner.monitors.lists.get(&id) else {
            return Vec::new();
        };
        list.values()
            .map(|nick| match inner.registered(nick) {
                Some((_, c)) => Ok(c.prefix()),
                None => Err(nick.clone()),
            })
            .collect()
    }
}
