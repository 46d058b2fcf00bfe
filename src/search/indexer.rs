//! Incremental ingestion of the CSV archives into the index.
//!
//! Each run looks at every `history_<room>.csv` in the log directory and indexes only the
//! complete rows (ending in `\n`) after the offset remembered in the [`State`]. A torn
//! last row (the server crashed mid-write) is left for a later run, when it is complete.
//!
//! Files change under us in four ways, told apart by identity (device + inode), size and
//! a fingerprint of the bytes already indexed:
//!
//! * **appended** (same identity, longer, same beginning): read the new rows;
//! * **truncated** (same identity, shorter than the offset) or **rewritten in place**
//!   (same identity, different beginning): the file's old rows are deleted from the
//!   index and the file is read again from the start;
//! * **rotated** (new identity, different beginning — logrotate renamed the file and the
//!   server started a fresh one): first the rest of the old file is read if it is still
//!   in the log directory under another name (`history_general.csv.1`), then the new
//!   file is read from the start. The old file's rows **stay searchable** (until a
//!   `rebuild`, which only reads `history_*.csv`);
//! * **replaced** (new identity, same beginning — a copy or an edited version moved into
//!   place): treated like truncation, old rows deleted, re-read.
//!
//! A file that disappeared keeps its rows in the index; its state entry is dropped.
//! Malformed rows (wrong number of fields, bad timestamp, invalid UTF-8, empty user) are
//! reported with file and line and skipped; they never stop the run.
//!
//! Nothing is visible to searchers until [`Indexer::commit`], which stores the updated
//! state in the same atomic commit as the documents.

use std::collections::BTreeSet;
use std::fs::{self, File};
use std::io::{self, BufReader, Read, Seek, SeekFrom};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use tantivy::schema::TantivyDocument;
use tantivy::{DateTime, Index, IndexWriter, TantivyError, Term};

use super::error::IndexError;
use super::schema::{Fields, open_index};
use super::state::{FINGERPRINT_MAX, FileState, State, fingerprint_of};
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
    /// Human-readable notes on truncated/rotated/replaced/vanished files.
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
}

impl WriterConfig {
    /// For the CLI's bulk runs: all cores, a generous buffer.
    pub fn bulk() -> Self {
        let threads = std::thread::available_parallelism().map_or(1, |n| n.get().min(4));
        WriterConfig {
            threads,
            memory_bytes: 100_000_000 * threads,
        }
    }

    /// For the server: one thread and a small buffer; it indexes a trickle.
    pub fn live() -> Self {
        WriterConfig {
            threads: 1,
            memory_bytes: 30_000_000,
        }
    }
}

