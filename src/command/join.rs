//! JOIN: enter one or more rooms (comma-separated, with keys), creating them as needed,
//! then see the room's recent archived lines (the replay, InspIRCd chanhistory-style).

use super::{Flow, Reject, required};
use crate::caps::Cap;
use crate::history::{Reference, Selector};
use crate::message::{Message, line};
use crate::names::canonical_room;
use crate::playback;
use crate::session::Session;
use crate::state::{Op, Outcome};

/// `JOIN <room>[,<room>...] [<key>[,<key>...]]` (`#` optional); `JOIN 0` leaves every room.
pub struct Join {
    rooms: Vec<String>,
    keys: Vec<String>,
}

impl Join {
    /// Needs at least one room (461 otherwise).
    pub fn parse_frames(msg: &Message) -> Result<Join, Reject> {
        let list = required(msg, 0, "JOIN <#room>[,<#room>...] [key[,key...]]")?;
        let rooms = super::comma_list(list);
        if rooms.is_empty() {
            return Err(Reject::need_more_params(
                "JOIN",
                "JOIN <#room>[,<#room>...] [key[,key...]]",
            ));
        }
        Ok(Join {
            rooms,
            keys: msg
                .params
                .get(1)
                .map(|k| k.split(',').map(str::to_string).collect())
                .unwrap_or_default(),
        })
    }

    /// Joins each room in turn under its rules, sending the joiner its JOIN echo, the
    /// topic (if any), the names list and the replay; each refused room gets its own
    /// numeric.
    pub async fn apply(self, s: &mut Session) -> Flow {
        if self.rooms == ["0"] {
            let rooms = s
                .ctx
                .state
                .with_client(s.id, |c| c.rooms.iter().cloned().collect::<Vec<_>>())
                .unwrap_or_default();
            for room in rooms {
                super::part::leave(s, room, Some("Left all rooms".into())).await;
            }
            return Flow::Continue;
        }
        for (i, requested) in self.rooms.iter().enumerate() {
            let name = match canonical_room(requested) {
                Ok(name) => name,
                Err(e) => {
                    s.numeric("479", &[requested], &format!("Illegal room name: {e}"));
                    continue;
                }
            };
            let key = self
                .keys
                .get(i)
                .map(String::as_str)
                .filter(|k| !k.is_empty());
            let max_rooms = s.ctx.settings.max_rooms_per_client;
            let op = Op::Join {
                id: s.id,
                room: name.clone(),
                key: key.map(str::to_string),
                max_rooms,
            };
            let Some(Outcome::Join(result)) = s.change(op).await else {
                continue;
            };
            let joined = match result {
                Ok(Some(joined)) => joined,
                Ok(None) => continue, // already a member: nothing to do, as on IRC
                Err(e) => {
                    super::room_error(s, &name, &e);
                    continue;
                }
            };
            if let Some(topic) = &joined.topic {
                s.numeric("332", &[&joined.room], &topic.text);
                let set_at = topic.set_at.to_string();
                s.send(line(
                    &s.ctx.settings.server_name,
                    "333",
                    &[s.target(), &joined.room, &topic.set_by, &set_at],
                    None,
                ));
            }
            super::names::send_names(s, joined.symbol, &joined.room, &joined.names);
            replay(s, &joined.room, joined.history_until).await;
        }
        Flow::Continue
    }
}

/// Sends the room's recent archived lines to the joiner: as the original PRIVMSGs with
/// their archived `time` (and `msgid`, in a `chathistory` batch when the client has batch)
/// to clients with server-time; as marked, timestamped NOTICEs
/// (`[2026-11-26 10:15] <alice> hello`) to everyone else. Clients that
/// negotiated draft/chathistory fetch history themselves and get none (as ergo does).
async fn replay(s: &Session, room: &str, until: Option<i64>) {
    let lines = s.ctx.settings.history_replay_lines;
    if lines == 0 || s.caps.has(Cap::Chathistory) {
        return;
    }
    let age = chrono::Duration::from_std(s.ctx.settings.history_replay_age).unwrap_or_default();
    let since = (chrono::Utc::now() - age).timestamp_millis();
    let dir = s.ctx.archive.dir().to_path_buf();
    let name = room.to_string();
    // Exactly the messages delivered before the join: later ones arrive live.
    let rows = tokio::task::spawn_blocking(move || match until {
        Some(until) if until < since => Ok(Vec::new()),
        Some(until) => crate::history::query(
            &dir,
            &name,
            &Selector::Between(
                Reference::Timestamp(until + 1),
                Reference::Timestamp(since - 1),
            ),
            lines,
        ),
        None => crate::history::recent(&dir, &name, since, lines),
    })
    .await;
    let rows = match rows {
        Ok(Ok(rows)) => rows,
        Ok(Err(e)) => {
            tracing::warn!(room = %room, error = %e, "replay on join: cannot read the archive");
            return;
        }
        Err(_) => return,
    };
    if rows.is_empty() {
        return;
    }
    // With server-time the lines carry their archived time, so they read as history even
    // without batch (weechat 3.8 takes server-time but not batch), as InspIRCd does.
    if s.caps.has(Cap::ServerTime) {
        let lines = rows
            .iter()
            .map(|m| playback::relay(room, m).for_caps(s.caps))
            .collect();
        s.send_batch("chathistory", &[room], lines);
        return;
    }
    let server = &s.ctx.settings.server_name;
    let n = rows.len();
    let plural = if n == 1 { "" } else { "s" };
    s.send(playback::notice(
        server,
        room,
        &format!("*** Replaying the last {n} message{plural} of {room} (times in UTC)"),
    ));
    for m in &rows {
        s.send(playback::notice(server, room, &playback::readable(m)));
    }
    s.send(playback::notice(server, room, "*** End of replay"));
}
