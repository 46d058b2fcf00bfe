//! Incremental ingestion of the CSV archives into the index.
//!
//! Each run looks at every `history_<room>.csv` in the log directory and indexes only the
//! complete rows (ending in `\n`) after the offset remembered in the [`State`]. A torn
//! last row (the server crashed mid-write) is left for a later run, when it is complete.
//!
//! Rows already in the index leave it only by an explicit `chat-search rebuild`: never
//! because of a guess about a file. How files are told apart, by content rather than by
//! inode (inodes are reused), is in [`super::identity`].
//!
//! Malformed rows (wrong number of fields, bad timestamp, invalid UTF-8, empty user, an
//! unbalanced quote) are reported with file and line and skipped; they never stop the
//! run, and an unbalanced quote never swallows the rows after it ([`super::rows`]).
//!
//! Nothing is visible to searchers until [`Indexer::commit`], which stores the updated
//! state in the same atomic commit as the documents.

use std::collections::BTreeSet;
use std::fs::{self, File};
use std::io::{self, BufReader, Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

use tantivy::schema::TantivyDocument;
use tantivy::{DateTime, Index, IndexWriter, TantivyError};

use super::error::IndexError;
use super::rows::{Next, RowReader};
use super::schema::{Fields, open_index};
use super::state::{State, refresh};
use super::timestamps::parse_row_timestamp;
use crate::names::room_from_file_name;

/// A row that could not be indexed, with where it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Malformed {
    /// File name in the log directory.
    pub file: String,
    /// 1-based line number.
    pub line: u64,
    /// What is wrong with it.
    pub reason: String,
}

impl std::fmt::Display for Malformed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}: {}", self.file, self.line, self.reason)
    }
}

/// What one catch-up run did, for the CLI's summary line and the server's log.
#[derive(Debug, Clone, Default)]
pub struct IndexReport {
    /// Rows added to the index.
    pub added: u64,
    /// Rooms that got new rows.
    pub rooms: BTreeSet<String>,
    /// Rows skipped as malformed.
    pub malformed: Vec<Malformed>,
    /// What was detected about files (new, rotated, truncated, replaced, gone), one
    /// human-readable line each.
    pub notes: Vec<String>,
    /// True if anything (documents, deletions, offsets) needs committing.
    pub state_changed: bool,
}

/// Writer sizing: tantivy splits `memory_bytes` between `threads` indexing threads.
#[derive(Debug, Clone, Copy)]
pub struct WriterConfig {
    /// Indexing threads.
    pub threads: usize,
    /// Total memory budget of the writer, in bytes (at least 15 MB per thread).
    pub memory_bytes: usize,
    /// Index at a lower CPU priority than the chat (the server's live index).
    pub background: bool,
}

impl WriterConfig {
    /// For the CLI's bulk runs: all cores, a generous buffer.
    pub fn bulk() -> Self {
        let threads = std::thread::available_parallelism().map_or(1, |n| n.get().min(4));
        WriterConfig {
            threads,
            memory_bytes: 100_000_000 * threads,
            background: false,
        }
    }

    /// For the server: one thread and a small buffer; it indexes a trickle.
    pub fn live() -> Self {
        WriterConfig {
            threads: 1,
            memory_bytes: 30_000_000,
            background: true,
        }
    }
}

/// Holds the index's single writer and the indexing state.
pub struct Indexer {
    pub(super) log_dir: PathBuf,
    index_dir: PathBuf,
    index: Index,
    fields: Fields,
    writer: IndexWriter,
    pub(super) state: State,
    /// Whether to note new files (not on the first run, where every file is new).
    pub(super) announce_new: bool,
}

/// Maps tantivy's writer-lock failure to [`IndexError::Locked`], anything else to
/// [`IndexError::Tantivy`].
pub fn writer_error(index_dir: &Path, e: TantivyError) -> IndexError {
    match e {
        TantivyError::LockFailure(..) => IndexError::Locked(index_dir.to_path_buf()),
        other => IndexError::Tantivy(index_dir.to_path_buf(), other.to_string()),
    }
}

