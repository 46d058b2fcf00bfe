//! Trusting the index only after checking it, and getting a damaged one out of the way.
//!
//! The index is a cache of the CSV archives, so damage is never fatal: a truncated or
//! missing segment file, a garbage `meta.json` or a tantivy panic is reported as
//! [`IndexError::Corrupt`] (naming the damage and the command that repairs it), and the
//! server moves the directory aside ([`move_aside`]) and rebuilds it from the CSVs.
//!
//! Why checksums first: tantivy trusts its files and panics on some truncations (a 7-byte
//! `.store` trips an assertion while the segment is opened). [`verify`] reads every file
//! of the live segments and checks its footer checksum before any reader opens them, and
//! [`guard`] turns whatever tantivy may still panic on into an error.

use std::any::Any;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::{Path, PathBuf};

use tantivy::Index;

use super::error::IndexError;

/// Files every segment has, whatever its contents.
const SEGMENT_FILES: [&str; 6] = ["idx", "pos", "term", "store", "fast", "fieldnorm"];

/// Checks that every file of the index's live segments exists and has a valid checksum.
pub fn verify(dir: &Path, index: &Index) -> Result<(), IndexError> {
    let corrupt = |why: String| IndexError::Corrupt(dir.to_path_buf(), why);
    guard(dir, || {
        let metas = index
            .load_metas()
            .map_err(|e| corrupt(format!("meta.json: {e}")))?;
        for segment in &metas.segments {
            let id = segment.id().uuid_string();
            for ext in SEGMENT_FILES {
                let name = format!("{id}.{ext}");
                if !dir.join(&name).is_file() {
                    return Err(corrupt(format!("{name} is missing")));
                }
            }
        }
        // tantivy's own check panics on a file shorter than its footer: check footers first.
        let mut files: Vec<PathBuf> = metas.list_segment_files().into_iter().collect();
        files.sort();
        for file in files {
            let path = dir.join(&file);
            if path.is_file() {
                check_footer(&path).map_err(|why| corrupt(format!("{}: {why}", file.display())))?;
            }
        }
        let damaged = index
            .validate_checksum()
            .map_err(|e| corrupt(format!("checking files: {e}")))?;
        if !damaged.is_empty() {
            let mut names: Vec<String> = damaged.iter().map(|p| p.display().to_string()).collect();
            names.sort();
            return Err(corrupt(format!("damaged files: {}", names.join(", "))));
        }
        Ok(())
    })
}

/// tantivy's footer: `<json><u32 json length><u32 magic>`, little-endian.
const FOOTER_MAGIC: u32 = 1337;
/// Longest footer JSON we accept (tantivy's own bound is 10,000).
const FOOTER_MAX: u64 = 10_000;

/// Checks that `path` ends in a plausible tantivy footer, without trusting its lengths.
fn check_footer(path: &Path) -> Result<(), String> {
    use std::io::{Read, Seek, SeekFrom};
    let mut file = std::fs::File::open(path).map_err(|e| e.to_string())?;
    let len = file.metadata().map_err(|e| e.to_string())?.len();
    if len < 8 {
        return Err(format!("truncated ({len} bytes)"));
    }
    let mut tail = [0u8; 8];
    file.seek(SeekFrom::Start(len - 8))
        .and_then(|_| file.read_exact(&mut tail))
        .map_err(|e| e.to_string())?;
    let footer_len = u64::from(u32::from_le_bytes(tail[..4].try_into().expect("4 bytes")));
    let magic = u32::from_le_bytes(tail[4..].try_into().expect("4 bytes"));
    if magic != FOOTER_MAGIC || footer_len > FOOTER_MAX || len < footer_len + 8 {
        return Err(format!(
            "truncated or overwritten ({len} bytes, no valid footer)"
        ));
    }
    Ok(())
}

/// Runs `f`, turning a panic inside it (tantivy on a file it cannot parse) into
/// [`IndexError::Corrupt`] for `dir`.
pub fn guard<T>(dir: &Path, f: impl FnOnce() -> Result<T, IndexError>) -> Result<T, IndexError> {
    catch_unwind(AssertUnwindSafe(f)).unwrap_or_else(|panic| {
        Err(IndexError::Corrupt(
            dir.to_path_buf(),
            format!("tantivy failed reading it: {}", panic_text(&*panic)),
        ))
    })
}

/// The message of a caught panic.
pub fn panic_text(panic: &(dyn Any + Send)) -> String {
    if let Some(s) = panic.downcast_ref::<&str>() {
        s.to_string()
    } else if let Some(s) = panic.downcast_ref::<String>() {
        s.clone()
    } else {
        "unknown panic".to_string()
    }
}

/// Renames a damaged index to `<dir>.damaged-<UTC time>` (kept for a post-mortem; an
/// older damaged copy is deleted first so repeated damage cannot fill the disk) and
/// returns the new path. If it cannot be renamed it is deleted.
pub fn move_aside(dir: &Path) -> Result<PathBuf, IndexError> {
    let io_err = |e| IndexError::Io(dir.to_path_buf(), e);
    let name = dir
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| ".index".to_string());
    let parent = dir.parent().unwrap_or(Path::new("."));
    let prefix = format!("{name}.damaged-");
    if let Ok(entries) = std::fs::read_dir(parent) {
        for entry in entries.flatten() {
            if entry.file_name().to_string_lossy().starts_with(&prefix) {
                let _ = std::fs::remove_dir_all(entry.path());
            }
        }
    }
    let stamp = chrono::Utc::now().format("%Y%m%dT%H%M%SZ");
    let aside = parent.join(format!("{prefix}{stamp}"));
    match std::fs::rename(dir, &aside) {
        Ok(()) => Ok(aside),
        Err(_) => {
            std::fs::remove_dir_all(dir).map_err(io_err)?;
            Ok(dir.to_path_buf())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn guard_turns_a_panic_into_a_corrupt_error() {
        let err = guard::<()>(Path::new("/x/.index"), || panic!("start <= end")).unwrap_err();
        let text = err.to_string();
        assert!(text.contains("start <= end"), "{text}");
        assert!(text.contains("chat-search rebuild --log-dir /x"), "{text}");
    }

    #[test]
    fn move_aside_keeps_only_the_latest_damaged_copy() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join(".index");
        std::fs::create_dir(&dir).unwrap();
        std::fs::create_dir(tmp.path().join(".index.damaged-old")).unwrap();
        let aside = move_aside(&dir).unwrap();
        assert!(!dir.exists() && aside.is_dir());
        let names: Vec<_> = std::fs::read_dir(tmp.path()).unwrap().flatten().collect();
        assert_eq!(names.len(), 1);
    }
}
