//! LUSERS: how many users, operators, unregistered connections and rooms there are.

use super::{Flow, Reject};
use crate::message::Message;
use crate::session::Session;

/// `LUSERS`
pub struct Lusers;

impl Lusers {
    /// Parameters (mask, server) are ignored.
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
    // A cluster node counts the nodes heard from; a single server is one.
    let servers = s
        .ctx
        .cluster
        .as_ref()
        .map_or(1, |c| c.status().nodes.len().max(1));
    s.numeric(
        "251",
        &[],
        &format!(
            "There are {} users and {} invisible on {servers} servers",
            l.visible, l.invisible
        ),
    );
    s.numeric("252", &[&l.opers.to_string()], "operator(s) online");
    s.numeric("253", &[&l.unknown.to_string()], "unknown connection(s)");
    s.numeric("254", &[&l.rooms.to_string()], "rooms formed");
    let others = servers - 1;
    s.numeric(
        "255",
        &[],
        &format!("I have {} clients and {others} servers", l.local),
    );
    let (local, max_local) = (l.local.to_string(), l.max_local.to_string());
    s.numeric(
        "265",
        &[&local, &max_local],
        &format!("Current local users {local}, max {max_local}"),
    );
    let (cur, max) = (users.to_string(), l.max.to_string());
    s.numeric(
        "266",
        &[&cur, &max],
        &format!("Current global users {cur}, max {max}"),
    );
}
