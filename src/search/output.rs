//! Rendering results as text (aligned, optionally highlighted), JSON lines or CSV.
//!
//! Text is for people: `2026-11-03T09:12:44.120Z  #general  alice  the deploy is done`,
//! room and user columns padded to the widest value, matched terms in bold yellow only
//! when writing to a terminal (so pipes and files get plain text), one hit per line
//! whatever the message holds, and a `/me` (archived as `\x01ACTION waves\x01`) shown as
//! `* alice waves`. JSON lines and CSV are for programs and never contain escape codes;
//! JSON keeps the raw message and adds `"action": true` for a `/me`.
//!
//! Messages are stored as sent, so they may hold terminal control sequences (ESC, C1
//! controls, bidi overrides): text and CSV output show those escaped (`\x1b`, `\u{202e}`)
//! so a search can never drive the reader's terminal. CSV has a spreadsheet-safe form
//! ([`Format::CsvSafe`]) against formula injection.

use std::io::{self, Write};

use super::analyzer::highlight_ranges;
use super::request::SearchResults;

/// Output format of `chat-search query`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Format {
    /// Aligned columns for people.
    #[default]
    Text,
    /// One JSON object per line: timestamp, room, user, message, file, line.
    Json,
    /// A header line and one row per hit: timestamp, room, user, message.
    Csv,
    /// CSV for spreadsheets: a field starting with `=`, `+`, `-`, `@`, TAB or CR gets a
    /// leading `'`, so it is shown as text instead of run as a formula.
    CsvSafe,
}

const HIGHLIGHT_ON: &str = "\x1b[1;33m";
const HIGHLIGHT_OFF: &str = "\x1b[0m";

/// Writes `results` to `out` in `format`; `highlight` adds ANSI bold to matched terms
/// (text format only).
pub fn render(
    out: &mut dyn Write,
    results: &SearchResults,
    format: Format,
    highlight: bool,
) -> io::Result<()> {
    match format {
        Format::Text => render_text(out, results, highlight),
        Format::Json => {
            for hit in &results.hits {
                serde_json::to_writer(&mut *out, hit)?;
                out.write_all(b"\n")?;
            }
            Ok(())
        }
        Format::Csv | Format::CsvSafe => {
            let safe = format == Format::CsvSafe;
            let field = |s: &str| {
                let s = escape_controls(s);
                if safe { spreadsheet_safe(s) } else { s }
            };
            let mut w = csv::Writer::from_writer(out);
            w.write_record(["timestamp", "room", "user", "message"])?;
            for hit in &results.hits {
                w.write_record([
                    field(&hit.timestamp),
                    field(&hit.room),
                    field(&hit.user),
                    field(&hit.message),
                ])?;
            }
            w.flush()
        }
    }
}

fn render_text(out: &mut dyn Write, results: &SearchResults, highlight: bool) -> io::Result<()> {
    let width =
        |f: fn(&super::request::Hit) -> usize| results.hits.iter().map(f).max().unwrap_or(0);
    let room_w = width(|h| str_width(&escape_controls(&h.room)));
    let user_w = width(|h| str_width(&escape_controls(&h.user)));
    for hit in &results.hits {
        let body = action_body(&hit.message).unwrap_or(&hit.message);
        let message = if highlight {
            highlighted(body, &results.highlight_terms, &results.highlight_prefixes)
        } else {
            escape_controls(body)
        };
        let ts = escape_controls(&hit.timestamp);
        let room = pad(&escape_controls(&hit.room), room_w);
        if hit.action {
            let user = escape_controls(&hit.user);
            writeln!(out, "{ts}  {room}  * {user} {message}")?;
        } else {
            let user = pad(&escape_controls(&hit.user), user_w);
            writeln!(out, "{ts}  {room}  {user}  {message}")?;
        }
    }
    Ok(())
}

