//! One archive file, read by byte offsets: binary search by time, and row iteration
//! forwards and backwards from any row boundary, never holding more than a chunk.
//!
//! # Finding row boundaries
//!
//! A byte offset picked by a binary search (or the start of a chunk read backwards) can
//! fall anywhere, even inside a quoted field that spans lines (foreign CSVs may have
//! them; the server never writes one). We resynchronise with a heuristic: a *sync point*
//! is the start of a line (offset 0 or just after `\n`) that begins with a parseable
//! timestamp followed by a comma (the timestamp may be quoted). Every valid row starts at
//! a sync point; a line inside a multi-line message that happens to look like
//! `2025-01-01 12:00:00,...` would be taken for a row start too, which can garble that one
//! message — accepted, since only foreign files can contain such lines.
//!
//! From a sync point the `csv` crate parses rows exactly as written (quotes, embedded
//! newlines, CRLF). A row's *start* is always reported as the offset of its first byte,
//! not of any blank line or terminator before it, so the same row has the same start
//! whichever sync point parsing began from; positions from different reads compare.
//!
//! Only complete rows count: the file is read up to its last `\n` as of opening (a row
//! still being appended, or a final line without a newline, is ignored, as the indexer
//! does). Rows with the wrong number of fields, invalid UTF-8 or an unparseable
//! timestamp (the header among them) are skipped.

use std::fs::File;
use std::io::{self, Cursor};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

use crate::search::timestamps::parse_row_timestamp;

/// Bytes read per step when going backwards, and the largest forward step.
const CHUNK: u64 = 64 * 1024;
/// First forward step: a small `AFTER` or a first-row probe needs only a few rows.
const FIRST_FORWARD: u64 = 8 * 1024;
/// Bytes read per probe of the binary search.
const PROBE: u64 = 4 * 1024;
/// The binary search stops and scans forward once its range is this small.
const SCAN_SPAN: u64 = 16 * 1024;
/// A timestamp and its comma must fit in this many bytes at a line start to be a sync point.
const SYNC_PEEK: usize = 64;

#[cfg(test)]
thread_local! {
    /// Bytes this thread has read from archives: lets tests check that queries stay small.
    pub(super) static BYTES_READ: std::cell::Cell<u64> = const { std::cell::Cell::new(0) };
}

/// One valid row and where it lies in its file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct RawRow {
    /// Offset of the row's first byte.
    pub start: u64,
    /// Offset just after the row (where parsing the next one may begin).
    pub end: u64,
    pub millis: i64,
    pub user: String,
    pub text: String,
}

/// An open archive file and its readable extent.
pub(super) struct ArchiveFile {
    file: File,
    path: PathBuf,
    end: u64,
}

impl ArchiveFile {
    /// Opens `path`, noting where its last complete row ends; `None` if it does not exist.
    pub fn open(path: &Path) -> io::Result<Option<Self>> {
        let file = match File::open(path) {
            Ok(f) => f,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(with_path(path, e)),
        };
        let len = file.metadata().map_err(|e| with_path(path, e))?.len();
        let mut f = ArchiveFile {
            file,
            path: path.to_path_buf(),
            end: len,
        };
        f.end = f.complete_end(len)?;
        Ok(Some(f))
    }

    /// Offset just after the last complete row: the end of what is read.
    pub fn end(&self) -> u64 {
        self.end
    }

    /// Offset just after the last `\n` before `len`, or 0.
    fn complete_end(&self, len: u64) -> io::Result<u64> {
        let (mut hi, mut size) = (len, PROBE);
        while hi > 0 {
            let lo = hi.saturating_sub(size);
            let buf = self.read(lo, hi)?;
            if let Some(i) = buf.iter().rposition(|&b| b == b'\n') {
                return Ok(lo + i as u64 + 1);
            }
            hi = lo;
            size = (size * 2).min(CHUNK);
        }
        Ok(0)
    }

    fn read(&self, from: u64, to: u64) -> io::Result<Vec<u8>> {
        let mut buf = vec![0; (to - from) as usize];
        self.file
            .read_exact_at(&mut buf, from)
            .map_err(|e| with_path(&self.path, e))?;
        #[cfg(test)]
        BYTES_READ.with(|n| n.set(n.get() + buf.len() as u64));
        Ok(buf)
    }