impl Indexer {
    /// Opens (creating if needed) the index in `index_dir` and takes its writer lock.
    /// Fails with [`IndexError::Locked`] if another process (the server) holds it.
    pub fn open(
        log_dir: &Path,
        index_dir: &Path,
        config: WriterConfig,
    ) -> Result<Self, IndexError> {
        let (index, fields) = open_index(index_dir, true)?;
        let make_writer = || index.writer_with_num_threads(config.threads, config.memory_bytes);
        let writer = if config.background {
            // Made on a thread of lower priority, whose priority tantivy's indexing, merging
            // and compressing threads inherit: the server's indexing then yields the CPU
            // to the chat when both want it.
            std::thread::scope(|scope| {
                scope
                    .spawn(|| {
                        crate::limits::lower_thread_priority();
                        make_writer()
                    })
                    .join()
            })
            .unwrap_or_else(|_| make_writer())
        } else {
            make_writer()
        }
        .map_err(|e| writer_error(index_dir, e))?;
        let metas = index
            .load_metas()
            .map_err(|e| IndexError::Corrupt(index_dir.to_path_buf(), e.to_string()))?;
        let state = State::from_payload(metas.payload.as_deref())
            .map_err(|e| IndexError::Corrupt(index_dir.to_path_buf(), e))?;
        Ok(Indexer {
            log_dir: log_dir.to_path_buf(),
            index_dir: index_dir.to_path_buf(),
            index,
            fields,
            writer,
            state,
            announce_new: false,
        })
    }

    /// The underlying index, e.g. to make readers.
    pub fn index(&self) -> &Index {
        &self.index
    }

    /// The schema's fields.
    pub fn fields(&self) -> Fields {
        self.fields
    }

    /// Bytes not yet indexed across all archives (for a progress bar's total).
    pub fn pending_bytes(&self) -> u64 {
        self.archives()
            .unwrap_or_default()
            .iter()
            .map(|(name, meta)| {
                let done = self.state.files.get(name).map_or(0, |s| s.offset);
                meta.len().saturating_sub(done)
            })
            .sum()
    }

    /// Bytes of all archives together (for a rebuild's percentage).
    pub fn archive_bytes(&self) -> u64 {
        self.archives()
            .unwrap_or_default()
            .iter()
            .map(|(_, meta)| meta.len())
            .sum()
    }

    /// Archive files in the log directory, sorted by name, with their metadata.
    pub(super) fn archives(&self) -> Result<Vec<(String, fs::Metadata)>, IndexError> {
        let io_err = |e| IndexError::Io(self.log_dir.clone(), e);
        let mut out = Vec::new();
        for entry in fs::read_dir(&self.log_dir).map_err(io_err)? {
            let entry = entry.map_err(io_err)?;
            let Ok(name) = entry.file_name().into_string() else {
                continue;
            };
            if room_from_file_name(&name).is_none() {
                continue;
            }
            let Ok(meta) = fs::metadata(entry.path()) else {
                continue; // vanished between listing and stat
            };
            if meta.is_file() {
                out.push((name, meta));
            }
        }
        out.sort_by(|a, b| a.0.cmp(&b.0));
        Ok(out)
    }

