//! HELP: the command index and a page per command, as RPL_HELPSTART/RPL_HELPTXT/
//! RPL_ENDOFHELP (704/705/706) — readable in telnet, parsed by IRC clients.

use super::{Flow, Reject};
use crate::message::Message;
use crate::room::modes::ROOM_MODES;
use crate::session::Session;

/// The index: one line per command.
const INDEX: &[&str] = &[
    "linechat commands (case-insensitive; # before a room name is optional).",
    "Type HELP <command> for a page, e.g. HELP JOIN.",
    "  NICK <name>                    choose or change your nick (first thing to send)",
    "  JOIN <#room>[,<#room>] [keys]  enter rooms (created if new; the creator is operator)",
    "  MSG <#room|nick> <text>        talk to a room or privately (PRIVMSG works too)",
    "  NOTICE <#room|nick> <text>     like MSG; never answered automatically",
    "  PART <#room> [reason]          leave a room",
    "  TOPIC <#room> [text]           show or set a room's topic",
    "  NAMES <#room>   LIST [filter]  who is in a room; which rooms exist",
    "  MODE <#room> [+-modes args]    show or change room modes (HELP MODE)",
    "  KICK <#room> <nick> [reason]   remove someone from a room (operators)",
    "  INVITE <nick> <#room>          invite someone into a room",
    "  SEARCH [#room] <words> [since DATE] [until DATE]  search your rooms' history",
    "  CHATHISTORY  MONITOR  TAGMSG  SETNAME  (IRCv3, for IRC clients; HELP <command>)",
    "  WHO <mask|#room>  WHOIS <nick>  WHOWAS <nick>  ISON <nick...>  USERHOST <nick...>",
    "  AWAY [message]  LUSERS  MOTD  TIME  VERSION  ADMIN  INFO  LINKS  PING <token>",
    "  OPER <name> <password>  KILL <nick> [reason]  WALLOPS <text>  (server operators)",
    "  QUIT [reason]                  leave",
    "Room messages are archived to CSV. Lines longer than the limit are refused.",
];

