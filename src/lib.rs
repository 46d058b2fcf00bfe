//! linechat: a chat server reachable with telnet, nc, openssl s_client and IRC clients,
//! keeping every room's history as CSV and searching it with tantivy.

pub mod archive;
pub mod caps;
pub mod cluster;
pub mod codec;
pub mod command;
pub mod config;
pub mod context;
pub mod flood;
pub mod history;
pub mod inflight;
pub mod limits;
pub mod logdir;
pub mod logging;
pub mod message;
pub mod metrics;
pub mod names;
pub mod outbox;
pub mod password;
pub mod playback;
pub mod relay;
pub mod reply;
pub mod room;
pub mod search;
pub mod server;
pub mod service;
pub mod session;
pub mod state;
pub mod systemd;
pub mod tags;
pub mod tls;
pub mod web;
pub mod writer;