    /// Reads every archive's new complete rows into the writer (not yet committed).
    /// `progress(bytes)` is called as bytes are consumed.
    pub fn catch_up(&mut self, progress: &mut dyn FnMut(u64)) -> Result<IndexReport, IndexError> {
        let mut report = IndexReport::default();
        let before = self.state.clone();
        self.announce_new = !before.files.is_empty() || !before.retired.is_empty();
        let archives = self.archives()?;
        let present: BTreeSet<&str> = archives.iter().map(|(n, _)| n.as_str()).collect();
        let vanished: Vec<String> = self
            .state
            .files
            .keys()
            .filter(|k| !present.contains(k.as_str()))
            .cloned()
            .collect();
        for name in vanished {
            self.vanished(&name, &mut report, progress)?;
        }
        for (name, meta) in &archives {
            let room = room_from_file_name(name).expect("filtered in archives()");
            let path = self.log_dir.join(name);
            let start = self.classify(name, &path, meta.len(), &mut report, progress)?;
            let source = self.state.files[name].source;
            let rows = RowSource {
                path: &path,
                label: name,
                room: &room,
                source,
            };
            let (end, added) = self.read_rows(rows, start, &mut report, progress)?;
            let fs = self
                .state
                .files
                .get_mut(name)
                .expect("classify inserted it");
            fs.offset = end.offset;
            fs.line = end.line;
            fs.rows += added;
            refresh(fs, &path);
        }
        report.state_changed = report.added > 0 || self.state != before;
        Ok(report)
    }

    /// Indexes the complete rows of `rows.path` from `start`. Returns the position after
    /// the last row read and how many rows were added.
    pub(super) fn read_rows(
        &mut self,
        rows: RowSource<'_>,
        start: Position,
        report: &mut IndexReport,
        progress: &mut dyn FnMut(u64),
    ) -> Result<(Position, u64), IndexError> {
        let path = rows.path;
        let io_err = |e| IndexError::Io(path.to_path_buf(), e);
        let mut file = File::open(path).map_err(io_err)?;
        let len = file.metadata().map_err(io_err)?.len();
        let end = complete_end(&mut file, start.offset, len).map_err(io_err)?;
        if end <= start.offset {
            return Ok((start, 0));
        }
        let RowSource {
            label: file_label,
            room,
            source,
            ..
        } = rows;
        file.seek(SeekFrom::Start(start.offset)).map_err(io_err)?;
        let reader = BufReader::with_capacity(256 * 1024, file.take(end - start.offset));
        let mut reader = RowReader::new(reader, start.offset, start.line);
        let mut last_reported = start.offset;
        let mut added = 0u64;
        let mut stop = None;
        loop {
            let (line, offset) = match reader.read().map_err(io_err)? {
                Next::End => break,
                Next::Unfinished { offset, line } => {
                    // A quoted field still open at the end: wait for the rest of it.
                    stop = Some(Position { offset, line });
                    break;
                }
                Next::Unbalanced { line, next_line } => {
                    report.malformed.push(Malformed {
                        file: file_label.to_string(),
                        line,
                        reason: format!(
                            "unbalanced quote: a quoted field is never closed before the next \
                             row (line {next_line}); row skipped"
                        ),
                    });
                    continue;
                }
                Next::Row { line, offset } => (line, offset),
            };
            if offset == 0 && is_header(reader.fields()) {
                continue;
            }
            match self.row_document(reader.fields(), room, file_label, line, offset, source) {
                Ok(doc) => {
                    self.writer
                        .add_document(doc)
                        .map_err(|e| IndexError::Tantivy(self.index_dir.clone(), e.to_string()))?;
                    report.added += 1;
                    added += 1;
                    report.rooms.insert(room.to_string());
                }
                Err(reason) => report.malformed.push(Malformed {
                    file: file_label.to_string(),
                    line,
                    reason,
                }),
            }
            if reader.offset() - last_reported >= 1 << 20 {
                progress(reader.offset() - last_reported);
                last_reported = reader.offset();
            }
        }
        let done = stop.unwrap_or(Position {
            offset: reader.offset(),
            line: reader.lines(),
        });
        progress(end - last_reported);
        Ok((done, added))
    }

