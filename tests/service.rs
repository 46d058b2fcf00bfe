//! `chat-server` as a service: TLS listeners, certificate reload on SIGHUP, the handshake
//! timeout, systemd readiness and socket activation, graceful SIGTERM and the config file.
//! Every test runs the real binary on ephemeral ports with files in temporary directories
//! and waits for events (log lines, datagrams, closed sockets), never for time to pass.

mod common;
mod tls_support;

use std::io::Read;
use std::net::{SocketAddr, TcpStream};
use std::os::unix::net::UnixDatagram;
use std::path::Path;
use std::process::Command;

use common::{GUARD, TestServer, read_archive};
use tls_support::{TestCa, TlsClient, start_tls_server};

const BIN: &str = env!("CARGO_BIN_EXE_chat-server");

/// A server with a plaintext and a TLS listener, serving a fresh leaf of `ca`.
fn tls_server(ca: &TestCa, dir: &Path, extra: &[&str]) -> TestServer {
    let (cert, key) = ca.leaf().write(dir);
    start_tls_server(&dir.join("logs"), &cert, &key, extra)
}

#[test]
fn a_tls_client_talks_with_a_plaintext_client_in_the_same_room() {
    let ca = TestCa::new();
    let dir = tempfile::tempdir().unwrap();
    let server = tls_server(&ca, dir.path(), &[]);
    let tls = server.tls_addr();

    let mut bob = server.client("bob");
    bob.send("JOIN #general");
    bob.expect(" 366 ");

    let mut alice = TlsClient::connect_tls(tls, ca.client_config_any());
    assert_eq!(alice.version(), rustls::ProtocolVersion::TLSv1_3);
    alice.register("alice");
    alice.send("JOIN #general");
    alice.expect(" 366 ");
    bob.expect("alice!alice@127.0.0.1 JOIN #general");
    alice.send("PRIVMSG #general :hello over tls");
    assert_eq!(
        bob.expect("PRIVMSG"),
        ":alice!alice@127.0.0.1 PRIVMSG #general :hello over tls"
    );
    bob.send("MSG #general hello over tcp");
    assert_eq!(
        alice.expect("PRIVMSG"),
        ":bob!bob@127.0.0.1 PRIVMSG #general :hello over tcp"
    );
    let connected = server.log.wait_for("tls_version=\"TLSv1.3\"");
    assert!(connected.contains("peer=127.0.0.1:"), "{connected}");

    // TLS 1.2 clients are served too, and their version is logged.
    let mut old = TlsClient::connect_tls(tls, ca.client_config(&[&rustls::version::TLS12]));
    assert_eq!(old.version(), rustls::ProtocolVersion::TLSv1_2);
    old.register("carol");
    server.log.wait_for("tls_version=\"TLSv1.2\"");

    alice.sync();
    let rows = read_archive(&server.archive("history_general.csv"));
    assert_eq!(rows[0].1, "alice");
    assert_eq!(rows[0].2, "hello over tls");
}

/// Runs `chat-server` to completion; returns (exit code, stdout, stderr).
fn run_to_exit(args: &[&str]) -> (Option<i32>, String, String) {
    let mut cmd = Command::new(BIN);
    cmd.args(args)
        .env_remove("NOTIFY_SOCKET")
        .env_remove("LISTEN_FDS");
    common::run_to_exit(cmd)
}

