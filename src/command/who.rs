//! WHO: the members of a room, or every visible user matching a mask (nick, user, host,
//! real name or server), with presence (`H`/`G`), server operator (`*`) and room rank
//! (`@`/`+`) flags. `WHO <mask> %<fields>[,<token>]` is WHOX: one 354 per match with the
//! fields asked for, in the fixed order `t c u i h s n f d l a o r`.

use super::{Flow, Reject, required};
use crate::message::Message;
use crate::session::Session;

/// `WHO <#room|mask> [o][%fields[,token]]`
pub struct Who {
    mask: String,
    opers_only: bool,
    /// WHOX: the field letters asked for, and the query token.
    whox: Option<(String, Option<String>)>,
}

/// The WHOX fields in the order their values are sent.
const WHOX_ORDER: &str = "tcuihsnfdlaor";

impl Who {
    /// Needs a room or mask (461 otherwise); `o` keeps only server operators.
    pub fn parse_frames(msg: &Message) -> Result<Who, Reject> {
        let options = msg.params.get(1).map(String::as_str).unwrap_or_default();
        let (flags, whox) = match options.split_once('%') {
            Some((flags, fields)) => {
                let (fields, token) = match fields.split_once(',') {
                    Some((f, t)) => (f, Some(t.to_string())),
                    None => (fields, None),
                };
                (flags, Some((fields.to_string(), token)))
            }
            None => (options, None),
        };
        Ok(Who {
            mask: required(msg, 0, "WHO <#room|mask> [o][%fields[,token]]")?.to_string(),
            opers_only: flags.contains('o'),
            whox,
        })
    }

    /// One 352 per match, then 315 with the mask as given.
    pub fn apply(self, s: &mut Session) -> Flow {
        let server = s.ctx.settings.server_name.clone();
        let (room, entries) = s.ctx.state.who(s.id, &self.mask, &server, self.opers_only);
        let room = room.unwrap_or_else(|| "*".to_string());
        for e in entries {
            let mut flags = String::from(if e.away { "G" } else { "H" });
            if e.oper {
                flags.push('*');
            }
            if e.bot {
                flags.push('B');
            }
            flags.push_str(e.prefix);
            if let Some((fields, token)) = &self.whox {
                let mut params: Vec<&str> = Vec::new();
                let mut realname = None;
                for field in WHOX_ORDER.chars().filter(|c| fields.contains(*c)) {
                    match field {
                        't' => params.push(token.as_deref().unwrap_or("0")),
                        'c' => params.push(&room),
                        'u' => params.push(&e.user),
                        'i' | 'h' => params.push(&e.host),
                        's' => params.push(&server),
                        'n' => params.push(&e.nick),
                        'f' => params.push(&flags),
                        'd' => params.push("0"),
                        'l' => params.push("0"),
                        // No accounts on linechat: "0" means logged out.
                        'a' => params.push("0"),
                        'o' => params.push("n/a"),
                        _ => realname = Some(e.realname.as_str()),
                    }
                }
                let mut middle = vec![s.target()];
                middle.extend(params);
                s.send(crate::message::line(&server, "354", &middle, realname));
                continue;
            }
            s.numeric(
                "352",
                &[&room, &e.user, &e.host, &server, &e.nick, &flags],
                &format!("0 {}", e.realname),
            );
        }
        s.numeric("315", &[&self.mask], "End of /WHO list");
        Flow::Continue
    }
}
