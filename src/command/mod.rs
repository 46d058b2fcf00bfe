//! Client commands: one module per command, each with `parse_frames` (check the
//! parameters of a parsed line) and `apply` (act on the session and the shared state).

mod away;
mod cap;
mod chathistory;
mod help;
mod invite;
mod ison;
mod join;
mod kick;
mod kill;
mod list;
mod lusers;
mod mode;
mod monitor;
mod motd;
mod names;
mod nick;
mod oper;
mod part;
mod pass;
mod ping;
mod privmsg;
mod quit;
mod redact;
mod search;
mod server_info;
mod setname;
mod tagmsg;
mod topic;
mod user;
mod userhost;
mod wallops;
mod who;
mod whois;
mod whowas;

use crate::message::Message;
use crate::session::Session;
use crate::state::{ClientId, RoomError};

pub use motd::welcome;
pub use privmsg::{SenderWait, cluster_room_delivery};
pub use redact::{loggable_params, loggable_reason};

/// What the session does after a command.
#[derive(Debug, PartialEq, Eq)]
pub enum Flow {
    Continue,
    /// Close the connection, telling others this reason.
    Close(String),
}

/// A refused command: the numeric reply that says why.
#[derive(Debug, Clone)]
pub struct Reject {
    code: &'static str,
    params: Vec<String>,
    text: String,
    /// Whether the refusal stands even before registration (a bad NICK, say).
    pub before_registration: bool,
    /// A standard reply (`FAIL <command> <code> [context...] :text`) instead of a numeric.
    standard: bool,
}

impl Reject {
    /// 461 ERR_NEEDMOREPARAMS for `command`.
    pub fn need_more_params(command: &str, usage: &str) -> Reject {
        Reject::new(
            "461",
            &[command],
            &format!("Not enough parameters. Usage: {usage}"),
        )
    }

    /// Any numeric refusal.
    pub fn new(code: &'static str, params: &[&str], text: &str) -> Reject {
        Reject {
            code,
            params: params.iter().map(|p| p.to_string()).collect(),
            text: text.to_string(),
            before_registration: false,
            standard: false,
        }
    }

    /// A standard-replies refusal: `FAIL <command> <code> [context...] :text`.
    pub fn fail(command: &str, code: &str, context: &[&str], text: &str) -> Reject {
        let mut params = vec![command.to_string(), code.to_string()];
        params.extend(context.iter().map(|c| c.to_string()));
        Reject {
            code: "FAIL",
            params,
            text: text.to_string(),
            before_registration: false,
            standard: true,
        }
    }

    fn early(mut self) -> Reject {
        self.before_registration = true;
        self
    }

    /// Sends the refusal to the client.
    pub fn send(&self, session: &Session) {
        let params: Vec<&str> = self.params.iter().map(String::as_str).collect();
        if self.standard {
            session.fail(params[0], params[1], &params[2..], &self.text);
        } else {
            session.numeric(self.code, &params, &self.text);
        }
    }
}

/// A parsed command, ready to apply.
pub enum Command {
    Away(away::Away),
    Cap(cap::Cap),
    Chathistory(chathistory::Chathistory),
    Help(help::Help),
    Invite(invite::Invite),
    Ison(ison::Ison),
    Join(join::Join),
    Kick(kick::Kick),
    Kill(kill::Kill),
    List(list::List),
    Lusers(lusers::Lusers),
    Mode(mode::Mode),
    Monitor(monitor::Monitor),
    Motd(motd::Motd),
    Names(names::Names),
    Nick(nick::Nick),
    Oper(oper::Oper),
    Part(part::Part),
    Pass(pass::Pass),
    Ping(ping::Ping),
    Pong,
    Privmsg(privmsg::Privmsg),
    Quit(quit::Quit),
    Search(search::Search),
    ServerInfo(server_info::ServerInfo),
    Setname(setname::Setname),
    /// A NOTICE that could not be sent: NOTICE never gets an error reply (RFC 2812).
    Silent,
    Tagmsg(tagmsg::Tagmsg),
    Topic(topic::Topic),
    User(user::User),
    Userhost(userhost::Userhost),
    Wallops(wallops::Wallops),
    Who(who::Who),
    Whois(whois::Whois),
    Whowas(whowas::Whowas),
}

/// Lines handled while the client's earlier room messages are still being archived:
/// PRIVMSG (alias MSG) and NOTICE, which wait for them themselves where they must (see
/// [`crate::inflight`]). The session makes every other line wait for them first.
pub fn pipelines(msg: &Message) -> bool {
    matches!(msg.command.as_str(), "PRIVMSG" | "MSG" | "NOTICE")
}