    /// The first valid row, if any.
    pub fn first_row(&self) -> io::Result<Option<RawRow>> {
        self.forward(0).next()
    }

    /// Start of the first valid row whose millis are `>= t`, or [`end`](Self::end).
    ///
    /// Binary search over byte offsets (each probe reads a few KiB from the middle and
    /// takes the next sync point's timestamp), then a forward scan of the last few KiB:
    /// O(log size) reads. Assumes rows are in non-decreasing time order.
    pub fn lower_bound(&self, t: i64) -> io::Result<u64> {
        // Every row starting before `lo` is older than `t`; the answer starts before `hi`
        // or is the first row at or after it.
        let (mut lo, mut hi) = (0, self.end);
        while hi - lo > SCAN_SPAN {
            let mid = lo + (hi - lo) / 2;
            match self.find_sync(mid, hi)? {
                Some((at, millis)) if millis < t => lo = at,
                _ => hi = mid,
            }
        }
        let mut rows = self.forward(lo);
        while let Some(row) = rows.next()? {
            if row.millis >= t {
                return Ok(row.start);
            }
        }
        Ok(self.end)
    }

    /// The first sync point at or after `from` and before `limit`, with its millis.
    fn find_sync(&self, from: u64, limit: u64) -> io::Result<Option<(u64, i64)>> {
        let mut pos = from;
        while pos < limit {
            // One byte before `pos` tells whether `pos` itself starts a line.
            let read_from = pos.saturating_sub(1);
            let read_to = (read_from + PROBE).min(self.end);
            let buf = self.read(read_from, read_to)?;
            let complete = read_to == self.end;
            let mut next = read_to;
            for idx in line_starts(&buf, pos == 0) {
                let at = read_from + idx as u64;
                if at >= limit {
                    return Ok(None);
                }
                match sync_millis(&buf[idx..], complete) {
                    Sync::Yes(millis) => return Ok(Some((at, millis))),
                    Sync::No => {}
                    Sync::NeedMore => {
                        next = at;
                        break;
                    }
                }
            }
            pos = next;
        }
        Ok(None)
    }

    /// Rows from `from` (a row boundary) to the end, oldest first.
    pub fn forward(&self, from: u64) -> Forward<'_> {
        Forward {
            file: self,
            next: from,
            size: FIRST_FORWARD,
            chunk: None,
            record: csv::ByteRecord::new(),
        }
    }

    /// Rows before `to` (a row boundary), newest first.
    pub fn backward(&self, to: u64) -> Backward<'_> {
        Backward {
            file: self,
            hi: to.min(self.end),
            rows: Vec::new(),
        }
    }
}

fn with_path(path: &Path, e: io::Error) -> io::Error {
    io::Error::new(e.kind(), format!("{}: {e}", path.display()))
}

/// Indices in `buf` where a line starts: after each `\n` (the buffer's end excluded),
/// and 0 if the buffer begins at a line start.
fn line_starts(buf: &[u8], at_line_start: bool) -> impl Iterator<Item = usize> + '_ {
    let first = at_line_start.then_some(0);
    first.into_iter().chain(
        buf.iter()
            .enumerate()
            .filter(|&(i, &b)| b == b'\n' && i + 1 < buf.len())
            .map(|(i, _)| i + 1),
    )
}

enum Sync {
    Yes(i64),
    No,
    /// The line is cut short by the buffer: read more before deciding.
    NeedMore,
}

/// Whether `line` (from a line start to the end of what was read) begins with a
/// timestamp and a comma. `complete` says no more bytes exist after `line`.
fn sync_millis(line: &[u8], complete: bool) -> Sync {
    let peek = &line[..line.len().min(SYNC_PEEK)];
    match peek.iter().position(|&b| matches!(b, b',' | b'\n' | b'\r')) {
        Some(i) if peek[i] == b',' => match field_millis(&peek[..i]) {
            Some(ms) => Sync::Yes(ms),
            None => Sync::No,
        },
        Some(_) => Sync::No,
        None if complete || line.len() >= SYNC_PEEK => Sync::No,
        None => Sync::NeedMore,
    }
}

