//! SEARCH: search a room's archived history, for members of that room only.
//!
//! `SEARCH <#room> <query> [since DATE] [until DATE]` — the query uses the language of
//! `chat-search query` (words, "phrases", -excluded, user:nick); `since`/`until` followed
//! by a date (`2026-11-01`, whole days in UTC, both inclusive) or an RFC 3339 time bound
//! the search, as do `since:DATE`/`until:DATE` inside the query. Results go to the
//! requester alone, as NOTICEs oldest first (the newest `--search-max-results` matches),
//! then an end line saying how many there were and whether the list was cut.

use super::{Flow, Reject, required};
use crate::message::Message;
use crate::names::canonical_room;
use crate::search::stats::group_thousands;
use crate::search::{Scope, SearchError, SearchRequest, SortOrder};
use crate::session::Session;
use crate::state::RoomError;

const USAGE: &str = "SEARCH <#room> <words> [since DATE] [until DATE]";

/// Longest a SEARCH waits for messages already delivered to reach the index (normally
/// about the indexer's commit interval).
const INDEX_WAIT: std::time::Duration = std::time::Duration::from_secs(5);

/// A parsed `SEARCH` request.
pub struct Search {
    room: String,
    query: String,
    since: Option<String>,
    until: Option<String>,
}

impl Search {
    /// Needs a room and (for readability) at least one more word (461 otherwise).
    pub fn parse_frames(msg: &Message) -> Result<Search, Reject> {
        let room = required(msg, 0, USAGE)?.to_string();
        let text = msg.params[1..].join(" ");
        if text.trim().is_empty() {
            return Err(Reject::need_more_params(&msg.command, USAGE));
        }
        let (query, since, until) = split_bounds(&text);
        Ok(Search {
            room,
            query,
            since,
            until,
        })
    }

    /// Checks membership (403/442), runs the search and sends the hits as NOTICEs.
    pub async fn apply(self, s: &mut Session) -> Flow {
        let Ok(name) = canonical_room(&self.room) else {
            s.numeric("403", &[&self.room], "No such room");
            return Flow::Continue;
        };
        let room = match s.ctx.state.member_room(s.id, &name) {
            Ok(room) => room,
            Err(RoomError::NotInRoom) => {
                s.numeric(
                    "442",
                    &[&name],
                    "You're not in that room (JOIN it to search it)",
                );
                return Flow::Continue;
            }
            Err(_) => {
                s.numeric("403", &[&self.room], "No such room");
                return Flow::Continue;
            }
        };
        let Some(index) = s.ctx.search.clone() else {
            s.fail(
                "SEARCH",
                "UNAVAILABLE",
                &[&room],
                "Search is not available on this server right now (see the server log)",
            );
            return Flow::Continue;
        };
        let max = index.config().max_results;
        let req = SearchRequest {
            query: self.query,
            scope: Scope {
                room: Some(room.clone()),
                since: self.since,
                until: self.until,
                ..Scope::default()
            },
            sort: SortOrder::Time,
            limit: max,
        };
        // Read-your-writes: wait for the rows already delivered to be indexed.
        let written = *s.ctx.archive.written().borrow();
        index.wait_indexed(written, INDEX_WAIT).await;
        match index.search(req).await {
            Ok(results) => {
                for hit in &results.hits {
                    s.notice(&format!(
                        "{room} [{}] <{}> {}",
                        hit.timestamp, hit.user, hit.message
                    ));
                }
                let n = results.hits.len();
                let end = if results.truncated() {
                    format!(
                        "End of SEARCH {room}: newest {n} of {} matches shown (limit {max}); \
                         add words or since/until to narrow it",
                        group_thousands(results.total as u64)
                    )
                } else {
                    format!(
                        "End of SEARCH {room}: {n} match{}",
                        if n == 1 { "" } else { "es" }
                    )
                };
                s.notice(&end);
            }
            Err(SearchError::BadQuery(e)) => {
                s.fail("SEARCH", "INVALID_QUERY", &[&room], &e.to_string());
            }
            Err(SearchError::Timeout) => {
                s.fail(
                    "SEARCH",
                    "TIMEOUT",
                    &[&room],
                    &SearchError::Timeout.to_string(),
                );
            }
            Err(e) => {
                tracing::error!("SEARCH failed: {e}");
                s.fail(
                    "SEARCH",
                    "UNAVAILABLE",
                    &[&room],
                    "Search failed; see the server log",
                );
            }
        }
        Flow::Continue
    }
}

/// Takes `since X` / `until X` (outside quotes, X a date or time) out of the query text.
fn split_bounds(text: &str) -> (String, Option<String>, Option<String>) {
    let mut words: Vec<(&str, bool)> = Vec::new(); // (word, outside quotes)
    let mut quotes = 0usize;
    for w in text.split_whitespace() {
        let outside = quotes.is_multiple_of(2) && !w.starts_with('"') && !w.starts_with("-\"");
        quotes += w.matches('"').count();
        words.push((w, outside));
    }
    let utc = chrono::FixedOffset::east_opt(0).expect("zero offset");
    let is_date = |w: &str| {
        crate::search::timestamps::parse_bound(w, crate::search::timestamps::Bound::Since, utc)
            .is_ok()
    };
    let (mut since, mut until) = (None, None);
    let mut kept = Vec::new();
    let mut i = 0;
    while i < words.len() {
        let (w, outside) = words[i];
        let keyword = w.to_ascii_lowercase();
        if outside && (keyword == "since" || keyword == "until") && i + 1 < words.len() {
            let value = words[i + 1].0;
            if is_date(value) {
                let slot = if keyword == "since" {
                    &mut since
                } else {
                    &mut until
                };
                *slot = Some(value.to_string());
                i += 2;
                continue;
            }
        }
        kept.push(w);
        i += 1;
    }
    (kept.join(" "), since, until)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn since_and_until_words_become_bounds() {
        let (q, s, u) = split_bounds("deploy since 2026-11-01 until 2026-11-20");
        assert_eq!(
            (q.as_str(), s.as_deref(), u.as_deref()),
            ("deploy", Some("2026-11-01"), Some("2026-11-20"))
        );
        // Not followed by a date, or inside quotes: plain words.
        let (q, s, _) = split_bounds("ever since lunch \"since 2026-11-01\"");
        assert_eq!(
            (q.as_str(), s),
            ("ever since lunch \"since 2026-11-01\"", None)
        );
    }

    #[test]
    fn parse_needs_room_and_words() {
        let msg = Message::parse("SEARCH #general deploy since 2026-11-01")
            .unwrap()
            .unwrap();
        let s = Search::parse_frames(&msg).ok().unwrap();
        assert_eq!(
            (s.room.as_str(), s.query.as_str(), s.since.as_deref()),
            ("#general", "deploy", Some("2026-11-01"))
        );
        let msg = Message::parse("SEARCH #general").unwrap().unwrap();
        assert!(Search::parse_frames(&msg).is_err());
        let msg = Message::parse("SEARCH").unwrap().unwrap();
        assert!(Search::parse_frames(&msg).is_err());
    }
}