impl Command {
    /// Recognises the command and checks its parameters.
    pub fn parse(msg: &Message) -> Result<Command, Reject> {
        Ok(match msg.command.as_str() {
            "AWAY" => Command::Away(away::Away::parse_frames(msg)?),
            "CAP" => Command::Cap(cap::Cap::parse_frames(msg).map_err(Reject::early)?),
            "CHATHISTORY" => Command::Chathistory(chathistory::Chathistory::parse_frames(msg)?),
            "HELP" | "HELPOP" => Command::Help(help::Help::parse_frames(msg)?),
            "INVITE" => Command::Invite(invite::Invite::parse_frames(msg)?),
            "ISON" => Command::Ison(ison::Ison::parse_frames(msg)?),
            "JOIN" => Command::Join(join::Join::parse_frames(msg)?),
            "KICK" => Command::Kick(kick::Kick::parse_frames(msg)?),
            "KILL" => Command::Kill(kill::Kill::parse_frames(msg)?),
            "LIST" => Command::List(list::List::parse_frames(msg)?),
            "LUSERS" => Command::Lusers(lusers::Lusers::parse_frames(msg)?),
            "MODE" => Command::Mode(mode::Mode::parse_frames(msg)?),
            "MONITOR" => Command::Monitor(monitor::Monitor::parse_frames(msg)?),
            "MOTD" => Command::Motd(motd::Motd::parse_frames(msg)?),
            "NAMES" => Command::Names(names::Names::parse_frames(msg)?),
            "NICK" => Command::Nick(nick::Nick::parse_frames(msg).map_err(Reject::early)?),
            "OPER" => Command::Oper(oper::Oper::parse_frames(msg)?),
            "PART" => Command::Part(part::Part::parse_frames(msg)?),
            "PASS" => Command::Pass(pass::Pass::parse_frames(msg).map_err(Reject::early)?),
            "PING" => Command::Ping(ping::Ping::parse_frames(msg).map_err(Reject::early)?),
            "PONG" => Command::Pong,
            "NOTICE" => match privmsg::Privmsg::parse_frames(msg) {
                Ok(c) => Command::Privmsg(c),
                Err(_) => Command::Silent,
            },
            "PRIVMSG" | "MSG" => Command::Privmsg(privmsg::Privmsg::parse_frames(msg)?),
            "QUIT" => Command::Quit(quit::Quit::parse_frames(msg)),
            "SEARCH" => Command::Search(search::Search::parse_frames(msg)?),
            "TIME" | "VERSION" | "ADMIN" | "INFO" | "LINKS" => {
                Command::ServerInfo(server_info::ServerInfo::parse_frames(msg)?)
            }
            "SETNAME" => Command::Setname(setname::Setname::parse_frames(msg)?),
            "TAGMSG" => Command::Tagmsg(tagmsg::Tagmsg::parse_frames(msg)?),
            "TOPIC" => Command::Topic(topic::Topic::parse_frames(msg)?),
            "USER" => Command::User(user::User::parse_frames(msg).map_err(Reject::early)?),
            "USERHOST" => Command::Userhost(userhost::Userhost::parse_frames(msg)?),
            "WALLOPS" => Command::Wallops(wallops::Wallops::parse_frames(msg)?),
            "WHO" => Command::Who(who::Who::parse_frames(msg)?),
            "WHOIS" => Command::Whois(whois::Whois::parse_frames(msg)?),
            "WHOWAS" => Command::Whowas(whowas::Whowas::parse_frames(msg)?),
            other => {
                let text = format!("Unknown command {other}; type HELP for the list");
                return Err(Reject::new("421", &[other], &text));
            }
        })
    }

    /// Commands a client may send before it has registered.
    pub fn allowed_before_registration(&self) -> bool {
        matches!(
            self,
            Command::Cap(_)
                | Command::Nick(_)
                | Command::User(_)
                | Command::Pass(_)
                | Command::Ping(_)
                | Command::Pong
                | Command::Quit(_)
                | Command::Help(_)
        )
    }

    /// Whether this command shows the connection is an IRC program, not a person typing:
    /// `USER` while registering, any `CAP`, any `PONG`. Such sessions get IRC PINGs.
    pub fn marks_irc_client(&self, registered: bool) -> bool {
        match self {
            Command::User(_) => !registered,
            Command::Cap(_) | Command::Pong => true,
            _ => false,
        }
    }

