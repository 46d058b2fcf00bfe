//! What every session shares: settings, the room state and the archive.

use std::sync::Arc;

use crate::archive::Archive;
use crate::config::Settings;
use crate::search::LiveIndex;
use crate::state::State;

/// The server-wide handle passed to every session; clone the `Arc`, not the contents.
pub struct Context {
    pub settings: Settings,
    pub state: State,
    pub archive: Archive,
    /// The search index the server keeps current; `None` if it could not be opened
    /// (locked by a manual `chat-search index`, unreadable): SEARCH then says so.
    pub search: Option<LiveIndex>,
    /// When the server started, for RPL_CREATED.
    pub started: chrono::DateTime<chrono::Utc>,
    /// Set on a cluster node: state changes and room messages go through the network's
    /// stream instead of straight to `state` and `archive` (see [`crate::cluster`]).
    pub cluster: Option<Arc<crate::cluster::Cluster>>,
}

/// Shared form of [`Context`].
pub type Ctx = Arc<Context>;
