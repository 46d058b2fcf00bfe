//! A line relayed to many clients, rendered once per combination of the recipients'
//! tag capabilities (`server-time`, `message-tags`) and shared as bytes between them.

use std::cell::OnceCell;

use bytes::Bytes;

use crate::caps::Caps;
use crate::tags::escape;

/// One relayed event: the untagged line plus the tags a capable recipient gets. It
/// travels between cluster nodes as its parts (see [`RelayParts`]), never as rendered
/// bytes.
#[derive(Debug, serde::Serialize, serde::Deserialize)]
#[serde(into = "RelayParts", from = "RelayParts")]
pub struct Relay {
    line: Bytes,
    time: String,
    msgid: Option<String>,
    /// Client-only tags, escaped and joined (`+typing=active`), or empty.
    client_tags: String,
    /// Sent by a client with user mode `+B`: tagged `bot` for message-tags clients.
    bot: bool,
    /// Rendered forms: [plain, time, tags, time+tags].
    rendered: [OnceCell<Bytes>; 4],
}

/// The current time as the `time` tag writes it: `2026-11-26T10:15:30.123Z`.
pub fn now_tag() -> String {
    chrono::Utc::now()
        .format("%Y-%m-%dT%H:%M:%S%.3fZ")
        .to_string()
}

/// A message id for a line that is not archived (private messages, TAGMSG): the current
/// millisecond and a process-wide counter, in the same 27-hex-digit shape as archived ids.
pub fn ephemeral_msgid() -> String {
    static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let millis = chrono::Utc::now()
        .timestamp_millis()
        .clamp(0, 0xfff_ffff_ffff);
    format!("{millis:011x}{:016x}", n | (1 << 63))
}

/// What a [`Relay`] is made of, as it crosses the cluster's stream.
#[derive(Clone, serde::Serialize, serde::Deserialize)]
pub struct RelayParts {
    line: String,
    time: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    msgid: Option<String>,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    client_tags: String,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    bot: bool,
}

impl From<Relay> for RelayParts {
    fn from(r: Relay) -> RelayParts {
        RelayParts {
            line: String::from_utf8_lossy(&r.line).into_owned(),
            time: r.time,
            msgid: r.msgid,
            client_tags: r.client_tags,
            bot: r.bot,
        }
    }
}

impl From<RelayParts> for Relay {
    fn from(p: RelayParts) -> Relay {
        Relay::at(Bytes::from(p.line), p.time)
            .with_client_tags(p.client_tags)
            .from_bot(p.bot)
            .with_optional_msgid(p.msgid)
    }
}

impl Clone for Relay {
    fn clone(&self) -> Relay {
        Relay {
            line: self.line.clone(),
            time: self.time.clone(),
            msgid: self.msgid.clone(),
            client_tags: self.client_tags.clone(),
            bot: self.bot,
            rendered: Default::default(),
        }
    }
}

impl Relay {
    fn with_optional_msgid(mut self, msgid: Option<String>) -> Relay {
        self.msgid = msgid;
        self
    }

    /// A relayed line stamped now, with no msgid.
    pub fn new(line: Bytes) -> Relay {
        Relay::at(line, now_tag())
    }

    /// A relayed line stamped `time` (an archived message's time).
    pub fn at(line: Bytes, time: String) -> Relay {
        Relay {
            line,
            time,
            msgid: None,
            client_tags: String::new(),
            bot: false,
            rendered: Default::default(),
        }
    }

    /// Adds the message id clients with `message-tags` see.
    pub fn with_msgid(mut self, msgid: String) -> Relay {
        self.msgid = Some(msgid);
        self
    }

    /// Adds client-only tags (already escaped) relayed to clients with `message-tags`.
    pub fn with_client_tags(mut self, tags: String) -> Relay {
        self.client_tags = tags;
        self
    }

    /// Marks the line as sent by a bot (IRCv3 bot mode: the `bot` tag).
    pub fn from_bot(mut self, bot: bool) -> Relay {
        self.bot = bot;
        self
    }

    /// The untagged line, as telnet users get it.
    pub fn plain(&self) -> &Bytes {
        &self.line
    }

    /// The line as a client with `caps` receives it.
    pub fn for_caps(&self, caps: Caps) -> Bytes {
        let time = caps.wants_time();
        let tags = caps.wants_tags();
        let slot = usize::from(time) | (usize::from(tags) << 1);
        if slot == 0 {
            return self.line.clone();
        }
        self.rendered[slot]
            .get_or_init(|| self.render(time, tags))
            .clone()
    }

    fn render(&self, time: bool, tags: bool) -> Bytes {
        let mut section = String::new();
        let mut add = |item: &str| {
            section.push(if section.is_empty() { '@' } else { ';' });
            section.push_str(item);
        };
        if tags && !self.client_tags.is_empty() {
            add(&self.client_tags);
        }
        if tags && self.bot {
            add("bot");
        }
        if tags && let Some(id) = &self.msgid {
            add(&format!("msgid={}", escape(id)));
        }
        if time {
            add(&format!("time={}", self.time));
        }
        if section.is_empty() {
            return self.line.clone();
        }
        section.push(' ');
        let mut out = Vec::with_capacity(section.len() + self.line.len());
        out.extend_from_slice(section.as_bytes());
        out.extend_from_slice(&self.line);
        Bytes::from(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::caps::Cap;

    #[test]
    fn renders_per_capability_set() {
        let relay = Relay::at(
            Bytes::from_static(b":a!a@h PRIVMSG #r :hi\r\n"),
            "2026-01-02T03:04:05.006Z".into(),
        )
        .with_msgid("abc".into())
        .with_client_tags("+typing=active".into());
        assert_eq!(relay.for_caps(Caps::NONE), relay.plain());
        let mut caps = Caps::NONE;
        caps.set(Cap::ServerTime, true);
        assert_eq!(
            relay.for_caps(caps),
            Bytes::from_static(b"@time=2026-01-02T03:04:05.006Z :a!a@h PRIVMSG #r :hi\r\n")
        );
        caps.set(Cap::MessageTags, true);
        assert_eq!(
            relay.for_caps(caps),
            Bytes::from_static(
                b"@+typing=active;msgid=abc;time=2026-01-02T03:04:05.006Z :a!a@h PRIVMSG #r :hi\r\n"
            )
        );
    }
}