/// Millis of a raw timestamp field: optional UTF-8 BOM, optional surrounding quotes.
fn field_millis(field: &[u8]) -> Option<i64> {
    let field = field.strip_prefix(b"\xef\xbb\xbf").unwrap_or(field);
    let field = field
        .strip_prefix(b"\"")
        .and_then(|f| f.strip_suffix(b"\""))
        .unwrap_or(field);
    parse_row_timestamp(std::str::from_utf8(field).ok()?)
}

fn csv_reader<R: io::Read>(r: R) -> csv::Reader<R> {
    csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .from_reader(r)
}

/// The valid row in `record`, given where it starts and ends in the file.
fn decode(record: &csv::ByteRecord, start: u64, end: u64) -> Option<RawRow> {
    if record.len() != 3 {
        return None;
    }
    let millis = field_millis(&record[0])?;
    let user = std::str::from_utf8(&record[1]).ok()?.to_string();
    let text = std::str::from_utf8(&record[2]).ok()?.to_string();
    Some(RawRow {
        start,
        end,
        millis,
        user,
        text,
    })
}

/// Offset in `buf` of the record csv reports at `at`: past blank lines and terminators.
fn first_byte(buf: &[u8], at: usize, after: usize) -> usize {
    at + buf[at..after]
        .iter()
        .take_while(|&&b| b == b'\n' || b == b'\r')
        .count()
}

/// Forward row iterator; see [`ArchiveFile::forward`].
pub(super) struct Forward<'a> {
    file: &'a ArchiveFile,
    /// File offset where the next chunk is read from.
    next: u64,
    /// Bytes in the next chunk: grows to [`CHUNK`], and beyond for a row longer than that.
    size: u64,
    chunk: Option<Chunk>,
    record: csv::ByteRecord,
}

struct Chunk {
    reader: csv::Reader<Cursor<Vec<u8>>>,
    base: u64,
    len: u64,
    /// Reaches the end of the readable file, so its last row is complete.
    last: bool,
}

impl Forward<'_> {
    /// The next valid row, or `None` at the end.
    pub fn next(&mut self) -> io::Result<Option<RawRow>> {
        loop {
            let Some(chunk) = &mut self.chunk else {
                if self.next >= self.file.end {
                    return Ok(None);
                }
                let to = (self.next + self.size).min(self.file.end);
                let buf = self.file.read(self.next, to)?;
                self.chunk = Some(Chunk {
                    reader: csv_reader(Cursor::new(buf)),
                    base: self.next,
                    len: to - self.next,
                    last: to == self.file.end,
                });
                continue;
            };
            let more = chunk
                .reader
                .read_byte_record(&mut self.record)
                .map_err(io::Error::from)?;
            let after = chunk.reader.position().byte();
            if !more {
                self.next = chunk.base + after.max(chunk.len);
                self.chunk = None;
                self.size = (self.size * 2).min(CHUNK);
                continue;
            }
            let at = self.record.position().map_or(0, |p| p.byte());
            if after >= chunk.len && !chunk.last {
                // The row may go on past the chunk: read again from its start, with a
                // bigger chunk if it already started the chunk.
                self.size = if at == 0 {
                    self.size * 2
                } else {
                    (self.size * 2).min(CHUNK)
                };
                self.next = chunk.base + at;
                self.chunk = None;
                continue;
            }
            let buf = chunk.reader.get_ref().get_ref();
            let start = first_byte(buf, at as usize, after as usize) as u64;
            if let Some(row) = decode(&self.record, chunk.base + start, chunk.base + after) {
                return Ok(Some(row));
            }
        }
    }
}

/// Backward row iterator; see [`ArchiveFile::backward`].
pub(super) struct Backward<'a> {
    file: &'a ArchiveFile,
    /// Rows starting before this offset are still to be read.
    hi: u64,
    /// Rows of the last chunk not yet returned, oldest first.
    rows: Vec<RawRow>,
}

