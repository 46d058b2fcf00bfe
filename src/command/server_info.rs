//! What a client may ask about the server itself: TIME, VERSION, ADMIN, INFO and LINKS.
//! Each is a few fixed lines, so they share one module.

use super::{Flow, Reject};
use crate::message::{Message, line};
use crate::session::Session;

/// The version string clients see (RPL_VERSION, RPL_MYINFO).
pub const VERSION: &str = concat!("linechat-", env!("CARGO_PKG_VERSION"));

/// Which question was asked.
enum Asked {
    Time,
    Version,
    Admin,
    Info,
    Links,
}

/// `TIME`, `VERSION`, `ADMIN`, `INFO`, `LINKS` (a server parameter, if any, is ignored:
/// this network is one server).
pub struct ServerInfo {
    asked: Asked,
}

impl ServerInfo {
    /// Takes no required parameters.
    pub fn parse_frames(msg: &Message) -> Result<ServerInfo, Reject> {
        let asked = match msg.command.as_str() {
            "TIME" => Asked::Time,
            "VERSION" => Asked::Version,
            "ADMIN" => Asked::Admin,
            "INFO" => Asked::Info,
            _ => Asked::Links,
        };
        Ok(ServerInfo { asked })
    }

    /// 391; 351 and ISUPPORT; 256-259; 371s and 374; 365 (no links are listed: one server).
    pub fn apply(self, s: &mut Session) -> Flow {
        let server = s.ctx.settings.server_name.clone();
        match self.asked {
            Asked::Time => {
                let now = chrono::Utc::now();
                let ts = now.timestamp().to_string();
                let text = now.format("%A %B %-d %Y -- %H:%M:%S +00:00").to_string();
                s.send(line(
                    &server,
                    "391",
                    &[s.target(), &server, &ts, "0"],
                    Some(&text),
                ));
            }
            Asked::Version => {
                s.numeric(
                    "351",
                    &[VERSION, &server],
                    "linechat: IRC for telnet, netcat and IRC clients, with CSV archives and search",
                );
                super::motd::send_isupport(s);
            }
            Asked::Admin => {
                s.numeric("256", &[&server], "Administrative info");
                s.numeric("257", &[], &format!("This is the linechat server {server}"));
                s.numeric(
                    "258",
                    &[],
                    "Rooms are archived as CSV and searchable with SEARCH",
                );
                let contact = s
                    .ctx
                    .settings
                    .admin_contact
                    .clone()
                    .unwrap_or_else(|| "No contact address configured".to_string());
                s.numeric("259", &[], &contact);
            }
            Asked::Info => {
                for text in [
                    VERSION,
                    "linechat: a chat server you reach with telnet, nc, openssl s_client and IRC clients.",
                    "Every room message is appended to a CSV archive before anyone receives it,",
                    "and the archives are indexed with tantivy for SEARCH and chat-search.",
                    &format!(
                        "Running since {}",
                        s.ctx.started.format("%Y-%m-%d %H:%M:%S UTC")
                    ),
                ] {
                    s.numeric("371", &[], text);
                }
                s.numeric("374", &[], "End of /INFO list");
            }
            Asked::Links => s.numeric("365", &["*"], "End of /LINKS list"),
        }
        Flow::Continue
    }
}
