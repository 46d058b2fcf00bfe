//! Full-text search over the rooms' CSV archives (issue 4), shared by the `chat-search`
//! CLI and the server's `SEARCH` command.
//!
//! The CSV files stay the source of truth; the tantivy index in `<log-dir>/.index` is a
//! derived, rebuildable cache (`chat-search rebuild`). Pieces, one concept per module:
//!
//! * [`normalize`], [`segment`], [`analyzer`]: NFKC + case folding, units (words,
//!   compounds, CJK characters, symbols), and the terms made of them;
//! * [`schema`]: fields, and opening the index with the analyzer registered;
//! * [`query`]: the query language and its translation to tantivy queries;
//! * [`timestamps`]: archive and foreign timestamp formats, `since`/`until`, `--tz`;
//! * [`state`], [`indexer`], [`identity`], [`rows`]: incremental ingestion, its
//!   crash-safe state, telling files apart by content, and reading CSV rows;
//! * [`request`]: running a search; [`output`]: rendering it; [`stats`]: counts;
//! * [`live`]: the server's handle (background indexing, bounded searches);
//! * [`keeper`]: the server's indexing task, which heals a damaged or failing index;
//! * [`health`]: checking an index before trusting it, moving a damaged one aside;
//! * [`cli`]: the `chat-search` subcommands; [`error`]: errors users can act on.

pub mod analyzer;
pub mod cli;
pub mod compile;
pub mod error;
pub mod exclude;
pub mod health;
pub mod identity;
pub mod indexer;
pub mod keeper;
pub mod live;
pub mod normalize;
pub mod output;
pub mod query;
pub mod request;
pub mod rows;
pub mod schema;
pub mod segment;
pub mod state;
pub mod stats;
pub mod timestamps;

pub use error::{IndexError, SearchError};
pub use live::{LiveConfig, LiveIndex, Status};
pub use query::{QueryError, Scope};
pub use request::{Hit, SearchRequest, SearchResults, SortOrder};