    /// Carries the command out.
    pub async fn apply(self, s: &mut Session) -> Flow {
        match self {
            Command::Away(c) => c.apply(s).await,
            Command::Cap(c) => c.apply(s).await,
            Command::Chathistory(c) => c.apply(s).await,
            Command::Help(c) => c.apply(s),
            Command::Invite(c) => c.apply(s).await,
            Command::Ison(c) => c.apply(s),
            Command::Join(c) => c.apply(s).await,
            Command::Kick(c) => c.apply(s).await,
            Command::Kill(c) => c.apply(s).await,
            Command::List(c) => c.apply(s),
            Command::Lusers(c) => c.apply(s),
            Command::Mode(c) => c.apply(s).await,
            Command::Monitor(c) => c.apply(s),
            Command::Motd(c) => c.apply(s),
            Command::Names(c) => c.apply(s),
            Command::Nick(c) => c.apply(s).await,
            Command::Oper(c) => c.apply(s).await,
            Command::Part(c) => c.apply(s).await,
            Command::Pass(c) => c.apply(s),
            Command::Ping(c) => c.apply(s),
            Command::Pong => Flow::Continue,
            Command::Privmsg(c) => c.apply(s).await,
            Command::Quit(c) => c.apply(s),
            Command::Search(c) => c.apply(s).await,
            Command::ServerInfo(c) => c.apply(s),
            Command::Setname(c) => c.apply(s).await,
            Command::Silent => Flow::Continue,
            Command::Tagmsg(c) => c.apply(s).await,
            Command::Topic(c) => c.apply(s).await,
            Command::User(c) => c.apply(s).await,
            Command::Userhost(c) => c.apply(s),
            Command::Wallops(c) => c.apply(s).await,
            Command::Who(c) => c.apply(s),
            Command::Whois(c) => c.apply(s),
            Command::Whowas(c) => c.apply(s),
        }
    }
}

/// The first parameter, or a 461 naming the command and its usage.
fn required<'a>(msg: &'a Message, index: usize, usage: &str) -> Result<&'a str, Reject> {
    msg.params
        .get(index)
        .map(String::as_str)
        .filter(|p| !p.is_empty())
        .ok_or_else(|| Reject::need_more_params(&msg.command, usage))
}

/// Every space-separated word of every parameter (`ISON a b`, `ISON :a b`).
fn words(msg: &Message) -> impl Iterator<Item = String> + '_ {
    msg.params
        .iter()
        .flat_map(|p| p.split(' '))
        .filter(|n| !n.is_empty())
        .map(str::to_string)
}

/// The non-empty items of a comma-separated target list (`#a,#b`).
fn comma_list(list: &str) -> Vec<String> {
    list.split(',')
        .filter(|item| !item.is_empty())
        .map(str::to_string)
        .collect()
}

/// Bytes of words per reply line that lists nicks or rooms (353, 319, 303), keeping each
/// line well under 512 bytes with its prefix, numeric and other parameters.
pub const LIST_BYTES_PER_LINE: usize = 400;

/// Space-separated `words` packed into lines of at most [`LIST_BYTES_PER_LINE`] bytes
/// (a longer word gets a line of its own). No words, no lines.
pub fn word_lines<'a>(words: impl IntoIterator<Item = &'a str>) -> Vec<String> {
    let mut lines = Vec::new();
    let mut chunk = String::new();
    for word in words {
        if !chunk.is_empty() && chunk.len() + word.len() + 1 > LIST_BYTES_PER_LINE {
            lines.push(std::mem::take(&mut chunk));
        }
        if !chunk.is_empty() {
            chunk.push(' ');
        }
        chunk.push_str(word);
    }
    if !chunk.is_empty() {
        lines.push(chunk);
    }
    lines
}

/// Most targets of one PRIVMSG, NOTICE or TAGMSG (ISUPPORT TARGMAX).
pub const MAX_MESSAGE_TARGETS: usize = 4;

/// The targets of a PRIVMSG/NOTICE/TAGMSG, deduplicated; more than
/// [`MAX_MESSAGE_TARGETS`] is refused whole with 407.
fn message_targets(list: &str) -> Result<Vec<String>, Reject> {
    let targets = target_list(list);
    if targets.len() > MAX_MESSAGE_TARGETS {
        return Err(Reject::new(
            "407",
            &[list],
            &format!("Too many recipients (the limit is {MAX_MESSAGE_TARGETS}); nothing was sent"),
        ));
    }
    Ok(targets)
}

