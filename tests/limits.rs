//! One address, the descriptor limit, a TLS flood or one client's many targets cannot take
//! the server from everyone else: real server, real sockets, real files.

mod common;
mod tls_support;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::Command;

use common::{Client, GUARD, TestServer};
use tls_support::{TestCa, TlsClient, start_tls_server};

/// A server whose log includes linechat's debug lines ("connection slot released").
fn start_debug(args: &[&str]) -> (tempfile::TempDir, TestServer) {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("logs");
    let mut cmd = TestServer::command(&dir, args);
    cmd.env("RUST_LOG", "debug");
    let server = TestServer::spawn(cmd, &dir);
    (tmp, server)
}

/// Reads what the server sends a refused connection: everything up to its close.
fn refused_with(addr: SocketAddr) -> String {
    let mut stream = TcpStream::connect(addr).unwrap();
    stream.set_read_timeout(Some(GUARD)).unwrap();
    let mut got = Vec::new();
    match stream.read_to_end(&mut got) {
        Ok(_) => {}
        Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => {}
        Err(e) => panic!("refused connection was not closed: {e}"),
    }
    String::from_utf8(got).unwrap()
}

#[test]
fn one_address_gets_its_limit_then_a_clear_error_and_a_slot_back_when_one_closes() {
    let (_tmp, server) = start_debug(&[
        "--limit-exempt",
        "none",
        "--max-connections-per-address",
        "3",
    ]);
    let mut a = server.client("a1");
    let _b = server.client("a2");
    let _c = server.client("a3");
    assert_eq!(
        refused_with(server.addr),
        "ERROR :Too many connections from your address (limit 3)\r\n"
    );
    server
        .log
        .wait_for("refused: too many connections from the address");
    // The connected ones keep talking.
    a.send("JOIN #ok");
    a.expect(" JOIN ");
    a.send("QUIT");
    a.read_to_close();
    server.log.wait_for("connection slot released");
    let mut d = server.client("a4");
    d.send("JOIN #ok");
    d.expect(" JOIN ");
}

#[test]
fn connecting_too_fast_from_one_address_is_throttled() {
    let server = TestServer::start(&[
        "--limit-exempt",
        "none",
        "--max-connections-per-address",
        "0",
        "--connect-rate",
        "3",
        "--connect-rate-secs",
        "3600",
    ]);
    for i in 0..3 {
        let mut c = server.client(&format!("r{i}"));
        c.send("QUIT");
        c.read_to_close();
    }
    assert_eq!(
        refused_with(server.addr),
        "ERROR :Too many new connections from your address (limit 3 per 3600 s); try again later\r\n"
    );
    server
        .log
        .wait_for("refused: connecting too fast from the address");
}

#[test]
fn exempt_networks_skip_the_limits_and_others_do_not() {
    let exempt = TestServer::start(&[
        "--limit-exempt",
        "127.0.0.0/8",
        "--max-connections-per-address",
        "1",
        "--connect-rate",
        "1",
    ]);
    let clients: Vec<Client> = (0..4).map(|i| exempt.client(&format!("e{i}"))).collect();
    assert_eq!(clients.len(), 4);

    let other = TestServer::start(&[
        "--limit-exempt",
        "10.0.0.0/8",
        "--limit-exempt",
        "::1",
        "--max-connections-per-address",
        "1",
    ]);
    let _first = other.client("o1");
    assert_eq!(
        refused_with(other.addr),
        "ERROR :Too many connections from your address (limit 1)\r\n"
    );
}

