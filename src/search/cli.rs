//! The `chat-search` subcommands, as library functions so the binary stays a thin clap
//! front end and the integration tests exercise exactly what users run.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use indicatif::{ProgressBar, ProgressStyle};
use tantivy::directory::{Directory, INDEX_WRITER_LOCK, MmapDirectory};
use tantivy::{Searcher, Term};

use super::error::{IndexError, SearchError};
use super::indexer::{IndexReport, Indexer, WriterConfig};
use super::output::{Format, render};
use super::query::{Clause, QueryError, parse, parse_room};
use super::request::{SearchRequest, SearchResults, execute, open_for_search};
use super::schema::{Fields, index_exists};
use super::stats::group_thousands;
use crate::names::room_from_file_name;

/// Where the index lives unless `--index-dir` says otherwise: `<log-dir>/.index`.
pub fn default_index_dir(log_dir: &Path) -> PathBuf {
    log_dir.join(".index")
}

/// Outcome of `index`/`rebuild`, for the summary line.
pub struct IndexSummary {
    /// What the catch-up did.
    pub report: IndexReport,
    /// Wall time of the run.
    pub elapsed: Duration,
    /// Of which writing the index to disk (commit and merges), after reading.
    pub commit_elapsed: Duration,
}

impl IndexSummary {
    /// `indexed 1,204,331 new messages from 14 rooms in 9.8 s`.
    pub fn line(&self) -> String {
        let n = self.report.added;
        let rooms = self.report.rooms.len();
        format!(
            "indexed {} new message{} from {} room{} in {:.1} s",
            group_thousands(n),
            if n == 1 { "" } else { "s" },
            rooms,
            if rooms == 1 { "" } else { "s" },
            self.elapsed.as_secs_f64()
        )
    }
}

/// How many room archives (`history_<room>.csv`) `log_dir` holds.
fn archive_count(log_dir: &Path) -> Result<usize> {
    let entries =
        std::fs::read_dir(log_dir).with_context(|| format!("reading {}", log_dir.display()))?;
    Ok(entries
        .flatten()
        .filter(|e| {
            e.file_name()
                .to_str()
                .is_some_and(|n| room_from_file_name(n).is_some())
        })
        .count())
}

/// Seconds the commit (writing segments, merging) takes per byte of CSV indexed, as
/// measured on the 1M-message benchmark archive (SEARCH-FIGURES.md): the progress bar's
/// estimate for the last phase.
const COMMIT_SECONDS_PER_MB: f64 = 0.03;

/// `chat-search index`: adds the archives' new complete rows to the index (creating it),
/// printing malformed rows and file notes to `diag` (stderr) as `path:line: reason`. A
/// directory with no archives is an error (and gets no index); an index built by another
/// version of linechat is rebuilt.
pub fn index(
    log_dir: &Path,
    index_dir: &Path,
    progress: bool,
    diag: &mut dyn Write,
) -> Result<IndexSummary> {
    let started = Instant::now();
    if !log_dir.is_dir() {
        bail!("log directory {} does not exist", log_dir.display());
    }
    if archive_count(log_dir)? == 0 && !index_exists(index_dir) {
        bail!(
            "no room archives (history_<room>.csv) in {}; nothing to index (is --log-dir right?)",
            log_dir.display()
        );
    }
    let mut indexer = match Indexer::open(log_dir, index_dir, WriterConfig::bulk()) {
        Err(e @ IndexError::Outdated(..)) => {
            writeln!(diag, "{e}")?;
            writeln!(diag, "rebuilding it now")?;
            remove_index(index_dir)?;
            Indexer::open(log_dir, index_dir, WriterConfig::bulk())?
        }
        other => other?,
    };
    let pending = indexer.pending_bytes();
    let bar = if progress {
        let bar = ProgressBar::new(pending);
        bar.set_style(
            ProgressStyle::with_template(
                "reading  {bar:40} {bytes}/{total_bytes} {bytes_per_sec} eta {eta}",
            )
            .expect("valid template"),
        );
        bar
    } else {
        ProgressBar::hidden()
    };
    let report = indexer.catch_up(&mut |n| bar.inc(n))?;
    let commit_started = Instant::now();
    if report.state_changed {
        let estimate = (pending as f64 / 1e6 * COMMIT_SECONDS_PER_MB)
            .ceil()
            .max(1.0);
        bar.set_style(
            ProgressStyle::with_template("{spinner} {msg} ({elapsed})").expect("valid template"),
        );
        bar.set_message(format!(
            "writing the index to disk: about {estimate:.0} s for {} messages",
            group_thousands(report.added)
        ));
        bar.enable_steady_tick(Duration::from_millis(120));
        indexer.commit()?;
        indexer.finish()?;
    } else {
        indexer.finish()?;
    }
    bar.finish_and_clear();
    let commit_elapsed = commit_started.elapsed();
    for m in &report.malformed {
        writeln!(
            diag,
            "{}:{}: {}",
            log_dir.join(&m.file).display(),
            m.line,
            m.reason
        )?;
    }
    for note in &report.notes {
        writeln!(diag, "{note}")?;
    }
    Ok(IndexSummary {
        report,
        elapsed: started.elapsed(),
        commit_elapsed,
    })
}