#[test]
fn a_bad_certificate_or_key_stops_start_up_naming_the_file() {
    let ca = TestCa::new();
    let dir = tempfile::tempdir().unwrap();
    let (cert, key) = ca.leaf().write(dir.path());
    let other_key = dir.path().join("other.key");
    std::fs::write(&other_key, ca.leaf().key_pem).unwrap();
    let missing = dir.path().join("missing.crt");
    let logs = dir.path().join("logs");
    let s = |p: &Path| p.to_str().unwrap().to_string();
    let base = |cert: &Path, key: &Path| {
        vec![
            "--log-dir".to_string(),
            s(&logs),
            "--listen".into(),
            "127.0.0.1:0".into(),
            "--tls-listen".into(),
            "127.0.0.1:0".into(),
            "--tls-cert".into(),
            s(cert),
            "--tls-key".into(),
            s(key),
        ]
    };
    for (cert, key, culprit, problem) in [
        (&missing, &key, &missing, "does not exist"),
        (&cert, &other_key, &other_key, "does not match"),
        (&key, &cert, &key, "holds no certificate"),
    ] {
        let args = base(cert, key);
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let (code, _, stderr) = run_to_exit(&args);
        assert_eq!(code, Some(1), "{stderr}");
        assert!(stderr.contains(&s(culprit)), "{stderr}");
        assert!(stderr.contains(problem), "{stderr}");
        assert!(
            !stderr.contains("listening on"),
            "bound before failing: {stderr}"
        );

        let mut check = args.clone();
        check.push("--check-config");
        let (code, stdout, stderr) = run_to_exit(&check);
        assert_eq!(code, Some(2), "{stdout}{stderr}");
        assert!(
            stderr.contains(&s(culprit)) && stderr.contains(problem),
            "{stderr}"
        );
    }
    let good = base(&cert, &key);
    let mut check: Vec<&str> = good.iter().map(String::as_str).collect();
    check.push("--check-config");
    let (code, stdout, stderr) = run_to_exit(&check);
    assert_eq!(code, Some(0), "{stderr}");
    assert!(stdout.contains("configuration is valid"), "{stdout}");
}

#[test]
fn sighup_reloads_the_certificate_for_new_handshakes_and_keeps_it_on_a_bad_pair() {
    let ca = TestCa::new();
    let dir = tempfile::tempdir().unwrap();
    let first = ca.leaf();
    let (cert, key) = first.write(dir.path());
    let server = start_tls_server(&dir.path().join("logs"), &cert, &key, &[]);
    let tls = server.tls_addr();
    let mut early = TlsClient::connect_tls(tls, ca.client_config_any());
    assert_eq!(early.server_cert(), first.der);
    early.register("early");

    let second = ca.leaf();
    second.write_to(&cert, &key);
    server.signal(libc::SIGHUP);
    server.log.wait_for("TLS certificate reloaded");
    let mut late = TlsClient::connect_tls(tls, ca.client_config_any());
    assert_eq!(late.server_cert(), second.der);
    late.register("late");
    early.sync(); // the connection made before the reload still works

    // A half-written renewal: new certificate, old key. Refused, second pair kept.
    std::fs::write(&cert, ca.leaf().cert_pem).unwrap();
    server.signal(libc::SIGHUP);
    let failed = server.log.wait_for("TLS reload failed");
    assert!(failed.contains(key.to_str().unwrap()), "{failed}");
    let mut after = TlsClient::connect_tls(tls, ca.client_config_any());
    assert_eq!(after.server_cert(), second.der);
    after.register("after");
}

#[test]
fn a_client_that_never_handshakes_is_dropped_without_disturbing_others() {
    let ca = TestCa::new();
    let dir = tempfile::tempdir().unwrap();
    let server = tls_server(&ca, dir.path(), &["--handshake-timeout", "1"]);
    let tls = server.tls_addr();

    let mut silent = TcpStream::connect(tls).unwrap();
    silent.set_read_timeout(Some(GUARD)).unwrap();
    let mut talker = TlsClient::connect_tls(tls, ca.client_config_any());
    talker.register("talker");
    let mut plain = server.client("plain");

    // The silent client is closed by the server: end of stream, not our read timeout.
    let mut buf = [0u8; 64];
    let n = silent
        .read(&mut buf)
        .expect("server should close, not leave us waiting");
    assert_eq!(n, 0, "server sent bytes to a client that sent none");
    let dropped = server.log.wait_for("TLS handshake timed out");
    assert!(dropped.contains("peer=127.0.0.1:"), "{dropped}");

    talker.sync();
    plain.sync();
}

/// Receives notify datagrams until one contains `needle`; returns it.
fn await_notify(sock: &UnixDatagram, needle: &str, seen: &mut Vec<String>) -> String {
    let mut buf = vec![0u8; 4096];
    loop {
        let n = sock
            .recv(&mut buf)
            .unwrap_or_else(|e| panic!("no {needle:?} on NOTIFY_SOCKET ({e}); got {seen:?}"));
        let msg = String::from_utf8_lossy(&buf[..n]).into_owned();
        seen.push(msg.clone());
        if msg.lines().any(|l| l == needle) {
            return msg;
        }
    }
}

