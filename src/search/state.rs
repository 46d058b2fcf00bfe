//! The indexer's memory of how far each CSV has been indexed.
//!
//! Stored as JSON in the *commit payload* of the tantivy index (inside the index
//! directory's `meta.json`), not in a separate file: tantivy writes the payload
//! atomically together with the documents of the same commit, so after a crash the
//! state can never claim rows the index does not have, nor miss rows it does have.
//! Running `index` again after any interruption therefore neither loses nor duplicates.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::path::Path;

use serde::{Deserialize, Serialize};

/// Most bytes the head fingerprint covers: the header and first row, or this much.
pub const HEAD_MAX: u64 = 4096;

/// Most bytes the tail fingerprint covers (the bytes just before the indexed offset).
pub const TAIL_MAX: u64 = 256;

/// How many files that were rotated away, deleted or replaced are remembered (so one that
/// comes back is continued, not indexed twice).
pub const RETIRED_MAX: usize = 512;

/// Format version of the index: of this state *and* of the analyzer that made the terms.
/// An index with another version is rebuilt from the archives (the server does it by
/// itself, `chat-search index` too); `chat-search query` asks for it.
/// Version 2: NFKC/case-folded terms, compounds, symbols, CJK positions (issue 11);
/// files identified by content, not by inode.
pub const STATE_VERSION: u32 = 2;

/// What is remembered about one CSV file, identified by its content: the fingerprint of
/// its beginning (header and first row) and of the bytes just before the indexed offset.
/// A file whose beginning differs is another file, whatever its name or inode.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileState {
    /// Byte offset just after the last complete row indexed.
    pub offset: u64,
    /// Number of lines (header included) before `offset`, for line numbers in reports.
    pub line: u64,
    /// Id given to this file's rows in the index.
    pub source: u64,
    /// Rows of this file in the index (for notes saying what stays searchable).
    pub rows: u64,
    /// How many leading bytes `head` covers.
    pub head_len: u64,
    /// FNV-1a hash of those bytes.
    pub head: u64,
    /// True once `head` covers the header *and* the first row (or [`HEAD_MAX`] bytes):
    /// only then does it tell two files of the same room apart.
    pub head_complete: bool,
    /// How many bytes before `offset` `tail` covers.
    pub tail_len: u64,
    /// FNV-1a hash of those bytes.
    pub tail: u64,
}

impl FileState {
    /// A file not read yet, whose rows get `source`.
    pub fn fresh(source: u64) -> FileState {
        FileState {
            offset: 0,
            line: 0,
            source,
            rows: 0,
            head_len: 0,
            head: fnv1a(b""),
            head_complete: false,
            tail_len: 0,
            tail: fnv1a(b""),
        }
    }
}

/// The whole indexing state.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct State {
    /// Format version ([`STATE_VERSION`]).
    pub version: u32,
    /// Next unused source id.
    pub next_source: u64,
    /// Per file name in the log directory.
    pub files: BTreeMap<String, FileState>,
    /// Files no longer under an archive name (rotated, deleted, replaced), newest last.
    #[serde(default)]
    pub retired: Vec<FileState>,
}

impl Default for State {
    fn default() -> Self {
        State {
            version: STATE_VERSION,
            next_source: 1,
            files: BTreeMap::new(),
            retired: Vec::new(),
        }
    }
}

impl State {
    /// Reads the state from a commit payload; `None` payload means a fresh index.
    pub fn from_payload(payload: Option<&str>) -> Result<State, String> {
        let Some(p) = payload else {
            return Ok(State::default());
        };
        let state: State =
            serde_json::from_str(p).map_err(|e| format!("indexing state is unreadable: {e}"))?;
        if state.version != STATE_VERSION {
            return Err(format!(
                "indexing state has version {}, this program expects {STATE_VERSION}",
                state.version
            ));
        }
        Ok(state)
    }

    /// The index format version recorded in a commit payload, if it has one.
    pub fn payload_version(payload: Option<&str>) -> Option<u32> {
        #[derive(Deserialize)]
        struct Version {
            version: u32,
        }
        serde_json::from_str::<Version>(payload?)
            .ok()
            .map(|v| v.version)
    }

    /// Remembers a file that left its archive name, forgetting the oldest beyond
    /// [`RETIRED_MAX`].
    pub fn retire(&mut self, file: FileState) {
        if file.offset == 0 {
            return;
        }
        self.retired.push(file);
        if self.retired.len() > RETIRED_MAX {
            self.retired.remove(0);
        }
    }

