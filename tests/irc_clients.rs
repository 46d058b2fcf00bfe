//! Real IRC clients against the real server: irssi driven through tmux (plaintext and
//! TLS, verifying a test CA), weechat-headless through its command fifo.

mod common;
mod tls_support;

use std::process::Command;
use std::time::{Duration, Instant};

use common::{GUARD, TestServer};
use tls_support::{TestCa, start_tls_server};

/// Whether irssi and tmux are here; CI must have them, elsewhere the test is skipped.
fn irssi_available() -> bool {
    common::tools_present(&["irssi", "tmux"], "apt-get install irssi tmux")
}

/// Whether weechat-headless is here; CI must have it, elsewhere the test is skipped.
fn weechat_available() -> bool {
    common::tools_present(
        &["weechat-headless"],
        "apt-get install weechat-headless weechat-plugins",
    )
}

/// A tmux server of our own, so tests never touch a user's sessions.
struct Tmux {
    socket: String,
}

impl Tmux {
    fn run(&self, args: &[&str]) -> String {
        let out = Command::new("tmux")
            .arg("-L")
            .arg(&self.socket)
            .args(args)
            .output()
            .expect("run tmux");
        assert!(
            out.status.success(),
            "tmux {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Runs `command` in a detached 160x40 session named `irc`.
    fn start(&self, command: &str) {
        self.run(&[
            "new-session",
            "-d",
            "-s",
            "irc",
            "-x",
            "160",
            "-y",
            "40",
            command,
        ]);
    }

    fn keys(&self, text: &str) {
        self.run(&["send-keys", "-t", "irc", "-l", text]);
        self.run(&["send-keys", "-t", "irc", "Enter"]);
    }

    /// Polls the screen until it shows `needle` (the screen has no event to await).
    fn wait_for_screen(&self, needle: &str) {
        let start = Instant::now();
        loop {
            let screen = self.run(&["capture-pane", "-t", "irc", "-p"]);
            if screen.contains(needle) {
                return;
            }
            assert!(
                start.elapsed() < GUARD,
                "irssi never showed {needle:?}; screen:\n{screen}"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        let _ = Command::new("tmux")
            .args(["-L", &self.socket, "kill-server"])
            .status();
    }
}

#[test]
fn irssi_registers_joins_talks_and_quits() {
    irssi_session(false);
}

#[test]
fn irssi_over_tls_verifies_the_certificate_and_talks() {
    irssi_session(true);
}

/// ann in irssi and ben on a raw socket share a room: join, messages both ways, quit,
/// and the archive. Over TLS irssi verifies the server's certificate against a test CA.
fn irssi_session(tls: bool) {
    if !irssi_available() {
        return;
    }
    let home = tempfile::tempdir().unwrap();
    let ca = TestCa::new();
    let server = if tls {
        let (cert, key) = ca.leaf().write(home.path());
        start_tls_server(&home.path().join("logs"), &cert, &key, &[])
    } else {
        TestServer::start(&[])
    };
    let mut ben = server.client("ben");
    ben.send("JOIN #r");
    ben.expect(" 366 ");

    let tmux = Tmux {
        socket: format!(
            "linechat-test-{}-{}",
            std::process::id(),
            if tls { "tls" } else { "plain" }
        ),
    };
    let irssi_home = home.path().join("irssi");
    let irssi = if tls {
        format!("irssi --home={} -n ann", irssi_home.display())
    } else {
        format!(
            "irssi --home={} -c 127.0.0.1 -p {} -n ann",
            irssi_home.display(),
            server.addr.port()
        )
    };
    tmux.start(&irssi);
    if tls {
        let ca_file = home.path().join("ca.pem");
        std::fs::write(&ca_file, ca.pem()).unwrap();
        // irssi matches the host name against the certificate's names, not its IP SANs.
        let port = server.tls_addr().port();
        tmux.wait_for_screen("[(status)]");
        tmux.keys(&format!(
            "/connect -tls -tls_cafile {} localhost {port}",
            ca_file.display()
        ));
        server.log.wait_for("transport=\"tls\"");
    }
    server.log.wait_for("registered client=2 nick=ann");

    tmux.keys("/join #r");
    let join = ben.expect(" JOIN ");
    assert!(
        join.starts_with(":ann!") && join.ends_with("@127.0.0.1 JOIN #r"),
        "{join}"
    );
    tmux.keys("hello from irssi, with a comma");
    assert!(
        ben.expect("PRIVMSG")
            .ends_with(" PRIVMSG #r :hello from irssi, with a comma")
    );

    ben.send("PRIVMSG #r :hi ann, from ben");
    tmux.wait_for_screen("hi ann, from ben");

    tmux.keys("/quit see you");
    assert!(ben.expect(" QUIT ").ends_with(" QUIT :Quit: see you"));
    let rows = common::read_archive(&server.archive("history_r.csv"));
    assert_eq!(rows[0].1, "ann");
    assert_eq!(rows[0].2, "hello from irssi, with a comma");
    assert_eq!(rows[1].1, "ben");
}

/// ann runs a room from irssi with the commands irssi users type: she creates it (and is
/// its operator), gives ben operator status, sets a key, kicks and invites him back.
#[test]
fn irssi_runs_a_room_with_op_mode_kick_and_invite() {
    if !irssi_available() {
        return;
    }
    let home = tempfile::tempdir().unwrap();
    let server = TestServer::start(&[]);
    let tmux = Tmux {
        socket: format!("linechat-test-{}-ops", std::process::id()),
    };
    let irssi = format!(
        "irssi --home={} -c 127.0.0.1 -p {} -n ann",
        home.path().join("irssi").display(),
        server.addr.port()
    );
    tmux.start(&irssi);
    server.log.wait_for("nick=ann");
    tmux.keys("/join #ops");
    tmux.wait_for_screen("@ann");

    let mut ben = server.client("ben");
    ben.send("JOIN #ops");
    assert!(ben.expect(" 353 ").ends_with(" = #ops :@ann ben"));
    tmux.wait_for_screen("ben");

    tmux.keys("/op ben");
    assert!(ben.expect(" MODE ").ends_with(" MODE #ops +o ben"));
    tmux.keys("/mode #ops +k sesame");
    assert!(ben.expect(" MODE ").ends_with(" MODE #ops +k sesame"));
    tmux.keys("/kick ben take a break");
    assert!(
        ben.expect(" KICK ")
            .ends_with(" KICK #ops ben :take a break")
    );
    ben.send("JOIN #ops");
    ben.expect(" 475 ben #ops ");
    tmux.keys("/invite ben #ops");
    assert!(ben.expect(" INVITE ").ends_with(" INVITE ben #ops"));
    ben.send("JOIN #ops");
    assert!(ben.expect(" JOIN ").ends_with(" JOIN #ops"));
    tmux.keys("/quit");
    assert!(ben.expect(" QUIT ").starts_with(":ann!"));
}

#[test]
fn weechat_registers_autojoins_talks_and_quits() {
    if !weechat_available() {
        return;
    }
    let server = TestServer::start(&[]);
    let mut ben = server.client("ben");
    ben.send("JOIN #r");
    ben.expect(" 366 ");

    let home = tempfile::tempdir().unwrap();
    let setup = format!(
        "/set logger.file.flush_delay 0; /server add lc 127.0.0.1/{} -notls -nicks=wee -autojoin=#r; /connect lc",
        server.addr.port()
    );
    let mut weechat = Command::new("weechat-headless")
        .arg("--dir")
        .arg(home.path())
        .args(["-r", &setup])
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("start weechat-headless");
    let join = ben.expect(" JOIN ");
    assert!(
        join.starts_with(":wee!") && join.ends_with("@127.0.0.1 JOIN #r"),
        "{join}"
    );

    // weechat's fifo plugin takes commands from a named pipe in its home.
    let fifo = home.path().join(format!("weechat_fifo_{}", weechat.id()));
    let command = |text: &str| {
        let mut pipe = std::fs::OpenOptions::new()
            .write(true)
            .open(&fifo)
            .expect("weechat fifo");
        // `*text` runs in the current buffer; `buffer *text` names one.
        let line = if text.starts_with('/') {
            format!("*{text}\n")
        } else {
            format!("{text}\n")
        };
        std::io::Write::write_all(&mut pipe, line.as_bytes()).unwrap();
    };
    command("/msg -server lc #r hello from weechat, with a comma");
    assert!(
        ben.expect("PRIVMSG")
            .ends_with(" PRIVMSG #r :hello from weechat, with a comma")
    );

    ben.send("PRIVMSG #r :hi wee, from ben");
    let log = home.path().join("logs").join("irc.lc.#r.weechatlog");
    let start = Instant::now();
    // weechat's log file is the only outward sign it displayed the line: poll it.
    while !std::fs::read_to_string(&log)
        .unwrap_or_default()
        .contains("hi wee, from ben")
    {
        assert!(
            start.elapsed() < GUARD,
            "weechat never showed ben's message"
        );
        std::thread::sleep(Duration::from_millis(100));
    }

    // ben created #r, so he is its operator: he ops wee, who uses /mode, /kick, /invite.
    ben.send("MODE #r +o wee");
    ben.expect(" MODE #r +o wee");
    // The fifo runs `irc.lc.#r */command` in the room's buffer, as if typed there.
    command("irc.lc.#r */mode +l 5");
    assert!(ben.expect(" MODE ").ends_with(" MODE #r +l 5"));
    command("irc.lc.#r */kick ben out you go");
    assert!(ben.expect(" KICK ").ends_with(" KICK #r ben :out you go"));
    command("irc.lc.#r */invite ben");
    assert!(ben.expect(" INVITE ").ends_with(" INVITE ben #r"));
    ben.send("JOIN #r");
    assert!(ben.expect(" 353 ").ends_with(" = #r :ben @wee"));

    command("/quit see you");
    assert!(ben.expect(" QUIT ").ends_with(" QUIT :Quit: see you"));
    let _ = weechat.wait();
    let rows = common::read_archive(&server.archive("history_r.csv"));
    assert_eq!(rows[0].1, "wee");
    assert_eq!(rows[1].2, "hi wee, from ben");
}

/// History survives a restart and reaches a real client: ben talks, the server restarts
/// on the same log directory, and weechat joining afterwards shows ben's lines as his own,
/// at their archived times (weechat 3.8 negotiates server-time, so the replay arrives as
/// the original PRIVMSGs with `time` tags, and weechat logs each at that time).
#[test]
fn weechat_shows_the_replayed_history_after_a_restart() {
    if !weechat_available() {
        return;
    }
    let home = tempfile::tempdir().unwrap();
    let logs = home.path().join("logs-server");
    // A row from two hours ago, so the time weechat shows can only be the archived one.
    let earlier = chrono::Utc::now() - chrono::Duration::hours(2);
    let earlier = earlier.format("%Y-%m-%dT%H:%M:%S").to_string();
    std::fs::create_dir_all(&logs).unwrap();
    std::fs::write(
        logs.join("history_r.csv"),
        format!("timestamp,username,message\n{earlier}.000Z,carol,two hours ago\n"),
    )
    .unwrap();
    {
        let server = TestServer::start_in(&logs, &[]);
        let mut ben = server.client("ben");
        ben.send("JOIN #r");
        ben.expect(" 366 ");
        ben.send("PRIVMSG #r :said before the restart");
        ben.send("PRIVMSG #r :\u{1}ACTION waves before the restart\u{1}");
        ben.sync();
    }
    let rows = common::read_archive(&logs.join("history_r.csv"));
    assert_eq!(rows.len(), 3);
    let server = TestServer::start_in(&logs, &[]);
    let weechat_home = home.path().join("weechat");
    let setup = format!(
        "/set logger.file.flush_delay 0; /set logger.file.time_format \"%Y-%m-%dT%H:%M:%S\"; /server add lc 127.0.0.1/{} -notls -nicks=wee -autojoin=#r; /connect lc",
        server.addr.port()
    );
    let mut weechat = Command::new("weechat-headless")
        .arg("--dir")
        .arg(&weechat_home)
        .args(["-r", &setup])
        .env("TZ", "UTC")
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("start weechat-headless");
    let log = weechat_home.join("logs").join("irc.lc.#r.weechatlog");
    let start = Instant::now();
    // The archived time, to the second, as weechat's logger prints it.
    let when = &rows[1].0[..19];
    loop {
        let text = std::fs::read_to_string(&log).unwrap_or_default();
        let said = text.lines().find(|l| l.contains("said before the restart"));
        if let Some(said) = said {
            // `TIME<tab>ben<tab>text`: shown as ben's own line (not a server notice), at
            // the archived time.
            assert_eq!(
                said,
                format!("{when}\tben\tsaid before the restart"),
                "log:\n{text}"
            );
            assert!(
                text.contains(&format!("{earlier}\tcarol\ttwo hours ago")),
                "log:\n{text}"
            );
            if text.contains("ben waves before the restart") {
                break;
            }
        }
        assert!(
            start.elapsed() < GUARD,
            "weechat never showed the replayed history; log:\n{text}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    let _ = weechat.kill();
    let _ = weechat.wait();
}
