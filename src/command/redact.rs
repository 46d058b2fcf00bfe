//! What of a client's command may reach the debug log: the command and its parameters,
//! with message bodies and secrets replaced.
//!
//! Bodies are the free text of PRIVMSG/NOTICE/TOPIC/PART/QUIT/AWAY/KICK/KILL/WALLOPS/
//! SETNAME and the words of a SEARCH (and so the text in a QUIT or KILL disconnect
//! reason); secrets are PASS, OPER's password, JOIN keys and a MODE `k` key. A command the server does not know shows only how many parameters it had
//! (`PAS secret` is a typo of a secret too).

use crate::message::Message;
use crate::room::modes::{ModeClass, ROOM_MODES};

/// What stands in for a message body: its size, never its words.
fn text(param: &str) -> String {
    format!("<text, {} bytes>", param.len())
}

/// What stands in for a password or a key.
const SECRET: &str = "<secret>";

/// The parameters of `msg` as they may be logged.
pub fn loggable_params(msg: &Message) -> Vec<String> {
    let p = &msg.params;
    // Parameters from `from` on are free text; those before it are shown.
    let body_from = |from: usize| -> Vec<String> {
        p.iter()
            .enumerate()
            .map(|(i, v)| if i < from { v.clone() } else { text(v) })
            .collect()
    };
    match msg.command.as_str() {
        "PRIVMSG" | "MSG" | "NOTICE" | "TOPIC" | "PART" | "KILL" => body_from(1),
        "KICK" => body_from(2),
        "QUIT" | "AWAY" | "WALLOPS" | "SETNAME" => body_from(0),
        "SEARCH" => search(p),
        "PASS" => p.iter().map(|_| SECRET.to_string()).collect(),
        "OPER" | "JOIN" => p
            .iter()
            .enumerate()
            .map(|(i, v)| {
                if i == 0 {
                    v.clone()
                } else {
                    SECRET.to_string()
                }
            })
            .collect(),
        "MODE" => mode(p),
        "AUTHENTICATE" => p.iter().map(|_| SECRET.to_string()).collect(),
        "ADMIN" | "CAP" | "CHATHISTORY" | "HELP" | "HELPOP" | "INFO" | "INVITE" | "ISON"
        | "LINKS" | "LIST" | "LUSERS" | "MONITOR" | "MOTD" | "NAMES" | "NICK" | "PING" | "PONG"
        | "TAGMSG" | "TIME" | "USER" | "USERHOST" | "VERSION" | "WHO" | "WHOIS" | "WHOWAS" => {
            p.clone()
        }
        _ if p.is_empty() => Vec::new(),
        _ => vec![format!(
            "<{} parameter{} hidden>",
            p.len(),
            if p.len() == 1 { "" } else { "s" }
        )],
    }
}

/// A disconnect reason as it may be logged: the text of a QUIT or a KILL is a message body
/// (`Quit: <text, 7 bytes>`, `Killed (oper (<text, 4 bytes>))`); other reasons are the
/// server's own words.
pub fn loggable_reason(reason: &str) -> String {
    if let Some(said) = reason.strip_prefix("Quit: ") {
        return format!("Quit: {}", text(said));
    }
    if let Some((oper, why)) = reason
        .strip_prefix("Killed (")
        .and_then(|rest| rest.split_once(" ("))
    {
        let why = why.strip_suffix("))").unwrap_or(why);
        return format!("Killed ({oper} ({}))", text(why));
    }
    reason.to_string()
}

/// SEARCH: a first word naming a room is shown, the words are not; in the soju.im form
/// every attribute is shown but `text=`.
fn search(p: &[String]) -> Vec<String> {
    let whole = p.join(" ");
    if p.first().is_some_and(|first| first.contains('=')) {
        let attrs: Vec<String> = whole
            .split(';')
            .map(|attr| match attr.split_once('=') {
                Some(("text", value)) => format!("text={}", text(value)),
                Some(_) => attr.to_string(),
                None => text(attr),
            })
            .collect();
        return vec![attrs.join(";")];
    }
    p.iter()
        .enumerate()
        .map(|(i, v)| {
            if i == 0 && v.starts_with('#') {
                v.clone()
            } else {
                text(v)
            }
        })
        .collect()
}

