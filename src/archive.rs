//! The room archives: one CSV per room, appended by a dedicated writer thread.
//!
//! A row is handed to the OS (`write(2)`, no process-side buffer) before the message is
//! delivered to anyone, so `kill -9` loses nothing a client saw. Sessions queue rows to the
//! writer, which takes everything queued at once, writes each file's rows with one call,
//! then runs each message's delivery in acceptance order and answers the sender. File I/O
//! therefore never runs on the async runtime, and one slow file write batches up the rest.

use std::collections::HashMap;
use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::thread::JoinHandle;

use chrono::Utc;
use tokio::sync::{mpsc, watch};

use crate::names::{archive_file_name, room_key};

/// The header every archive starts with.
pub const HEADER: [&str; 3] = ["timestamp", "username", "message"];

/// Most rows the writer takes in one batch.
const MAX_BATCH: usize = 512;
/// Open file handles kept at most before all are closed and reopened on demand (fewer
/// under a low descriptor limit: see [`crate::limits::archive_open_files`]).
const MAX_OPEN_FILES: usize = 512;

/// Why a row was not archived.
#[derive(Debug, thiserror::Error)]
pub enum ArchiveError {
    #[error("cannot write {path}: {source}")]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("the archive writer has stopped")]
    Closed,
}

/// What the writer does with a room message once its row is written, or could not be:
/// both run on the writer thread, in acceptance order, after the batch's rows are written.
pub trait Delivery: Send {
    /// The row to write: room (display name), username and message text.
    fn row(&self) -> [&str; 3];
    /// The row is in the file of the room whose key ([`room_key`]) is `key`, stamped
    /// `stamp` (`2026-11-23T10:15:30.123Z`) and `millis`: deliver the message.
    fn written(self: Box<Self>, key: &str, stamp: String, millis: i64);
    /// The row is not in the file: nobody may receive the message.
    fn failed(self: Box<Self>, error: ArchiveError);
    /// The row's time (ms) when it was fixed before the writer got it (a cluster node
    /// stamps from the network's stream); `None` lets the writer stamp it now. A fixed
    /// stamp not after the file's last row means the row is already there (written before
    /// a crash, replayed from the stream): it is delivered but not written again.
    fn stamp(&self) -> Option<i64> {
        None
    }
}

struct Job {
    /// Holds the row too (see [`Delivery::row`]), so it is not copied for the writer.
    delivery: Box<dyn Delivery>,
    /// When the job was handed over, for the write-latency metric.
    queued: std::time::Instant,
}

enum Request {
    Append(Job),
    Reopen,
    /// Write what came before, then stop: sent once every session has ended.
    Close,
}

/// Handle to the archive writer; clones share it.
#[derive(Clone)]
pub struct Archive {
    tx: mpsc::Sender<Request>,
    written: watch::Receiver<u64>,
    dir: PathBuf,
}

/// Stops the writer thread at shutdown, whatever handles (signal tasks, the indexer) remain.
pub struct ArchiveWriter {
    thread: JoinHandle<()>,
    tx: mpsc::Sender<Request>,
}

impl ArchiveWriter {
    /// Writes everything queued so far, closes the files and waits for the thread to end.
    /// Appends queued afterwards fail with [`ArchiveError::Closed`].
    pub async fn close(self) {
        let _ = self.tx.send(Request::Close).await;
        let _ = tokio::task::spawn_blocking(move || self.thread.join()).await;
    }
}

impl Archive {
    /// Creates the log directory if needed, repairs any torn last row, and starts the writer.
    pub fn open(dir: &Path) -> std::io::Result<(Archive, ArchiveWriter)> {
        std::fs::create_dir_all(dir)?;
        repair_dir(dir)?;
        let (tx, rx) = mpsc::channel(16 * 1024);
        let (written_tx, written) = watch::channel(0);
        let writer = Writer {
            dir: dir.to_path_buf(),
            files: HashMap::new(),
            last_stamp: HashMap::new(),
            written: written_tx,
            max_open: crate::limits::archive_open_files().min(MAX_OPEN_FILES),
        };
        let handle = std::thread::Builder::new()
            .name("archive-writer".into())
            .spawn(move || {
                crate::limits::batch_scheduling();
                writer.run(rx)
            })?;
        Ok((
            Archive {
                tx: tx.clone(),
                written,
                dir: dir.to_path_buf(),
            },
            ArchiveWriter { thread: handle, tx },
        ))
    }

    /// Whether the writer still takes rows (false once it has closed or died).
    pub fn accepting(&self) -> bool {
        !self.tx.is_closed()
    }