/// The distinct targets of a comma-separated list, in order: a nick or room named twice
/// (in any case) gets one copy.
fn target_list(list: &str) -> Vec<String> {
    let mut seen = std::collections::HashSet::new();
    comma_list(list)
        .into_iter()
        .filter(|t| seen.insert(t.to_lowercase()))
        .collect()
}

/// The display name of the room `target` names, if the sender (`prefix`) may speak there
/// (PRIVMSG, NOTICE, TAGMSG). Otherwise the refusal is sent, unless `quiet` (NOTICE).
fn speakable_room(s: &Session, prefix: &str, target: &str, quiet: bool) -> Option<String> {
    room_to_speak_in(s, prefix, target)
        .map_err(|denied| {
            if !quiet {
                denied.report(s);
            }
        })
        .ok()
}

/// Why a client may not send to a room, to report once its earlier lines are answered.
enum Denied {
    /// Neither a nick nor a room (401).
    NoSuchTarget(String),
    /// The room refused (`room_error`).
    Room(String, RoomError),
}

impl Denied {
    fn report(&self, s: &Session) {
        match self {
            Denied::NoSuchTarget(target) => s.numeric("401", &[target], "No such nick or room"),
            Denied::Room(name, e) => room_error(s, name, e),
        }
    }
}

/// The display name of the room `target` names if `s` may send to it (noting the activity
/// for `+W`), or why not.
fn room_to_speak_in(s: &Session, prefix: &str, target: &str) -> Result<String, Denied> {
    let Ok(name) = crate::names::canonical_room(target) else {
        return Err(Denied::NoSuchTarget(target.to_string()));
    };
    match s.ctx.state.speak_in(s.id, prefix, &name) {
        Ok(room) => Ok(room),
        Err(RoomError::NoSuchRoom) if !target.starts_with('#') => {
            Err(Denied::NoSuchTarget(target.to_string()))
        }
        Err(e) => Err(Denied::Room(name, e)),
    }
}

/// Sends the numeric that explains a refused room operation; `room` and `target` are the
/// names as the client gave them.
fn room_error(s: &Session, room: &str, e: &RoomError) {
    match e {
        RoomError::NoSuchRoom => s.numeric("403", &[room], "No such room"),
        RoomError::NotInRoom => s.numeric("442", &[room], "You're not in that room"),
        RoomError::NotOp => s.numeric("482", &[room], "You're not a room operator"),
        RoomError::NoSuchNick => s.numeric("401", &[room], "No such nick"),
        RoomError::TargetNotInRoom(nick) => {
            s.numeric("441", &[nick, room], "They aren't in that room")
        }
        RoomError::TargetInRoom(nick) => s.numeric("443", &[nick, room], "is already in that room"),
        RoomError::Refused(refusal) => {
            let (code, text) = refusal.reply();
            s.numeric(code, &[room], text);
        }
        RoomError::CannotSend(refusal) => s.numeric("404", &[room], refusal.text()),
        RoomError::TooManyRooms => s.numeric(
            "405",
            &[room],
            &format!(
                "You have joined too many rooms (the limit is {})",
                s.ctx.settings.max_rooms_per_client
            ),
        ),
    }
}

/// Tells a cluster node's client that the room refused its pipelined message in the
/// network's order (it passed the node's own check a moment before): 403 or 404, as
/// [`room_error`] would, straight to its queue.
pub fn report_refusal(ctx: &crate::context::Ctx, sender: ClientId, room: &str, e: &RoomError) {
    let (code, text) = match e {
        RoomError::NoSuchRoom => ("403", "No such room"),
        RoomError::CannotSend(refusal) => ("404", refusal.text()),
        _ => ("404", "Cannot send to room"),
    };
    let server = &ctx.settings.server_name;
    ctx.state.with_client(sender, |c| {
        let nick = c.nick.as_deref().unwrap_or("*");
        c.outbox.send(crate::message::line(
            server,
            code,
            &[nick, room],
            Some(text),
        ));
    });
}

/// Whether a command needs a server operator; sends 481 if the client is not one.
fn require_oper(s: &Session) -> bool {
    if s.ctx.state.is_oper(s.id) {
        return true;
    }
    s.numeric(
        "481",
        &[],
        "Permission Denied- You're not an IRC operator (see OPER)",
    );
    false
}
