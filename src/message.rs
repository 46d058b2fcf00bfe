//! The IRC line grammar: `[@tags] [:source] COMMAND params [:trailing]`, parsed and built.
//!
//! On top of strict IRC, commands whose last parameter is free text take the rest of the
//! line as that text with its leading `:` optional, so `MSG #room hello, world` typed in
//! telnet means what a person expects while `PRIVMSG #room :hello` from a client still works.

use bytes::Bytes;

/// A parsed client line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    /// The command, upper-cased (`MSG` stays `MSG`; the dispatcher aliases it to PRIVMSG).
    pub command: String,
    /// Parameters in order; for free-text commands the text is the last one.
    pub params: Vec<String>,
    /// The line's IRCv3 tags, values unescaped (`label`, client-only `+typing`…).
    pub tags: Vec<(String, String)>,
}

/// Why a line could not be parsed; the text is shown to the user.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParseError {
    #[error("line has no command")]
    NoCommand,
    #[error("line contains a NUL byte")]
    Nul,
    #[error("line contains a carriage return in the middle")]
    StrayCarriageReturn,
}

/// How many space-separated parameters come before the free text of a command, for the
/// commands whose last parameter is free text.
fn free_text_position(command: &str) -> Option<usize> {
    match command {
        "PRIVMSG" | "MSG" | "NOTICE" | "PART" | "TOPIC" | "SEARCH" | "KILL" => Some(1),
        "KICK" => Some(2),
        "QUIT" | "AWAY" | "WALLOPS" | "SETNAME" => Some(0),
        _ => None,
    }
}

impl Message {
    /// The value of tag `key`, if the line carries it.
    pub fn tag(&self, key: &str) -> Option<&str> {
        self.tags
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    /// Parses one line (without its line ending). Empty lines give `Ok(None)`.
    pub fn parse(line: &str) -> Result<Option<Message>, ParseError> {
        if line.contains('\0') {
            return Err(ParseError::Nul);
        }
        if line.contains('\r') {
            return Err(ParseError::StrayCarriageReturn);
        }
        let mut rest = line.trim_start_matches(' ');
        if rest.is_empty() {
            return Ok(None);
        }
        let mut tags = Vec::new();
        if let Some(tagged) = rest.strip_prefix('@') {
            let (section, after) = tagged.split_once(' ').unwrap_or((tagged, ""));
            tags = crate::tags::parse(section);
            rest = after.trim_start_matches(' ');
        }
        // A source prefix from a client is ignored, as RFC 2812 allows.
        if rest.starts_with(':') {
            rest = rest
                .split_once(' ')
                .map_or("", |(_, r)| r)
                .trim_start_matches(' ');
        }
        let (command, mut rest) = match rest.split_once(' ') {
            Some((c, r)) => (c, r.trim_start_matches(' ')),
            None => (rest, ""),
        };
        if command.is_empty() {
            return Err(ParseError::NoCommand);
        }
        let command = command.to_ascii_uppercase();
        let mut params = Vec::new();
        let free_text = free_text_position(&command);
        loop {
            if rest.is_empty() {
                break;
            }
            if let Some(text) = rest.strip_prefix(':') {
                params.push(text.to_string());
                break;
            }
            if free_text == Some(params.len()) {
                params.push(rest.to_string());
                break;
            }
            match rest.split_once(' ') {
                Some((p, r)) => {
                    params.push(p.to_string());
                    rest = r.trim_start_matches(' ');
                }
                None => {
                    params.push(rest.to_string());
                    break;
                }
            }
        }
        Ok(Some(Message {
            command,
            params,
            tags,
        }))
    }
}

/// Cuts `text` to at most `max` bytes at a character boundary (TOPICLEN, KICKLEN).
pub fn truncate_to(text: &mut String, max: usize) {
    if text.len() > max {
        let mut cut = max;
        while !text.is_char_boundary(cut) {
            cut -= 1;
        }
        text.truncate(cut);
    }
}

/// Builds one outbound line ending in CRLF: `:source COMMAND middle... :trailing`.
///
/// The trailing parameter always gets its `:` so clients never mis-split free text.
pub fn line(source: &str, command: &str, middle: &[&str], trailing: Option<&str>) -> Bytes {
    let mut out = String::with_capacity(
        source.len() + command.len() + trailing.map_or(0, str::len) + 16 * (middle.len() + 1),
    );
    if !source.is_empty() {
        out.push(':');
        out.push_str(source);
        out.push(' ');
    }
    out.push_str(command);
    for p in middle {
        out.push(' ');
        // A middle parameter with a space or a leading ':' (echoed from a client's line)
        // would split the line differently on the other side: it is shown as `*`.
        if p.is_empty() || p.starts_with(':') || p.contains(' ') {
            out.push('*');
        } else {
            out.push_str(p);
        }
    }
    if let Some(t) = trailing {
        out.push_str(" :");
        out.push_str(t);
    }
    out.push_str("\r\n");
    Bytes::from(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(s: &str) -> Message {
        Message::parse(s).unwrap().unwrap()
    }

    #[test]
    fn strict_irc_lines() {
        let m = parse("PRIVMSG #a :hello, world");
        assert_eq!(m.command, "PRIVMSG");
        assert_eq!(m.params, ["#a", "hello, world"]);
        let m = parse("@time=x :nick!u@h user alice 0 * :Alice Liddell");
        assert_eq!(m.command, "USER");
        assert_eq!(m.params, ["alice", "0", "*", "Alice Liddell"]);
        assert_eq!(parse("CAP LS 302").params, ["LS", "302"]);
        assert_eq!(parse("JOIN  #a,#b   key").params, ["#a,#b", "key"]);
    }

    #[test]
    fn free_text_takes_rest_of_line_with_optional_colon() {
        assert_eq!(
            parse("msg #general hello, world").params,
            ["#general", "hello, world"]
        );
        assert_eq!(parse("MSG bob  two  spaces").params, ["bob", "two  spaces"]);
        assert_eq!(parse("QUIT bye now").params, ["bye now"]);
        assert_eq!(parse("QUIT :bye now").params, ["bye now"]);
        assert_eq!(parse("QUIT").params, Vec::<String>::new());
        assert_eq!(parse("TOPIC #a").params, ["#a"]);
        assert_eq!(parse("TOPIC #a :").params, ["#a", ""]);
        assert_eq!(parse("PART #a :gone home").params, ["#a", "gone home"]);
        assert_eq!(
            parse("KICK #a bob you are out").params,
            ["#a", "bob", "you are out"]
        );
        assert_eq!(parse("KICK #a bob").params, ["#a", "bob"]);
    }

    #[test]
    fn rejects_nul_and_stray_cr_and_ignores_blank() {
        assert_eq!(Message::parse("MSG #a x\0y"), Err(ParseError::Nul));
        assert_eq!(
            Message::parse("MSG #a x\ry"),
            Err(ParseError::StrayCarriageReturn)
        );
        assert_eq!(Message::parse("   "), Ok(None));
        assert_eq!(Message::parse("@tags-only"), Err(ParseError::NoCommand));
    }

    #[test]
    fn builds_lines_with_trailing_colon() {
        assert_eq!(
            line("a!a@h", "PRIVMSG", &["#r"], Some("hi there")),
            Bytes::from_static(b":a!a@h PRIVMSG #r :hi there\r\n")
        );
        assert_eq!(
            line("", "PING", &[], Some("x")),
            Bytes::from_static(b"PING :x\r\n")
        );
        assert_eq!(
            line("s", "432", &["n", "a b", ":evil", ""], Some("bad")),
            Bytes::from_static(b":s 432 n * * * :bad\r\n")
        );
    }
}