    /// The directory holding the archives.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Hands a room message (its [`Delivery::row`]) to the writer, waiting only while the writer's queue is full:
    /// `delivery` runs once the row is written (or could not be), in acceptance order.
    pub async fn append(&self, delivery: Box<dyn Delivery>) {
        let job = Job {
            delivery,
            queued: std::time::Instant::now(),
        };
        if let Err(mpsc::error::SendError(Request::Append(job))) =
            self.tx.send(Request::Append(job)).await
        {
            job.delivery.failed(ArchiveError::Closed);
        }
    }

    /// Closes every file so the next row reopens it: what logrotate needs after a rename.
    pub fn reopen(&self) {
        let _ = self.tx.try_send(Request::Reopen);
    }

    /// A counter of rows written, bumped after each batch and before its deliveries: the
    /// search indexer's wake-up, and what a search must wait for to see every message its
    /// requester could have seen.
    pub fn written(&self) -> watch::Receiver<u64> {
        self.written.clone()
    }
}

struct OpenFile {
    file: File,
    path: PathBuf,
    len: u64,
}

struct Writer {
    dir: PathBuf,
    files: HashMap<String, OpenFile>,
    /// Each room's last written timestamp (ms): a room's stamps strictly increase, so
    /// (room, time) names one row and msgids derived from rows never collide.
    last_stamp: HashMap<String, i64>,
    written: watch::Sender<u64>,
    /// Files kept open at most (the descriptor budget's share for the archive).
    max_open: usize,
}

impl Writer {
    fn run(mut self, mut rx: mpsc::Receiver<Request>) {
        let mut batch = Vec::new();
        while let Some(first) = rx.blocking_recv() {
            let mut next = Some(first);
            while let Some(req) = next.take() {
                match req {
                    Request::Append(job) => batch.push(job),
                    Request::Reopen => {
                        self.write_batch(&mut batch);
                        self.files.clear();
                        tracing::info!("archive files reopened");
                    }
                    Request::Close => {
                        self.write_batch(&mut batch);
                        // Whatever raced the close is refused, so its senders hear of it.
                        rx.close();
                        while let Ok(req) = rx.try_recv() {
                            if let Request::Append(job) = req {
                                job.delivery.failed(ArchiveError::Closed);
                            }
                        }
                        return;
                    }
                }
                if batch.len() < MAX_BATCH {
                    next = rx.try_recv().ok();
                }
            }
            self.write_batch(&mut batch);
        }
    }

    fn write_batch(&mut self, batch: &mut Vec<Job>) {
        if batch.is_empty() {
            return;
        }
        if self.last_stamp.len() > MAX_OPEN_FILES * 8 {
            self.last_stamp.clear();
        }
        let now = Utc::now().timestamp_millis();
        // Each row stamped, and grouped per file keeping acceptance order within each file:
        // (stamp, millis, the row's file) per job, (room key, rows, row count) per file.
        let mut stamps: Vec<(String, i64, usize)> = Vec::with_capacity(batch.len());
        let mut slots: HashMap<String, usize> = HashMap::new();
        let mut per_file: Vec<(String, csv::Writer<Vec<u8>>, u64)> = Vec::new();
        for job in batch.iter() {
            let [room, user, text] = job.delivery.row();
            let key = room_key(room);
            let slot = match slots.get(&key) {
                Some(slot) => *slot,
                None => {
                    slots.insert(key.clone(), per_file.len());
                    per_file.push((key.clone(), row_writer(), 0));
                    per_file.len() - 1
                }
            };
            let last = match self.last_stamp.get(&key) {
                Some(last) => *last,
                None => self.file_last_stamp(&key),
            };
            // A clock that stepped back (or a file stamped in the future) is followed
            // for a minute at most, then the real time wins.
            let (stamp, already) = match job.delivery.stamp() {
                Some(fixed) => (fixed, fixed <= last),
                None if last >= now && last - now < 60_000 => (last + 1, false),
                None => (now, false),
            };
            self.last_stamp
                .insert(key, if already { last } else { stamp });
            let formatted = crate::search::timestamps::format_millis(stamp);
            let (_, rows, count) = &mut per_file[slot];
            if !already {
                // Writing to memory cannot fail.
                rows.write_record([formatted.as_str(), user, text])
                    .expect("csv to memory");
                *count += 1;
            }
            stamps.push((formatted, stamp, slot));
        }
        // Each file's rows with one write; a file's failure fails all its rows. Then per
        // file: its room key and why it failed, if it did.
        let mut files: Vec<(String, Option<String>)> = Vec::with_capacity(per_file.len());
        let mut ok_rows = 0u64;
        for (key, rows, count) in per_file {
            let buf = rows.into_inner().expect("csv to memory");
            let written = if buf.is_empty() {
                Ok(())
            } else {
                self.write_file(&key, &buf)
            };
            let failure = match written {
                Ok(()) => {
                    ok_rows += count;
                    None
                }
                Err(e) => {
                    tracing::error!(error = %e, rows = count, "archive write failed; messages not delivered");
                    self.files.remove(&key);
                    Some(e.to_string())
                }
            };
            files.push((key, failure));
        }
        // Counted before anyone hears of these rows, so a search that follows a delivered
        // message knows to wait for it (see `LiveIndex::wait_indexed`).
        if ok_rows > 0 {
            self.written.send_modify(|n| *n += ok_rows);
        }
        let metrics = crate::metrics::get();
        metrics.messages_archived.inc_by(ok_rows);
        // Each recipient's writer is woken once for the whole batch.
        crate::outbox::batched_wakes(|| {
            for (job, (stamp, millis, slot)) in batch.drain(..).zip(stamps) {
                let (key, failure) = &files[slot];
                match failure {
                    None => {
                        crate::metrics::observe(
                            &metrics.archive_write_seconds,
                            job.queued.elapsed(),
                        );
                        job.delivery.written(key, stamp, millis);
                    }
                    Some(msg) => {
                        let path = self.dir.join(archive_file_name(key));
                        let source = std::io::Error::other(msg.clone());
                        job.delivery.failed(ArchiveError::Write { path, source });
                    }
                }
            }
        });
    }

