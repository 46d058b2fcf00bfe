//! Telling archive files apart by content, so that no indexed history is lost to file
//! churn.
//!
//! A file is known by fingerprints of its content ([`super::state::FileState`]): its
//! beginning (header and first row) and the bytes just before the indexed offset. Not by
//! device and inode: a deleted file's inode is soon given to a new one, and taking the new
//! file for the old one truncated is how history used to disappear. What the indexer
//! does with `history_general.csv` at each run:
//!
//! | what it finds | what it does |
//! |---|---|
//! | the same file, maybe longer | indexes the new complete rows |
//! | a file with another beginning (rotation, delete and create again) | keeps the old file's rows; reads the rows the old file got since the last run from a renamed copy in the log directory (`history_general.csv.1`) when there is one; reads the new file from the start |
//! | the same beginning but shorter than what was indexed, or different before it (truncated, rewritten in place) | keeps the rows indexed from it; reads it again from the start, noting that rows in both versions are now listed twice until `rebuild` |
//! | a file that is not there any more | keeps its rows |
//! | a file seen before under an archive name (moved back) | continues after what was indexed |
//!
//! A file that held only its header at the last run cannot be told from a new
//! header-only file, so the log directory is also searched for a renamed copy of it that
//! got rows (`history_general.csv.1`, uncompressed), whose rows are read once.
//! Every detection is reported as a note (stderr for `chat-search`, the log for the
//! server). Indexed rows leave the index only by `chat-search rebuild`.

use std::fs;
use std::path::Path;

use super::error::IndexError;
use super::indexer::{IndexReport, Indexer, Position, RowSource};
use super::state::{FileState, continues, head_of, refresh};
use crate::names::room_from_file_name;

/// `12 rows` / `1 row`.
fn rows(n: u64) -> String {
    format!("{n} row{}", if n == 1 { "" } else { "s" })
}

impl Indexer {
    /// Decides where to start reading archive `name` (`len` bytes) and updates its state.
    pub(super) fn classify(
        &mut self,
        name: &str,
        path: &Path,
        len: u64,
        report: &mut IndexReport,
        progress: &mut dyn FnMut(u64),
    ) -> Result<Position, IndexError> {
        let Some(old) = self.state.files.get(name).cloned() else {
            return Ok(self.start_file(name, path, len, None, report));
        };
        if continues(&old, path, len) {
            if !old.head_complete {
                self.adopt_renamed(name, &old, report, progress)?;
            }
            return Ok(Position {
                offset: old.offset,
                line: old.line,
            });
        }
        let same_head = len >= old.head_len
            && super::state::hash_range(path, 0, old.head_len) == Some(old.head);
        let what = if same_head && len < old.offset {
            format!("truncated ({len} bytes, {} were indexed)", old.offset)
        } else if same_head {
            "changed before the end of what was indexed (rewritten in place)".to_string()
        } else {
            "replaced by a file with a different beginning (rotated, or deleted and created again)"
                .to_string()
        };
        let moved = self.finish_renamed(name, &old, report, progress)?;
        let mut note = format!(
            "{name}: {what}; the {} indexed from the previous file stay searchable \
             (until `chat-search rebuild`)",
            rows(old.rows + moved.as_ref().map_or(0, |m| m.1))
        );
        match moved {
            Some((from, n)) => note.push_str(&format!(
                "; read {} it got after line {} from {from}",
                rows(n),
                old.line
            )),
            None if !same_head => note.push_str(&format!(
                "; rows it got after line {} since the last run, if any, are not indexed \
                 (no uncompressed copy of it is in the log directory)",
                old.line
            )),
            None => note.push_str("; rows in both versions are listed twice until then"),
        }
        self.state.files.remove(name);
        Ok(self.start_file(name, path, len, Some(note), report))
    }

    /// Starts tracking `name` as a file not seen under this name before: continued after
    /// what was indexed if it is a remembered (retired) file, else read from the start.
    fn start_file(
        &mut self,
        name: &str,
        path: &Path,
        len: u64,
        note: Option<String>,
        report: &mut IndexReport,
    ) -> Position {
        let known = self
            .state
            .retired
            .iter()
            .rposition(|r| r.head_complete && continues(r, path, len));
        let (entry, text) = match known {
            Some(i) => {
                let entry = self.state.retired.remove(i);
                let text = format!(
                    "{name}: a file indexed before (up to line {}); continuing after it",
                    entry.line
                );
                (entry, text)
            }
            None => {
                let source = self.state.new_source();
                (FileState::fresh(source), format!("{name}: new file"))
            }
        };
        let start = Position {
            offset: entry.offset,
            line: entry.line,
        };
        self.state.files.insert(name.to_string(), entry);
        match note {
            Some(n) if known.is_some() => report.notes.push(format!("{n}; {text}")),
            Some(n) => report
                .notes
                .push(format!("{n}; reading the new file from the start")),
            None if self.announce_new => report.notes.push(text),
            None => {}
        }
        start
    }

