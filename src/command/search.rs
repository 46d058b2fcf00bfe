//! SEARCH: search the archived history of the rooms the asker is in.
//!
//! Two forms. The readable one, for people: `SEARCH [#room] <query> [since DATE] [until
//! DATE]` — the query uses the language of `chat-search query` (words, "phrases",
//! -excluded, user:nick); `since`/`until` followed by a date (`2026-11-01`, whole days in
//! UTC, both inclusive) or an RFC 3339 time bound it. Without a room (the first word is
//! not a `#room` nor a room the asker is in) every room the asker is in is searched.
//! Results are NOTICEs to their room (so clients show them in the room's window), oldest
//! first, then an end line. The soju.im/search form, for clients:
//! `SEARCH in=#room;from=nick;after=TS;before=TS;text=words;limit=N`, answered with the
//! matching messages as PRIVMSG lines with their `time` and `msgid`, in a
//! `soju.im/search` batch.

use super::{Flow, Reject, required};
use crate::message::Message;
use crate::names::{canonical_room, room_key};
use crate::playback;
use crate::search::stats::group_thousands;
use crate::search::{Hit, Scope, SearchError, SearchRequest, SortOrder};
use crate::session::Session;
use crate::state::RoomError;

const USAGE: &str = "SEARCH [#room] <words> [since DATE] [until DATE]";

/// Longest a SEARCH waits for messages already delivered to reach the index (normally
/// about the indexer's commit interval).
const INDEX_WAIT: std::time::Duration = std::time::Duration::from_secs(5);

/// soju.im/search: the default and the largest `limit`.
const SOJU_DEFAULT_LIMIT: usize = 50;
const SOJU_MAX_LIMIT: usize = 100;

/// The keys of a soju.im/search request.
const SOJU_KEYS: [&str; 6] = ["in", "from", "after", "before", "text", "limit"];

/// A parsed `SEARCH` request.
pub struct Search {
    /// The room asked for, as typed; `None` searches every room the asker is in. A first
    /// word that might be a room or a search word is kept in `maybe_room`.
    room: Option<String>,
    maybe_room: Option<String>,
    query: String,
    since: Option<String>,
    until: Option<String>,
    from: Option<String>,
    /// `Some(limit)` for the soju.im/search form.
    soju: Option<usize>,
}

impl Search {
    /// Needs some words (461 otherwise); the soju form needs valid attributes
    /// (`FAIL SEARCH INVALID_PARAMS`).
    pub fn parse_frames(msg: &Message) -> Result<Search, Reject> {
        let first = required(msg, 0, USAGE)?;
        let whole = msg.params.join(" ");
        let is_soju = first
            .split_once('=')
            .is_some_and(|(k, _)| SOJU_KEYS.contains(&k));
        if is_soju {
            return parse_soju(&whole);
        }
        let (room, maybe_room, rest) = if first.starts_with('#') {
            (Some(first.to_string()), None, msg.params[1..].join(" "))
        } else {
            (None, Some(first.to_string()), msg.params[1..].join(" "))
        };
        if room.is_some() && rest.trim().is_empty() {
            return Err(Reject::need_more_params(&msg.command, USAGE));
        }
        let (query, since, until) = split_bounds(&rest).map_err(|e| {
            let context = room.as_deref().unwrap_or("*");
            Reject::fail("SEARCH", "INVALID_QUERY", &[context], &e)
        })?;
        Ok(Search {
            room,
            maybe_room,
            query,
            since,
            until,
            from: None,
            soju: None,
        })
    }

