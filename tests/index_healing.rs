//! The search index heals itself (issue 12): real files, real sockets, the real binaries.
//!
//! A damaged index (truncated segment files), an index deleted while the server runs and
//! a full file system (a real, small tmpfs) never take chat down, never make SEARCH
//! answer a wrong `0 matches`, and heal without a restart; `chat-search` reports damage
//! with the command that repairs it, never with a panic.

mod common;

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use common::{Client, GUARD, TestServer};

/// A log directory holding `history_general.csv` with `rows` rows (one says `needle`).
fn archive_with(dir: &Path, rows: usize) {
    fs::create_dir_all(dir).unwrap();
    let mut csv = String::from("timestamp,username,message\n");
    for i in 0..rows {
        csv.push_str(&format!(
            "2026-11-01T00:{:02}:{:02}.{:03}Z,filler,routine message number {i} about nothing much\n",
            (i / 60_000) % 60,
            (i / 1000) % 60,
            i % 1000
        ));
    }
    csv.push_str("2026-11-02T00:00:00.000Z,alice,the zanzibar deploy is done\n");
    fs::write(dir.join("history_general.csv"), csv).unwrap();
}

fn chat_search(log_dir: &Path, args: &[&str]) -> (i32, String, String) {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_chat-search"));
    cmd.args(args)
        .arg("--log-dir")
        .arg(log_dir)
        .env_remove("LINECHAT_LOG_DIR");
    let (code, stdout, stderr) = common::run_to_exit(cmd);
    (code.unwrap_or(-1), stdout, stderr)
}

/// Cuts every `.store` file of the index to 7 bytes, as in the report.
fn truncate_stores(log_dir: &Path) {
    let mut cut = 0;
    for entry in fs::read_dir(log_dir.join(".index")).unwrap().flatten() {
        if entry.path().extension().is_some_and(|e| e == "store") {
            fs::OpenOptions::new()
                .write(true)
                .open(entry.path())
                .unwrap()
                .set_len(7)
                .unwrap();
            cut += 1;
        }
    }
    assert!(cut > 0, "no .store file to truncate");
}

/// Repeats `line` until an answer holds `needle` (and no FAIL); only a FAIL SEARCH
/// UNAVAILABLE may come before. Returns the answer.
fn search_until(c: &mut Client, line: &str, needle: &str) -> Vec<String> {
    let start = Instant::now();
    loop {
        let answer = c.search_answer(line);
        let last = answer.last().cloned().unwrap_or_default();
        if !last.contains(" FAIL ") && answer.iter().any(|l| l.contains(needle)) {
            return answer;
        }
        assert!(
            last.contains("FAIL SEARCH UNAVAILABLE"),
            "neither {needle:?} nor UNAVAILABLE: {answer:?}"
        );
        assert!(
            start.elapsed() < GUARD,
            "never found {needle:?}: {answer:?}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn no_panic(server: &TestServer) {
    let log = server.log.text();
    assert!(!log.contains("panicked"), "{log}");
}

#[test]
fn truncated_store_files_chat_starts_search_says_rebuilding_then_answers() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("logs");
    archive_with(&dir, 40_000);
    assert_eq!(chat_search(&dir, &["index"]).0, 0);
    truncate_stores(&dir);
    let server = TestServer::start_in(&dir, &[]);
    let [mut alice, mut bob] = server.members("#general", ["alice", "bob"]);
    alice.send("PRIVMSG #general :chat works while the index heals");
    bob.expect("chat works while the index heals");
    // Either still rebuilding (said so, with a percentage) or already answered right:
    // never a wrong `0 matches`.
    let first = alice.search_answer("SEARCH #general zanzibar");
    let last = first.last().unwrap();
    assert!(
        (last.contains("FAIL SEARCH UNAVAILABLE #general :the index is being rebuilt (")
            && last.contains("% done); try again shortly"))
            || last.ends_with("End of SEARCH #general: 1 match"),
        "{first:?}"
    );
    server.log.wait_for("search index rebuilt");
    let damaged = server.log.wait_for("is damaged");
    assert!(damaged.contains(".store: truncated (7 bytes)"), "{damaged}");
    let answer = search_until(&mut alice, "SEARCH #general zanzibar", "zanzibar deploy");
    assert!(answer.last().unwrap().ends_with("1 match"), "{answer:?}");
    search_until(
        &mut bob,
        "SEARCH #general heals",
        "chat works while the index heals",
    );
    let aside = fs::read_dir(&dir)
        .unwrap()
        .flatten()
        .filter(|e| {
            e.file_name()
                .to_string_lossy()
                .starts_with(".index.damaged-")
        })
        .count();
    assert_eq!(aside, 1, "the damaged index is kept aside");
    no_panic(&server);
}

#[test]
fn garbage_meta_json_is_moved_aside_and_soju_search_answers() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("logs");
    archive_with(&dir, 10);
    assert_eq!(chat_search(&dir, &["index"]).0, 0);
    fs::write(dir.join(".index/meta.json"), "{ garbage").unwrap();
    let server = TestServer::start_in(&dir, &[]);
    let mut alice = server.cap_client("alice", &["batch", "server-time"]);
    alice.send("JOIN #general");
    alice.expect(" 366 ");
    server.log.wait_for("search index rebuilt");
    alice.send("SEARCH in=#general;text=zanzibar");
    let hit = alice.expect("zanzibar");
    assert!(
        hit.contains(":alice PRIVMSG #general :the zanzibar deploy is done"),
        "{hit}"
    );
    no_panic(&server);
}

