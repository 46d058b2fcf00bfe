//! WHOWAS: the nicks recently given up (by a nick change or a quit), newest first, in a
//! ring of fixed size so memory stays bounded however many clients come and go.

use std::collections::VecDeque;

use super::Client;

/// How many departed nicks are remembered, over all nicks.
pub const WHOWAS_CAPACITY: usize = 1000;

/// What WHOWAS tells about a nick that is gone.
#[derive(Debug, Clone)]
pub struct WhowasEntry {
    pub nick: String,
    pub user: String,
    pub host: String,
    pub realname: String,
    /// Unix time the nick was given up.
    pub left_at: i64,
}

impl WhowasEntry {
    /// The entry for a client as it is now (about to change nick or leave).
    pub fn of(c: &Client) -> WhowasEntry {
        WhowasEntry {
            nick: c.nick.clone().unwrap_or_default(),
            user: c.user.clone(),
            host: c.host.clone(),
            realname: c.realname.clone(),
            left_at: chrono::Utc::now().timestamp(),
        }
    }

    /// `nick!user@host` as it was.
    pub fn prefix(&self) -> String {
        format!("{}!{}@{}", self.nick, self.user, self.host)
    }
}

/// The bounded history.
#[derive(Default)]
pub struct WhoWas {
    entries: VecDeque<WhowasEntry>,
}

impl WhoWas {
    /// Remembers an entry, forgetting the oldest past [`WHOWAS_CAPACITY`].
    pub fn record(&mut self, entry: WhowasEntry) {
        if self.entries.len() >= WHOWAS_CAPACITY {
            self.entries.pop_back();
        }
        self.entries.push_front(entry);
    }

    /// Up to `count` entries for `nick` (ASCII case-insensitive), newest first.
    pub fn find(&self, nick: &str, count: usize) -> Vec<WhowasEntry> {
        self.entries
            .iter()
            .filter(|e| e.nick.eq_ignore_ascii_case(nick))
            .take(count)
            .cloned()
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(nick: &str) -> WhowasEntry {
        WhowasEntry {
            nick: nick.into(),
            user: "u".into(),
            host: "h".into(),
            realname: "r".into(),
            left_at: 0,
        }
    }

    #[test]
    fn newest_first_and_bounded() {
        let mut w = WhoWas::default();
        for i in 0..WHOWAS_CAPACITY + 10 {
            w.record(entry(&format!("n{i}")));
        }
        assert_eq!(w.entries.len(), WHOWAS_CAPACITY);
        assert!(w.find("n0", 5).is_empty());
        w.record(entry("Bob"));
        w.record(entry("bob"));
        let found = w.find("BOB", 5);
        assert_eq!(found.len(), 2);
        assert_eq!(found[0].nick, "bob");
        assert_eq!(w.find("bob", 1).len(), 1);
    }
}