    /// Checks membership (403/442), runs the search and sends the hits.
    pub async fn apply(mut self, s: &mut Session) -> Flow {
        let my_rooms: Vec<String> = s
            .ctx
            .state
            .with_client(s.id, |c| c.rooms.iter().cloned().collect())
            .unwrap_or_default();
        // `SEARCH general deploy`: a first word naming one of the asker's rooms is a room.
        if let Some(word) = self.maybe_room.take() {
            let as_room = canonical_room(&word).ok().map(|r| room_key(&r));
            if as_room.is_some_and(|k| my_rooms.contains(&k)) {
                self.room = Some(word);
            } else {
                self.query = format!("{word} {}", self.query).trim().to_string();
            }
        }
        if self.query.trim().is_empty() && self.soju.is_none() {
            s.numeric(
                "461",
                &["SEARCH"],
                &format!("Not enough parameters. Usage: {USAGE}"),
            );
            return Flow::Continue;
        }
        let scope_rooms = match &self.room {
            Some(room) => match self.room_in(s, room) {
                Some(room) => vec![room],
                None => return Flow::Continue,
            },
            None => my_rooms,
        };
        if scope_rooms.is_empty() {
            if self.soju.is_some() {
                s.send_batch("soju.im/search", &[], Vec::new());
            } else {
                s.notice("End of SEARCH: you are in no room; JOIN one to search its history");
            }
            return Flow::Continue;
        }
        // The room as it is spelled live (`#DevOps`), for the end line and errors.
        let label = self.room.as_ref().map(|_| {
            s.ctx
                .state
                .member_room(s.id, &scope_rooms[0])
                .unwrap_or_else(|_| scope_rooms[0].clone())
        });
        let Some(index) = s.ctx.search.clone() else {
            s.fail(
                "SEARCH",
                "UNAVAILABLE",
                &[label.as_deref().unwrap_or("*")],
                if s.ctx.settings.search_index {
                    "Search is not available on this server right now (see the server log)"
                } else {
                    "Search is turned off on this server (--search-index off)"
                },
            );
            return Flow::Continue;
        };
        let max = self.soju.unwrap_or(index.config().max_results);
        let req = SearchRequest {
            query: self.query.clone(),
            scope: Scope {
                rooms: scope_rooms,
                user: self.from.clone(),
                since: self.since.clone(),
                until: self.until.clone(),
                ..Scope::default()
            },
            // soju.im/search: with `after`, search forwards from that time.
            sort: if self.soju.is_some() && self.since.is_some() {
                SortOrder::Oldest
            } else {
                SortOrder::Time
            },
            limit: max,
        };
        // Read-your-writes: wait for the rows already delivered to be indexed.
        let written = *s.ctx.archive.written().borrow();
        let context = label.as_deref().unwrap_or("*");
        let started = std::time::Instant::now();
        let answer = match index.wait_indexed(written, INDEX_WAIT).await {
            Ok(()) => index.search(req).await,
            Err(e) => Err(e),
        };
        crate::metrics::observe(&crate::metrics::get().search_seconds, started.elapsed());
        match answer {
            Ok(results) if self.soju.is_some() => {
                let lines = results
                    .hits
                    .iter()
                    .map(|hit| playback::relay(&shown(s, hit), &archived(hit)).for_caps(s.caps))
                    .collect();
                s.send_batch("soju.im/search", &[], lines);
            }
            Ok(results) => {
                let server = s.ctx.settings.server_name.clone();
                for hit in &results.hits {
                    let text = playback::readable(&archived(hit));
                    s.send(playback::notice(&server, &shown(s, hit), &text));
                }
                let n = results.hits.len();
                let scope = label.clone().unwrap_or_else(|| "your rooms".to_string());
                let end = if results.truncated() {
                    format!(
                        "End of SEARCH {scope}: newest {n} of {} matches shown (limit {max}); \
                         add words or since/until to narrow it",
                        group_thousands(results.total as u64)
                    )
                } else {
                    format!(
                        "End of SEARCH {scope}: {n} match{}",
                        if n == 1 { "" } else { "es" }
                    )
                };
                let target = label.unwrap_or_else(|| s.target().to_string());
                s.send(playback::notice(&server, &target, &end));
            }
            Err(SearchError::BadQuery(e)) => {
                let code = if self.soju.is_some() {
                    "INVALID_PARAMS"
                } else {
                    "INVALID_QUERY"
                };
                s.fail("SEARCH", code, &[context], &e.to_string());
            }
            Err(SearchError::Unavailable(why)) => {
                s.fail("SEARCH", "UNAVAILABLE", &[context], &why);
            }
            Err(SearchError::Timeout) => {
                s.fail(
                    "SEARCH",
                    "TIMEOUT",
                    &[context],
                    &SearchError::Timeout.to_string(),
                );
            }
            Err(e) => {
                tracing::error!("SEARCH failed: {e}");
                s.fail(
                    "SEARCH",
                    "INTERNAL_ERROR",
                    &[context],
                    "Search failed; see the server log",
                );
            }
        }
        Flow::Continue
    }