#[test]
fn index_deleted_while_running_is_rebuilt_without_a_restart() {
    let server = TestServer::start(&[]);
    let [mut alice, mut bob] = server.members("#general", ["alice", "bob"]);
    alice.send("PRIVMSG #general :before the deletion");
    bob.expect("before the deletion");
    search_until(
        &mut alice,
        "SEARCH #general deletion",
        "before the deletion",
    );
    fs::remove_dir_all(server.log_dir.join(".index")).unwrap();
    alice.send("PRIVMSG #general :after the deletion");
    bob.expect("after the deletion");
    server.log.wait_for("disappeared");
    let answer = search_until(&mut bob, "SEARCH #general deletion", "after the deletion");
    assert!(
        answer.iter().any(|l| l.contains("before the deletion"))
            && answer.last().unwrap().ends_with("2 matches"),
        "{answer:?}"
    );
    assert!(server.log_dir.join(".index/meta.json").is_file());
    no_panic(&server);
}

#[test]
fn chat_search_on_a_damaged_index_names_the_damage_and_the_fix() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("logs");
    archive_with(&dir, 10);
    assert_eq!(chat_search(&dir, &["index"]).0, 0);
    truncate_stores(&dir);
    let hint = format!("chat-search rebuild --log-dir {}", dir.display());
    for args in [&["query", "zanzibar"][..], &["stats"], &["index"]] {
        let (code, _, stderr) = chat_search(&dir, args);
        assert_eq!(code, 1, "{args:?}: {stderr}");
        assert!(
            stderr.contains("is unreadable")
                && stderr.contains(".store: truncated (7 bytes)")
                && stderr.contains(&hint),
            "{args:?}: {stderr}"
        );
        assert!(!stderr.contains("panicked"), "{stderr}");
    }
    let (code, _, stderr) = chat_search(&dir, &["rebuild"]);
    assert_eq!(code, 0, "{stderr}");
    let (code, stdout, _) = chat_search(&dir, &["query", "zanzibar"]);
    assert_eq!(code, 0);
    assert!(stdout.contains("the zanzibar deploy is done"), "{stdout}");
}

/// A tmpfs of `size` mounted on a fresh directory, unmounted on drop; `None` (with a
/// message) where this process may not mount. Under CI (`CI=true`, root on Debian)
/// mounting must work.
struct SmallFs {
    path: PathBuf,
    _tmp: tempfile::TempDir,
}

impl SmallFs {
    fn mount(size: &str) -> Option<SmallFs> {
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join("fs");
        fs::create_dir(&path).unwrap();
        let ok = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(&path)
            .output()
            .is_ok_and(|o| o.status.success());
        if !ok {
            let msg = "cannot mount a tmpfs here (needs root and mount rights)";
            if std::env::var("CI").is_ok_and(|v| v == "true") {
                panic!("{msg}: required under CI");
            }
            eprintln!("skipped: {msg}");
            return None;
        }
        Some(SmallFs { path, _tmp: tmp })
    }
}

