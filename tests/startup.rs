//! Start-up as an operator meets it: the log directory is checked before any port is
//! bound, one archive has one server, and the log says what was opened.

mod common;

use std::path::Path;
use std::process::Command;

use common::TestServer;

const BIN: &str = env!("CARGO_BIN_EXE_chat-server");

/// Runs `chat-server` with `args` to completion; returns (exit code, stdout, stderr).
fn run_to_exit(args: &[&str]) -> (Option<i32>, String, String) {
    let mut cmd = Command::new(BIN);
    cmd.args(args)
        .env("RUST_LOG", "info")
        .env_remove("NOTIFY_SOCKET")
        .env_remove("LISTEN_FDS")
        .env_remove("LINECHAT_PASSWORD");
    common::run_to_exit(cmd)
}

/// Runs `chat-search` with `args` to completion; returns (exit code, stdout, stderr).
fn chat_search(args: &[&str]) -> (Option<i32>, String, String) {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_chat-search"));
    cmd.args(args);
    common::run_to_exit(cmd)
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

#[test]
fn a_second_server_on_the_same_log_dir_refuses_naming_the_dir_and_the_pid() {
    let tmp = tempfile::tempdir().unwrap();
    let logs = tmp.path().join("logs");
    let mut first = TestServer::start_in(&logs, &[]);
    first.log.wait_for(&format!(
        "created a new, empty archive in {}",
        logs.display()
    ));
    let mut ann = first.client("ann");
    ann.send("JOIN #general");
    ann.expect(" 366 ");
    ann.send("MSG #general hello");
    ann.sync();
    let pid = first.child.id().to_string();
    assert_eq!(
        std::fs::read_to_string(logs.join(".lock")).unwrap().trim(),
        pid
    );

    let (code, _, stderr) = run_to_exit(&["--log-dir", s(&logs), "--listen", "127.0.0.1:0"]);
    assert_eq!(code, Some(2), "{stderr}");
    assert!(stderr.contains(s(&logs)), "{stderr}");
    assert!(stderr.contains(&format!("pid {pid}")), "{stderr}");
    assert!(
        !stderr.contains("listening on"),
        "bound before failing: {stderr}"
    );
    // The first server was not disturbed.
    ann.send("MSG #general still mine");
    ann.sync();

    // chat-search takes no such lock: it reads while the server runs, and its writing
    // commands are refused by the search index's writer lock, as before. (A SEARCH in the
    // session returns once the message is in the index.)
    ann.send("SEARCH #general hello");
    ann.expect("End of SEARCH");
    let (code, stdout, stderr) = chat_search(&["query", "hello", "--log-dir", s(&logs)]);
    assert_eq!(code, Some(0), "{stderr}");
    assert!(stdout.contains("hello"), "{stdout}");
    let (code, _, stderr) = chat_search(&["index", "--log-dir", s(&logs)]);
    assert_eq!(code, Some(1), "{stderr}");
    assert!(stderr.contains("locked by another writer"), "{stderr}");

    // Once the first has stopped the archive is free; the lock file is not a room.
    first.signal(libc::SIGTERM);
    assert_eq!(first.wait(), Some(0));
    let mut second = TestServer::start_in(&logs, &[]);
    second
        .log
        .wait_for(&format!("opened archive {}: 1 room", logs.display()));
    // A crash (kill -9) releases the lock too: the kernel drops it with the process.
    second.child.kill().unwrap();
    second.wait();
    let third = TestServer::start_in(&logs, &[]);
    third.client("bob");
}

#[test]
fn a_log_dir_that_is_a_file_is_refused_before_binding_and_by_check_config() {
    let tmp = tempfile::tempdir().unwrap();
    let file = tmp.path().join("logs");
    std::fs::write(&file, "not a directory").unwrap();
    let want = format!("--log-dir {} is a file, not a directory", file.display());
    let (code, _, stderr) = run_to_exit(&["--log-dir", s(&file), "--listen", "127.0.0.1:0"]);
    assert_eq!(code, Some(2), "{stderr}");
    assert!(stderr.contains(&want), "{stderr}");
    assert!(
        !stderr.contains("listening on"),
        "bound before failing: {stderr}"
    );
    let (code, _, stderr) = run_to_exit(&["--log-dir", s(&file), "--check-config"]);
    assert_eq!(code, Some(2), "{stderr}");
    assert!(stderr.contains(&want), "{stderr}");
}

#[test]
fn a_log_dir_with_a_missing_parent_needs_create_log_dir() {
    let tmp = tempfile::tempdir().unwrap();
    let logs = tmp.path().join("typo/logs");
    let (code, _, stderr) = run_to_exit(&["--log-dir", s(&logs), "--listen", "127.0.0.1:0"]);
    assert_eq!(code, Some(2), "{stderr}");
    assert!(stderr.contains(s(&logs)), "{stderr}");
    assert!(stderr.contains("--create-log-dir"), "{stderr}");
    assert!(
        !stderr.contains("listening on"),
        "bound before failing: {stderr}"
    );
    assert!(!tmp.path().join("typo").exists());

    let (code, _, stderr) = run_to_exit(&["--log-dir", s(&logs), "--check-config"]);
    assert_eq!(code, Some(2), "{stderr}");
    assert!(stderr.contains("--create-log-dir"), "{stderr}");
    let (code, stdout, stderr) =
        run_to_exit(&["--log-dir", s(&logs), "--create-log-dir", "--check-config"]);
    assert_eq!(code, Some(0), "{stderr}");
    assert!(stdout.contains("configuration is valid"), "{stdout}");
    assert!(!logs.exists(), "--check-config created the log directory");

    // The same from the config file.
    let config = tmp.path().join("linechat.toml");
    std::fs::write(&config, "create-log-dir = true\n").unwrap();
    let server = TestServer::start_in(&logs, &["--config", s(&config)]);
    server.log.wait_for(&format!(
        "created a new, empty archive in {}",
        logs.display()
    ));
    assert!(logs.is_dir());
}