/// `text` with ANSI highlighting around the matched terms (and its own control
/// characters escaped, so only our highlighting reaches the terminal).
pub fn highlighted(text: &str, terms: &[String], prefixes: &[String]) -> String {
    let mut out = String::with_capacity(text.len() + 16);
    let mut at = 0;
    for (from, to) in highlight_ranges(text, terms, prefixes) {
        out.push_str(&escape_controls(&text[at..from]));
        out.push_str(HIGHLIGHT_ON);
        out.push_str(&escape_controls(&text[from..to]));
        out.push_str(HIGHLIGHT_OFF);
        at = to;
    }
    out.push_str(&escape_controls(&text[at..]));
    out
}

/// The text of a `/me` (`\x01ACTION waves\x01` → `waves`; the closing `\x01` is
/// optional), or `None` for an ordinary message.
pub fn action_body(message: &str) -> Option<&str> {
    let rest = message.strip_prefix("\u{1}ACTION")?;
    if !(rest.is_empty() || rest.starts_with([' ', '\u{1}'])) {
        return None;
    }
    let body = rest.strip_prefix(' ').unwrap_or(rest);
    Some(body.strip_suffix('\u{1}').unwrap_or(body))
}

/// Whether a character could drive a terminal, break a line or reorder what it shows:
/// C0 and C1 controls (ESC, CSI, BEL, CR, LF...), DEL, the line and paragraph
/// separators, and the bidirectional overrides and isolates.
fn is_unsafe(c: char) -> bool {
    c.is_control()
        || matches!(c, '\u{2028}' | '\u{2029}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
}

/// `s` with every control character written out: `\x1b` for ASCII ones, `\u{9b}` for
/// the others (a backslash itself stays as it is: this is for reading, not parsing back).
pub fn escape_controls(s: &str) -> String {
    if !s.chars().any(is_unsafe) {
        return s.to_string();
    }
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        match c {
            c if is_unsafe(c) && c.is_ascii() => out.push_str(&format!("\\x{:02x}", c as u32)),
            c if is_unsafe(c) => out.push_str(&format!("\\u{{{:x}}}", c as u32)),
            c => out.push(c),
        }
    }
    out
}

/// A CSV field made inert for spreadsheets (OWASP's advice for CSV injection): one that
/// starts with `=`, `+`, `-`, `@`, TAB or CR is prefixed with `'`.
pub fn spreadsheet_safe(field: String) -> String {
    if field.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        format!("'{field}")
    } else {
        field
    }
}

/// Terminal columns of a string: CJK and full-width characters take two.
pub fn str_width(s: &str) -> usize {
    s.chars().map(display_width).sum()
}

/// Terminal columns of a character: CJK and other wide characters take two.
fn display_width(c: char) -> usize {
    if super::analyzer::is_cjk(c) || matches!(c as u32, 0xFF01..=0xFF60 | 0x3000..=0x303F) {
        2
    } else {
        1
    }
}

