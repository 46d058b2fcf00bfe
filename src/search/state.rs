//! The indexer's memory of how far each CSV has been indexed.
//!
//! Stored as JSON in the *commit payload* of the tantivy index (inside the index
//! directory's `meta.json`), not in a separate file: tantivy writes the payload
//! atomically together with the documents of the same commit, so after a crash the
//! state can never claim rows the index does not have, nor miss rows it does have.
//! Running `index` again after any interruption therefore neither loses nor duplicates.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::Read;
use std::path::Path;

use serde::{Deserialize, Serialize};

/// How many leading bytes of a file the fingerprint covers at most.
pub const FINGERPRINT_MAX: u64 = 1024;

/// Format version of the state; a different version means "rebuild".
pub const STATE_VERSION: u32 = 1;

/// What is remembered about one CSV file, keyed by its name in the log directory.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileState {
    /// Device of the file when last read (with `ino`, its identity: a rotated file has a
    /// new identity under the same name).
    pub dev: u64,
    /// Inode of the file when last read.
    pub ino: u64,
    /// Byte offset just after the last complete row indexed.
    pub offset: u64,
    /// Number of lines (header included) before `offset`, for line numbers in reports.
    pub line: u64,
    /// Id given to this file's rows in the index, so they can be deleted together.
    pub source: u64,
    /// How many leading bytes `fingerprint` covers (`min(offset, FINGERPRINT_MAX)`).
    pub fingerprint_len: u64,
    /// FNV-1a hash of those bytes: detects a file rewritten in place or a copy.
    pub fingerprint: u64,
}

/// The whole indexing state.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct State {
    /// Format version ([`STATE_VERSION`]).
    pub version: u32,
    /// Next unused source id.
    pub next_source: u64,
    /// Per file name.
    pub files: BTreeMap<String, FileState>,
}

impl Default for State {
    fn default() -> Self {
        State {
            version: STATE_VERSION,
            next_source: 1,
            files: BTreeMap::new(),
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

/// Hash of the first `len` bytes of `path`, or `None` if it is shorter or unreadable.
pub fn fingerprint_of(path: &Path, len: u64) -> Option<u64> {
    let mut buf = vec![0u8; len as usize];
    File::open(path).ok()?.read_exact(&mut buf).ok()?;
    Some(fnv1a(&buf))
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
                dev: 1,
                ino: 2,
                offset: 30,
                line: 1,
                source: id,
                fingerprint_len: 30,
                fingerprint: 99,
            },
        );
        assert_eq!(State::from_payload(Some(&s.to_payload())).unwrap(), s);
        assert_eq!(State::from_payload(None).unwrap(), State::default());
        assert!(
            State::from_payload(Some("{"))
                .unwrap_err()
                .contains("unreadable")
        );
        assert_ne!(fnv1a(b"a"), fnv1a(b"b"));
    }
}
