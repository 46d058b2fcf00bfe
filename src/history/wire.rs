//! Making archived rows safe to put on an IRC line.
//!
//! The archive keeps text exactly as received (and foreign CSVs may hold anything), but a
//! replayed row becomes part of a protocol line: a stray CR or LF would end the line and
//! let the rest be read as a command from the server (`hi\r\n:mallory!m@evil PRIVMSG …`),
//! and terminal escapes or NULs would reach clients that never expected them. These
//! functions are the one place that turns stored text and names into wire-safe strings.

/// Stored text made safe for a PRIVMSG trailing parameter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WireText {
    /// An ordinary message.
    Plain(String),
    /// A CTCP ACTION (`/me`): the caller re-wraps it in `\x01ACTION …\x01` itself, so the
    /// only `\x01`s on the wire are the ones it adds.
    Action(String),
}

/// Sanitises stored message text for the wire.
///
/// A stored `\x01ACTION waves\x01` (closing `\x01` optional) becomes
/// `Action("waves")`. In what remains, TAB, CR and LF each become one space (so words
/// stay apart), and every other control character — all of C0 (NUL, `\x01`, ESC, the IRC
/// formatting codes), DEL, and C1 (U+0080–U+009F) — is removed. Nothing is trimmed.
pub fn wire_text(text: &str) -> WireText {
    if let Some(rest) = text.strip_prefix("\x01ACTION")
        && (rest.is_empty() || rest.starts_with(' ') || rest.starts_with('\x01'))
    {
        let body = rest.strip_prefix(' ').unwrap_or(rest);
        let body = body.strip_suffix('\x01').unwrap_or(body);
        return WireText::Action(clean_text(body));
    }
    WireText::Plain(clean_text(text))
}

fn clean_text(s: &str) -> String {
    s.chars()
        .filter_map(|c| match c {
            '\t' | '\r' | '\n' => Some(' '),
            c if c.is_control() => None,
            c => Some(c),
        })
        .collect()
}

/// The archive's username made safe as the nick of an IRC message source
/// (`nick!user@host`): control characters removed; space, `!`, `@`, `:`, `,`, `*` and
/// `?` (which would split the source, the line, or read as a mask) replaced by `_`; a
/// result starting with `#` (would read as a channel) gets a `_` prefix, and an empty
/// result becomes `_`, so a message always has a non-empty source.
pub fn wire_nick(user: &str) -> String {
    let mut out: String = user
        .chars()
        .filter(|c| !c.is_control())
        .map(|c| match c {
            ' ' | '!' | '@' | ':' | ',' | '*' | '?' => '_',
            c => c,
        })
        .collect();
    if out.is_empty() || out.starts_with('#') || out.starts_with(':') {
        out.insert(0, '_');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{Rng, SeedableRng};

    #[test]
    fn injection_attempt_stays_one_line() {
        let attack = "hi\r\n:mallory!m@evil PRIVMSG #ops :x";
        assert_eq!(
            wire_text(attack),
            WireText::Plain("hi  :mallory!m@evil PRIVMSG #ops :x".into())
        );
        assert_eq!(wire_nick(attack), "hi_mallory_m_evil_PRIVMSG_#ops__x");
    }

    #[test]
    fn actions_are_recognised() {
        assert_eq!(
            wire_text("\x01ACTION waves\x01"),
            WireText::Action("waves".into())
        );
        assert_eq!(
            wire_text("\x01ACTION waves"),
            WireText::Action("waves".into())
        );
        assert_eq!(wire_text("\x01ACTION\x01"), WireText::Action("".into()));
        assert_eq!(
            wire_text("\x01ACTION \x01evil\r\n\x01"),
            WireText::Action("evil  ".into())
        );
        assert_eq!(wire_text("\x01ACTIONX"), WireText::Plain("ACTIONX".into()));
        assert_eq!(wire_nick("\x01ACTION waves\x01"), "ACTION_waves");
    }

    #[test]
    fn escapes_and_formatting_are_removed() {
        assert_eq!(wire_text("\x1b[31mred"), WireText::Plain("[31mred".into()));
        assert_eq!(wire_nick("\x1b[31mred"), "[31mred");
        assert_eq!(
            wire_text("\x02bold\x0f \x0304col\u{7f}\u{85}\u{9f}\0x\ty"),
            WireText::Plain("bold 04colx y".into())
        );
        assert_eq!(
            wire_text("  keep spaces  "),
            WireText::Plain("  keep spaces  ".into())
        );
    }

    #[test]
    fn nicks_never_read_as_channels_or_masks() {
        assert_eq!(wire_nick(""), "_");
        assert_eq!(wire_nick("\r\n\0"), "_");
        assert_eq!(wire_nick("#chan"), "_#chan");
        assert_eq!(wire_nick(":x"), "_x");
        assert_eq!(wire_nick("a*b?c,d"), "a_b_c_d");
        assert_eq!(wire_nick("名前"), "名前");
    }

    fn random_string(rng: &mut impl Rng) -> String {
        const PIECES: [&str; 12] = [
            "\x01ACTION ",
            "\x01",
            "\r",
            "\n",
            "\0",
            "\x1b[",
            "#",
            ":",
            " ",
            "!@,*?",
            "\u{85}",
            "\u{7f}",
        ];
        let n = rng.random_range(0..24);
        let mut s = String::new();
        for _ in 0..n {
            match rng.random_range(0..4) {
                0 => s.push_str(PIECES[rng.random_range(0..PIECES.len())]),
                1 => s.push(char::from(rng.random_range(0u8..0x80))),
                2 => s.push(char::from_u32(rng.random_range(0x80..0x250)).unwrap_or('?')),
                _ => {
                    if let Some(c) = char::from_u32(rng.random_range(0..0x11_0000)) {
                        s.push(c);
                    }
                }
            }
        }
        s
    }

    #[test]
    fn no_output_ever_holds_a_control_character() {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(7);
        for _ in 0..50_000 {
            let s = random_string(&mut rng);
            let text = match wire_text(&s) {
                WireText::Plain(t) | WireText::Action(t) => t,
            };
            assert!(!text.chars().any(char::is_control), "{s:?} -> {text:?}");
            let nick = wire_nick(&s);
            assert!(!nick.chars().any(char::is_control), "{s:?} -> {nick:?}");
            assert!(!nick.is_empty() && !nick.starts_with('#') && !nick.starts_with(':'));
            assert!(
                !nick.contains([' ', '!', '@', ':', ',', '*', '?']),
                "{nick:?}"
            );
        }
    }
}