/// Holds the index's single writer and the indexing state.
pub struct Indexer {
    log_dir: PathBuf,
    index_dir: PathBuf,
    index: Index,
    fields: Fields,
    writer: IndexWriter,
    state: State,
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
        let writer = index
            .writer_with_num_threads(config.threads, config.memory_bytes)
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
    fn archives(&self) -> Result<Vec<(String, fs::Metadata)>, IndexError> {
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
            let old = self.state.files.remove(&name).expect("listed above");
            self.finish_rotated(&name, &old, &mut report, progress)?;
            report.notes.push(format!(
                "{name}: gone; its rows stay searchable until `chat-search rebuild`"
            ));
        }
        for (name, meta) in archives {
            let room = room_from_file_name(&name).expect("filtered in archives()");
            let path = self.log_dir.join(&name);
            let start = self.classify(&name, &path, &meta, &mut report, progress)?;
            let source = self.state.files[&name].source;
            let rows = RowSource {
                path: &path,
                label: &name,
                room: &room,
                source,
            };
            let end = self.read_rows(rows, start, &mut report, progress)?;
            let fs = self
                .state
                .files
                .get_mut(&name)
                .expect("classify inserted it");
            fs.offset = end.offset;
            fs.line = end.line;
            if fs.fingerprint_len < FINGERPRINT_MAX.min(fs.offset) {
                fs.fingerprint_len = FINGERPRINT_MAX.min(fs.offset);
                fs.fingerprint = fingerprint_of(&path, fs.fingerprint_len).unwrap_or(0);
            }
        }
        report.state_changed = report.added > 0 || self.state != before;
        Ok(report)
    }

    /// Decides where to start reading `name` and updates its state entry accordingly.
    fn classify(
        &mut self,
        name: &str,
        path: &Path,
        meta: &fs::Metadata,
        report: &mut IndexReport,
        progress: &mut dyn FnMut(u64),
    ) -> Result<Position, IndexError> {
        let fresh = |state: &mut State| FileState {
            dev: meta.dev(),
            ino: meta.ino(),
            offset: 0,
            line: 0,
            source: state.new_source(),
            fingerprint_len: 0,
            fingerprint: 0,
        };
        let Some(old) = self.state.files.get(name).cloned() else {
            let entry = fresh(&mut self.state);
            self.state.files.insert(name.to_string(), entry);
            return Ok(Position::START);
        };
        let same_beginning = old.fingerprint_len == 0
            || fingerprint_of(path, old.fingerprint_len) == Some(old.fingerprint);
        let same_file = old.dev == meta.dev() && old.ino == meta.ino();
        let reset_reason = if same_file {
            if meta.len() < old.offset {
                Some(format!(
                    "truncated ({} bytes, {} were indexed)",
                    meta.len(),
                    old.offset
                ))
            } else if !same_beginning {
                Some("rewritten in place".to_string())
            } else {
                None
            }
        } else {
            self.finish_rotated(name, &old, report, progress)?;
            if same_beginning {
                Some("replaced by a file with the same beginning".to_string())
            } else {
                report.notes.push(format!(
                    "{name}: rotated (new file); the previous file's rows stay searchable"
                ));
                let entry = fresh(&mut self.state);
                self.state.files.insert(name.to_string(), entry);
                return Ok(Position::START);
            }
        };
        match reset_reason {
            None => Ok(Position {
                offset: old.offset,
                line: old.line,
            }),
            Some(reason) => {
                self.writer
                    .delete_term(Term::from_field_u64(self.fields.source, old.source));
                report.notes.push(format!(
                    "{name}: {reason}; its old rows were removed from the index and it is read again from the start"
                ));
                let entry = fresh(&mut self.state);
                self.state.files.insert(name.to_string(), entry);
                Ok(Position::START)
            }
        }
    }

    /// After a rotation, reads the rows the old file got after our last run, if the old
    /// file is still in the log directory under another name (logrotate's `.1`).
    fn finish_rotated(
        &mut self,
        name: &str,
        old: &FileState,
        report: &mut IndexReport,
        progress: &mut dyn FnMut(u64),
    ) -> Result<(), IndexError> {
        let Ok(entries) = fs::read_dir(&self.log_dir) else {
            return Ok(());
        };
        for entry in entries.flatten() {
            let Ok(meta) = entry.metadata() else { continue };
            if meta.dev() != old.dev || meta.ino() != old.ino || meta.len() <= old.offset {
                continue;
            }
            let Ok(rotated_name) = entry.file_name().into_string() else {
                continue;
            };
            if rotated_name == name {
                continue;
            }
            let room = room_from_file_name(name).expect("an archive name");
            let start = Position {
                offset: old.offset,
                line: old.line,
            };
            let path = entry.path();
            let rows = RowSource {
                path: &path,
                label: &rotated_name,
                room: &room,
                source: old.source,
            };
            self.read_rows(rows, start, report, progress)?;
            break;
        }
        Ok(())
    }

    /// Indexes the complete rows of `rows.path` from `start`. Returns the position after
    /// the last complete row.
    fn read_rows(
        &mut self,
        rows: RowSource<'_>,
        start: Position,
        report: &mut IndexReport,
        progress: &mut dyn FnMut(u64),
    ) -> Result<Position, IndexError> {
        let path = rows.path;
        let io_err = |e| IndexError::Io(path.to_path_buf(), e);
        let mut file = File::open(path).map_err(io_err)?;
        let len = file.metadata().map_err(io_err)?.len();
        let end = complete_end(&mut file, start.offset, len).map_err(io_err)?;
        if end <= start.offset {
            return Ok(start);
        }
        let RowSource {
            path,
            label: file_label,
            room,
            source,
        } = rows;
        file.seek(SeekFrom::Start(start.offset)).map_err(io_err)?;
        let mut reader = csv::ReaderBuilder::new()
            .has_headers(false)
            .flexible(true)
            .from_reader(CountNewlines {
                inner: BufReader::with_capacity(256 * 1024, file.take(end - start.offset)),
                newlines: 0,
            });
        let mut record = csv::ByteRecord::new();
        let mut first = start.offset == 0;
        let mut last_reported = 0u64;
        loop {
            match reader.read_byte_record(&mut record) {
                Ok(false) => break,
                Ok(true) => {}
                Err(e) => {
                    let line = start.line + e.position().map_or(0, |p| p.line());
                    return Err(IndexError::Io(
                        path.to_path_buf(),
                        io::Error::other(format!("line {line}: {e}")),
                    ));
                }
            }
            let pos = record
                .position()
                .expect("records from a reader have positions");
            let line = start.line + pos.line();
            let offset = start.offset + pos.byte();
            if std::mem::take(&mut first) && is_header(&record) {
                continue;
            }
            match self.row_document(&record, room, file_label, line, offset, source) {
                Ok(doc) => {
                    self.writer
                        .add_document(doc)
                        .map_err(|e| IndexError::Tantivy(self.index_dir.clone(), e.to_string()))?;
                    report.added += 1;
                    report.rooms.insert(room.to_string());
                }
                Err(reason) => report.malformed.push(Malformed {
                    file: file_label.to_string(),
                    line,
                    reason,
                }),
            }
            if pos.byte() - last_reported >= 1 << 20 {
                progress(pos.byte() - last_reported);
                last_reported = pos.byte();
            }
        }
        progress(end - start.offset - last_reported);
        let newlines = reader.get_ref().newlines;
        Ok(Position {
            offset: end,
            line: start.line + newlines,
        })
    }

    fn row_document(
        &self,
        record: &csv::ByteRecord,
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
        let mut doc = TantivyDocument::new();
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
struct Position {
    offset: u64,
    line: u64,
}

impl Position {
    const START: Position = Position { offset: 0, line: 0 };
}

/// True for the `timestamp,username,message` header (any case, optional UTF-8 BOM).
fn is_header(record: &csv::ByteRecord) -> bool {
    let names = ["timestamp", "username", "message"];
    record.len() == 3
        && record.iter().zip(names).all(|(f, n)| {
            let f = f.strip_prefix("\u{feff}".as_bytes()).unwrap_or(f);
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

/// Passes bytes through, counting newlines, so line numbers continue across runs.
struct CountNewlines<R> {
    inner: R,
    newlines: u64,
}

impl<R: Read> Read for CountNewlines<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.newlines += buf[..n].iter().filter(|&&b| b == b'\n').count() as u64;
        Ok(n)
    }
}

/// Where rows come from and whom they belong to.
#[derive(Clone, Copy)]
struct RowSource<'a> {
    /// File to read.
    path: &'a Path,
    /// Its name, recorded in the index and in reports.
    label: &'a str,
    /// Room the rows belong to.
    room: &'a str,
    /// Source id for the rows.
    source: u64,
}
