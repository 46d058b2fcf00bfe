//! The log directory: checked before anything else, created only where that cannot hide a
//! typo, and locked so that one archive has one server.
//!
//! Two servers appending to the same CSVs would break "written before delivered, in one
//! order", so the server holds an exclusive lock on `<log-dir>/.lock` (which also holds its
//! PID, for the message a second server prints) for as long as it runs. The lock is
//! `flock(2)` through [`File::try_lock`]: the kernel drops it when the process dies, even
//! by `kill -9`, so a crash never leaves a stale lock behind. `chat-search` does not take
//! it: reading the archives while the server runs is fine, and its writing commands are
//! refused by the search index's own writer lock.

use std::fs::{File, OpenOptions, TryLockError};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

/// The lock file's name inside the log directory (not `history_*.csv`, so never an archive).
pub const LOCK_FILE: &str = ".lock";

/// Why the log directory cannot be used; a configuration error (exit code 2).
#[derive(Debug, thiserror::Error)]
pub enum LogDirError {
    /// `--log-dir` names a file (or anything else that is not a directory).
    #[error("--log-dir {0} is a file, not a directory")]
    NotADirectory(PathBuf),
    /// Neither the directory nor its parent exists, and `--create-log-dir` was not given.
    #[error(
        "--log-dir {dir} does not exist and neither does its parent directory {parent}; \
         check the path, or give --create-log-dir to create it and its parents"
    )]
    NoParent { dir: PathBuf, parent: PathBuf },
    /// The parent exists but is not a directory.
    #[error("--log-dir {dir} cannot be created: {parent} is not a directory")]
    ParentNotADirectory { dir: PathBuf, parent: PathBuf },
    /// Another process (a running `chat-server`) holds the lock.
    #[error(
        "--log-dir {dir} is in use by another chat-server (pid {pid}, holding {lock}); \
         stop it first, or give another --log-dir"
    )]
    InUse {
        dir: PathBuf,
        pid: String,
        lock: PathBuf,
    },
    /// The directory (or one of its archives) cannot be written: a read-only mount, or
    /// permissions. Every message is appended there before delivery, so the server
    /// refuses to start rather than fail every message.
    #[error(
        "--log-dir {path} is not writable ({source}); the server appends every message \
         there: make it writable (permissions, a read-write mount) or give another --log-dir"
    )]
    ReadOnly {
        path: PathBuf,
        source: std::io::Error,
    },
    /// The directory, its lock file or its parent could not be read, created or locked.
    #[error("--log-dir {path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
}

impl LogDirError {
    fn io(path: &Path, source: std::io::Error) -> LogDirError {
        LogDirError::Io {
            path: path.to_path_buf(),
            source,
        }
    }
}

/// What [`check`] found: the directory exists, or will be created by [`prepare`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Found {
    /// The directory exists.
    Existing,
    /// It does not exist yet; its parent does, or `create` allows making both.
    Missing,
}

