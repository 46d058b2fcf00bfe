//! Room history read straight from the CSV archives: IRCv3 `draft/chathistory` queries
//! and JOIN replay.
//!
//! The archives are the only store of history, and they grow without bound, so every
//! query costs O(log(file size) + limit): a binary search over byte offsets finds the
//! reference, then rows are read forwards, or backwards in 64 KiB chunks from the end or
//! the reference. No file is ever loaded whole. The functions are synchronous std I/O,
//! meant for `tokio::task::spawn_blocking`.
//!
//! * `file`: one file — sync points, binary search, forward/backward rows;
//! * `sequence`: a room's current and rotated files as one sequence;
//! * `msgid`: stable message ids derived from the row;
//! * `wire`: making stored text and names safe to send.
//!
//! Text comes back as stored; pass it through [`wire_text`] / [`wire_nick`] before it
//! goes on the wire.

mod file;
mod msgid;
mod sequence;
mod wire;

#[cfg(test)]
mod tests;

use std::io;
use std::path::Path;

pub use msgid::{msgid, msgid_for_key, msgid_millis};
pub use wire::{WireText, wire_nick, wire_text};

use crate::names::room_key;
use crate::search::timestamps::format_millis;
use sequence::{Pos, Row, Sequence};

/// One archived room message, as read back: what a replayed PRIVMSG is built from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ArchivedMessage {
    /// UTC milliseconds since the epoch (the `time` tag).
    pub millis: i64,
    /// The username as stored (see [`wire_nick`] before sending).
    pub user: String,
    /// The text as stored (see [`wire_text`] before sending).
    pub text: String,
    /// The row's stable id (the `msgid` tag); see [`msgid`].
    pub msgid: String,
}

impl ArchivedMessage {
    /// The `time` tag value, `2026-11-23T10:15:30.123Z`: the archive's own format.
    pub fn time(&self) -> String {
        format_millis(self.millis)
    }
}

/// A CHATHISTORY message reference (`timestamp=…` or `msgid=…`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reference {
    /// A point in time, UTC milliseconds; exclusive where the selector says so.
    Timestamp(i64),
    /// A message id as sent by us; falls back to its embedded timestamp if no row has it.
    Msgid(String),
}

/// Which messages a CHATHISTORY subcommand asks for; all bounds are exclusive except
/// [`Selector::Around`]'s.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Selector {
    /// The newest `limit` messages, only those after `after` (exclusive) when given
    /// (`LATEST <target> *|ref limit`).
    Latest {
        /// The reference of `LATEST <target> ref`; `None` for `*`.
        after: Option<Reference>,
    },
    /// The `limit` messages just before the reference.
    Before(Reference),
    /// The `limit` messages just after the reference.
    After(Reference),
    /// Messages strictly between the references, at most `limit` counted from the first
    /// reference (so reversed references give the newest ones).
    Between(Reference, Reference),
    /// `limit / 2` messages before the reference, the rest at and after it (the
    /// referenced message included).
    Around(Reference),
}

/// Where a reference sits: rows before `before` come before it, rows at or after
/// `after` come after it. For a found msgid these are its row's start and end; for a
/// timestamp, the first row at that millisecond and the first row after it.
struct Anchor {
    before: Pos,
    after: Pos,
}

/// Messages of `room` chosen by `selector`, at most `limit`, oldest first.
///
/// A missing archive (or a msgid reference that is not 27 hex digits) gives an empty
/// result; only I/O failures are errors.
pub fn query(
    log_dir: &Path,
    room: &str,
    selector: &Selector,
    limit: usize,
) -> io::Result<Vec<ArchivedMessage>> {
    if limit == 0 {
        return Ok(Vec::new());
    }
    let seq = Sequence::open(log_dir, room)?;
    if seq.is_empty() {
        return Ok(Vec::new());
    }
    let key = room_key(room);
    let anchor = |r: &Reference| resolve(&seq, &key, r);
    let rows = match selector {
        Selector::Latest { after: None } => seq.take_backward(seq.end(), None, limit)?,
        Selector::Latest { after: Some(r) } => match anchor(r)? {
            Some(a) => seq.take_backward(seq.end(), Some(a.after), limit)?,
            None => Vec::new(),
        },
        Selector::Before(r) => match anchor(r)? {
            Some(a) => seq.take_backward(a.before, None, limit)?,
            None => Vec::new(),
        },
        Selector::After(r) => match anchor(r)? {
            Some(a) => seq.take_forward(a.after, None, limit)?,
            None => Vec::new(),
        },
        Selector::Between(from, to) => match (anchor(from)?, anchor(to)?) {
            (Some(a), Some(b)) if a.before <= b.before => {
                seq.take_forward(a.after, Some(b.before), limit)?
            }
            (Some(a), Some(b)) => seq.take_backward(a.before, Some(b.after), limit)?,
            _ => Vec::new(),
        },
        Selector::Around(r) => match anchor(r)? {
            Some(a) => {
                let older = limit / 2;
                let mut rows = seq.take_backward(a.before, None, older)?;
                rows.extend(seq.take_forward(a.before, None, limit - older)?);
                rows
            }
            None => Vec::new(),
        },
    };
    Ok(messages(&key, rows))
}

