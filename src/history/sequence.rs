//! A room's archive as one time-ordered sequence of rows across its rotated files.
//!
//! logrotate renames `history_general.csv` to `history_general.csv-20261126` (dateext)
//! or `history_general.csv.1`, `.2`, … and the server starts a fresh file. A room's
//! history is the current file plus every uncompressed sibling named
//! `history_<room>.csv` followed by `-` or `.`; the files are ordered by their first
//! row's timestamp (then by name) and read as if concatenated. Compressed siblings are
//! skipped: they cannot be searched by offset, and old history is what they hold.
//!
//! A position is (file index, byte offset); positions order like rows do, and the end
//! of one file and the start of the next are interchangeable.

use std::io;
use std::path::{Path, PathBuf};

use super::file::{self, ArchiveFile, RawRow};
use crate::names::archive_file_name;

/// Suffixes of compressed rotated files, which are left out.
const COMPRESSED: [&str; 8] = [".gz", ".xz", ".zst", ".bz2", ".lz4", ".lzma", ".zip", ".Z"];

/// A place in the sequence: a row start, or the end of a file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(super) struct Pos {
    pub seg: usize,
    pub off: u64,
}

/// A row with its place in the sequence.
#[derive(Debug, Clone)]
pub(super) struct Row {
    pub start: Pos,
    pub end: Pos,
    pub millis: i64,
    pub user: String,
    pub text: String,
}

impl Row {
    fn new(seg: usize, raw: RawRow) -> Row {
        Row {
            start: Pos {
                seg,
                off: raw.start,
            },
            end: Pos { seg, off: raw.end },
            millis: raw.millis,
            user: raw.user,
            text: raw.text,
        }
    }
}

/// The files of one room that hold at least one row, oldest first.
pub(super) struct Sequence {
    /// Each file with its first row's millis.
    segs: Vec<(ArchiveFile, i64)>,
}

/// The current archive of `room` and its uncompressed rotated siblings.
pub(super) fn archive_paths(log_dir: &Path, room: &str) -> io::Result<Vec<PathBuf>> {
    let base = archive_file_name(room);
    let entries = match std::fs::read_dir(log_dir) {
        Ok(e) => e,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => {
            return Err(io::Error::new(
                e.kind(),
                format!("{}: {e}", log_dir.display()),
            ));
        }
    };
    let mut out = Vec::new();
    for entry in entries {
        let entry = entry?;
        let Ok(name) = entry.file_name().into_string() else {
            continue;
        };
        let Some(rest) = name.strip_prefix(base.as_str()) else {
            continue;
        };
        let sibling = rest.is_empty()
            || ((rest.starts_with('-') || rest.starts_with('.'))
                && !COMPRESSED.iter().any(|c| rest.ends_with(c)));
        if sibling && std::fs::metadata(entry.path()).is_ok_and(|m| m.is_file()) {
            out.push(entry.path());
        }
    }
    Ok(out)
}

impl Sequence {
    /// Opens every archive file of `room` in `log_dir`; no files means an empty sequence.
    pub fn open(log_dir: &Path, room: &str) -> io::Result<Sequence> {
        let mut files = Vec::new();
        for path in archive_paths(log_dir, room)? {
            // A file can vanish between listing and opening (rotation): skip it.
            let Some(f) = ArchiveFile::open(&path)? else {
                continue;
            };
            if let Some(first) = f.first_row()? {
                files.push((first.millis, path, f));
            }
        }
        files.sort_by(|a, b| a.0.cmp(&b.0).then_with(|| a.1.cmp(&b.1)));
        Ok(Sequence {
            segs: files.into_iter().map(|(ms, _, f)| (f, ms)).collect(),
        })
    }

    /// True if the room has no archived rows.
    pub fn is_empty(&self) -> bool {
        self.segs.is_empty()
    }

