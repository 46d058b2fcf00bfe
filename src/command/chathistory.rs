//! CHATHISTORY (IRCv3 draft/chathistory): a room's archived messages, fetched by the
//! client: `LATEST`, `BEFORE`, `AFTER`, `BETWEEN`, `AROUND` and `TARGETS`.
//!
//! Answers come from the room's CSV archives (rotated files included) through
//! [`crate::history`], read off the event loop, in a `chathistory` batch with each
//! message's archived `time` and `msgid`. Only members may read a room's history.
//! Private messages are not archived, so a nick's history is an empty batch.

use super::{Flow, Reject};
use crate::history::{self, Reference, Selector};
use crate::message::{Message, line};
use crate::names::{canonical_room, room_key};
use crate::playback;
use crate::search::timestamps::{format_millis, parse_row_timestamp};
use crate::session::Session;

/// A parsed CHATHISTORY request.
pub struct Chathistory {
    sub: String,
    request: Request,
}

enum Request {
    Messages {
        target: String,
        selector: Selector,
        limit: usize,
    },
    /// Rooms whose latest message falls strictly between `from` and `to` (either may be
    /// the later one: the limit counts from `from`, as BETWEEN's does).
    Targets { from: i64, to: i64, limit: usize },
}

fn fail(code: &str, context: &[&str], text: &str) -> Reject {
    Reject::fail("CHATHISTORY", code, context, text)
}

/// `*` (LATEST only), `timestamp=2026-11-26T10:15:30.123Z` or `msgid=…`.
fn reference(sub: &str, s: &str) -> Result<Option<Reference>, Reject> {
    let invalid = || {
        fail(
            "INVALID_PARAMS",
            &[sub],
            &format!(
                "Invalid message reference {s:?}: use timestamp=<RFC 3339 time> or msgid=<id>"
            ),
        )
    };
    if s == "*" {
        return Ok(None);
    }
    if let Some(ts) = s.strip_prefix("timestamp=") {
        return parse_row_timestamp(ts)
            .map(|ms| Some(Reference::Timestamp(ms)))
            .ok_or_else(invalid);
    }
    if let Some(id) = s.strip_prefix("msgid=").filter(|id| !id.is_empty()) {
        return Ok(Some(Reference::Msgid(id.to_string())));
    }
    Err(invalid())
}

impl Chathistory {
    /// Checks the subcommand, references and limit (standard-replies FAIL otherwise).
    pub fn parse_frames(msg: &Message) -> Result<Chathistory, Reject> {
        let p = &msg.params;
        let Some(sub) = p.first().map(|s| s.to_ascii_uppercase()) else {
            return Err(fail(
                "NEED_MORE_PARAMS",
                &["*"],
                "Missing parameters: CHATHISTORY <subcommand> <target> <reference> <limit>",
            ));
        };
        let needed = match sub.as_str() {
            "LATEST" | "BEFORE" | "AFTER" | "AROUND" | "TARGETS" => 4,
            "BETWEEN" => 5,
            _ => {
                return Err(fail(
                    "UNKNOWN_COMMAND",
                    &[&sub],
                    "Unknown subcommand: use LATEST, BEFORE, AFTER, BETWEEN, AROUND or TARGETS",
                ));
            }
        };
        if p.len() < needed {
            return Err(fail("NEED_MORE_PARAMS", &[&sub], "Missing parameters"));
        }
        let limit = p[needed - 1]
            .parse::<usize>()
            .ok()
            .filter(|n| *n > 0)
            .ok_or_else(|| {
                fail(
                    "INVALID_PARAMS",
                    &[&sub],
                    "The limit must be a positive number",
                )
            })?;
        let required = |s: &str| {
            reference(&sub, s)?
                .ok_or_else(|| fail("INVALID_PARAMS", &[&sub], "`*` is only valid with LATEST"))
        };
        if sub == "TARGETS" {
            let stamp = |s: &str| match required(s)? {
                Reference::Timestamp(ms) => Ok(ms),
                Reference::Msgid(_) => Err(fail(
                    "INVALID_PARAMS",
                    &[&sub],
                    "TARGETS takes timestamp= references",
                )),
            };
            let (a, b) = (stamp(&p[1])?, stamp(&p[2])?);
            return Ok(Chathistory {
                sub,
                request: Request::Targets {
                    from: a,
                    to: b,
                    limit,
                },
            });
        }
        let selector = match sub.as_str() {
            "LATEST" => Selector::Latest {
                after: reference(&sub, &p[2])?,
            },
            "BEFORE" => Selector::Before(required(&p[2])?),
            "AFTER" => Selector::After(required(&p[2])?),
            "AROUND" => Selector::Around(required(&p[2])?),
            _ => Selector::Between(required(&p[2])?, required(&p[3])?),
        };
        Ok(Chathistory {
            sub,
            request: Request::Messages {
                target: p[1].clone(),
                selector,
                limit,
            },
        })
    }