/// The newest `limit` messages at or after `since_millis` (JOIN replay), oldest first.
pub fn recent(
    log_dir: &Path,
    room: &str,
    since_millis: i64,
    limit: usize,
) -> io::Result<Vec<ArchivedMessage>> {
    if limit == 0 {
        return Ok(Vec::new());
    }
    let seq = Sequence::open(log_dir, room)?;
    if seq.is_empty() {
        return Ok(Vec::new());
    }
    let stop = seq.seek_ge(since_millis)?;
    let rows = seq.take_backward(seq.end(), Some(stop), limit)?;
    Ok(messages(&room_key(room), rows))
}

/// Timestamp (millis) of the last parseable row of one archive file, read from its tail
/// (the archive writer uses it on opening a file to keep per-room timestamps strictly
/// increasing). `None` if the file is missing or has no valid row.
pub fn last_row_millis(path: &Path) -> io::Result<Option<i64>> {
    let Some(f) = file::ArchiveFile::open(path)? else {
        return Ok(None);
    };
    Ok(f.backward(f.end()).next()?.map(|r| r.millis))
}

/// Timestamp of the newest message of a room (for CHATHISTORY TARGETS), None if no
/// archive: the last row of the room's last file, rotated ones included.
pub fn latest_millis(log_dir: &Path, room: &str) -> io::Result<Option<i64>> {
    let seq = Sequence::open(log_dir, room)?;
    Ok(seq.backward(seq.end()).next()?.map(|r| r.millis))
}

/// Locates a reference; `None` for a msgid that is not one of ours.
///
/// A msgid is looked for among the rows of its embedded millisecond only (a handful at
/// most); if none has that id (the row was edited out, or the id was made up), the
/// reference is treated as that timestamp.
fn resolve(seq: &Sequence, key: &str, reference: &Reference) -> io::Result<Option<Anchor>> {
    let millis = match reference {
        Reference::Timestamp(t) => *t,
        Reference::Msgid(id) => {
            let Some(millis) = msgid_millis(id) else {
                return Ok(None);
            };
            let start = seq.seek_ge(millis)?;
            let mut rows = seq.forward(start);
            while let Some(row) = rows.next()? {
                if row.millis != millis {
                    break;
                }
                if msgid::msgid_for_key(key, row.millis, &row.user, &row.text)
                    .eq_ignore_ascii_case(id)
                {
                    return Ok(Some(Anchor {
                        before: row.start,
                        after: row.end,
                    }));
                }
            }
            return Ok(Some(Anchor {
                before: start,
                after: first_after(seq, start, millis)?,
            }));
        }
    };
    let before = seq.seek_ge(millis)?;
    Ok(Some(Anchor {
        before,
        after: first_after(seq, before, millis)?,
    }))
}

/// Start of the first row from `from` on that is newer than `millis` (or the end): the
/// rows sharing one millisecond are few, so this beats a second binary search.
fn first_after(seq: &Sequence, from: Pos, millis: i64) -> io::Result<Pos> {
    let mut rows = seq.forward(from);
    while let Some(row) = rows.next()? {
        if row.millis > millis {
            return Ok(row.start);
        }
    }
    Ok(seq.end())
}

/// The rows as messages of the room whose folded key is `key`.
fn messages(key: &str, rows: Vec<Row>) -> Vec<ArchivedMessage> {
    rows.into_iter()
        .map(|r| ArchivedMessage {
            msgid: msgid::msgid_for_key(key, r.millis, &r.user, &r.text),
            millis: r.millis,
            user: r.user,
            text: r.text,
        })
        .collect()
}
