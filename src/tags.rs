//! IRCv3 message tags: parsing a client's `@tags`, escaping values both ways, and adding
//! tags to an already rendered line (labels and batch ids, which are known only at the end).

use bytes::Bytes;

/// Most bytes of a client's tag section, counting its leading `@` and trailing space
/// (message-tags: 4094 bytes of tag data).
pub const MAX_CLIENT_TAG_BYTES: usize = 4096;

/// Unescapes a tag value: `\:` `;`, `\s` space, `\\` `\`, `\r` CR, `\n` LF; any other
/// escaped character stands for itself and a trailing lone `\` is dropped (the spec's rules).
pub fn unescape(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    let mut chars = value.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some(':') => out.push(';'),
            Some('s') => out.push(' '),
            Some('r') => out.push('\r'),
            Some('n') => out.push('\n'),
            Some(other) => out.push(other),
            None => {}
        }
    }
    out
}

/// Escapes a tag value for the wire (the inverse of [`unescape`]); NUL is dropped.
pub fn escape(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for c in value.chars() {
        match c {
            ';' => out.push_str("\\:"),
            ' ' => out.push_str("\\s"),
            '\\' => out.push_str("\\\\"),
            '\r' => out.push_str("\\r"),
            '\n' => out.push_str("\\n"),
            '\0' => {}
            c => out.push(c),
        }
    }
    out
}

/// Whether `key` is a well-formed tag key: optional `+`, optional `vendor/`, then
/// letters, digits and hyphens.
pub fn valid_key(key: &str) -> bool {
    let key = key.strip_prefix('+').unwrap_or(key);
    let name = key.rsplit_once('/').map_or(
        key,
        |(vendor, name)| {
            if vendor.is_empty() { "" } else { name }
        },
    );
    !name.is_empty() && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
}

/// Parses the tag section of a client line (without the `@`): keys with unescaped values
/// (an absent value is empty). Malformed keys are skipped; a later duplicate key wins.
pub fn parse(section: &str) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = Vec::new();
    for item in section.split(';').filter(|i| !i.is_empty()) {
        let (key, value) = item.split_once('=').unwrap_or((item, ""));
        if !valid_key(key) {
            continue;
        }
        let value = unescape(value);
        if let Some(slot) = out.iter_mut().find(|(k, _)| k == key) {
            slot.1 = value;
        } else {
            out.push((key.to_string(), value));
        }
    }
    out
}

/// The client-only tags (`+name`) of a parsed tag list, escaped and joined for relaying:
/// `+typing=active;+draft/reply=abc`. Empty when there are none.
pub fn client_only(tags: &[(String, String)]) -> String {
    let mut out = String::new();
    for (key, value) in tags.iter().filter(|(k, _)| k.starts_with('+')) {
        if !out.is_empty() {
            out.push(';');
        }
        out.push_str(key);
        if !value.is_empty() {
            out.push('=');
            out.push_str(&escape(value));
        }
    }
    out
}

/// Adds `tag` (already escaped, `key=value`) to a rendered line, in front of its other tags.
pub fn with_tag(line: &[u8], tag: &str) -> Bytes {
    let mut out = Vec::with_capacity(line.len() + tag.len() + 2);
    out.push(b'@');
    out.extend_from_slice(tag.as_bytes());
    match line.strip_prefix(b"@") {
        Some(rest) => {
            out.push(b';');
            out.extend_from_slice(rest);
        }
        None => {
            out.push(b' ');
            out.extend_from_slice(line);
        }
    }
    Bytes::from(out)
}

/// Whether a rendered line already carries a tag called `key` (a nested batch's lines
/// keep their own `batch` tag).
pub fn has_tag(line: &[u8], key: &str) -> bool {
    let Some(rest) = line.strip_prefix(b"@") else {
        return false;
    };
    let end = rest.iter().position(|b| *b == b' ').unwrap_or(rest.len());
    rest[..end].split(|b| *b == b';').any(|item| {
        let name = item.split(|b| *b == b'=').next().unwrap_or_default();
        name == key.as_bytes()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escaping_round_trips() {
        for v in ["plain", "a;b c\\d\r\ne", "", "日本語 ok", "\\", ";;"] {
            assert_eq!(unescape(&escape(v)), v);
        }
        assert_eq!(unescape(r"fizz\:buzz"), "fizz;buzz");
        assert_eq!(unescape(r"a\b\"), "ab");
        assert_eq!(escape("a b;c"), r"a\sb\:c");
    }

    #[test]
    fn parses_and_keeps_client_only_tags() {
        let tags = parse(r"+buzz=fizz\:buzz;cat=dog;+steel=wootz;+flag;bad key=1;+a/=x");
        assert_eq!(client_only(&tags), r"+buzz=fizz\:buzz;+steel=wootz;+flag");
        assert!(tags.iter().any(|(k, v)| k == "cat" && v == "dog"));
        assert!(valid_key("+draft/reply") && valid_key("label") && !valid_key("+"));
    }

    #[test]
    fn adds_tags_to_rendered_lines() {
        assert_eq!(
            with_tag(b":a PRIVMSG #r :hi\r\n", "label=x"),
            Bytes::from_static(b"@label=x :a PRIVMSG #r :hi\r\n")
        );
        let tagged = with_tag(b"@time=t :a PRIVMSG #r :hi\r\n", "batch=1");
        assert_eq!(
            tagged,
            Bytes::from_static(b"@batch=1;time=t :a PRIVMSG #r :hi\r\n")
        );
        assert!(has_tag(&tagged, "batch") && has_tag(&tagged, "time"));
        assert!(!has_tag(b":a PRIVMSG #r :batch=1\r\n", "batch"));
    }
}
