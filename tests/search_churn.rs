//! File churn under the indexer (issue 11): files deleted and created again (with their
//! inode reused), rotated and compressed, header-only then rotated, broken quotes. The
//! searchable row count never drops, and each `index` summary counts exactly the rows it
//! made searchable.

mod common;

use std::fs;
use std::os::unix::fs::MetadataExt;

use common::logs::Logs;

const ROOM: &str = "history_ops.csv";
const HEADER: &str = "timestamp,username,message\n";

fn rows(from: usize, n: usize, word: &str) -> String {
    (from..from + n)
        .map(|i| {
            format!(
                "2026-11-{:02}T10:{:02}:{:02}.000Z,user{i},{word} row {i}\n",
                1 + i / 3600 % 28,
                i / 60 % 60,
                i % 60
            )
        })
        .collect()
}

/// Runs `index` and checks its summary against the change in searchable rows, which must
/// never be negative. Returns the new searchable count.
fn index_and_check(logs: &Logs, before: usize, expect_added: usize) -> usize {
    let added = logs.index_count();
    let after = logs.searchable();
    assert!(
        after >= before,
        "searchable rows dropped: {before} -> {after}"
    );
    assert_eq!(after - before, added, "the summary must count truly");
    assert_eq!(added, expect_added);
    after
}