    /// The key of `room` if the asker is in it; otherwise says why not (403/442, or FAIL
    /// for the soju form).
    fn room_in(&self, s: &Session, room: &str) -> Option<String> {
        let refuse = |code: &str, text: &str| {
            if self.soju.is_some() {
                s.fail("SEARCH", "INVALID_PARAMS", &["in"], text);
            } else {
                s.numeric(code, &[room], text);
            }
        };
        let Ok(name) = canonical_room(room) else {
            refuse("403", "No such room");
            return None;
        };
        match s.ctx.state.member_room(s.id, &name) {
            Ok(display) => Some(room_key(&display)),
            Err(RoomError::NotInRoom) => {
                refuse("442", "You're not in that room (JOIN it to search it)");
                None
            }
            Err(_) => {
                refuse("403", "No such room");
                None
            }
        }
    }
}

/// The room of a hit as it is spelled live (`#DevOps`; the index keeps it folded).
fn shown(s: &Session, hit: &Hit) -> String {
    s.ctx
        .state
        .member_room(s.id, &hit.room)
        .unwrap_or_else(|_| hit.room.clone())
}

/// The archived message a hit stands for.
fn archived(hit: &Hit) -> crate::history::ArchivedMessage {
    playback::from_row(&hit.room, hit.millis, &hit.user, &hit.message)
}

/// Parses `in=#room;from=nick;after=TS;before=TS;text=words;limit=N` (tag syntax, values
/// escaped as tag values).
fn parse_soju(attrs: &str) -> Result<Search, Reject> {
    let bad = |param: &str, text: &str| Reject::fail("SEARCH", "INVALID_PARAMS", &[param], text);
    let mut search = Search {
        room: None,
        maybe_room: None,
        query: String::new(),
        since: None,
        until: None,
        from: None,
        soju: Some(SOJU_DEFAULT_LIMIT),
    };
    for (key, value) in crate::tags::parse(attrs.trim()) {
        let value = value.trim().to_string();
        match key.as_str() {
            "in" => search.room = Some(value),
            "from" => search.from = Some(value),
            "after" | "before" => {
                if crate::search::timestamps::parse_row_timestamp(&value).is_none() {
                    return Err(bad(&key, "expected an RFC 3339 timestamp"));
                }
                if key == "after" {
                    search.since = Some(value);
                } else {
                    search.until = Some(value);
                }
            }
            "text" => search.query = value,
            "limit" => match value.parse::<usize>() {
                Ok(n) if n > 0 => search.soju = Some(n.min(SOJU_MAX_LIMIT)),
                _ => return Err(bad("limit", "expected a positive number")),
            },
            other => return Err(bad(other, "unknown search attribute")),
        }
    }
    // Every attribute is optional (`SEARCH from=jackie;in=#chan`): without `text` the
    // query has no word clause and matches on the other attributes alone.
    Ok(search)
}

