//! LUSERS: how many users, operators, unregistered connections and rooms there are.

use super::{Flow, Reject};
use crate::message::Message;
use crate::session::Session;

/// `LUSERS`
pub struct Lusers;

impl Lusers {
    /// Parameters (mask, server) are ignored: there is one server.
    pub fn parse_frames(_msg: &Message) -> Result<Lusers, Reject> {
        Ok(Lusers)
    }

    /// 251-255, 265, 266.
    pub fn apply(self, s: &mut Session) -> Flow {
        send_lusers(s);
        Flow::Continue
    }
}

/// The LUSERS numerics; also part of the welcome burst.
pub fn send_lusers(s: &Session) {
    let l = s.ctx.state.lusers();
    let users = l.visible + l.invisible;
    s.numeric(
        "251",
        &[],
        &format!(
            "There are {} users and {} invisible on 1 servers",
            l.visible, l.invisible
        ),
    );
    s.numeric("252", &[&l.opers.to_string()], "operator(s) online");
    s.numeric("253", &[&l.unknown.to_string()], "unknown connection(s)");
    s.numeric("254", &[&l.rooms.to_string()], "rooms formed");
    s.numeric("255", &[], &format!("I have {users} clients and 0 servers"));
    let (cur, max) = (users.to_string(), l.max.to_string());
    s.numeric(
        "265",
        &[&cur, &max],
        &format!("Current local users {cur}, max {max}"),
    );
    s.numeric(
        "266",
        &[&cur, &max],
        &format!("Current global users {cur}, max {max}"),
    );
}
