//! Full-text search over the rooms' CSV archives (issue 4), shared by the `chat-search`
//! CLI and the server's `SEARCH` command.
//!
//! The CSV files stay the source of truth; the tantivy index in `<log-dir>/.index` is a
//! derived, rebuildable cache (`chat-search rebuild`). Pieces, one concept per module:
//!
//! * [`analyzer`]: the tokenizer (words + CJK bigrams);
//! * [`schema`]: fields, and opening the index with the analyzer registered;
//! * [`query`]: the query language and its translation to tantivy queries;
//! * [`timestamps`]: archive and foreign timestamp formats, `since`/`until`, `--tz`;
//! * [`state`], [`indexer`]: incremental ingestion and its crash-safe state;
//! * [`request`]: running a search; [`output`]: rendering it; [`stats`]: counts;
//! * [`live`]: the server's handle (background indexing, bounded searches);
//! * [`keeper`]: the server's indexing task, which heals a damaged or failing index;
//! * [`health`]: checking an index before trusting it, moving a damaged one aside;
//! * [`cli`]: the `chat-search` subcommands; [`error`]: errors users can act on.

pub mod analyzer;
pub mod cli;
pub mod error;
pub mod exclude;
pub mod health;
pub mod indexer;
pub mod keeper;
pub mod live;
pub mod output;
pub mod query;
pub mod request;
pub mod schema;
pub mod state;
pub mod stats;
pub mod timestamps;

pub use error::{IndexError, SearchError};
pub use live::{LiveConfig, LiveIndex, Status};
pub use query::{QueryError, Scope};
pub use request::{Hit, SearchRequest, SearchResults, SortOrder};