    /// Serialises the state for the commit payload.
    pub fn to_payload(&self) -> String {
        serde_json::to_string(self).expect("state is plain data")
    }

    /// Allocates a fresh source id.
    pub fn new_source(&mut self) -> u64 {
        let id = self.next_source;
        self.next_source += 1;
        id
    }
}

/// 64-bit FNV-1a: tiny, stable across Rust versions (unlike `DefaultHasher`), and
/// plenty to tell two CSV beginnings apart.
pub fn fnv1a(bytes: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for &b in bytes {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h
}

/// Hash of `len` bytes of `path` at `from`, or `None` if it is shorter or unreadable.
pub fn hash_range(path: &Path, from: u64, len: u64) -> Option<u64> {
    let mut file = File::open(path).ok()?;
    file.seek(SeekFrom::Start(from)).ok()?;
    let mut buf = vec![0u8; usize::try_from(len).ok()?];
    file.read_exact(&mut buf).ok()?;
    Some(fnv1a(&buf))
}

/// The head fingerprint of the first `end` bytes of `path` (`end` = the indexed offset):
/// `(length, hash, complete)`, covering the header and first row when they are in those
/// bytes, else all of them.
pub fn head_of(path: &Path, end: u64) -> Option<(u64, u64, bool)> {
    let want = end.min(HEAD_MAX);
    let mut buf = vec![0u8; usize::try_from(want).ok()?];
    File::open(path).ok()?.read_exact(&mut buf).ok()?;
    let second_newline = buf
        .iter()
        .enumerate()
        .filter(|(_, b)| **b == b'\n')
        .nth(1)
        .map(|(i, _)| i as u64 + 1);
    let (len, complete) = match second_newline {
        Some(n) => (n, true),
        None => (want, want == HEAD_MAX),
    };
    Some((len, fnv1a(&buf[..len as usize]), complete))
}

/// True if the file at `path` (`len` bytes) is the file `state` describes, possibly with
/// rows appended: same beginning, at least as long, same bytes before the offset.
pub fn continues(state: &FileState, path: &Path, len: u64) -> bool {
    len >= state.offset
        && len >= state.head_len
        && hash_range(path, 0, state.head_len) == Some(state.head)
        && hash_range(path, state.offset - state.tail_len, state.tail_len) == Some(state.tail)
}

/// Updates `state`'s fingerprints after its file at `path` was read to `state.offset`.
pub fn refresh(state: &mut FileState, path: &Path) {
    if !state.head_complete
        && let Some((len, hash, complete)) = head_of(path, state.offset)
    {
        state.head_len = len;
        state.head = hash;
        state.head_complete = complete;
    }
    let tail_len = state.offset.min(TAIL_MAX);
    if let Some(tail) = hash_range(path, state.offset - tail_len, tail_len) {
        state.tail_len = tail_len;
        state.tail = tail;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn payload_round_trips_and_rejects_garbage() {
        let mut s = State::default();
        let id = s.new_source();
        s.files.insert(
            "history_general.csv".into(),
            FileState {
                offset: 30,
                rows: 1,
                ..FileState::fresh(id)
            },
        );
        s.retire(FileState::fresh(9));
        assert!(
            s.retired.is_empty(),
            "a file with nothing indexed is not remembered"
        );
        assert_eq!(State::from_payload(Some(&s.to_payload())).unwrap(), s);
        assert_eq!(State::from_payload(None).unwrap(), State::default());
        assert!(
            State::from_payload(Some("{"))
                .unwrap_err()
                .contains("unreadable")
        );
        assert_ne!(fnv1a(b"a"), fnv1a(b"b"));
        assert_eq!(
            State::payload_version(Some(&s.to_payload())),
            Some(STATE_VERSION)
        );
        assert_eq!(
            State::payload_version(Some("{\"version\":1,\"x\":[]}")),
            Some(1)
        );
    }

    #[test]
    fn head_covers_header_and_first_row() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f.csv");
        std::fs::write(&path, "timestamp,username,message\n").unwrap();
        let (len, _, complete) = head_of(&path, 27).unwrap();
        assert_eq!((len, complete), (27, false));
        std::fs::write(&path, "timestamp,username,message\n2026,a,b\n2027,c,d\n").unwrap();
        let (len, _, complete) = head_of(&path, 45).unwrap();
        assert_eq!((len, complete), (36, true));
    }
}