    /// The position after the last row.
    pub fn end(&self) -> Pos {
        match self.segs.len() {
            0 => Pos { seg: 0, off: 0 },
            n => Pos {
                seg: n - 1,
                off: self.segs[n - 1].0.end(),
            },
        }
    }

    /// Start of the first row with millis `>= t` (or the end): binary search over the
    /// files' first timestamps, then over the bytes of one file.
    pub fn seek_ge(&self, t: i64) -> io::Result<Pos> {
        if self.segs.is_empty() {
            return Ok(self.end());
        }
        let seg = self
            .segs
            .partition_point(|(_, first)| *first < t)
            .saturating_sub(1);
        let f = &self.segs[seg].0;
        let off = f.lower_bound(t)?;
        if off >= f.end() && seg + 1 < self.segs.len() {
            return Ok(Pos {
                seg: seg + 1,
                off: 0,
            });
        }
        Ok(Pos { seg, off })
    }

    /// Rows from `from` onwards, oldest first.
    pub fn forward(&self, from: Pos) -> Forward<'_> {
        Forward {
            seq: self,
            seg: from.seg,
            rows: self.segs.get(from.seg).map(|(f, _)| f.forward(from.off)),
        }
    }

    /// Rows before `to`, newest first.
    pub fn backward(&self, to: Pos) -> Backward<'_> {
        Backward {
            seq: self,
            seg: to.seg,
            rows: self.segs.get(to.seg).map(|(f, _)| f.backward(to.off)),
        }
    }

    /// Up to `limit` rows from `from`, stopping before the first row at or after `stop`.
    pub fn take_forward(&self, from: Pos, stop: Option<Pos>, limit: usize) -> io::Result<Vec<Row>> {
        let mut out = Vec::with_capacity(limit.min(1024));
        let mut rows = self.forward(from);
        while out.len() < limit {
            let Some(row) = rows.next()? else { break };
            if stop.is_some_and(|s| row.start >= s) {
                break;
            }
            out.push(row);
        }
        Ok(out)
    }

    /// The newest `limit` rows before `to` that start at or after `stop`, oldest first.
    pub fn take_backward(&self, to: Pos, stop: Option<Pos>, limit: usize) -> io::Result<Vec<Row>> {
        let mut out = Vec::with_capacity(limit.min(1024));
        let mut rows = self.backward(to);
        while out.len() < limit {
            let Some(row) = rows.next()? else { break };
            if stop.is_some_and(|s| row.start < s) {
                break;
            }
            out.push(row);
        }
        out.reverse();
        Ok(out)
    }
}

/// Forward iterator over the whole sequence.
pub(super) struct Forward<'a> {
    seq: &'a Sequence,
    seg: usize,
    rows: Option<file::Forward<'a>>,
}

impl Forward<'_> {
    /// The next row, crossing into the next file at the end of one.
    pub fn next(&mut self) -> io::Result<Option<Row>> {
        while let Some(rows) = &mut self.rows {
            if let Some(raw) = rows.next()? {
                return Ok(Some(Row::new(self.seg, raw)));
            }
            self.seg += 1;
            self.rows = self.seq.segs.get(self.seg).map(|(f, _)| f.forward(0));
        }
        Ok(None)
    }
}

/// Backward iterator over the whole sequence.
pub(super) struct Backward<'a> {
    seq: &'a Sequence,
    seg: usize,
    rows: Option<file::Backward<'a>>,
}

impl Backward<'_> {
    /// The next older row, crossing into the previous file at the start of one.
    pub fn next(&mut self) -> io::Result<Option<Row>> {
        while let Some(rows) = &mut self.rows {
            if let Some(raw) = rows.next()? {
                return Ok(Some(Row::new(self.seg, raw)));
            }
            if self.seg == 0 {
                self.rows = None;
            } else {
                self.seg -= 1;
                self.rows = self
                    .seq
                    .segs
                    .get(self.seg)
                    .map(|(f, _)| f.backward(f.end()));
            }
        }
        Ok(None)
    }
}