/// Deletes the index directory, refusing one that does not look like an index or whose
/// writer lock another process holds.
fn remove_index(index_dir: &Path) -> Result<()> {
    let looks_like_index = std::fs::read_dir(index_dir)
        .with_context(|| format!("reading {}", index_dir.display()))?
        .flatten()
        .all(|e| {
            let name = e.file_name().to_string_lossy().into_owned();
            name == "meta.json"
                || name.starts_with(".tantivy")
                || name == ".managed.json"
                || [
                    ".idx",
                    ".pos",
                    ".term",
                    ".store",
                    ".fast",
                    ".fieldnorm",
                    ".del",
                ]
                .iter()
                .any(|ext| name.ends_with(ext))
        });
    if !looks_like_index {
        bail!(
            "{} does not look like a search index (it holds other files); refusing to delete it",
            index_dir.display()
        );
    }
    let directory = MmapDirectory::open(index_dir)
        .with_context(|| format!("opening {}", index_dir.display()))?;
    let _lock = directory
        .acquire_lock(&INDEX_WRITER_LOCK)
        .map_err(|_| IndexError::Locked(index_dir.to_path_buf()))?;
    std::fs::remove_dir_all(index_dir).with_context(|| format!("deleting {}", index_dir.display()))
}

/// `chat-search rebuild`: deletes the index and indexes everything again. Refuses to
/// delete a directory that does not look like an index, refuses while another process
/// (the server) holds the writer lock, and keeps the index when there are no archives.
pub fn rebuild(
    log_dir: &Path,
    index_dir: &Path,
    progress: bool,
    diag: &mut dyn Write,
) -> Result<IndexSummary> {
    if !log_dir.is_dir() {
        bail!("log directory {} does not exist", log_dir.display());
    }
    if archive_count(log_dir)? == 0 {
        bail!(
            "no room archives (history_<room>.csv) in {}; nothing to rebuild from (is --log-dir \
             right?); the index was left as it is",
            log_dir.display()
        );
    }
    if index_dir.exists() {
        remove_index(index_dir)?;
    }
    index(log_dir, index_dir, progress, diag)
}

/// Rooms present in the index (`#general`…), sorted.
pub fn indexed_rooms(searcher: &Searcher, fields: &Fields) -> Vec<String> {
    let mut rooms = std::collections::BTreeSet::new();
    for segment in searcher.segment_readers() {
        let Ok(inverted) = segment.inverted_index(fields.room) else {
            continue;
        };
        let Ok(mut stream) = inverted.terms().stream() else {
            continue;
        };
        while stream.advance() {
            rooms.insert(String::from_utf8_lossy(stream.key()).into_owned());
        }
    }
    rooms.into_iter().collect()
}

/// Checks that every room the request names (`--room`, positive `room:` terms) has
/// messages in the index: a mistyped room is said so, not answered with 0 matches.
fn check_rooms(searcher: &Searcher, fields: &Fields, req: &SearchRequest) -> Result<()> {
    let mut named = Vec::new();
    if let Some(room) = &req.scope.room {
        named.push(parse_room(room)?);
    }
    for clause in parse(&req.query)? {
        if let Clause::Room {
            key,
            negated: false,
        } = clause
        {
            named.push(key);
        }
    }
    for key in named {
        let count = searcher
            .doc_freq(&Term::from_field_text(fields.room, &key))
            .unwrap_or(0);
        if count == 0 {
            let rooms = indexed_rooms(searcher, fields);
            let known = if rooms.is_empty() {
                " (it holds no messages yet)".to_string()
            } else {
                format!("; rooms: {}", rooms.join(", "))
            };
            return Err(QueryError::NoSuchRoom(key, known).into());
        }
    }
    Ok(())
}

/// `chat-search query`: runs `req` read-only (works while the server runs) and renders
/// the hits to `out`; a note on `diag` says when the list was cut at the limit. A bad
/// query is returned as a [`super::query::QueryError`] so the binary can exit with 2.
pub fn query(
    index_dir: &Path,
    req: &SearchRequest,
    format: Format,
    highlight: bool,
    out: &mut dyn Write,
    diag: &mut dyn Write,
) -> Result<SearchResults> {
    let (index, fields) = open_for_search(index_dir)?;
    let reader = index
        .reader()
        .map_err(|e| IndexError::Corrupt(index_dir.to_path_buf(), e.to_string()))?;
    let searcher = reader.searcher();
    check_rooms(&searcher, &fields, req)?;
    let results = match execute(&searcher, &fields, req) {
        Ok(r) => r,
        Err(SearchError::BadQuery(q)) => return Err(q.into()),
        Err(e) => return Err(e.into()),
    };
    render(out, &results, format, highlight)?;
    if results.truncated() {
        writeln!(
            diag,
            "showing {} of {} matches; raise --limit to see more",
            results.hits.len(),
            group_thousands(results.total as u64)
        )?;
    } else if results.total == 0 {
        writeln!(diag, "no matches")?;
    }
    Ok(results)
}

/// `chat-search stats`: message counts per room and over time, limited to `filter`; see
/// [`super::stats`].
pub fn stats(index_dir: &Path, filter: &super::stats::Filter, out: &mut dyn Write) -> Result<()> {
    let (index, fields) = open_for_search(index_dir)?;
    let reader = index
        .reader()
        .map_err(|e| IndexError::Corrupt(index_dir.to_path_buf(), e.to_string()))?;
    let searcher = reader.searcher();
    let scope = SearchRequest {
        query: String::new(),
        scope: super::query::Scope {
            room: filter.room.clone(),
            ..Default::default()
        },
        sort: Default::default(),
        limit: 1,
    };
    check_rooms(&searcher, &fields, &scope)?;
    let report = super::stats::report(&searcher, filter, index_dir)?;
    out.write_all(report.as_bytes())?;
    Ok(())
}