#[test]
fn delete_and_recreate_with_the_inode_reused_keeps_history() {
    let logs = Logs::empty();
    logs.write(ROOM, &format!("{HEADER}{}", rows(0, 500, "old")));
    let mut count = index_and_check(&logs, 0, 500);
    let ino = fs::metadata(logs.path(ROOM)).unwrap().ino();
    // Delete and create again until the new file gets the freed inode back (the file
    // systems we run on hand it out at once; a few tries cover the others).
    let mut reused = false;
    for attempt in 0..20 {
        fs::remove_file(logs.path(ROOM)).unwrap();
        logs.write(ROOM, &format!("{HEADER}{}", rows(1000 + attempt, 1, "new")));
        if fs::metadata(logs.path(ROOM)).unwrap().ino() == ino {
            reused = true;
            break;
        }
    }
    let r = logs.run(&["index"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(
        r.stderr
            .contains("history_ops.csv: replaced by a file with a different beginning")
            && r.stderr
                .contains("the 500 rows indexed from the previous file stay searchable"),
        "{}",
        r.stderr
    );
    assert!(
        r.stdout.starts_with("indexed 1 new message "),
        "{}",
        r.stdout
    );
    let after = logs.searchable();
    assert_eq!(after, count + 1, "inode reused: {reused}");
    count = after;
    // Recreated once more, by rename over it (another new file with the same name).
    logs.write("tmp.csv", &format!("{HEADER}{}", rows(2000, 3, "newer")));
    fs::rename(logs.path("tmp.csv"), logs.path(ROOM)).unwrap();
    index_and_check(&logs, count, 3);
}

#[test]
fn rotate_and_compress_keeps_history_and_reads_the_renamed_rest() {
    let logs = Logs::empty();
    logs.write(ROOM, &format!("{HEADER}{}", rows(0, 100, "first")));
    let mut count = index_and_check(&logs, 0, 100);
    // More rows, then logrotate: rename to .1 (delaycompress) and a new file.
    let mut text = fs::read_to_string(logs.path(ROOM)).unwrap();
    text.push_str(&rows(100, 7, "late"));
    logs.write(ROOM, &text);
    fs::rename(logs.path(ROOM), logs.path("history_ops.csv.1")).unwrap();
    logs.write(ROOM, &format!("{HEADER}{}", rows(200, 2, "second")));
    let r = logs.run(&["index"]);
    assert!(
        r.stdout.starts_with("indexed 9 new messages"),
        "{}",
        r.stdout
    );
    assert!(
        r.stderr
            .contains("read 7 rows it got after line 101 from history_ops.csv.1"),
        "{}",
        r.stderr
    );
    count += 9;
    assert_eq!(logs.searchable(), count);
    // Next rotation compresses .1 and moves the current file to .1 (no rows lost from the
    // index: the .1 rows were read last time; the current file's unread rows are read
    // from its renamed copy).
    fs::rename(
        logs.path("history_ops.csv.1"),
        logs.path("history_ops.csv.2.gz"),
    )
    .unwrap();
    let mut text = fs::read_to_string(logs.path(ROOM)).unwrap();
    text.push_str(&rows(300, 4, "before-second-rotation"));
    logs.write(ROOM, &text);
    fs::rename(logs.path(ROOM), logs.path("history_ops.csv.1")).unwrap();
    logs.write(ROOM, &format!("{HEADER}{}", rows(400, 1, "third")));
    count = index_and_check(&logs, count, 5);
    // Compressed right away (no delaycompress): the rows it got since the last run cannot
    // be read, which is said; what was indexed stays.
    let mut text = fs::read_to_string(logs.path(ROOM)).unwrap();
    text.push_str(&rows(500, 2, "lost-to-compression"));
    logs.write(ROOM, &text);
    fs::remove_file(logs.path("history_ops.csv.1")).unwrap();
    fs::rename(logs.path(ROOM), logs.path("history_ops.csv.1.gz")).unwrap();
    logs.write(ROOM, &format!("{HEADER}{}", rows(600, 1, "fourth")));
    let r = logs.run(&["index"]);
    assert!(r.stderr.contains("no uncompressed copy"), "{}", r.stderr);
    assert_eq!(logs.searchable(), count + 1);
    // Nothing is read twice afterwards.
    index_and_check(&logs, count + 1, 0);
}

#[test]
fn header_only_then_rows_then_rotated_loses_nothing() {
    let logs = Logs::empty();
    logs.write(ROOM, HEADER);
    logs.write("history_dev.csv", &format!("{HEADER}{}", rows(0, 2, "dev")));
    let count = index_and_check(&logs, 0, 2);
    // #ops gets rows, then is rotated before the next run; the new file is header-only.
    logs.write(ROOM, &format!("{HEADER}{}", rows(10, 5, "ops")));
    fs::rename(logs.path(ROOM), logs.path("history_ops.csv.1")).unwrap();
    logs.write(ROOM, HEADER);
    let r = logs.run(&["index"]);
    assert!(
        r.stderr.contains("history_ops.csv.1 is that file renamed"),
        "{}",
        r.stderr
    );
    let count_after = logs.searchable();
    assert_eq!(count_after, count + 5);
    assert!(
        r.stdout.starts_with("indexed 5 new messages"),
        "{}",
        r.stdout
    );
    // The .1 file is never read again, and the new file's rows are read once.
    index_and_check(&logs, count_after, 0);
    logs.write(ROOM, &format!("{HEADER}{}", rows(20, 3, "ops-new")));
    index_and_check(&logs, count_after, 3);
    // A rebuild reads only the current archives.
    let r = logs.run(&["rebuild"]);
    assert!(
        r.stdout.starts_with("indexed 5 new messages"),
        "{}",
        r.stdout
    );
}

#[test]
fn a_file_moved_back_is_continued_not_indexed_twice() {
    let logs = Logs::empty();
    logs.write(ROOM, &format!("{HEADER}{}", rows(0, 4, "kept")));
    let count = index_and_check(&logs, 0, 4);
    fs::rename(logs.path(ROOM), logs.dir.join("aside.csv.bak")).unwrap();
    let r = logs.run(&["index"]);
    assert!(
        r.stderr
            .contains("history_ops.csv: gone; its 4 rows stay searchable"),
        "{}",
        r.stderr
    );
    assert_eq!(logs.searchable(), count);
    let mut text = fs::read_to_string(logs.dir.join("aside.csv.bak")).unwrap();
    text.push_str(&rows(50, 2, "added-while-away"));
    fs::write(logs.path(ROOM), text).unwrap();
    fs::remove_file(logs.dir.join("aside.csv.bak")).unwrap();
    let r = logs.run(&["index"]);
    assert!(r.stderr.contains("a file indexed before"), "{}", r.stderr);
    assert_eq!(logs.searchable(), count + 2);
}

#[test]
fn an_unbalanced_quote_is_reported_and_the_next_rows_are_kept() {
    let logs = Logs::empty();
    logs.write(
        ROOM,
        &format!(
            "{HEADER}2026-11-01T10:00:00Z,amy,\"this quote never closes\n{}",
            rows(1, 3, "after")
        ),
    );
    let r = logs.run(&["index"]);
    assert!(
        r.stdout.starts_with("indexed 3 new messages"),
        "{}",
        r.stdout
    );
    let expected = format!("{}:2: unbalanced quote", logs.path(ROOM).display());
    assert!(r.stderr.contains(&expected), "{}", r.stderr);
    assert_eq!(logs.searchable(), 3);
    // A legitimate quoted field over two lines is one message.
    logs.write(
        "history_dev.csv",
        &format!("{HEADER}2026-11-01T10:00:00Z,bo,\"two\nlines\"\n"),
    );
    assert_eq!(logs.index_count(), 1);
}
