//! Real IRC clients against the real server: irssi driven through tmux.

mod common;

use std::process::Command;
use std::time::{Duration, Instant};

use common::{GUARD, TestServer};

fn have(tool: &str) -> bool {
    Command::new("sh")
        .args(["-c", &format!("command -v {tool}")])
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false)
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
    if !(have("irssi") && have("tmux")) {
        assert!(
            std::env::var_os("CI").is_none(),
            "CI must install irssi and tmux"
        );
        eprintln!("skipping: irssi or tmux is not installed");
        return;
    }
    let server = TestServer::start(&[]);
    let mut ben = server.client("ben");
    ben.send("JOIN #r");
    ben.expect(" 366 ");

    let home = tempfile::tempdir().unwrap();
    let tmux = Tmux {
        socket: format!("linechat-test-{}", std::process::id()),
    };
    let port = server.addr.port().to_string();
    let irssi = format!(
        "irssi --home={} -c 127.0.0.1 -p {port} -n ann",
        home.path().display()
    );
    tmux.run(&[
        "new-session",
        "-d",
        "-s",
        "irc",
        "-x",
        "160",
        "-y",
        "40",
        &irssi,
    ]);
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