    /// The last row's time in a room's current file (`i64::MIN` if none can be read).
    fn file_last_stamp(&self, key: &str) -> i64 {
        let path = self.dir.join(archive_file_name(key));
        crate::history::last_row_millis(&path)
            .ok()
            .flatten()
            .unwrap_or(i64::MIN + 1)
    }

    fn write_file(&mut self, key: &str, rows: &[u8]) -> std::io::Result<()> {
        if !self.files.contains_key(key) {
            if self.files.len() >= self.max_open {
                self.files.clear();
            }
            let opened = self.open_file(key)?;
            self.files.insert(key.to_string(), opened);
        }
        let open = self.files.get_mut(key).expect("inserted above");
        if let Err(e) = open.file.write_all(rows) {
            // Take back a partial row so the file stays well-formed for the next write.
            let _ = open.file.set_len(open.len);
            return Err(std::io::Error::new(
                e.kind(),
                format!("{}: {e}", open.path.display()),
            ));
        }
        open.len += rows.len() as u64;
        Ok(())
    }

    fn open_file(&self, key: &str) -> std::io::Result<OpenFile> {
        let path = self.dir.join(archive_file_name(key));
        let wrap =
            |e: std::io::Error| std::io::Error::new(e.kind(), format!("{}: {e}", path.display()));
        let mut file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)
            .map_err(wrap)?;
        let mut len = file.metadata().map_err(wrap)?.len();
        if len == 0 {
            let mut header = Vec::new();
            append_row(&mut header, HEADER);
            file.write_all(&header).map_err(wrap)?;
            len = header.len() as u64;
        }
        Ok(OpenFile { file, path, len })
    }
}

/// An in-memory CSV writer quoting as the csv crate does, one per file and batch.
fn row_writer() -> csv::Writer<Vec<u8>> {
    csv::WriterBuilder::new()
        .has_headers(false)
        // Its own buffer in front of the Vec need not be the default 8 KiB.
        .buffer_capacity(1024)
        .from_writer(Vec::new())
}

/// Appends one CSV record to `buf`.
fn append_row(buf: &mut Vec<u8>, fields: [&str; 3]) {
    let mut w = row_writer();
    w.write_record(fields).expect("csv to memory");
    buf.extend_from_slice(&w.into_inner().expect("csv to memory"));
}

/// Cuts a torn last row (no final newline, left by a crash) from every archive in `dir`.
fn repair_dir(dir: &Path) -> std::io::Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        let name = entry.file_name();
        let Some(name) = name.to_str() else { continue };
        if !(name.starts_with("history_") && name.ends_with(".csv") && entry.file_type()?.is_file())
        {
            continue;
        }
        let path = entry.path();
        if let Some(cut) = repair_file(&path)? {
            tracing::warn!(file = %path.display(), bytes = cut, "removed a torn last row left by a crash");
        }
    }
    Ok(())
}