impl Backward<'_> {
    /// The next older valid row, or `None` at the start of the file.
    pub fn next(&mut self) -> io::Result<Option<RawRow>> {
        loop {
            if let Some(row) = self.rows.pop() {
                return Ok(Some(row));
            }
            if self.hi == 0 {
                return Ok(None);
            }
            self.fill()?;
        }
    }

    /// Reads the chunk before `hi` from its first sync point (doubling the chunk until
    /// one is found, or the file's start is reached) and parses its rows.
    fn fill(&mut self) -> io::Result<()> {
        let mut size = CHUNK;
        loop {
            let lo = self.hi.saturating_sub(size);
            let from = lo.saturating_sub(1);
            let buf = self.file.read(from, self.hi)?;
            let sync = if lo == 0 {
                Some(0)
            } else {
                // Rows end at `hi`, so a line cut by the buffer's end is no row start.
                line_starts(&buf, false)
                    .find(|&i| matches!(sync_millis(&buf[i..], true), Sync::Yes(_)))
            };
            let Some(s) = sync else {
                size *= 2;
                continue;
            };
            let mut reader = csv_reader(&buf[s..]);
            let mut record = csv::ByteRecord::new();
            while reader
                .read_byte_record(&mut record)
                .map_err(io::Error::from)?
            {
                let after = reader.position().byte() as usize;
                let at = record.position().map_or(0, |p| p.byte()) as usize;
                let start = first_byte(&buf[s..], at, after);
                let base = from + s as u64;
                if let Some(row) = decode(&record, base + start as u64, base + after as u64) {
                    self.rows.push(row);
                }
            }
            self.hi = from + s as u64;
            return Ok(());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file_with(content: &str) -> (tempfile::TempDir, ArchiveFile) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("history_t.csv");
        std::fs::write(&path, content).unwrap();
        let f = ArchiveFile::open(&path).unwrap().unwrap();
        (dir, f)
    }

    fn all_forward(f: &ArchiveFile, from: u64) -> Vec<RawRow> {
        let mut it = f.forward(from);
        let mut out = Vec::new();
        while let Some(r) = it.next().unwrap() {
            out.push(r);
        }
        out
    }

    fn all_backward(f: &ArchiveFile, to: u64) -> Vec<RawRow> {
        let mut it = f.backward(to);
        let mut out = Vec::new();
        while let Some(r) = it.next().unwrap() {
            out.push(r);
        }
        out.reverse();
        out
    }

    #[test]
    fn forward_and_backward_agree_on_rows_and_offsets() {
        let content = "timestamp,username,message\n\
            2025-01-01T00:00:00.001Z,a,one\r\n\
            \n\
            2025-01-01T00:00:00.002Z,b,\"multi\nline, \"\"quoted\"\"\"\n\
            bad row\n\
            2025-01-01T00:00:00.003Z,c,three\n\
            2025-01-01T00:00:00.004Z,d,torn";
        let (_dir, f) = file_with(content);
        let fwd = all_forward(&f, 0);
        assert_eq!(fwd.len(), 3);
        assert_eq!(fwd[1].text, "multi\nline, \"quoted\"");
        assert_eq!(&content[fwd[0].start as usize..][..5], "2025-");
        assert_eq!(&content[fwd[1].start as usize..][..5], "2025-");
        assert_eq!(all_backward(&f, f.end()), fwd);
        assert_eq!(f.lower_bound(fwd[1].millis).unwrap(), fwd[1].start);
        assert_eq!(f.lower_bound(fwd[1].millis + 1).unwrap(), fwd[2].start);
        assert_eq!(f.lower_bound(i64::MAX).unwrap(), f.end());
        assert_eq!(all_forward(&f, fwd[0].end)[0], fwd[1]);
        assert_eq!(all_backward(&f, fwd[1].start), fwd[..1]);
    }

    #[test]
    fn huge_rows_and_small_files() {
        let big = "x".repeat(300_000);
        let content = format!(
            "2025-01-01 00:00:00,a,{big}\n2025-01-01 00:00:01,b,\"{big}\n{big}\"\n2025-01-01 00:00:02,c,s\n"
        );
        let (_dir, f) = file_with(&content);
        let fwd = all_forward(&f, 0);
        assert_eq!(fwd.len(), 3);
        assert_eq!(all_backward(&f, f.end()), fwd);
        assert_eq!(f.lower_bound(1_735_689_601_000).unwrap(), fwd[1].start);
        let (_dir, empty) = file_with("");
        assert!(all_forward(&empty, 0).is_empty());
        assert!(all_backward(&empty, empty.end()).is_empty());
    }
}