/// `s` padded with spaces to `width` terminal columns.
pub fn pad(s: &str, width: usize) -> String {
    let w = str_width(s);
    format!("{s}{}", " ".repeat(width.saturating_sub(w)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::search::request::Hit;

    fn results() -> SearchResults {
        let hit = |room: &str, user: &str, message: &str| Hit {
            timestamp: "2026-11-03T09:12:44.120Z".into(),
            millis: 0,
            room: room.into(),
            user: user.into(),
            message: message.into(),
            file: "history_general.csv".into(),
            line: 2,
            score: None,
            action: action_body(message).is_some(),
        };
        SearchResults {
            hits: vec![
                hit("#general", "alice", "the deploy is done, thanks"),
                hit("#開発", "bob", "say \"hi\""),
            ],
            total: 2,
            highlight_terms: vec!["deploy".into()],
            highlight_prefixes: Vec::new(),
        }
    }

    fn render_to_string(format: Format, highlight: bool) -> String {
        let mut out = Vec::new();
        render(&mut out, &results(), format, highlight).unwrap();
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn text_is_aligned_and_plain_unless_highlighting() {
        let text = render_to_string(Format::Text, false);
        assert_eq!(
            text,
            "2026-11-03T09:12:44.120Z  #general  alice  the deploy is done, thanks\n\
             2026-11-03T09:12:44.120Z  #開発     bob    say \"hi\"\n"
        );
        let bold = render_to_string(Format::Text, true);
        assert!(bold.contains("the \x1b[1;33mdeploy\x1b[0m is done"));
    }

    #[test]
    fn control_characters_are_escaped_in_text_and_csv_and_csv_safe_defuses_formulas() {
        let mut r = results();
        r.hits[0].message = "\x1b]0;pwned\x07 \u{9b}2J \u{202e}evil -deploy".into();
        r.hits[1].message = "=cmd|' /C calc'!A0".into();
        r.hits[1].user = "@bob".into();
        let mut out = Vec::new();
        render(&mut out, &r, Format::Text, true).unwrap();
        let text = String::from_utf8(out).unwrap();
        assert!(
            text.contains("\\x1b]0;pwned\\x07 \\u{9b}2J \\u{202e}evil -\x1b[1;33mdeploy"),
            "{text}"
        );
        assert_eq!(
            text.matches('\x1b').count(),
            2,
            "only our highlight: {text}"
        );
        let mut out = Vec::new();
        render(&mut out, &r, Format::Csv, false).unwrap();
        let csv = String::from_utf8(out).unwrap();
        assert!(!csv.contains('\x1b') && !csv.contains('\u{9b}'), "{csv}");
        assert!(csv.contains(",@bob,=cmd|' /C calc'!A0\n"), "{csv}");
        let mut out = Vec::new();
        render(&mut out, &r, Format::CsvSafe, false).unwrap();
        let csv = String::from_utf8(out).unwrap();
        assert!(csv.contains(",'@bob,'=cmd|' /C calc'!A0\n"), "{csv}");
        for (field, safe) in [
            ("+1", "'+1"),
            ("-1", "'-1"),
            ("\tx", "'\tx"),
            ("\rx", "'\rx"),
            ("ok", "ok"),
        ] {
            assert_eq!(spreadsheet_safe(field.into()), safe);
        }
    }

    #[test]
    fn actions_read_as_actions_and_every_hit_is_one_line() {
        let mut r = results();
        r.hits[0].message = "\u{1}ACTION waves\u{1}".into();
        r.hits[0].action = true;
        r.hits[1].message = "one\r\n:mallory PRIVMSG #ops :two\u{2028}three".into();
        let mut out = Vec::new();
        render(&mut out, &r, Format::Text, false).unwrap();
        let text = String::from_utf8(out).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 2, "{text}");
        assert!(lines[0].ends_with("#general  * alice waves"), "{text}");
        assert!(
            lines[1].ends_with("one\\x0d\\x0a:mallory PRIVMSG #ops :two\\u{2028}three"),
            "{text}"
        );
        let mut out = Vec::new();
        render(&mut out, &r, Format::Json, false).unwrap();
        let first: serde_json::Value =
            serde_json::from_str(String::from_utf8(out).unwrap().lines().next().unwrap()).unwrap();
        assert_eq!(first["message"], "\u{1}ACTION waves\u{1}");
        assert_eq!(first["action"], true);
        assert_eq!(action_body("\u{1}ACTION\u{1}"), Some(""));
        assert_eq!(action_body("\u{1}ACTIONS"), None);
    }

    #[test]
    fn json_and_csv_are_machine_readable() {
        let json = render_to_string(Format::Json, true);
        let first: serde_json::Value = serde_json::from_str(json.lines().next().unwrap()).unwrap();
        assert_eq!(first["user"], "alice");
        assert_eq!(first["room"], "#general");
        assert!(first.get("action").is_none());
        assert!(!json.contains('\x1b'));
        let csv = render_to_string(Format::Csv, true);
        assert_eq!(
            csv,
            "timestamp,room,user,message\n\
             2026-11-03T09:12:44.120Z,#general,alice,\"the deploy is done, thanks\"\n\
             2026-11-03T09:12:44.120Z,#開発,bob,\"say \"\"hi\"\"\"\n"
        );
    }
}