    /// Reads the archive off the event loop and answers in a batch.
    pub async fn apply(self, s: &mut Session) -> Flow {
        let max = s.ctx.settings.chathistory_max;
        match self.request {
            Request::Messages {
                target,
                selector,
                limit,
            } => messages(s, &self.sub, &target, selector, limit.min(max)).await,
            Request::Targets { from, to, limit } => targets(s, from, to, limit.min(max)).await,
        }
        Flow::Continue
    }
}

async fn messages(s: &Session, sub: &str, target: &str, selector: Selector, limit: usize) {
    if !target.starts_with('#') && s.ctx.state.nick_display(target).is_some() {
        // Private messages are never archived: nothing to return.
        s.send_batch("chathistory", &[target], Vec::new());
        return;
    }
    let room = canonical_room(target)
        .ok()
        .and_then(|name| s.ctx.state.member_room(s.id, &name).ok());
    let Some(room) = room else {
        s.fail(
            "CHATHISTORY",
            "INVALID_TARGET",
            &[sub, target],
            "Messages could not be retrieved: no such room, or you are not in it",
        );
        return;
    };
    let dir = s.ctx.archive.dir().to_path_buf();
    let name = room.clone();
    let found =
        tokio::task::spawn_blocking(move || history::query(&dir, &name, &selector, limit)).await;
    match found {
        Ok(Ok(rows)) => {
            let lines = rows
                .iter()
                .map(|m| playback::relay(&room, m).for_caps(s.caps))
                .collect();
            s.send_batch("chathistory", &[&room], lines);
        }
        Ok(Err(e)) => {
            tracing::error!(room = %room, error = %e, "CHATHISTORY: cannot read the archive");
            s.fail(
                "CHATHISTORY",
                "MESSAGE_ERROR",
                &[sub, target],
                "Messages could not be retrieved: the archive could not be read",
            );
        }
        Err(_) => s.fail(
            "CHATHISTORY",
            "MESSAGE_ERROR",
            &[sub, target],
            "Messages could not be retrieved",
        ),
    }
}

/// The rooms the client is in whose latest message falls strictly between the two times,
/// oldest first: the `limit` nearest `from` (the newest ones when `from` is the later
/// time), each as `CHATHISTORY TARGETS <room> <time>` with a bare server-time timestamp,
/// as ergo and soju send it.
async fn targets(s: &Session, from: i64, to: i64, limit: usize) {
    let (after, before) = (from.min(to), from.max(to));
    let rooms: Vec<String> = s
        .ctx
        .state
        .with_client(s.id, |c| c.rooms.iter().cloned().collect())
        .unwrap_or_default();
    let dir = s.ctx.archive.dir().to_path_buf();
    let found = tokio::task::spawn_blocking(move || {
        let mut out: Vec<(i64, String)> = rooms
            .into_iter()
            .filter_map(|room| {
                let latest = history::latest_millis(&dir, &room).ok()??;
                (latest > after && latest < before).then_some((latest, room))
            })
            .collect();
        out.sort();
        if from > to {
            out.drain(..out.len().saturating_sub(limit));
        } else {
            out.truncate(limit);
        }
        out
    })
    .await
    .unwrap_or_default();
    let server = s.ctx.settings.server_name.clone();
    let lines = found
        .iter()
        .map(|(ms, key)| {
            let display = s
                .ctx
                .state
                .member_room(s.id, key)
                .unwrap_or_else(|_| room_key(key));
            let stamp = format_millis(*ms);
            line(&server, "CHATHISTORY", &["TARGETS", &display, &stamp], None)
        })
        .collect();
    s.send_batch("draft/chathistory-targets", &[], lines);
}