#[test]
fn readiness_watchdog_reload_and_stopping_reach_the_notify_socket() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("notify.sock");
    let sock = UnixDatagram::bind(&path).unwrap();
    sock.set_read_timeout(Some(GUARD)).unwrap();
    let logs = dir.path().join("logs");
    let mut cmd = TestServer::command(&logs, &[]);
    cmd.env("NOTIFY_SOCKET", &path)
        .env("WATCHDOG_USEC", "200000")
        .env_remove("WATCHDOG_PID");
    let mut server = TestServer::spawn(cmd, &logs);
    let mut seen = Vec::new();

    let ready = await_notify(&sock, "READY=1", &mut seen);
    // READY comes with the bound addresses, and they accept at once.
    let status = ready
        .lines()
        .find_map(|l| l.strip_prefix("STATUS=accepting on "))
        .unwrap_or_else(|| panic!("no status in {ready:?}"));
    let addr: SocketAddr = status.split_whitespace().next().unwrap().parse().unwrap();
    assert_eq!(addr, server.addr);
    let mut c = server.client("ann");
    c.sync();

    await_notify(&sock, "WATCHDOG=1", &mut seen);

    server.signal(libc::SIGHUP);
    let reloading = await_notify(&sock, "RELOADING=1", &mut seen);
    assert!(reloading.contains("MONOTONIC_USEC="), "{reloading}");
    await_notify(&sock, "READY=1", &mut seen);

    server.signal(libc::SIGTERM);
    await_notify(&sock, "STOPPING=1", &mut seen);
    assert!(
        c.read_to_close()
            .contains(&"ERROR :Server shutting down".to_string())
    );
    assert_eq!(server.wait(), Some(0));
}

#[test]
fn sigterm_says_goodbye_to_every_client_and_archives_every_message() {
    let ca = TestCa::new();
    let dir = tempfile::tempdir().unwrap();
    // Every message is sent at once and accepted before the signal: flood control off.
    let mut server = tls_server(&ca, dir.path(), &["--flood-rate", "0"]);
    let tls = server.tls_addr();
    let mut plain = server.client("plain");
    let mut secure = TlsClient::connect_tls(tls, ca.client_config_any());
    secure.register("secure");
    // One that has connected over TLS but not registered yet.
    let mut fresh = TlsClient::connect_tls(tls, ca.client_config_any());
    fresh.send("PING early");
    fresh.expect("PONG");
    plain.send("JOIN #r");
    plain.expect(" 366 ");
    secure.send("JOIN #r");
    secure.expect(" 366 ");
    for i in 0..20 {
        plain.send(&format!("MSG #r plain {i}"));
        secure.send(&format!("PRIVMSG #r :secure {i}"));
    }
    plain.sync();
    secure.sync();

    server.signal(libc::SIGTERM);
    let bye = "ERROR :Server shutting down".to_string();
    assert!(plain.read_to_close().contains(&bye), "{:?}", plain.seen);
    assert!(secure.read_to_close().contains(&bye), "{:?}", secure.seen);
    assert!(fresh.read_to_close().contains(&bye), "{:?}", fresh.seen);
    assert_eq!(server.wait(), Some(0));

    let rows = read_archive(&server.archive("history_r.csv"));
    assert_eq!(rows.len(), 40);
    for i in 0..20 {
        assert!(
            rows.iter()
                .any(|r| r.1 == "plain" && r.2 == format!("plain {i}"))
        );
        assert!(
            rows.iter()
                .any(|r| r.1 == "secure" && r.2 == format!("secure {i}"))
        );
    }
}

#[test]
fn config_file_settings_are_used_and_flags_override_them() {
    let ca = TestCa::new();
    let dir = tempfile::tempdir().unwrap();
    let (cert, key) = ca.leaf().write(dir.path());
    let config = dir.path().join("linechat.toml");
    std::fs::write(
        &config,
        format!(
            "server-name = \"fromfile\"\ntls-listen = [\"127.0.0.1:0\"]\ntls-cert = {:?}\ntls-key = {:?}\nhandshake-timeout = 5\n",
            cert.to_str().unwrap(),
            key.to_str().unwrap()
        ),
    )
    .unwrap();
    let config = config.to_str().unwrap();
    let logs = dir.path().join("logs");

    let server = TestServer::start_in(&logs, &["--config", config]);
    let mut c = TlsClient::connect_tls(server.tls_addr(), ca.client_config_any());
    assert!(c.register("ann").starts_with(":fromfile 001 "));
    drop(server);

    let server = TestServer::start_in(&logs, &["--config", config, "--server-name", "fromflag"]);
    let mut c = TlsClient::connect_tls(server.tls_addr(), ca.client_config_any());
    assert!(c.register("ann").starts_with(":fromflag 001 "));
    drop(server);

    // The file's TLS paths are checked by --check-config too.
    std::fs::remove_file(&key).unwrap();
    let (code, _, stderr) = run_to_exit(&["--config", config, "--check-config"]);
    assert_eq!(code, Some(2), "{stderr}");
    assert!(stderr.contains(key.to_str().unwrap()), "{stderr}");
}

