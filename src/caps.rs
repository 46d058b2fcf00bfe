//! IRCv3 capabilities: the ones linechat offers, and a client's negotiated set.
//!
//! One table ([`OFFERED`]) drives `CAP LS`, `CAP REQ` validation and protocol.md; a
//! client's set is a small bit set so every delivery can check a recipient cheaply.

/// A capability linechat implements.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[repr(u8)]
pub enum Cap {
    AwayNotify,
    Batch,
    CapNotify,
    Chathistory,
    Chghost,
    EchoMessage,
    ExtendedJoin,
    InviteNotify,
    LabeledResponse,
    MessageTags,
    MultiPrefix,
    ServerTime,
    Setname,
    SojuSearch,
    UserhostInNames,
}

/// Every offered capability, in the order `CAP LS` lists them.
pub const OFFERED: [Cap; 15] = [
    Cap::AwayNotify,
    Cap::Batch,
    Cap::CapNotify,
    Cap::Chathistory,
    Cap::Chghost,
    Cap::EchoMessage,
    Cap::ExtendedJoin,
    Cap::InviteNotify,
    Cap::LabeledResponse,
    Cap::MessageTags,
    Cap::MultiPrefix,
    Cap::ServerTime,
    Cap::Setname,
    Cap::SojuSearch,
    Cap::UserhostInNames,
];

impl Cap {
    /// The capability's name on the wire.
    pub fn name(self) -> &'static str {
        match self {
            Cap::AwayNotify => "away-notify",
            Cap::Batch => "batch",
            Cap::CapNotify => "cap-notify",
            Cap::Chathistory => "draft/chathistory",
            Cap::Chghost => "chghost",
            Cap::EchoMessage => "echo-message",
            Cap::ExtendedJoin => "extended-join",
            Cap::InviteNotify => "invite-notify",
            Cap::LabeledResponse => "labeled-response",
            Cap::MessageTags => "message-tags",
            Cap::MultiPrefix => "multi-prefix",
            Cap::ServerTime => "server-time",
            Cap::Setname => "setname",
            Cap::SojuSearch => "soju.im/search",
            Cap::UserhostInNames => "userhost-in-names",
        }
    }

    /// The offered capability called `name`, if any.
    pub fn from_name(name: &str) -> Option<Cap> {
        OFFERED.into_iter().find(|c| c.name() == name)
    }

    fn bit(self) -> u32 {
        1 << (self as u8)
    }
}

/// A set of capabilities (what a client has enabled).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Caps(u32);

impl Caps {
    /// The empty set: what a telnet user has.
    pub const NONE: Caps = Caps(0);

    /// Whether `cap` is in the set.
    pub fn has(self, cap: Cap) -> bool {
        self.0 & cap.bit() != 0
    }

    /// Adds or removes `cap`.
    pub fn set(&mut self, cap: Cap, on: bool) {
        if on {
            self.0 |= cap.bit();
        } else {
            self.0 &= !cap.bit();
        }
    }

    /// The set's names, space-separated, for `CAP LIST`.
    pub fn names(self) -> String {
        OFFERED
            .into_iter()
            .filter(|c| self.has(*c))
            .map(Cap::name)
            .collect::<Vec<_>>()
            .join(" ")
    }

    /// Whether relayed messages carry `time` for this client.
    pub fn wants_time(self) -> bool {
        self.has(Cap::ServerTime)
    }

    /// Whether relayed messages carry `msgid` and client-only tags for this client.
    pub fn wants_tags(self) -> bool {
        self.has(Cap::MessageTags)
    }
}

/// The outcome of a `CAP REQ` list: all changes applied, or none.
pub fn request(current: Caps, list: &str) -> Option<Caps> {
    let mut next = current;
    let mut any = false;
    for item in list.split(' ').filter(|i| !i.is_empty()) {
        any = true;
        let (on, name) = match item.strip_prefix('-') {
            Some(name) => (false, name),
            None => (true, item),
        };
        let cap = Cap::from_name(name)?;
        next.set(cap, on);
    }
    any.then_some(next)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_bits_are_distinct() {
        let mut all = Caps::NONE;
        for cap in OFFERED {
            assert_eq!(Cap::from_name(cap.name()), Some(cap));
            assert!(!all.has(cap));
            all.set(cap, true);
        }
        assert_eq!(all.names().split(' ').count(), OFFERED.len());
    }

    #[test]
    fn requests_are_all_or_nothing() {
        let caps = request(Caps::NONE, "server-time batch").unwrap();
        assert!(caps.has(Cap::ServerTime) && caps.has(Cap::Batch));
        assert_eq!(request(caps, "server-time bogus"), None);
        let fewer = request(caps, "-batch").unwrap();
        assert!(!fewer.has(Cap::Batch) && fewer.has(Cap::ServerTime));
        assert_eq!(request(caps, "  "), None);
    }
}