/// MODE: the parameter of every `k` in the mode string is a key, walked the way CHANMODES
/// assigns parameters (`MODE #r +lk 10 sesame`).
fn mode(p: &[String]) -> Vec<String> {
    let mut out: Vec<String> = p.iter().take(2).cloned().collect();
    let Some(modestring) = p.get(1) else {
        return out;
    };
    let mut args = p.iter().skip(2);
    let mut add = true;
    for letter in modestring.chars() {
        match letter {
            '+' => add = true,
            '-' => add = false,
            _ => {
                let Some(def) = ROOM_MODES.iter().find(|d| d.letter == letter) else {
                    continue;
                };
                let consumes = match def.class {
                    ModeClass::Flag => false,
                    ModeClass::ParamWhenSet => add,
                    _ => true,
                };
                if !consumes {
                    continue;
                }
                let Some(arg) = args.next() else { break };
                out.push(if letter == 'k' {
                    SECRET.to_string()
                } else {
                    arg.clone()
                });
            }
        }
    }
    // Parameters no letter claims are dropped by the server; they might still be keys.
    out.extend(args.map(|_| SECRET.to_string()));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn logged(line: &str) -> String {
        loggable_params(&Message::parse(line).unwrap().unwrap()).join(" | ")
    }

    #[test]
    fn bodies_and_secrets_are_replaced_and_the_rest_is_shown() {
        assert_eq!(
            logged("MSG #general hello, world"),
            "#general | <text, 12 bytes>"
        );
        assert_eq!(logged("PRIVMSG bob :hi"), "bob | <text, 2 bytes>");
        assert_eq!(logged("TOPIC #a"), "#a");
        assert_eq!(logged("TOPIC #a :new topic"), "#a | <text, 9 bytes>");
        assert_eq!(logged("KICK #a bob go away"), "#a | bob | <text, 7 bytes>");
        assert_eq!(logged("QUIT bye now"), "<text, 7 bytes>");
        assert_eq!(logged("PASS hunter2"), "<secret>");
        assert_eq!(logged("OPER admin hunter2"), "admin | <secret>");
        assert_eq!(logged("JOIN #a,#b k1,k2"), "#a,#b | <secret>");
        assert_eq!(logged("JOIN #a"), "#a");
        assert_eq!(logged("MODE #a +k sesame"), "#a | +k | <secret>");
        assert_eq!(
            logged("MODE #a +lk-o 10 sesame bob"),
            "#a | +lk-o | 10 | <secret> | bob"
        );
        assert_eq!(logged("MODE #a -lk sesame"), "#a | -lk | <secret>");
        assert_eq!(logged("MODE #a +n extra"), "#a | +n | <secret>");
        assert_eq!(logged("SEARCH #a deploy now"), "#a | <text, 10 bytes>");
        assert_eq!(
            logged("SEARCH deploy now"),
            "<text, 6 bytes> | <text, 3 bytes>"
        );
        assert_eq!(
            logged("SEARCH in=#a;text=deploy now;limit=5"),
            "in=#a;text=<text, 10 bytes>;limit=5"
        );
        assert_eq!(
            logged("CAP REQ :server-time batch"),
            "REQ | server-time batch"
        );
        assert_eq!(logged("PAS hunter2"), "<1 parameter hidden>");
        assert_eq!(logged("FOO a b"), "<2 parameters hidden>");
    }

    #[test]
    fn quit_and_kill_texts_are_hidden_in_disconnect_reasons() {
        assert_eq!(loggable_reason("Quit: bye now"), "Quit: <text, 7 bytes>");
        assert_eq!(loggable_reason("Quit"), "Quit");
        assert_eq!(
            loggable_reason("Killed (boss (go away))"),
            "Killed (boss (<text, 7 bytes>))"
        );
        assert_eq!(loggable_reason("Ping timeout"), "Ping timeout");
    }
}