/// One page per command: the subject and its lines.
const PAGES: &[(&str, &[&str])] = &[
    (
        "NICK",
        &[
            "NICK <nick>",
            "Choose your nick (registers a telnet user) or change it later.",
            "Letters, digits and - [ ] \\ ` _ ^ { | }; up to 30 bytes.",
        ],
    ),
    (
        "USER",
        &[
            "USER <username> 0 * <realname>",
            "Sent by IRC clients when registering; telnet users may skip it.",
        ],
    ),
    (
        "PASS",
        &[
            "PASS <password>",
            "The server password, before NICK, when the server has one.",
        ],
    ),
    (
        "CAP",
        &[
            "CAP LS [302] | LIST | REQ <caps> | END",
            "IRCv3 capability negotiation; registration waits for CAP END.",
        ],
    ),
    (
        "JOIN",
        &[
            "JOIN <#room>[,<#room>...] [<key>[,<key>...]]",
            "Enter rooms; a new room is created and you become its operator (@).",
            "A room with +k needs its key: JOIN #room key. JOIN 0 leaves every room.",
            "Refusals: 471 full (+l), 473 invite only (+i), 474 banned (+b), 475 bad key (+k).",
        ],
    ),
    (
        "PART",
        &[
            "PART <#room>[,<#room>...] [reason]",
            "Leave rooms; the members see the reason.",
        ],
    ),
    (
        "PRIVMSG",
        &[
            "PRIVMSG <#room|nick>[,<target>...] <text>   (MSG is the same)",
            "Talk to a room you are in, or privately to a nick.",
            "Room messages are archived before anyone receives them.",
            "404 when the room's modes do not let you speak (+n, +m, +b).",
        ],
    ),
    (
        "MSG",
        &[
            "MSG <#room|nick> <text>",
            "The same as PRIVMSG; the text is the rest of the line.",
        ],
    ),
    (
        "NOTICE",
        &[
            "NOTICE <#room|nick> <text>",
            "Like PRIVMSG, but never answered automatically, not even with an error.",
        ],
    ),
    (
        "TOPIC",
        &[
            "TOPIC <#room> [text]",
            "Show the topic, or set it (TOPIC #room : clears it).",
            "With +t (the default) only room operators may set it.",
        ],
    ),
    (
        "NAMES",
        &[
            "NAMES <#room>[,<#room>...]",
            "Who is in a room: @ marks operators, + voiced members.",
        ],
    ),
    (
        "LIST",
        &[
            "LIST [filter[,filter...]]",
            "Rooms with member counts and topics; secret (+s) rooms only for members.",
            "Filters: a name or mask (*dev*), !mask to exclude, >N or <N members.",
        ],
    ),
    (
        "MODE",
        &[
            "MODE <#room>                      show the room's modes (324, 329)",
            "MODE <#room> <+-modes> [args...]  change them (room operators); one MODE line tells the room",
            "MODE <#room> b|e|I                show the ban, ban-exception or invite-exception list",
            "MODE <nick> [+-iw]                your own user modes (i invisible, w wallops, o operator)",
        ],
    ),
    (
        "KICK",
        &[
            "KICK <#room> <nick>[,<nick>...] [reason]",
            "Room operators remove members; the reason is free text (default: your nick).",
            "Errors: 482 not an operator, 441 not in the room, 442 you are not in it.",
        ],
    ),
    (
        "INVITE",
        &[
            "INVITE <nick> <#room>",
            "Invite someone; the invitation gets them past +i, +k, +l and +b once.",
            "In a +i room only operators may invite. INVITE alone lists your invitations.",
        ],
    ),
    (
        "SEARCH",
        &[
            "SEARCH [#room] <words> [since DATE] [until DATE]",
            "Search a room's archive (every room you are in without one): \"a phrase\", -word to exclude,",
            "user:nick; dates like 2026-11-01 (UTC). Clients: SEARCH in=#room;text=words (soju.im/search).",
        ],
    ),
    (
        "CHATHISTORY",
        &[
            "CHATHISTORY LATEST|BEFORE|AFTER|AROUND <#room> <*|timestamp=T|msgid=ID> <limit>",
            "CHATHISTORY BETWEEN <#room> <ref> <ref> <limit>   CHATHISTORY TARGETS <ts> <ts> <limit>",
            "A room's archived messages, in a chathistory batch (IRCv3 draft/chathistory). Members only.",
        ],
    ),
    (
        "MONITOR",
        &[
            "MONITOR + nick[,nick] | - nick[,nick] | C | L | S",
            "Be told (730/731) when nicks come online or go offline; up to 100 nicks.",
        ],
    ),
    (
        "TAGMSG",
        &[
            "@+typing=active TAGMSG <#room|nick>",
            "Send only tags (typing, reactions) to clients with message-tags; never archived.",
        ],
    ),
    (
        "SETNAME",
        &[
            "SETNAME :<real name>",
            "Change your real name; clients with the setname capability see it.",
        ],
    ),
    (
        "WHO",
        &[
            "WHO <#room|mask> [o]",
            "Members of a room, or users whose nick, user, host or real name match the mask (* and ?).",
            "Flags: H here, G away, * server operator, @ room operator, + voiced. o: operators only.",
        ],
    ),
    (
        "WHOIS",
        &[
            "WHOIS <nick>",
            "Who someone is: user, host, rooms (with rank), away message, operator.",
        ],
    ),
    (
        "WHOWAS",
        &[
            "WHOWAS <nick> [count]",
            "Who recently used a nick that is gone (changed or quit), newest first.",
        ],
    ),
    (
        "ISON",
        &[
            "ISON <nick> [<nick>...]",
            "Which of these nicks are online.",
        ],
    ),
    (
        "USERHOST",
        &[
            "USERHOST <nick> [<nick>...]",
            "nick=+user@host for up to five nicks (* operator, - away).",
        ],
    ),
    (
        "AWAY",
        &[
            "AWAY [message]",
            "Mark yourself away with a message, or back without one.",
        ],
    ),
    (
        "LUSERS",
        &[
            "LUSERS",
            "How many users, operators, unregistered connections and rooms there are.",
        ],
    ),
    ("MOTD", &["MOTD", "The message of the day."]),
    ("TIME", &["TIME", "The server's clock."]),
    (
        "VERSION",
        &["VERSION", "The server's version and what it supports."],
    ),
    ("ADMIN", &["ADMIN", "Who runs this server."]),
    ("INFO", &["INFO", "About linechat."]),
    (
        "LINKS",
        &["LINKS", "Servers in this network: this is a single server."],
    ),
    (
        "PING",
        &["PING <token>", "The server answers PONG <token>."],
    ),
    (
        "OPER",
        &[
            "OPER <name> <password>",
            "Become a server operator (user mode +o) with an entry of the server's config file.",
            "Operators act as room operators in every room: MODE, KICK, TOPIC, INVITE.",
        ],
    ),
    (
        "KILL",
        &[
            "KILL <nick> [reason]",
            "Server operators: disconnect someone; others see Killed (oper (reason)).",
        ],
    ),
    (
        "WALLOPS",
        &[
            "WALLOPS <text>",
            "Server operators: a message to every user with user mode +w.",
        ],
    ),
    (
        "QUIT",
        &[
            "QUIT [reason]",
            "Leave the server; the rooms you were in see the reason.",
        ],
    ),
    (
        "HELP",
        &[
            "HELP [command]",
            "This help: the index, or one command's page.",
        ],
    ),
];

/// `HELP [subject]` (also `HELPOP`)
pub struct Help {
    subject: Option<String>,
}

impl Help {
    /// The subject is optional.
    pub fn parse_frames(msg: &Message) -> Result<Help, Reject> {
        Ok(Help {
            subject: msg.params.first().filter(|s| !s.is_empty()).cloned(),
        })
    }

    /// 704, 705 lines, 706; 524 for a subject without a page.
    pub fn apply(self, s: &mut Session) -> Flow {
        let Some(asked) = self.subject else {
            send_page(s, "index", INDEX.iter().copied());
            return Flow::Continue;
        };
        let subject = asked.to_ascii_uppercase();
        match PAGES.iter().find(|(name, _)| *name == subject) {
            Some((name, lines)) if *name == "MODE" => {
                let modes: Vec<String> =
                    ROOM_MODES.iter().map(|d| format!("  {}", d.help)).collect();
                let all = lines
                    .iter()
                    .copied()
                    .chain(std::iter::once("Room modes:"))
                    .chain(modes.iter().map(String::as_str));
                send_page(s, name, all);
            }
            Some((name, lines)) => send_page(s, name, lines.iter().copied()),
            None => s.numeric("524", &[&asked], "No help available on this topic"),
        }
        Flow::Continue
    }
}

fn send_page<'a>(s: &Session, subject: &str, mut lines: impl Iterator<Item = &'a str>) {
    let first = lines.next().unwrap_or_default();
    s.numeric("704", &[subject], first);
    for text in lines {
        s.numeric("705", &[subject], text);
    }
    s.numeric("706", &[subject], "End of /HELP");
}
