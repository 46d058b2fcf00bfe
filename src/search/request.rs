//! Running a search: the request both front ends build, and the results they render.
//!
//! Ordering rule (documented for users in `docs/search.md`): with [`SortOrder::Time`]
//! (the default) the *newest* `limit` matches are taken and returned oldest first, the
//! way a chat scrollback reads and what IRC search extensions (soju) do; with
//! [`SortOrder::Oldest`] the *oldest* `limit` are (soju.im/search with `after`: searched
//! forwards from that time); with [`SortOrder::Relevance`] the best `limit` matches by
//! BM25 score are returned best first. Either way `total` says how many matched, so
//! callers can say "cut at N".

use std::path::Path;

use tantivy::collector::{Count, TopDocs};
use tantivy::schema::{TantivyDocument, Value};
use tantivy::{DateTime, DocAddress, Index, Order, Searcher};

use super::error::{IndexError, SearchError};
use super::query::{Scope, compile};
use super::schema::{Fields, open_index};

/// How results are chosen and ordered.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum SortOrder {
    /// Newest matches, printed oldest first.
    #[default]
    Time,
    /// Oldest matches, printed oldest first.
    Oldest,
    /// Best-scoring matches, best first.
    Relevance,
}

/// Default number of results when the caller does not say.
pub const DEFAULT_LIMIT: usize = 50;

/// One search, as built by the CLI or the server's `SEARCH` command.
#[derive(Debug, Clone)]
pub struct SearchRequest {
    /// Query text in the query language ([`super::query`]).
    pub query: String,
    /// Room/user/date options outside the text.
    pub scope: Scope,
    /// Result ordering.
    pub sort: SortOrder,
    /// Maximum number of hits returned (at least 1).
    pub limit: usize,
}

impl SearchRequest {
    /// A request for `query` with no scope, time order and the default limit.
    pub fn new(query: impl Into<String>) -> Self {
        SearchRequest {
            query: query.into(),
            scope: Scope::default(),
            sort: SortOrder::Time,
            limit: DEFAULT_LIMIT,
        }
    }
}

/// One matching message.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Hit {
    /// Time in the archive's format (`2026-11-03T09:12:44.120Z`).
    pub timestamp: String,
    /// Milliseconds since the epoch (for sorting and tests).
    #[serde(skip)]
    pub millis: i64,
    /// Room key (`#general`).
    pub room: String,
    /// Author as written in the archive.
    pub user: String,
    /// Message text.
    pub message: String,
    /// CSV file the row is in.
    pub file: String,
    /// Line of the row in that file.
    pub line: u64,
    /// BM25 score when sorted by relevance.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub score: Option<f32>,
    /// True for a `/me` (the message is `\x01ACTION …\x01`); only written when true.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub action: bool,
}

/// The answer to a [`SearchRequest`].
#[derive(Debug, Clone, Default)]
pub struct SearchResults {
    /// The hits, in the order described in the module doc.
    pub hits: Vec<Hit>,
    /// How many messages matched in total.
    pub total: usize,
    /// Terms to highlight in the hits' messages.
    pub highlight_terms: Vec<String>,
    /// Prefixes (`deploy*`) to highlight in the hits' messages.
    pub highlight_prefixes: Vec<String>,
}

impl SearchResults {
    /// True if more messages matched than were returned.
    pub fn truncated(&self) -> bool {
        self.total > self.hits.len()
    }
}

/// Opens the index read-only (no lock: works while the server holds the writer).
pub fn open_for_search(index_dir: &Path) -> Result<(Index, Fields), IndexError> {
    open_index(index_dir, false)
}

/// Runs `req` against `searcher`.
pub fn execute(
    searcher: &Searcher,
    fields: &Fields,
    req: &SearchRequest,
) -> Result<SearchResults, SearchError> {
    let compiled = compile(&req.query, &req.scope, fields)?;
    let limit = req.limit.max(1);
    let tantivy_err = |e: tantivy::TantivyError| {
        SearchError::Index(IndexError::Tantivy(
            Path::new("(index)").to_path_buf(),
            e.to_string(),
        ))
    };
    let (total, addresses): (usize, Vec<(Option<f32>, DocAddress)>) = match req.sort {
        SortOrder::Time | SortOrder::Oldest => {
            let order = if req.sort == SortOrder::Time {
                Order::Desc
            } else {
                Order::Asc
            };
            let top =
                TopDocs::with_limit(limit).order_by_fast_field::<DateTime>("timestamp", order);
            let (total, docs) = searcher
                .search(compiled.query.as_ref(), &(Count, top))
                .map_err(tantivy_err)?;
            (total, docs.into_iter().map(|(_, a)| (None, a)).collect())
        }
        SortOrder::Relevance => {
            let top = TopDocs::with_limit(limit).order_by_score();
            let (total, docs) = searcher
                .search(compiled.query.as_ref(), &(Count, top))
                .map_err(tantivy_err)?;
            (total, docs.into_iter().map(|(s, a)| (Some(s), a)).collect())
        }
    };
    let mut hits = Vec::with_capacity(addresses.len());
    for (score, address) in addresses {
        let doc: TantivyDocument = searcher.doc(address).map_err(tantivy_err)?;
        hits.push(to_hit(&doc, fields, score));
    }
    if req.sort != SortOrder::Relevance {
        // Oldest first; equal timestamps in archive order, so output is deterministic.
        hits.sort_by(|a, b| {
            (a.millis, &a.room, &a.file, a.line).cmp(&(b.millis, &b.room, &b.file, b.line))
        });
    }
    Ok(SearchResults {
        hits,
        total,
        highlight_terms: compiled.highlight_terms,
        highlight_prefixes: compiled.highlight_prefixes,
    })
}

fn to_hit(doc: &TantivyDocument, f: &Fields, score: Option<f32>) -> Hit {
    let text = |field| {
        doc.get_first(field)
            .and_then(|v| v.as_str())
            .unwrap_or_default()
            .to_string()
    };
    let millis = doc
        .get_first(f.timestamp)
        .and_then(|v| v.as_datetime())
        .map_or(0, |d| d.into_timestamp_millis());
    let message = text(f.message);
    Hit {
        action: super::output::action_body(&message).is_some(),
        timestamp: super::timestamps::format_millis(millis),
        millis,
        room: text(f.room),
        user: text(f.user_display),
        message,
        file: text(f.file),
        line: doc.get_first(f.line).and_then(|v| v.as_u64()).unwrap_or(0),
        score,
    }
}
