//! Property tests for the parsers every byte from a client or an archive goes through:
//! the line codec, the IRC message grammar, IRCv3 tags, the search query language and the
//! archive text put back on the wire. None may panic on any input, and what the server
//! writes must read back as what it meant.

use bytes::BytesMut;
use linechat::codec::{Inbound, LineCodec};
use linechat::history::{WireText, wire_nick, wire_text};
use linechat::message::{Message, line};
use linechat::tags;
use proptest::prelude::*;
use tokio_util::codec::Decoder;

/// A middle parameter as the server writes one: no space, no leading `:`, not empty, no
/// CR/LF/NUL.
fn middle() -> impl Strategy<Value = String> {
    "[^ :\r\n\0][^ \r\n\0]{0,20}"
}

/// A trailing parameter: anything but CR, LF and NUL.
fn trailing() -> impl Strategy<Value = String> {
    "[^\r\n\0]{0,200}"
}

/// A command that takes no free text (free-text commands read the rest of the line whole).
fn command() -> impl Strategy<Value = String> {
    "[A-Z]{3,10}".prop_filter("not a free-text command", |c| {
        ![
            "PRIVMSG", "MSG", "NOTICE", "PART", "TOPIC", "SEARCH", "KILL", "KICK", "QUIT", "AWAY",
            "WALLOPS", "SETNAME",
        ]
        .contains(&c.as_str())
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]

    /// `parse(serialize(m)) == m`: a line built by `line()` parses back to its command
    /// and parameters (the trailing one included, whatever it holds).
    #[test]
    fn built_lines_parse_back(
        cmd in command(),
        mids in proptest::collection::vec(middle(), 0..5),
        text in proptest::option::of(trailing()),
    ) {
        let refs: Vec<&str> = mids.iter().map(String::as_str).collect();
        let bytes = line("", &cmd, &refs, text.as_deref());
        let raw = std::str::from_utf8(&bytes).unwrap().trim_end_matches("\r\n");
        let msg = Message::parse(raw).unwrap().unwrap();
        let mut want = mids.clone();
        if let Some(t) = &text {
            want.push(t.clone());
        }
        prop_assert_eq!(msg.command, cmd);
        prop_assert_eq!(msg.params, want);
    }

    /// Any text parses or is refused, never panics; a parsed line never yields a CR or
    /// NUL in a parameter.
    #[test]
    fn any_line_parses_without_panic(raw in "\\PC{0,300}") {
        if let Ok(Some(msg)) = Message::parse(&raw) {
            for p in &msg.params {
                prop_assert!(!p.contains('\r') && !p.contains('\0'));
            }
        }
    }

    /// Tag values survive escaping and unescaping, and any tag section parses.
    #[test]
    fn tag_values_round_trip(value in "[^\0]{0,100}", section in "\\PC{0,200}") {
        prop_assert_eq!(tags::unescape(&tags::escape(&value)), value);
        let _ = tags::parse(&section);
    }

    /// The line codec never panics, never yields a line over its limit, and hands back
    /// every complete short line of valid UTF-8 unchanged.
    #[test]
    fn codec_frames_any_bytes(chunks in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..64), 0..20)) {
        let mut codec = LineCodec::new(40);
        let mut buf = BytesMut::new();
        for chunk in chunks {
            buf.extend_from_slice(&chunk);
            while let Some(item) = codec.decode(&mut buf).unwrap() {
                if let Inbound::Line(l) = item {
                    prop_assert!(l.len() <= 40 && !l.contains('\n'));
                }
            }
        }
    }

    /// The search query language refuses or accepts any text without panicking.
    #[test]
    fn any_query_parses_without_panic(q in "\\PC{0,120}") {
        let _ = linechat::search::query::parse(&q);
    }

    /// Archive text and nicks put on the wire never carry a control character.
    #[test]
    fn archive_text_on_the_wire_has_no_controls(text in "\\PC{0,100}|[\\x00-\\x1f\\x7f-\\u{9f}a-z ]{0,100}", user in "[\\x00-\\x7f]{0,20}") {
        let clean = match wire_text(&text) {
            WireText::Plain(t) | WireText::Action(t) => t,
        };
        prop_assert!(!clean.chars().any(char::is_control), "{:?}", clean);
        let nick = wire_nick(&user);
        prop_assert!(!nick.is_empty() && !nick.chars().any(|c| c.is_control() || c == ' '));
    }
}
