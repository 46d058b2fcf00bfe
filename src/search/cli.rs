//! The `chat-search` subcommands, as library functions so the binary stays a thin clap
//! front end and the integration tests exercise exactly what users run.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use indicatif::{ProgressBar, ProgressStyle};
use tantivy::directory::{Directory, INDEX_WRITER_LOCK, MmapDirectory};

use super::error::{IndexError, SearchError};
use super::indexer::{IndexReport, Indexer, WriterConfig};
use super::output::{Format, render};
use super::request::{SearchRequest, SearchResults, execute, open_for_search};
use super::stats::{self, bar_chart, group_thousands};
use super::timestamps::parse_tz;

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

/// `chat-search index`: adds the archives' new complete rows to the index (creating it),
/// printing malformed rows and file notes to `diag` (stderr) as `path:line: reason`.
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
    let mut indexer = Indexer::open(log_dir, index_dir, WriterConfig::bulk())?;
    let bar = if progress {
        let bar = ProgressBar::new(indexer.pending_bytes());
        bar.set_style(
            ProgressStyle::with_template(
                "{bar:40} {bytes}/{total_bytes} {bytes_per_sec} eta {eta}",
            )
            .expect("valid template"),
        );
        bar
    } else {
        ProgressBar::hidden()
    };
    let report = indexer.catch_up(&mut |n| bar.inc(n))?;
    bar.finish_and_clear();
    if report.state_changed {
        indexer.commit()?;
    }
    indexer.finish()?;
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
    })
}

/// `chat-search rebuild`: deletes the index and indexes everything again. Refuses to
/// delete a directory that does not look like an index, and refuses while another
/// process (the server) holds the writer lock.
pub fn rebuild(
    log_dir: &Path,
    index_dir: &Path,
    progress: bool,
    diag: &mut dyn Write,
) -> Result<IndexSummary> {
    if !log_dir.is_dir() {
        bail!("log directory {} does not exist", log_dir.display());
    }
    if index_dir.exists() {
        let looks_like_index = std::fs::read_dir(index_dir)
            .with_context(|| format!("reading {}", index_dir.display()))?
            .flatten()
            .all(|e| {
                let name = e.file_name().to_string_lossy().into_owned();
                name == "meta.json"
                    || name.starts_with(".tantivy")
                    || name == ".managed.json"
                    || name.ends_with(".idx")
                    || name.ends_with(".pos")
                    || name.ends_with(".term")
                    || name.ends_with(".store")
                    || name.ends_with(".fast")
                    || name.ends_with(".fieldnorm")
                    || name.ends_with(".del")
            });
        if !looks_like_index {
            bail!(
                "{} does not look like a search index (it holds other files); refusing to delete it",
                index_dir.display()
            );
        }
        {
            let directory = MmapDirectory::open(index_dir)
                .with_context(|| format!("opening {}", index_dir.display()))?;
            let _lock = directory
                .acquire_lock(&INDEX_WRITER_LOCK)
                .map_err(|_| IndexError::Locked(index_dir.to_path_buf()))?;
            std::fs::remove_dir_all(index_dir)
                .with_context(|| format!("deleting {}", index_dir.display()))?;
        }
    }
    index(log_dir, index_dir, progress, diag)
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
    let results = match execute(&reader.searcher(), &fields, req) {
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

/// `chat-search stats`: messages per room and per day (days in `tz`) with bar charts.
pub fn stats(index_dir: &Path, tz: &str, out: &mut dyn Write) -> Result<()> {
    let tz = parse_tz(tz).map_err(super::query::QueryError::BadTz)?;
    let (index, _) = open_for_search(index_dir)?;
    let reader = index
        .reader()
        .map_err(|e| IndexError::Corrupt(index_dir.to_path_buf(), e.to_string()))?;
    let s = stats::collect(&reader.searcher(), tz)
        .map_err(|e| IndexError::Corrupt(index_dir.to_path_buf(), e.to_string()))?;
    writeln!(
        out,
        "{} message{} in {} room{}",
        group_thousands(s.total),
        if s.total == 1 { "" } else { "s" },
        s.per_room.len(),
        if s.per_room.len() == 1 { "" } else { "s" }
    )?;
    writeln!(out, "\nper room:")?;
    out.write_all(bar_chart(s.per_room.clone(), 40).as_bytes())?;
    writeln!(out, "\nper day:")?;
    out.write_all(bar_chart(s.per_day.iter().map(|(d, n)| (d.to_string(), *n)), 40).as_bytes())?;
    Ok(())
}