impl Drop for SmallFs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.path).status();
    }
}

/// Fills the file system holding `dir` with `dir/filler`, then frees `keep` bytes.
fn fill(dir: &Path, keep: u64) -> PathBuf {
    use std::io::Write;
    let filler = dir.join("filler");
    let mut f = fs::File::create(&filler).unwrap();
    let block = vec![b'x'; 64 * 1024];
    loop {
        if f.write_all(&block).is_err() {
            break;
        }
    }
    let _ = f.flush();
    // Single bytes until the last partial block is used up too.
    while f.write_all(b"x").is_ok() {}
    let len = f.metadata().unwrap().len();
    f.set_len(len.saturating_sub(keep)).unwrap();
    filler
}

#[test]
fn disk_full_while_indexing_heals_once_space_returns() {
    let Some(small) = SmallFs::mount("8m") else {
        return;
    };
    let dir = small.path.join("logs");
    let mut server = TestServer::start_in(&dir, &[]);
    let [mut alice, mut bob] = server.members("#general", ["alice", "bob"]);
    alice.send("PRIVMSG #general :before the disk filled");
    bob.expect("before the disk filled");
    search_until(&mut alice, "SEARCH #general disk", "before the disk filled");
    // Room for a CSV row, not for a segment of the index.
    let filler = fill(&small.path, 4096);
    alice.send("PRIVMSG #general :while the disk was full");
    let outcome = alice.sync();
    let archived = !outcome.iter().any(|l| l.contains("ARCHIVE_FAILED"));
    eprintln!(
        "disk full: {}",
        if archived {
            "the archive took the row, the index failed"
        } else {
            "the archive refused the row"
        }
    );
    if archived {
        bob.expect("while the disk was full");
        server.log.wait_for("retrying in");
        // Fails fast while the indexer is broken, instead of waiting 5 s.
        let start = Instant::now();
        let answer = alice.search_answer("SEARCH #general full");
        assert!(
            answer.last().unwrap().contains("FAIL SEARCH UNAVAILABLE"),
            "{answer:?}"
        );
        assert!(
            start.elapsed() < Duration::from_secs(3),
            "{:?}",
            start.elapsed()
        );
    }
    fs::remove_file(&filler).unwrap();
    alice.send("PRIVMSG #general :after the space returned");
    bob.expect("after the space returned");
    let answer = search_until(
        &mut bob,
        "SEARCH #general returned",
        "after the space returned",
    );
    assert!(answer.last().unwrap().ends_with("1 match"), "{answer:?}");
    if archived {
        let answer = search_until(&mut bob, "SEARCH #general full", "while the disk was full");
        assert!(answer.last().unwrap().ends_with("1 match"), "{answer:?}");
        server.log.wait_for("search index: recovered");
    }
    let earlier = bob.search_answer("SEARCH #general filled");
    assert!(earlier.last().unwrap().ends_with("1 match"), "{earlier:?}");
    // Shutdown does not hang.
    server.signal(libc::SIGTERM);
    let start = Instant::now();
    assert_eq!(server.wait(), Some(0));
    assert!(start.elapsed() < GUARD);
    no_panic(&server);
}

#[test]
fn shutdown_does_not_wait_on_a_failing_indexer() {
    let Some(small) = SmallFs::mount("8m") else {
        return;
    };
    let dir = small.path.join("logs");
    let mut server = TestServer::start_in(&dir, &[]);
    let [mut alice, mut bob] = server.members("#general", ["alice", "bob"]);
    alice.send("PRIVMSG #general :one");
    bob.expect("one");
    let _filler = fill(&small.path, 4096);
    alice.send("PRIVMSG #general :two");
    alice.sync();
    server.signal(libc::SIGTERM);
    let start = Instant::now();
    assert_eq!(server.wait(), Some(0));
    assert!(
        start.elapsed() < Duration::from_secs(10),
        "{:?}",
        start.elapsed()
    );
    no_panic(&server);
}
