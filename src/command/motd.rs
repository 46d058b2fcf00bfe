//! MOTD and the welcome burst a client gets once registered.

use super::server_info::VERSION;
use super::{Flow, Reject};
use crate::message::{Message, line};
use crate::names::{MAX_NICK_BYTES, MAX_ROOM_BYTES};
use crate::room::modes;
use crate::session::Session;

/// `MOTD`
pub struct Motd;

impl Motd {
    /// Takes no parameters.
    pub fn parse_frames(_msg: &Message) -> Result<Motd, Reject> {
        Ok(Motd)
    }

    /// 375/372/376, or 422 when there is no MOTD.
    pub fn apply(self, s: &mut Session) -> Flow {
        send_motd(s);
        Flow::Continue
    }
}

fn send_motd(s: &Session) {
    let motd = &s.ctx.settings.motd;
    if motd.is_empty() {
        s.numeric("422", &[], "MOTD File is missing");
        return;
    }
    let server = &s.ctx.settings.server_name;
    s.numeric("375", &[], &format!("- {server} Message of the day -"));
    for l in motd {
        s.numeric("372", &[], &format!("- {l}"));
    }
    s.numeric("376", &[], "End of /MOTD command.");
}

/// 001-005, LUSERS and the MOTD: what every IRC client expects on registration.
pub fn welcome(s: &Session) {
    let server = s.ctx.settings.server_name.clone();
    let nick = s.target().to_string();
    s.numeric(
        "001",
        &[],
        &format!("Welcome to linechat, {nick}! Type HELP for the commands, JOIN #room to talk."),
    );
    s.numeric(
        "002",
        &[],
        &format!("Your host is {server}, running version {VERSION}"),
    );
    s.numeric(
        "003",
        &[],
        &format!(
            "This server was created {}",
            s.ctx.started.format("%Y-%m-%d %H:%M:%S UTC")
        ),
    );
    let (room_modes, param_modes) = (modes::all_letters(), modes::param_letters());
    s.send(line(
        &server,
        "004",
        &[&nick, &server, VERSION, "Biow", &room_modes, &param_modes],
        None,
    ));
    send_isupport(s);
    super::lusers::send_lusers(s);
    send_motd(s);
}

/// The ISUPPORT tokens: every limit and mode the server enforces, derived from the same
/// constants and tables the commands use.
pub fn isupport_tokens(settings: &crate::config::Settings) -> Vec<String> {
    vec![
        "CASEMAPPING=ascii".to_string(),
        "CHANTYPES=#".to_string(),
        format!("CHANNELLEN={MAX_ROOM_BYTES}"),
        format!("NICKLEN={MAX_NICK_BYTES}"),
        format!("TOPICLEN={}", super::topic::TOPIC_LEN),
        format!("KICKLEN={}", super::kick::KICK_LEN),
        format!("KEYLEN={}", modes::MAX_KEY_BYTES),
        "NETWORK=linechat".to_string(),
        modes::prefix_isupport().to_string(),
        modes::chanmodes_isupport(),
        format!("MODES={}", modes::MAX_PARAM_MODES),
        format!("MAXLIST=b:{n},e:{n},I:{n}", n = modes::MAX_LIST_ENTRIES),
        "EXCEPTS=e".to_string(),
        "INVEX=I".to_string(),
        format!("CHANLIMIT=#:{}", settings.max_rooms_per_client),
        "ELIST=MNU".to_string(),
        format!(
            "TARGMAX=KICK:{},PRIVMSG:{t},NOTICE:{t},TAGMSG:{t},MONITOR:{}",
            super::kick::MAX_KICK_TARGETS,
            crate::state::MONITOR_LIMIT,
            t = super::MAX_MESSAGE_TARGETS
        ),
        format!("MONITOR={}", crate::state::MONITOR_LIMIT),
        "UTF8ONLY".to_string(),
        "WHOX".to_string(),
        "BOT=B".to_string(),
        "STATUSMSG=@+".to_string(),
        format!("CHATHISTORY={}", settings.chathistory_max),
        "MSGREFTYPES=msgid,timestamp".to_string(),
    ]
}

/// RPL_ISUPPORT lines, at most 13 tokens each.
pub fn send_isupport(s: &Session) {
    let tokens = isupport_tokens(&s.ctx.settings);
    for chunk in tokens.chunks(13) {
        let chunk: Vec<&str> = chunk.iter().map(String::as_str).collect();
        s.numeric("005", &chunk, "are supported by this server");
    }
}