    /// An archive name that is gone: its rows stay; its unread rows are read from a
    /// renamed copy if there is one; the file is remembered in case it comes back.
    pub(super) fn vanished(
        &mut self,
        name: &str,
        report: &mut IndexReport,
        progress: &mut dyn FnMut(u64),
    ) -> Result<(), IndexError> {
        let old = self.state.files[name].clone();
        let moved = self.finish_renamed(name, &old, report, progress)?;
        let total = old.rows + moved.as_ref().map_or(0, |m| m.1);
        let mut note = format!(
            "{name}: gone; its {} stay searchable until `chat-search rebuild`",
            rows(total)
        );
        if let Some((from, n)) = moved {
            note.push_str(&format!("; read {} more from {from}", rows(n)));
        }
        report.notes.push(note);
        self.state.files.remove(name);
        Ok(())
    }

    /// Looks in the log directory for the file `old` describes under another name (a
    /// rotation renamed it) and reads the rows it got after `old.offset`. Returns the
    /// name it was found under and the rows read. The file is then remembered as retired,
    /// up to its end, so it is never read twice.
    fn finish_renamed(
        &mut self,
        name: &str,
        old: &FileState,
        report: &mut IndexReport,
        progress: &mut dyn FnMut(u64),
    ) -> Result<Option<(String, u64)>, IndexError> {
        if !old.head_complete {
            return self.adopt_renamed(name, old, report, progress);
        }
        let Some((other, path, len)) = self
            .other_files(name, false)
            .into_iter()
            .find(|(_, p, len)| continues(old, p, *len))
        else {
            self.state.retire(old.clone());
            return Ok(None);
        };
        let n = self.read_retired(name, &other, &path, old.clone(), len, report, progress)?;
        Ok(Some((other, n)))
    }

    /// For a file that held only its header when last read: reads the rows of renamed
    /// copies of it (`history_general.csv.1`) that got rows and are not known yet.
    fn adopt_renamed(
        &mut self,
        name: &str,
        old: &FileState,
        report: &mut IndexReport,
        progress: &mut dyn FnMut(u64),
    ) -> Result<Option<(String, u64)>, IndexError> {
        let mut found = None;
        for (other, path, len) in self.other_files(name, true) {
            if len <= old.offset || !continues(old, &path, len) {
                continue;
            }
            let Some((head_len, head, true)) = head_of(&path, len) else {
                continue;
            };
            let known = self.state.retired.iter().chain(self.state.files.values());
            if known
                .filter(|r| r.head_complete)
                .any(|r| r.head_len == head_len && r.head == head)
            {
                continue;
            }
            let entry = FileState {
                source: self.state.new_source(),
                rows: 0,
                ..old.clone()
            };
            let n = self.read_retired(name, &other, &path, entry, len, report, progress)?;
            report.notes.push(format!(
                "{name}: held only its header when last indexed; {other} is that file \
                 renamed with rows: read {} from it",
                rows(n)
            ));
            found = Some((other, n));
        }
        Ok(found)
    }

    /// Reads `path` (a renamed copy of `entry`'s file, `len` bytes) after `entry`'s offset
    /// and remembers it as retired at its end. Returns the rows added.
    #[allow(clippy::too_many_arguments)]
    fn read_retired(
        &mut self,
        name: &str,
        label: &str,
        path: &Path,
        mut entry: FileState,
        len: u64,
        report: &mut IndexReport,
        progress: &mut dyn FnMut(u64),
    ) -> Result<u64, IndexError> {
        let room = room_from_file_name(name).expect("an archive name");
        let start = Position {
            offset: entry.offset,
            line: entry.line,
        };
        let mut added = 0;
        if len > entry.offset {
            let rows = RowSource {
                path,
                label,
                room: &room,
                source: entry.source,
            };
            let (end, n) = self.read_rows(rows, start, report, progress)?;
            entry.offset = end.offset;
            entry.line = end.line;
            entry.rows += n;
            added = n;
            refresh(&mut entry, path);
        }
        self.state.retire(entry);
        Ok(added)
    }

    /// Plain, uncompressed files in the log directory other than the archives, with their
    /// lengths; with `renamed_only`, only those named after archive `name`
    /// (`history_general.csv.1`, `history_general.csv-20260101`).
    fn other_files(
        &self,
        name: &str,
        renamed_only: bool,
    ) -> Vec<(String, std::path::PathBuf, u64)> {
        let Ok(entries) = fs::read_dir(&self.log_dir) else {
            return Vec::new();
        };
        let compressed = [".gz", ".bz2", ".xz", ".zst", ".zip", ".lz4"];
        let mut out: Vec<_> = entries
            .flatten()
            .filter_map(|e| {
                let other = e.file_name().into_string().ok()?;
                let meta = e.metadata().ok()?;
                let wanted = meta.is_file()
                    && other != name
                    && room_from_file_name(&other).is_none()
                    && !compressed.iter().any(|c| other.ends_with(c))
                    && (!renamed_only || other.starts_with(name));
                wanted.then(|| (other, e.path(), meta.len()))
            })
            .collect();
        out.sort();
        out
    }
}