/// Under a descriptor limit of 256 the server says how many connections it can hold,
/// refuses the next one with the full ERROR (instead of leaving it hanging), and chat,
/// including messages to rooms whose archives are not open yet, keeps working.
#[test]
fn a_low_descriptor_limit_caps_connections_and_chat_keeps_working() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("logs");
    let mut cmd = TestServer::command(&dir, &["--flood-rate", "0"]);
    // SAFETY: setrlimit is async-signal-safe; nothing else runs between fork and exec.
    unsafe {
        cmd.pre_exec(|| {
            let lim = libc::rlimit {
                rlim_cur: 256,
                rlim_max: 256,
            };
            if libc::setrlimit(libc::RLIMIT_NOFILE, &lim) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let server = TestServer::spawn(cmd, &dir);
    let line = server.log.wait_for("descriptor limit 256: at most ");
    let budget: usize = line
        .split("at most ")
        .nth(1)
        .and_then(|r| r.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no budget in {line:?}"));
    assert!(budget > 10 && budget < 256, "{line}");

    let mut talker = server.cap_client("talker", &["echo-message"]);
    let mut others: Vec<Client> = (1..budget)
        .map(|i| server.client(&format!("c{i}")))
        .collect();
    for _ in 0..3 {
        assert_eq!(
            refused_with(server.addr),
            "ERROR :Server is full, try again later\r\n"
        );
    }
    // More rooms than the archive keeps open at once (an eighth of 256): every message
    // is archived and echoed, none fails for want of a descriptor.
    for r in 0..40 {
        talker.send(&format!("JOIN #fd{r}"));
        talker.send(&format!("PRIVMSG #fd{r} :still here {r}"));
        let echo = talker.expect_any(&[" PRIVMSG ", "FAIL "]);
        assert!(echo.ends_with(&format!(":still here {r}")), "{echo}");
    }
    let listener = others.pop().unwrap();
    drop(listener);
    others[0].send("JOIN #fd0");
    others[0].expect(" JOIN ");
    assert_eq!(
        common::read_archive(&server.archive("history_fd39.csv"))[0].2,
        "still here 39"
    );
    assert!(!server.log.text().contains("Too many open files"));
}

#[test]
fn a_full_tls_listener_closes_before_the_handshake_and_handshakes_are_bounded() {
    let tmp = tempfile::tempdir().unwrap();
    let ca = TestCa::new();
    let (cert, key) = ca.leaf().write(tmp.path());
    let logs = tmp.path().join("logs");
    let server = start_tls_server(
        &logs,
        &cert,
        &key,
        &["--max-clients", "3", "--max-tls-handshakes", "2"],
    );
    let tls = server.tls_addr();
    // Two connections that never send a ClientHello hold both handshake slots: a third
    // is closed at once, with no byte of TLS sent.
    let stalled: Vec<TcpStream> = (0..2).map(|_| TcpStream::connect(tls).unwrap()).collect();
    assert_eq!(refused_with(tls), "");
    server
        .log
        .wait_for("refused: too many TLS handshakes in progress");
    for s in &stalled {
        s.shutdown(std::net::Shutdown::Both).unwrap();
    }
    server.log.wait_for_nth("TLS handshake failed", 2);

    // Full: three clients hold every slot; the next TLS connection is closed unanswered.
    let mut first = TlsClient::connect_tls(tls, ca.client_config_any());
    first.register("t1");
    let _second = server.client("p2");
    let _third = server.client("p3");
    assert_eq!(refused_with(tls), "");
    server.log.wait_for("refused: server full");
    first.send("JOIN #tls");
    first.expect(" JOIN ");
}

#[test]
fn flood_control_charges_every_target() {
    // Six lines free: NICK, USER and a message to four targets spend them all, so the
    // PING after it waits (before, the message cost one line and nothing waited).
    let server = TestServer::start(&["--flood-burst", "6", "--flood-rate", "0.01"]);
    let mut c = server.client("many");
    c.send("PRIVMSG #a,#b,#c,#d :hello all");
    c.send("PING :after");
    server.log.wait_for("flood control: input paced");
    for room in ["#a", "#b", "#c", "#d"] {
        let refused = c.expect(" 403 ");
        assert!(refused.contains(room), "{refused}");
    }
}

#[test]
fn whois_splits_many_rooms_over_lines_within_512_bytes() {
    let server = TestServer::start(&["--max-rooms-per-client", "200", "--flood-rate", "0"]);
    let mut c = server.client("joiner");
    let rooms: Vec<String> = (0..150)
        .map(|i| format!("#a-rather-long-room-name-{i:03}"))
        .collect();
    for chunk in rooms.chunks(15) {
        c.send(&format!("JOIN {}", chunk.join(",")));
    }
    c.sync();
    c.send("WHOIS joiner");
    let mut listed = Vec::new();
    let mut lines = 0;
    loop {
        let line = c.next_line().unwrap();
        assert!(line.len() + 2 <= 512, "{} bytes: {line}", line.len() + 2);
        if line.contains(" 318 ") {
            break;
        }
        if let Some(rest) = line.strip_prefix(":linechat 319 joiner joiner :") {
            lines += 1;
            listed.extend(
                rest.split(' ')
                    .map(|r| r.trim_start_matches('@').to_string()),
            );
        }
    }
    assert!(lines > 1, "one 319 line for 150 rooms");
    listed.sort();
    assert_eq!(listed, rooms);
}

/// A client dropped at its sendq gets what was queued before the drop cut at a line
/// boundary, then the ERROR: never half a line.
#[test]
fn a_sendq_drop_ends_on_a_line_boundary_with_the_error() {
    let server = TestServer::start(&["--sendq-bytes", "65536", "--flood-rate", "0"]);
    let [mut stuck, mut talker] = server.members("#r", ["stuck", "talker"]);
    let text = "y".repeat(400);
    let mut sent = 0;
    loop {
        for _ in 0..1000 {
            talker.send(&format!("PRIVMSG #r :{text}"));
        }
        sent += 1000;
        if talker.sync().iter().any(|l| l.contains(" QUIT ")) {
            break;
        }
        assert!(sent < 200_000, "stuck client never hit its sendq");
    }
    // `next_line` insists on the CRLF of every line, the last one included.
    let lines = stuck.read_to_close();
    assert_eq!(lines.last().unwrap(), "ERROR :SendQ exceeded");
    let relayed = format!(" PRIVMSG #r :{text}");
    for line in &lines {
        assert!(
            !line.contains(" PRIVMSG ") || line.ends_with(&relayed),
            "a torn line: {line:?}"
        );
    }
}

#[test]
fn a_complete_last_row_without_its_newline_survives_start_up_repair() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("logs");
    std::fs::create_dir(&dir).unwrap();
    let archive = dir.join("history_kept.csv");
    std::fs::write(
        &archive,
        "timestamp,username,message\n2026-01-01T00:00:00.000Z,amy,first\n\
         2026-01-01T00:00:01.000Z,bob,\"the last, whole\"",
    )
    .unwrap();
    let torn = dir.join("history_torn.csv");
    std::fs::write(
        &torn,
        "timestamp,username,message\n2026-01-01T00:00:00.000Z,amy,first\n\
         2026-01-01T00:00:01.000Z,bob,\"cut in the mid",
    )
    .unwrap();
    let server = TestServer::start_in(&dir, &[]);
    let mut c = server.cap_client("cy", &["echo-message"]);
    c.send("JOIN #kept");
    c.send("PRIVMSG #kept :after restart");
    c.expect(":after restart");
    let rows = common::read_archive(&archive);
    let texts: Vec<&str> = rows.iter().map(|r| r.2.as_str()).collect();
    assert_eq!(texts, ["first", "the last, whole", "after restart"]);
    let rows = common::read_archive(&torn);
    assert_eq!(rows.len(), 1, "the torn row is cut");
}

/// A read-only log directory, empty or holding archives, stops start-up with one clear
/// message (exit 2) instead of starting and failing every message.
#[test]
fn a_read_only_log_dir_is_refused_at_start_up() {
    let tmp = tempfile::tempdir().unwrap();
    let Some(ro) = ReadOnly::new(tmp.path()) else {
        return;
    };
    for with_archive in [false, true] {
        if with_archive {
            ro.write("history_general.csv", "timestamp,username,message\n");
        }
        let out = Command::new(env!("CARGO_BIN_EXE_chat-server"))
            .arg("--log-dir")
            .arg(&ro.path)
            .args(["--listen", "127.0.0.1:0"])
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{stderr}");
        assert!(stderr.contains("is not writable"), "{stderr}");
        assert!(stderr.contains(&ro.path.display().to_string()), "{stderr}");
        assert!(!stderr.contains("listening on"), "{stderr}");
    }
}

/// A directory the server cannot write: a read-only bind mount when running as root (who
/// ignores permission bits), else a directory without write permission.
struct ReadOnly {
    source: std::path::PathBuf,
    path: std::path::PathBuf,
    mounted: bool,
}

impl ReadOnly {
    fn new(base: &Path) -> Option<ReadOnly> {
        let source = base.join("source");
        let path = base.join("logs");
        std::fs::create_dir_all(&source).unwrap();
        std::fs::create_dir_all(&path).unwrap();
        // SAFETY: geteuid has no preconditions.
        if unsafe { libc::geteuid() } != 0 {
            std::fs::set_permissions(&path, std::os::unix::fs::PermissionsExt::from_mode(0o555))
                .unwrap();
            return Some(ReadOnly {
                source: path.clone(),
                path,
                mounted: false,
            });
        }
        let ok = Command::new("mount")
            .arg("--bind")
            .arg(&source)
            .arg(&path)
            .status()
            .is_ok_and(|s| s.success())
            && Command::new("mount")
                .args(["-o", "remount,bind,ro"])
                .arg(&path)
                .status()
                .is_ok_and(|s| s.success());
        if !ok {
            let msg = "cannot make a read-only bind mount here (root without mount rights)";
            assert!(std::env::var("CI").is_err(), "{msg}: required under CI");
            eprintln!("skipped: {msg}");
            let _ = Command::new("umount").arg(&path).status();
            return None;
        }
        Some(ReadOnly {
            source,
            path,
            mounted: true,
        })
    }

    /// Writes a file into the read-only directory (through its writable source).
    fn write(&self, name: &str, text: &str) {
        if self.mounted {
            std::fs::write(self.source.join(name), text).unwrap();
        } else {
            std::fs::set_permissions(
                &self.path,
                std::os::unix::fs::PermissionsExt::from_mode(0o755),
            )
            .unwrap();
            std::fs::write(self.path.join(name), text).unwrap();
            std::fs::set_permissions(
                &self.path,
                std::os::unix::fs::PermissionsExt::from_mode(0o555),
            )
            .unwrap();
        }
    }
}

impl Drop for ReadOnly {
    fn drop(&mut self) {
        if self.mounted {
            let _ = Command::new("umount").arg("-l").arg(&self.path).status();
        } else {
            let _ = std::fs::set_permissions(
                &self.path,
                std::os::unix::fs::PermissionsExt::from_mode(0o755),
            );
        }
    }
}

#[test]
fn chat_search_escapes_control_characters_and_has_a_spreadsheet_safe_csv() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("logs");
    std::fs::create_dir(&dir).unwrap();
    let mut f = std::fs::File::create(dir.join("history_x.csv")).unwrap();
    f.write_all(
        "timestamp,username,message\n\
         2026-01-01T00:00:00.000Z,amy,=cmd|' /C calc'!A0 payload\n\
         2026-01-01T00:00:01.000Z,bob,\u{1b}]0;owned\u{7} payload \u{1b}[2J\n"
            .as_bytes(),
    )
    .unwrap();
    drop(f);
    let search = |args: &[&str]| {
        let out = Command::new(env!("CARGO_BIN_EXE_chat-search"))
            .args(args)
            .arg("--log-dir")
            .arg(&dir)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    };
    search(&["index"]);
    let text = search(&["query", "payload"]);
    assert!(
        !text.contains('\u{1b}') && !text.contains('\u{7}'),
        "{text:?}"
    );
    assert!(
        text.contains("\\x1b]0;owned\\x07 payload \\x1b[2J"),
        "{text}"
    );
    let csv = search(&["query", "payload", "--format", "csv"]);
    assert!(!csv.contains('\u{1b}'), "{csv:?}");
    assert!(csv.contains(",amy,=cmd|' /C calc'!A0 payload\n"), "{csv}");
    let safe = search(&["query", "payload", "--format", "csv", "--csv-safe"]);
    assert!(
        safe.contains(",amy,'=cmd|' /C calc'!A0 payload\n"),
        "{safe}"
    );
}
