//! linechat: a chat server reachable with telnet, nc, openssl s_client and IRC clients,
//! keeping every room's history as CSV and searching it with tantivy.

pub mod names;
pub mod search;
