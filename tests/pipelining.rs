//! A client's room messages are pipelined (the session reads its next line while the
//! previous message is being archived); these tests check, over real TCP, that nobody can
//! tell: a burst arrives whole and in order, and whatever the client does next (PART, QUIT,
//! a private message, an error, a labeled line, PING) is seen after every message it sent
//! before.

mod common;

use common::{Client, TestServer, read_archive};

/// Flood control off, so a burst is read as fast as it arrives.
const ARGS: &[&str] = &["--flood-rate", "0"];

/// Joins `c` to `room`, reading to the end of the names list.
fn join(c: &mut Client, room: &str) {
    c.send(&format!("JOIN {room}"));
    c.expect(" 366 ");
}

/// `n` numbered messages to `room`, as one write.
fn burst(room: &str, n: usize) -> Vec<u8> {
    (0..n)
        .map(|i| format!("PRIVMSG {room} :m{i}\r\n"))
        .collect::<String>()
        .into_bytes()
}

/// The numbers of the `m<i>` messages among `lines`, in arrival order.
fn numbers(lines: &[String]) -> Vec<usize> {
    lines
        .iter()
        .filter(|l| l.contains(" PRIVMSG "))
        .filter_map(|l| l.rsplit(" :m").next()?.parse().ok())
        .collect()
}

#[test]
fn a_burst_arrives_whole_and_in_order_before_the_senders_next_command() {
    let server = TestServer::start(ARGS);
    let mut ann = server.cap_client("ann", &["echo-message"]);
    join(&mut ann, "#p");
    let [mut ben] = server.members("#p", ["ben"]);
    ann.expect(":ben!");
    let mut out = burst("#p", 300);
    out.extend_from_slice(b"PART #p :done\r\nPING after\r\n");
    ann.send_raw(&out);

    let mut seen = Vec::new();
    loop {
        let line = ann.next_line().expect("open");
        let pong = line.contains(" PONG ") && line.ends_with("after");
        seen.push(line);
        if pong {
            break;
        }
    }
    let part = seen.iter().position(|l| l.contains(" PART #p")).unwrap();
    assert_eq!(numbers(&seen[..part]), (0..300).collect::<Vec<_>>());
    assert!(numbers(&seen[part..]).is_empty(), "an echo after the PART");

    let before_part = {
        let mut lines = Vec::new();
        loop {
            let line = ben.next_line().expect("open");
            if line.contains(" PART #p") {
                break lines;
            }
            lines.push(line);
        }
    };
    assert_eq!(numbers(&before_part), (0..300).collect::<Vec<_>>());
    let rows = read_archive(&server.archive("history_p.csv"));
    let texts: Vec<&str> = rows.iter().map(|(_, _, m)| m.as_str()).collect();
    let expected: Vec<String> = (0..300).map(|i| format!("m{i}")).collect();
    assert_eq!(texts, expected);
}

#[test]
fn messages_sent_just_before_quit_reach_the_room_before_the_quit() {
    let server = TestServer::start(ARGS);
    let [mut ann, mut ben] = server.members("#q", ["ann", "ben"]);
    let mut out = burst("#q", 200);
    out.extend_from_slice(b"QUIT :bye\r\n");
    ann.send_raw(&out);
    let mut lines = Vec::new();
    loop {
        let line = ben.next_line().expect("open");
        if line.contains(" QUIT ") {
            assert!(line.starts_with(":ann!"), "{line}");
            break;
        }
        lines.push(line);
    }
    assert_eq!(numbers(&lines), (0..200).collect::<Vec<_>>());
    ann.read_to_close();
}

#[test]
fn a_private_message_after_a_burst_comes_after_it() {
    let server = TestServer::start(ARGS);
    let [mut ann, mut ben] = server.members("#r", ["ann", "ben"]);
    let mut out = burst("#r", 100);
    out.extend_from_slice(b"PRIVMSG ben :private\r\n");
    ann.send_raw(&out);
    let mut lines = Vec::new();
    loop {
        let line = ben.next_line().expect("open");
        if line.ends_with(" PRIVMSG ben :private") {
            break;
        }
        lines.push(line);
    }
    assert_eq!(numbers(&lines), (0..100).collect::<Vec<_>>());
}

#[test]
fn an_error_reply_follows_the_echoes_of_earlier_messages() {
    let server = TestServer::start(ARGS);
    let mut ann = server.cap_client("ann", &["echo-message"]);
    join(&mut ann, "#e");
    let mut out = burst("#e", 50);
    out.extend_from_slice(b"PRIVMSG #nowhere :lost\r\n");
    ann.send_raw(&out);
    let mut lines = Vec::new();
    let error = loop {
        let line = ann.next_line().expect("open");
        if line.contains(" 403 ") || line.contains(" 401 ") {
            break line;
        }
        lines.push(line);
    };
    assert_eq!(error, ":linechat 403 ann #nowhere :No such room");
    assert_eq!(numbers(&lines), (0..50).collect::<Vec<_>>());
}

#[test]
fn a_labeled_message_after_a_burst_gets_its_echo_last_and_labeled() {
    let server = TestServer::start(ARGS);
    let mut ann = server.cap_client("ann", &["echo-message", "labeled-response"]);
    join(&mut ann, "#l");
    let mut out = burst("#l", 50);
    out.extend_from_slice(b"@label=z1 PRIVMSG #l :labeled\r\n");
    ann.send_raw(&out);
    let mut lines = Vec::new();
    let labeled = loop {
        let line = ann.next_line().expect("open");
        if line.contains("label=") {
            break line;
        }
        lines.push(line);
    };
    assert!(labeled.contains("label=z1"), "{labeled}");
    assert!(labeled.ends_with(" PRIVMSG #l :labeled"), "{labeled}");
    assert_eq!(numbers(&lines), (0..50).collect::<Vec<_>>());
}
