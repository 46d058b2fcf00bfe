//! HELP: one screen a telnet user can read, as server NOTICEs.

use super::{Flow, Reject};
use crate::message::Message;
use crate::session::Session;

const HELP: &[&str] = &[
    "linechat commands (case-insensitive; # before a room name is optional):",
    "  NICK <name>                 choose or change your nick (first thing to send)",
    "  JOIN <#room>[,<#room>]      enter rooms (created if new)",
    "  MSG <#room|nick> <text>     talk to a room or privately (PRIVMSG works too)",
    "  NOTICE <#room|nick> <text>  like MSG; clients never answer a NOTICE automatically",
    "  PART <#room> [reason]       leave a room",
    "  TOPIC <#room> [text]        show or set a room's topic",
    "  NAMES <#room>               who is in a room",
    "  LIST                        rooms with member counts and topics",
    "  SEARCH <#room> <words> [since DATE] [until DATE]  search a room you are in",
    "                              (\"a phrase\", -word, user:nick; dates like 2026-11-01, UTC)",
    "  WHO <#room|nick>  WHOIS <nick>  ISON <nick...>  AWAY [message]  MOTD  MODE",
    "  PING <token>                check the server answers",
    "  QUIT [reason]               leave",
    "Room messages are archived to CSV. Lines longer than the limit are refused.",
];

/// `HELP [topic]`
pub struct Help;

impl Help {
    /// Any parameters are ignored: there is one screen.
    pub fn parse_frames(_msg: &Message) -> Result<Help, Reject> {
        Ok(Help)
    }

    /// The help screen as NOTICEs, which every client shows.
    pub fn apply(self, s: &mut Session) -> Flow {
        for text in HELP {
            s.notice(text);
        }
        Flow::Continue
    }
}
