//! MONITOR (IRCv3): be told when nicks come online or go offline — presence without
//! sharing a room.

use super::{Flow, Reject, required};
use crate::message::Message;
use crate::session::Session;
use crate::state::MONITOR_LIMIT;

/// Most bytes of targets per 730/731/732/734 line: with the prefix, nick and text the
/// line stays well under 512 bytes (full `nick!user@host` masks are long).
const TARGET_BYTES_PER_LINE: usize = 400;

/// `MONITOR + nick,nick`, `MONITOR - nick`, `MONITOR C`, `MONITOR L`, `MONITOR S`
pub struct Monitor {
    op: char,
    nicks: Vec<String>,
}

impl Monitor {
    /// Needs an operation (461); `+` and `-` need nicks.
    pub fn parse_frames(msg: &Message) -> Result<Monitor, Reject> {
        let op = required(msg, 0, "MONITOR +|-|C|L|S [nick,nick...]")?;
        let op = match op.to_ascii_uppercase().as_str() {
            "+" => '+',
            "-" => '-',
            "C" => 'C',
            "L" => 'L',
            "S" => 'S',
            other => {
                return Err(Reject::new(
                    "421",
                    &["MONITOR"],
                    &format!("Unknown MONITOR operation {other}: use +, -, C, L or S"),
                ));
            }
        };
        let nicks = msg
            .params
            .get(1)
            .map(|l| super::target_list(l))
            .unwrap_or_default();
        if matches!(op, '+' | '-') && nicks.is_empty() {
            return Err(Reject::need_more_params(
                "MONITOR",
                "MONITOR +|- nick[,nick...]",
            ));
        }
        Ok(Monitor { op, nicks })
    }

    /// 730 online / 731 offline for `+` and `S`, 732/733 for `L`, 734 when the list is full.
    pub fn apply(self, s: &mut Session) -> Flow {
        let state = &s.ctx.state;
        match self.op {
            '+' => {
                let added = state.monitor_add(s.id, &self.nicks);
                send_chunks(s, "730", &added.online);
                send_chunks(s, "731", &added.offline);
                let limit = MONITOR_LIMIT.to_string();
                for refused in comma_lines(&added.refused) {
                    s.numeric("734", &[&limit, &refused], "Monitor list is full.");
                }
            }
            '-' => state.monitor_remove(s.id, &self.nicks),
            'C' => state.monitor_clear(s.id),
            'L' => {
                let list: Vec<String> = state
                    .monitor_list(s.id)
                    .into_iter()
                    .map(|e| match e {
                        Ok(mask) => mask.split('!').next().unwrap_or_default().to_string(),
                        Err(nick) => nick,
                    })
                    .collect();
                send_chunks(s, "732", &list);
                s.numeric("733", &[], "End of MONITOR list");
            }
            _ => {
                let (online, offline): (Vec<_>, Vec<_>) = state
                    .monitor_list(s.id)
                    .into_iter()
                    .partition(Result::is_ok);
                let online: Vec<String> = online.into_iter().flatten().collect();
                let offline: Vec<String> = offline.into_iter().filter_map(Result::err).collect();
                send_chunks(s, "730", &online);
                send_chunks(s, "731", &offline);
            }
        }
        Flow::Continue
    }
}

/// `:server CODE me :a,b,c`, split over lines.
fn send_chunks(s: &Session, code: &str, items: &[String]) {
    for chunk in comma_lines(items) {
        s.numeric(code, &[], &chunk);
    }
}

/// `items` joined with commas, cut into lists of at most [`TARGET_BYTES_PER_LINE`].
fn comma_lines(items: &[String]) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for item in items {
        match out.last_mut() {
            Some(last) if last.len() + 1 + item.len() <= TARGET_BYTES_PER_LINE => {
                last.push(',');
                last.push_str(item);
            }
            _ => out.push(item.clone()),
        }
    }
    out
}
