//! LIST: the rooms a client may see (secret ones only to their members), with member
//! counts and topics; filters by name mask (`*dev*`, `!*test*`) and member count (`>5`,
//! `<20`), as ISUPPORT `ELIST=MNU` announces.

use super::{Flow, Reject};
use crate::message::Message;
use crate::room::mask;
use crate::session::Session;

/// One LIST condition.
enum Filter {
    /// A room name or mask the room must match (`#dev`, `#dev*`).
    Name(String),
    /// A mask the room must not match (`!*test*`).
    NotName(String),
    MoreThan(usize),
    FewerThan(usize),
}

/// `LIST [<filter>[,<filter>...]]`
pub struct List {
    filters: Vec<Filter>,
}

impl List {
    /// Filters are optional: room names or masks, `!mask`, `>N`, `<N`.
    pub fn parse_frames(msg: &Message) -> Result<List, Reject> {
        let filters = msg
            .params
            .first()
            .map(|l| super::comma_list(l))
            .unwrap_or_default()
            .into_iter()
            .map(|f| {
                if let Some(n) = f.strip_prefix('>').and_then(|n| n.parse().ok()) {
                    Filter::MoreThan(n)
                } else if let Some(n) = f.strip_prefix('<').and_then(|n| n.parse().ok()) {
                    Filter::FewerThan(n)
                } else if let Some(m) = f.strip_prefix('!') {
                    Filter::NotName(with_hash(m))
                } else {
                    Filter::Name(with_hash(&f))
                }
            })
            .collect();
        Ok(List { filters })
    }

    fn keeps(&self, name: &str, members: usize) -> bool {
        let names: Vec<&String> = self
            .filters
            .iter()
            .filter_map(|f| match f {
                Filter::Name(n) => Some(n),
                _ => None,
            })
            .collect();
        (names.is_empty() || names.iter().any(|n| mask::matches(n, name)))
            && self.filters.iter().all(|f| match f {
                Filter::Name(_) => true,
                Filter::NotName(m) => !mask::matches(m, name),
                Filter::MoreThan(n) => members > *n,
                Filter::FewerThan(n) => members < *n,
            })
    }

    /// 321, one 322 per visible room that passes the filters, 323.
    pub fn apply(self, s: &mut Session) -> Flow {
        s.numeric("321", &["Room", "Users"], "Name");
        for room in s.ctx.state.list(s.id) {
            if self.keeps(&room.name, room.members) {
                s.numeric("322", &[&room.name, &room.members.to_string()], &room.topic);
            }
        }
        s.numeric("323", &[], "End of /LIST");
        Flow::Continue
    }
}

/// A typed room name or mask with its `#` (optional for telnet users): `dev` -> `#dev`;
/// masks that start with a wildcard stay as they are.
fn with_hash(typed: &str) -> String {
    if typed.starts_with(['#', '*', '?']) {
        typed.to_string()
    } else {
        format!("#{typed}")
    }
}