/// Repairs the end of `path` after a crash: a last row that lacks only its final newline
/// but is complete ([`complete_row`]) gets the newline; anything else after the last
/// newline is a torn row and is cut. Returns how many bytes were cut, if any.
pub fn repair_file(path: &Path) -> std::io::Result<Option<u64>> {
    let mut file = OpenOptions::new().read(true).write(true).open(path)?;
    let len = file.metadata()?.len();
    if len == 0 {
        return Ok(None);
    }
    let mut end = len;
    let mut chunk = vec![0u8; 64 * 1024];
    loop {
        let start = end.saturating_sub(chunk.len() as u64);
        let n = (end - start) as usize;
        file.seek(SeekFrom::Start(start))?;
        file.read_exact(&mut chunk[..n])?;
        let newline = chunk[..n].iter().rposition(|b| *b == b'\n');
        if newline.is_some() || start == 0 {
            let keep = newline.map_or(0, |pos| start + pos as u64 + 1);
            if keep == len {
                return Ok(None);
            }
            let mut tail = Vec::new();
            file.seek(SeekFrom::Start(keep))?;
            Read::by_ref(&mut file)
                .take(len - keep)
                .read_to_end(&mut tail)?;
            if complete_row(&tail, keep == 0) {
                file.seek(SeekFrom::End(0))?;
                file.write_all(b"\n")?;
                tracing::info!(file = %path.display(), "completed a last row that lacked its newline");
                return Ok(None);
            }
            file.set_len(keep)?;
            return Ok(Some(len - keep));
        }
        end = start;
    }
}

/// Whether `tail` (what follows the last newline) is a whole row that only lacks its
/// newline: one CSV record of 3 fields with balanced quotes whose first field is a
/// timestamp (or, at the start of the file, the header).
fn complete_row(tail: &[u8], first_line: bool) -> bool {
    let quotes = tail.iter().filter(|b| **b == b'"').count();
    if quotes % 2 != 0 || tail.contains(&b'\r') {
        return false;
    }
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .from_reader(tail);
    let mut record = csv::StringRecord::new();
    match reader.read_record(&mut record) {
        Ok(true) if record.len() == 3 => {}
        _ => return false,
    }
    if first_line && record.iter().eq(HEADER) {
        return true;
    }
    crate::search::timestamps::parse_row_timestamp(&record[0]).is_some()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_complete_last_row_without_its_newline_is_kept() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("history_a.csv");
        let rows = "timestamp,username,message\n2026-01-01T00:00:00.000Z,a,ok\n";
        let last = "2026-01-01T00:00:01.000Z,b,\"kept, \"\"whole\"\"\"";
        std::fs::write(&path, format!("{rows}{last}")).unwrap();
        assert_eq!(repair_file(&path).unwrap(), None);
        assert_eq!(
            std::fs::read_to_string(&path).unwrap(),
            format!("{rows}{last}\n")
        );
        // Torn inside its quotes, or before its third field: cut.
        for torn in [
            "2026-01-01T00:00:01.000Z,b,\"torn, ",
            "2026-01-01T00:00:01.000Z,b",
            "2026-01-01T00:0",
        ] {
            std::fs::write(&path, format!("{rows}{torn}")).unwrap();
            assert_eq!(
                repair_file(&path).unwrap(),
                Some(torn.len() as u64),
                "{torn}"
            );
            assert_eq!(std::fs::read_to_string(&path).unwrap(), rows);
        }
        std::fs::write(&path, "timestamp,username,message").unwrap();
        assert_eq!(repair_file(&path).unwrap(), None, "a lone header is kept");
        assert_eq!(
            std::fs::read_to_string(&path).unwrap(),
            "timestamp,username,message\n"
        );
    }

    #[test]
    fn torn_row_is_cut_back_to_last_newline() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("history_a.csv");
        std::fs::write(&path, "timestamp,username,message\nt,a,ok\nt,b,\"torn").unwrap();
        assert_eq!(repair_file(&path).unwrap(), Some(9));
        assert_eq!(
            std::fs::read_to_string(&path).unwrap(),
            "timestamp,username,message\nt,a,ok\n"
        );
        assert_eq!(repair_file(&path).unwrap(), None);
    }

    #[test]
    fn rows_are_quoted_by_csv_rules() {
        let mut buf = Vec::new();
        append_row(&mut buf, ["t", "alice", "hello, \"world\""]);
        assert_eq!(buf, b"t,alice,\"hello, \"\"world\"\"\"\n");
    }
}