/// Takes `since X` / `until X` (outside quotes) out of the query text. X must be a date
/// (`2026-11-01`, `today`, `yesterday`) or a time; anything else is an error, never a
/// search word: to search for the word "since", quote it.
fn split_bounds(text: &str) -> Result<(String, Option<String>, Option<String>), String> {
    let mut words: Vec<(&str, bool)> = Vec::new(); // (word, outside quotes)
    let mut quotes = 0usize;
    for w in text.split_whitespace() {
        let outside = quotes.is_multiple_of(2) && !w.starts_with('"') && !w.starts_with("-\"");
        quotes += w.matches('"').count();
        words.push((w, outside));
    }
    use crate::search::timestamps::{Bound, Zone, parse_bound};
    let (mut since, mut until) = (None, None);
    let mut kept = Vec::new();
    let mut i = 0;
    while i < words.len() {
        let (w, outside) = words[i];
        let keyword = w.to_ascii_lowercase();
        if outside && (keyword == "since" || keyword == "until") {
            let quote_hint =
                format!("to search for the word {keyword}, put it in quotes (\"{keyword}\")");
            let Some(&(value, _)) = words.get(i + 1) else {
                return Err(format!(
                    "`{keyword}` needs a date after it (2026-11-01, today, yesterday); {quote_hint}"
                ));
            };
            if let Err(e) = parse_bound(value, Bound::Since, Zone::utc()) {
                return Err(format!("{e}; {quote_hint}"));
            }
            let slot = if keyword == "since" {
                &mut since
            } else {
                &mut until
            };
            *slot = Some(value.to_string());
            i += 2;
            continue;
        }
        kept.push(w);
        i += 1;
    }
    Ok((kept.join(" "), since, until))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn since_and_until_words_become_bounds() {
        let (q, s, u) = split_bounds("deploy since 2026-11-01 until yesterday").unwrap();
        assert_eq!(
            (q.as_str(), s.as_deref(), u.as_deref()),
            ("deploy", Some("2026-11-01"), Some("yesterday"))
        );
        // Inside quotes: plain words.
        let (q, s, _) = split_bounds("ever \"since 2026-11-01\"").unwrap();
        assert_eq!((q.as_str(), s), ("ever \"since 2026-11-01\"", None));
        // Not followed by a date: an error that says how to search for the word.
        for bad in ["ever since lunch", "since 2026-13-01", "deploy until"] {
            let e = split_bounds(bad).unwrap_err();
            assert!(e.contains("put it in quotes"), "{e}");
        }
        assert!(
            split_bounds("since 2026-13-01")
                .unwrap_err()
                .contains("bad date `2026-13-01`")
        );
    }

    #[test]
    fn parse_needs_room_and_words() {
        let msg = Message::parse("SEARCH #general deploy since 2026-11-01")
            .unwrap()
            .unwrap();
        let s = Search::parse_frames(&msg).ok().unwrap();
        assert_eq!(
            (s.room.as_deref(), s.query.as_str(), s.since.as_deref()),
            (Some("#general"), "deploy", Some("2026-11-01"))
        );
        let msg = Message::parse(r"SEARCH in=#dev;text=deploy\sfailed;limit=500")
            .unwrap()
            .unwrap();
        let s = Search::parse_frames(&msg).ok().unwrap();
        assert_eq!(
            (s.room.as_deref(), s.query.as_str(), s.soju),
            (Some("#dev"), "deploy failed", Some(SOJU_MAX_LIMIT))
        );
        let msg = Message::parse("SEARCH in=#dev;after=yesterday;text=x")
            .unwrap()
            .unwrap();
        assert!(Search::parse_frames(&msg).is_err());
        let msg = Message::parse("SEARCH #general").unwrap().unwrap();
        assert!(Search::parse_frames(&msg).is_err());
        let msg = Message::parse("SEARCH hello").unwrap().unwrap();
        assert!(
            Search::parse_frames(&msg)
                .ok()
                .unwrap()
                .maybe_room
                .is_some()
        );
        let msg = Message::parse("SEARCH").unwrap().unwrap();
        assert!(Search::parse_frames(&msg).is_err());
    }
}