/// Checks `dir` without changing anything (`--check-config` and the first step of start-up):
/// it must be a directory, or not exist with an existing parent directory (any missing
/// parent is allowed when `create` is set, from `--create-log-dir`).
pub fn check(dir: &Path, create: bool) -> Result<Found, LogDirError> {
    match std::fs::metadata(dir) {
        Ok(meta) if meta.is_dir() => return Ok(Found::Existing),
        Ok(_) => return Err(LogDirError::NotADirectory(dir.to_path_buf())),
        // ENOTDIR: something on the way is a file; the parent check below says which.
        Err(e)
            if matches!(
                e.kind(),
                std::io::ErrorKind::NotFound | std::io::ErrorKind::NotADirectory
            ) => {}
        Err(e) => return Err(LogDirError::io(dir, e)),
    }
    if create {
        return Ok(Found::Missing);
    }
    // `logs` has the parent "" (the current directory).
    let parent = match dir.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    match std::fs::metadata(parent) {
        Ok(meta) if meta.is_dir() => Ok(Found::Missing),
        Ok(_) => Err(LogDirError::ParentNotADirectory {
            dir: dir.to_path_buf(),
            parent: parent.to_path_buf(),
        }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Err(LogDirError::NoParent {
            dir: dir.to_path_buf(),
            parent: parent.to_path_buf(),
        }),
        Err(e) => Err(LogDirError::io(parent, e)),
    }
}

/// Checks `dir` as [`check`] does, creates it when missing, and makes sure it and its
/// archives can be written ([`check_writable`]); returns what was found.
pub fn prepare(dir: &Path, create: bool) -> Result<Found, LogDirError> {
    let found = check(dir, create)?;
    if found == Found::Missing {
        std::fs::create_dir_all(dir).map_err(|e| LogDirError::io(dir, e))?;
    }
    check_writable(dir)?;
    Ok(found)
}

/// Whether `err` says the file system or the permissions refuse a write.
fn refuses_writes(err: &std::io::Error) -> bool {
    err.kind() == std::io::ErrorKind::PermissionDenied
        || matches!(
            err.raw_os_error(),
            Some(libc::EROFS | libc::EACCES | libc::EPERM)
        )
}

/// Proves `dir` writable by creating and removing a probe file (which is what counts: a
/// read-only mount refuses even root, whom permission bits do not stop), then opens each
/// archive for appending. A refusal is [`LogDirError::ReadOnly`], naming the path.
pub fn check_writable(dir: &Path) -> Result<(), LogDirError> {
    let read_only = |path: &Path, source: std::io::Error| {
        if refuses_writes(&source) {
            LogDirError::ReadOnly {
                path: path.to_path_buf(),
                source,
            }
        } else {
            LogDirError::io(path, source)
        }
    };
    let probe = dir.join(format!(".write-test-{}", std::process::id()));
    OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .open(&probe)
        .map_err(|e| read_only(dir, e))?;
    std::fs::remove_file(&probe).map_err(|e| read_only(dir, e))?;
    for entry in std::fs::read_dir(dir).map_err(|e| LogDirError::io(dir, e))? {
        let path = entry.map_err(|e| LogDirError::io(dir, e))?.path();
        let is_archive = path
            .file_name()
            .and_then(|n| n.to_str())
            .is_some_and(|n| crate::names::room_from_file_name(n).is_some());
        if is_archive && path.is_file() {
            OpenOptions::new()
                .append(true)
                .open(&path)
                .map_err(|e| read_only(&path, e))?;
        }
    }
    Ok(())
}

/// The exclusive lock on a log directory, released when dropped (or when the process ends).
#[derive(Debug)]
pub struct LogDirLock {
    _file: File,
    path: PathBuf,
}

impl LogDirLock {
    /// Takes the lock on the existing directory `dir` and writes this process's PID into
    /// the lock file; [`LogDirError::InUse`] names the PID of the process that holds it.
    pub fn acquire(dir: &Path) -> Result<LogDirLock, LogDirError> {
        let path = dir.join(LOCK_FILE);
        // Not truncated on open: until the lock is ours the file holds the holder's PID.
        let mut file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
            .map_err(|e| LogDirError::io(&path, e))?;
        match file.try_lock() {
            Ok(()) => {}
            Err(TryLockError::WouldBlock) => {
                let mut text = String::new();
                let _ = file.read_to_string(&mut text);
                let pid = text.trim();
                return Err(LogDirError::InUse {
                    dir: dir.to_path_buf(),
                    pid: if pid.is_empty() {
                        "unknown".to_string()
                    } else {
                        pid.to_string()
                    },
                    lock: path,
                });
            }
            Err(TryLockError::Error(e)) => return Err(LogDirError::io(&path, e)),
        }
        let write_pid = |file: &mut File| -> std::io::Result<()> {
            file.set_len(0)?;
            file.seek(SeekFrom::Start(0))?;
            writeln!(file, "{}", std::process::id())
        };
        write_pid(&mut file).map_err(|e| LogDirError::io(&path, e))?;
        Ok(LogDirLock { _file: file, path })
    }

    /// The lock file's path.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

/// How many rooms have an archive (`history_<room>.csv`) in `dir`, for the start-up line.
pub fn count_rooms(dir: &Path) -> std::io::Result<usize> {
    let mut rooms = 0;
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        let name = entry.file_name();
        let is_archive = name
            .to_str()
            .is_some_and(|n| crate::names::room_from_file_name(n).is_some());
        if is_archive && entry.path().is_file() {
            rooms += 1;
        }
    }
    Ok(rooms)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_file_a_missing_parent_and_a_missing_dir_are_told_apart() {
        let tmp = tempfile::tempdir().unwrap();
        let file = tmp.path().join("file");
        std::fs::write(&file, "x").unwrap();
        let err = check(&file, false).unwrap_err();
        assert_eq!(
            err.to_string(),
            format!("--log-dir {} is a file, not a directory", file.display())
        );
        assert!(check(&file, true).is_err());

        let deep = tmp.path().join("no/such/logs");
        let err = check(&deep, false).unwrap_err();
        assert!(err.to_string().contains("--create-log-dir"), "{err}");
        assert!(
            err.to_string()
                .contains(&tmp.path().join("no/such").display().to_string()),
            "{err}"
        );
        assert_eq!(check(&deep, true).unwrap(), Found::Missing);
        assert!(!deep.exists(), "check must not create");
        assert_eq!(prepare(&deep, true).unwrap(), Found::Missing);
        assert_eq!(prepare(&deep, false).unwrap(), Found::Existing);

        let under_file = file.join("logs");
        assert!(matches!(
            check(&under_file, false),
            Err(LogDirError::ParentNotADirectory { .. })
        ));
        // A relative name's parent is the current directory, which exists.
        assert_eq!(
            check(Path::new("surely-not-here-logs"), false).unwrap(),
            Found::Missing
        );
    }

    #[test]
    fn an_unwritable_archive_is_refused_naming_it() {
        let tmp = tempfile::tempdir().unwrap();
        check_writable(tmp.path()).unwrap();
        let archive = tmp.path().join("history_general.csv");
        std::fs::write(&archive, "timestamp,username,message\n").unwrap();
        check_writable(tmp.path()).unwrap();
        assert!(
            std::fs::read_dir(tmp.path()).unwrap().count() == 1,
            "the probe is removed"
        );
        let mut perms = std::fs::metadata(&archive).unwrap().permissions();
        perms.set_readonly(true);
        std::fs::set_permissions(&archive, perms).unwrap();
        // Root writes read-only files anyway; the integration test uses a read-only mount.
        if let Err(e) = check_writable(tmp.path()) {
            assert!(matches!(e, LogDirError::ReadOnly { .. }), "{e}");
            assert!(e.to_string().contains("history_general.csv"), "{e}");
        }
    }

    #[test]
    fn the_lock_is_exclusive_names_its_holder_and_is_released_on_drop() {
        let tmp = tempfile::tempdir().unwrap();
        let lock = LogDirLock::acquire(tmp.path()).unwrap();
        let pid = std::process::id().to_string();
        assert_eq!(
            std::fs::read_to_string(lock.path()).unwrap().trim(),
            pid.as_str()
        );
        // flock(2) locks belong to the open file, so a second open in this process conflicts.
        match LogDirLock::acquire(tmp.path()) {
            Err(LogDirError::InUse { pid: holder, .. }) => assert_eq!(holder, pid),
            other => panic!("expected InUse, got {other:?}"),
        }
        assert_eq!(
            count_rooms(tmp.path()).unwrap(),
            0,
            "the lock is no archive"
        );
        drop(lock);
        LogDirLock::acquire(tmp.path()).unwrap();
    }
}