#[test]
fn sockets_passed_by_systemd_are_served_plain_and_tls_by_name() {
    use std::os::fd::AsRawFd;
    use std::os::unix::process::CommandExt;

    let ca = TestCa::new();
    let dir = tempfile::tempdir().unwrap();
    let (cert, key) = ca.leaf().write(dir.path());
    let logs = dir.path().join("logs");
    let plain = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let secure = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let (plain_addr, tls_addr_) = (plain.local_addr().unwrap(), secure.local_addr().unwrap());
    let (a, b) = (plain.as_raw_fd(), secure.as_raw_fd());

    // sh sets LISTEN_PID to its own pid and execs the server, which keeps that pid.
    let mut cmd = Command::new("sh");
    cmd.args(["-c", "export LISTEN_PID=$$; exec \"$0\" \"$@\"", BIN])
        .arg("--log-dir")
        .arg(&logs)
        .arg("--tls-cert")
        .arg(&cert)
        .arg("--tls-key")
        .arg(&key)
        .env("LISTEN_FDS", "2")
        .env("LISTEN_FDNAMES", "plain:tls")
        .env_remove("NOTIFY_SOCKET");
    // SAFETY: only async-signal-safe calls (fcntl, dup2, close) between fork and exec.
    unsafe {
        cmd.pre_exec(move || {
            // Move both out of the way first, in case either already is fd 3 or 4.
            let ha = libc::fcntl(a, libc::F_DUPFD, 100);
            let hb = libc::fcntl(b, libc::F_DUPFD, 100);
            if ha < 0 || hb < 0 || libc::dup2(ha, 3) < 0 || libc::dup2(hb, 4) < 0 {
                return Err(std::io::Error::last_os_error());
            }
            libc::close(ha);
            libc::close(hb);
            Ok(())
        });
    }
    let server = TestServer::spawn(cmd, &logs);
    drop((plain, secure));
    assert_eq!(server.addr, plain_addr);
    assert_eq!(server.tls_addr(), tls_addr_);
    server.log.wait_for("--listen/--tls-listen ignored");

    let mut p = server.client("plain");
    let mut t = TlsClient::connect_tls(tls_addr_, ca.client_config_any());
    t.register("secure");
    t.send("JOIN #a");
    t.expect(" 366 ");
    p.send("JOIN #a");
    p.expect(" 366 ");
    t.expect("plain!plain@127.0.0.1 JOIN #a");
}

#[test]
fn the_shipped_example_config_is_valid_with_every_setting_uncommented() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("dist/linechat.toml");
    let (code, stdout, stderr) =
        run_to_exit(&["--config", path.to_str().unwrap(), "--check-config"]);
    assert_eq!(code, Some(0), "{stdout}{stderr}");

    // Uncommenting any documented setting must not produce an unknown key or a bad value.
    let text = std::fs::read_to_string(&path).unwrap();
    let mut uncommented = String::new();
    let mut count = 0;
    for line in text.lines() {
        match line.strip_prefix('#') {
            Some(setting)
                if (setting.contains(" = ") || setting.starts_with("[["))
                    && !setting.starts_with(' ') =>
            {
                uncommented.push_str(setting);
                count += 1;
            }
            _ => uncommented.push_str(line),
        }
        uncommented.push('\n');
    }
    assert!(
        count >= 10,
        "expected the settings commented out, found {count}"
    );
    let args: linechat::config::Args = toml::from_str(&uncommented)
        .unwrap_or_else(|e| panic!("uncommented example config is invalid: {e}"));
    assert_eq!(args.handshake_timeout, Some(10));
    assert!(args.tls_cert.is_some() && args.tls_key.is_some());
    assert_eq!(args.oper.len(), 1);
    assert!(linechat::password::verify(
        "change me",
        &args.oper[0].password
    ));
}