    fn row_document(
        &self,
        record: &[Vec<u8>],
        room: &str,
        file: &str,
        line: u64,
        offset: u64,
        source: u64,
    ) -> Result<TantivyDocument, String> {
        if record.len() != 3 {
            return Err(format!(
                "expected 3 fields (timestamp,username,message), found {}",
                record.len()
            ));
        }
        let field = |i: usize, what: &str| {
            std::str::from_utf8(&record[i]).map_err(|_| format!("{what} is not valid UTF-8"))
        };
        let ts = field(0, "timestamp")?;
        let user = field(1, "username")?.trim();
        let message = field(2, "message")?;
        let ms = parse_row_timestamp(ts).ok_or_else(|| format!("unrecognised timestamp `{ts}`"))?;
        if user.is_empty() {
            return Err("empty username".to_string());
        }
        let f = &self.fields;
        // Sized for this row (the default reserves 1 KiB per document).
        let text_bytes = room.len() + 2 * user.len() + message.len() + file.len();
        let mut doc = TantivyDocument::with_capacity(text_bytes + 128);
        doc.add_text(f.room, room);
        doc.add_text(f.user, user.to_lowercase());
        doc.add_text(f.user_display, user);
        doc.add_text(f.message, message);
        doc.add_date(f.timestamp, DateTime::from_timestamp_millis(ms));
        doc.add_u64(f.source, source);
        doc.add_text(f.file, file);
        doc.add_u64(f.line, line);
        doc.add_u64(f.offset, offset);
        Ok(doc)
    }

    /// Makes everything added so far searchable, together with the updated state.
    pub fn commit(&mut self) -> Result<(), IndexError> {
        let err = |e: TantivyError| IndexError::Tantivy(self.index_dir.clone(), e.to_string());
        let payload = self.state.to_payload();
        let mut prepared = self.writer.prepare_commit().map_err(err)?;
        prepared.set_payload(&payload);
        prepared.commit().map_err(err)?;
        Ok(())
    }

    /// Waits for background merges to finish (the CLI calls this before exiting, so the
    /// index it leaves behind is compact).
    pub fn finish(self) -> Result<(), IndexError> {
        let dir = self.index_dir.clone();
        self.writer
            .wait_merging_threads()
            .map_err(|e| IndexError::Tantivy(dir, e.to_string()))
    }
}

/// A position in a CSV file: byte offset and lines before it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Position {
    pub(super) offset: u64,
    pub(super) line: u64,
}

/// True for the `timestamp,username,message` header (any case, optional UTF-8 BOM).
fn is_header(record: &[Vec<u8>]) -> bool {
    let names = ["timestamp", "username", "message"];
    record.len() == 3
        && record.iter().zip(names).all(|(f, n)| {
            let f: &[u8] = f.strip_prefix("\u{feff}".as_bytes()).unwrap_or(f);
            f.trim_ascii().eq_ignore_ascii_case(n.as_bytes())
        })
}

/// Offset just after the last `\n` in `[from, len)`, or `from` if there is none: rows
/// after it are torn (still being written, or cut by a crash) and wait for a later run.
fn complete_end(file: &mut File, from: u64, len: u64) -> io::Result<u64> {
    const BLOCK: u64 = 64 * 1024;
    let mut hi = len;
    let mut buf = vec![0u8; BLOCK as usize];
    while hi > from {
        let lo = hi.saturating_sub(BLOCK).max(from);
        let n = (hi - lo) as usize;
        file.seek(SeekFrom::Start(lo))?;
        file.read_exact(&mut buf[..n])?;
        if let Some(i) = buf[..n].iter().rposition(|&b| b == b'\n') {
            return Ok(lo + i as u64 + 1);
        }
        hi = lo;
    }
    Ok(from)
}

/// Where rows come from and whom they belong to.
#[derive(Clone, Copy)]
pub(super) struct RowSource<'a> {
    /// File to read.
    pub(super) path: &'a Path,
    /// Its name, recorded in the index and in reports.
    pub(super) label: &'a str,
    /// Room the rows belong to.
    pub(super) room: &'a str,
    /// Source id for the rows.
    pub(super) source: u64,
}
