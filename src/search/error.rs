//! Errors of the search subsystem that a user must be able to act on.
//!
//! Every message about the index names its path and says which command repairs it,
//! because "index corrupt" without a remedy is useless to an operator at 3 a.m.

use std::path::{Path, PathBuf};

use super::query::QueryError;

/// The command that recreates the index at `index_dir`, as a user should type it.
///
/// With the default layout (`<log-dir>/.index`) the log directory is the parent, so the
/// hint is exact; otherwise both directories are spelled out.
pub fn rebuild_hint(index_dir: &Path) -> String {
    match (index_dir.file_name(), index_dir.parent()) {
        (Some(name), Some(parent)) if name == ".index" => {
            let parent = if parent.as_os_str().is_empty() {
                Path::new(".")
            } else {
                parent
            };
            format!("chat-search rebuild --log-dir {}", parent.display())
        }
        _ => format!(
            "chat-search rebuild --log-dir LOG-DIR --index-dir {}",
            index_dir.display()
        ),
    }
}

/// Why the index could not be opened or written.
#[derive(Debug, thiserror::Error)]
pub enum IndexError {
    /// No index has been built yet.
    #[error("no search index at {}; build it with `{}`", .0.display(), rebuild_hint(.0))]
    Missing(PathBuf),
    /// The index exists but cannot be read (damaged files, other version).
    #[error("the search index at {} is unreadable ({}); recreate it with `{}`", .0.display(), .1, rebuild_hint(.0))]
    Corrupt(PathBuf, String),
    /// The index was built by another version of linechat, whose terms this version
    /// would not find: it must be built again (the server and `chat-search index` do it
    /// by themselves).
    #[error(
        "the search index at {} was built by another version of linechat (index format {}, \
         this version uses {}: text is analysed differently); rebuild it with `{}` \
         (`chat-search index` and the server rebuild it by themselves)",
        .0.display(), .1, super::state::STATE_VERSION, rebuild_hint(.0)
    )]
    Outdated(PathBuf, u32),
    /// Another process holds the single writer lock: normally the running chat-server,
    /// which keeps the index current itself.
    #[error(
        "the search index at {} is locked by another writer, normally the running chat-server, \
         which indexes new messages itself; `chat-search query` works while it runs. \
         Stop the server first to run `index` or `rebuild` by hand", .0.display()
    )]
    Locked(PathBuf),
    /// A file or directory could not be read or written.
    #[error("{}: {}", .0.display(), .1)]
    Io(PathBuf, std::io::Error),
    /// Any other failure inside tantivy while indexing or searching.
    #[error("search index at {}: {}", .0.display(), .1)]
    Tantivy(PathBuf, String),
}

/// Why a search request failed; the text is shown to the user who asked.
#[derive(Debug, thiserror::Error)]
pub enum SearchError {
    /// The query text or its options are invalid.
    #[error(transparent)]
    BadQuery(#[from] QueryError),
    /// The search took longer than allowed and was abandoned.
    #[error("search took too long; narrow it with more words, a room or a date range")]
    Timeout,
    /// The index could not be read.
    #[error(transparent)]
    Index(#[from] IndexError),
    /// The index cannot answer yet (being rebuilt, catching up after a write failure);
    /// the text says why and for how long, roughly.
    #[error("{0}")]
    Unavailable(String),
}
