//! MOTD and the welcome burst a client gets once registered.

use super::{Flow, Reject};
use crate::message::{Message, line};
use crate::names::{MAX_NICK_BYTES, MAX_ROOM_BYTES};
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

/// 001-005 and the MOTD: what every IRC client expects on registration.
pub fn welcome(s: &Session) {
    let server = s.ctx.settings.server_name.clone();
    let nick = s.target().to_string();
    let version = concat!("linechat-", env!("CARGO_PKG_VERSION"));
    s.numeric(
        "001",
        &[],
        &format!("Welcome to linechat, {nick}! Type HELP for the commands, JOIN #room to talk."),
    );
    s.numeric(
        "002",
        &[],
        &format!("Your host is {server}, running version {version}"),
    );
    s.numeric(
        "003",
        &[],
        &format!(
            "This server was created {}",
            s.ctx.started.format("%Y-%m-%d %H:%M:%S UTC")
        ),
    );
    s.send(line(
        &server,
        "004",
        &[&nick, &server, version, "iw", "n"],
        None,
    ));
    let isupport = [
        "CASEMAPPING=ascii".to_string(),
        "CHANTYPES=#".to_string(),
        format!("CHANNELLEN={MAX_ROOM_BYTES}"),
        format!("NICKLEN={MAX_NICK_BYTES}"),
        format!("TOPICLEN={}", super::topic::TOPIC_LEN),
        "NETWORK=linechat".to_string(),
        "PREFIX=()".to_string(),
        "CHANMODES=,,,n".to_string(),
    ];
    let isupport: Vec<&str> = isupport.iter().map(String::as_str).collect();
    s.numeric("005", &isupport, "are supported by this server");
    send_motd(s);
}
