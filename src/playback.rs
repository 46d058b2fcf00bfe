//! Archived messages put back on the wire: CHATHISTORY, the replay on JOIN and search
//! results all render a row the same way, so a message looks the same live, replayed and
//! searched — and archive text (which other tools may have written) is sanitised here,
//! once, so no row can smuggle a CR, LF or control character onto a connection.

use bytes::Bytes;

use crate::history::{ArchivedMessage, WireText, wire_nick, wire_text};
use crate::message::{line, truncate_to};
use crate::names::MAX_NICK_BYTES;
use crate::relay::Relay;

/// Longest message text put on the wire from the archive, in bytes. Rows this server wrote
/// are far shorter (a line is at most `--max-line-bytes`); a huge row another tool wrote is
/// cut, so no history line can outgrow what clients accept.
pub const MAX_TEXT_BYTES: usize = 4096;

/// The archived author as a safe source, cut to a sane length.
fn safe_nick(user: &str) -> String {
    let mut nick = wire_nick(user);
    truncate_to(&mut nick, MAX_NICK_BYTES * 4);
    nick
}

/// The archived text cleaned of control characters and cut to [`MAX_TEXT_BYTES`].
fn safe_text(text: &str) -> WireText {
    let cut = |mut t: String| {
        truncate_to(&mut t, MAX_TEXT_BYTES);
        t
    };
    match wire_text(text) {
        WireText::Plain(t) => WireText::Plain(cut(t)),
        WireText::Action(t) => WireText::Action(cut(t)),
    }
}

/// The archived message as the PRIVMSG it was, from `nick` (the archive keeps no
/// user@host), with its archived `time` and `msgid` for clients that take tags.
pub fn relay(room: &str, m: &ArchivedMessage) -> Relay {
    let text = match safe_text(&m.text) {
        WireText::Plain(t) if t.is_empty() => " ".to_string(),
        WireText::Plain(t) => t,
        WireText::Action(t) => format!("\u{1}ACTION {t}\u{1}"),
    };
    Relay::at(
        line(&safe_nick(&m.user), "PRIVMSG", &[room], Some(&text)),
        m.time(),
    )
    .with_msgid(m.msgid.clone())
}

/// The readable form for people on telnet and clients without server-time:
/// `[2026-11-26 10:15] <alice> hello`, or `[…] * alice waves` for an action. Times are UTC.
pub fn readable(m: &ArchivedMessage) -> String {
    let when = chrono::DateTime::from_timestamp_millis(m.millis)
        .map(|t| t.format("%Y-%m-%d %H:%M").to_string())
        .unwrap_or_else(|| m.time());
    let nick = safe_nick(&m.user);
    match safe_text(&m.text) {
        WireText::Plain(t) => format!("[{when}] <{nick}> {t}"),
        WireText::Action(t) => format!("[{when}] * {nick} {t}"),
    }
}

/// A server NOTICE to `target` carrying readable history text.
pub fn notice(server: &str, target: &str, text: &str) -> Bytes {
    line(server, "NOTICE", &[target], Some(text))
}

/// An archived message from a search hit (the index keeps the row's fields).
pub fn from_row(room: &str, millis: i64, user: &str, text: &str) -> ArchivedMessage {
    ArchivedMessage {
        millis,
        user: user.to_string(),
        text: text.to_string(),
        msgid: crate::history::msgid(room, millis, user, text),
    }
}
