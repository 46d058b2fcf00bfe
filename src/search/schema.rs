//! The index schema and opening/creating the index with our analyzer registered.
//!
//! One tantivy document per CSV row. Field choices:
//! * `room`: the room key (`#general`, lower-cased, from the file name), exact match,
//!   fast (for per-room statistics) and stored (for display);
//! * `user`: the author lower-cased, exact match only (IRC nicks are case-insensitive);
//!   `user_display`: the author as written, stored only, for display;
//! * `message`: full text through the `linechat` analyzer with positions (phrases);
//! * `timestamp`: a millisecond `DateTime`, indexed (range queries), fast (sorting by
//!   time, statistics), stored;
//! * `source`: the id the indexer gave the CSV file (one per file identity), indexed so
//!   all rows of a truncated/replaced file can be deleted at once;
//! * `file`, `line`, `offset`: where the row is in its CSV, so a hit can be located.

use std::path::Path;

use tantivy::Index;
use tantivy::directory::MmapDirectory;
use tantivy::schema::{
    DateOptions, DateTimePrecision, FAST, Field, INDEXED, IndexRecordOption, STORED, STRING,
    Schema, TextFieldIndexing, TextOptions,
};

use super::analyzer::{TOKENIZER_NAME, analyzer};
use super::error::IndexError;
use super::state::{STATE_VERSION, State};

/// Handles to the schema's fields, resolved once so callers never look fields up by name.
#[derive(Clone, Copy, Debug)]
pub struct Fields {
    /// Room key with `#`, lower-cased.
    pub room: Field,
    /// Author, lower-cased, for matching.
    pub user: Field,
    /// Author as written in the CSV, for display.
    pub user_display: Field,
    /// Message text, analyzed.
    pub message: Field,
    /// Time of the message (UTC, milliseconds).
    pub timestamp: Field,
    /// Indexer-assigned id of the CSV file (identity) the row came from.
    pub source: Field,
    /// CSV file name (relative to the log directory).
    pub file: Field,
    /// 1-based line number of the row in its CSV file.
    pub line: Field,
    /// Byte offset of the row in its CSV file.
    pub offset: Field,
}

/// Names of the fields, in schema order: used to check an opened index is ours.
pub const FIELD_NAMES: [&str; 9] = [
    "room",
    "user",
    "user_display",
    "message",
    "timestamp",
    "source",
    "file",
    "line",
    "offset",
];

/// Builds the schema; see the module documentation for why each field is shaped so.
pub fn build_schema() -> (Schema, Fields) {
    let mut b = Schema::builder();
    let room = b.add_text_field("room", STRING | FAST | STORED);
    let user = b.add_text_field("user", STRING);
    let user_display = b.add_text_field("user_display", STORED);
    let message_indexing = TextFieldIndexing::default()
        .set_tokenizer(TOKENIZER_NAME)
        .set_index_option(IndexRecordOption::WithFreqsAndPositions);
    let message = b.add_text_field(
        "message",
        TextOptions::default()
            .set_indexing_options(message_indexing)
            .set_stored(),
    );
    let timestamp = b.add_date_field(
        "timestamp",
        DateOptions::default()
            .set_indexed()
            .set_fast()
            .set_stored()
            .set_precision(DateTimePrecision::Milliseconds),
    );
    let source = b.add_u64_field("source", INDEXED);
    let file = b.add_text_field("file", STORED);
    let line = b.add_u64_field("line", STORED);
    let offset = b.add_u64_field("offset", STORED);
    let fields = Fields {
        room,
        user,
        user_display,
        message,
        timestamp,
        source,
        file,
        line,
        offset,
    };
    (b.build(), fields)
}

/// Registers our analyzer: tantivy stores only the tokenizer's *name* in the index, so
/// every opener (CLI, server, tests) must register it before indexing or parsing.
pub fn register(index: &Index) {
    index.tokenizers().register(TOKENIZER_NAME, analyzer());
}

/// True if `dir` looks like an index that was created (it has tantivy's `meta.json`).
pub fn index_exists(dir: &Path) -> bool {
    dir.join("meta.json").is_file()
}

/// Opens the index in `dir`, creating it (and the directory) if `create` and it does not
/// exist yet. An existing index is [verified](super::health::verify) first, and one built
/// by another version ([`STATE_VERSION`]) is [`IndexError::Outdated`]. A missing or
/// unreadable index is an [`IndexError`] that names the path and says how to rebuild,
/// never a panic.
pub fn open_index(dir: &Path, create: bool) -> Result<(Index, Fields), IndexError> {
    super::health::guard(dir, || open_unguarded(dir, create))
}

fn open_unguarded(dir: &Path, create: bool) -> Result<(Index, Fields), IndexError> {
    let (schema, fields) = build_schema();
    if !index_exists(dir) {
        if !create {
            return Err(IndexError::Missing(dir.to_path_buf()));
        }
        std::fs::create_dir_all(dir).map_err(|e| IndexError::Io(dir.to_path_buf(), e))?;
        let directory = MmapDirectory::open(dir)
            .map_err(|e| IndexError::Corrupt(dir.to_path_buf(), e.to_string()))?;
        let index = Index::create(directory, schema, Default::default())
            .map_err(|e| IndexError::Corrupt(dir.to_path_buf(), e.to_string()))?;
        register(&index);
        return Ok((index, fields));
    }
    let index = Index::open_in_dir(dir)
        .map_err(|e| IndexError::Corrupt(dir.to_path_buf(), e.to_string()))?;
    let found: Vec<String> = index
        .schema()
        .fields()
        .map(|(_, entry)| entry.name().to_string())
        .collect();
    if found != FIELD_NAMES {
        return Err(IndexError::Corrupt(
            dir.to_path_buf(),
            format!("it has fields {found:?}, this version expects {FIELD_NAMES:?}"),
        ));
    }
    super::health::verify(dir, &index)?;
    let metas = index
        .load_metas()
        .map_err(|e| IndexError::Corrupt(dir.to_path_buf(), e.to_string()))?;
    if let Some(version) = State::payload_version(metas.payload.as_deref())
        && version != STATE_VERSION
    {
        return Err(IndexError::Outdated(dir.to_path_buf(), version));
    }
    register(&index);
    let schema = index.schema();
    let field = |name: &str| schema.get_field(name).expect("checked above");
    let fields = Fields {
        room: field("room"),
        user: field("user"),
        user_display: field("user_display"),
        message: field("message"),
        timestamp: field("timestamp"),
        source: field("source"),
        file: field("file"),
        line: field("line"),
        offset: field("offset"),
    };
    Ok((index, fields))
}
