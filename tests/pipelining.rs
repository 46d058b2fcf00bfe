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

/// `n` numbered messages to `room` and then the lines `then`, as one write.
fn burst(room: &str, n: usize, then: &[&str]) -> Vec<u8> {
    let messages = (0..n).map(|i| format!("PRIVMSG {room} :m{i}\r\n"));
    let after = then.iter().map(|l| format!("{l}\r\n"));
    messages.chain(after).collect::<String>().into_bytes()
}

/// Reads lines up to the first that `stop` accepts: the lines before it, and it.
fn read_until(c: &mut Client, stop: impl Fn(&str) -> bool) -> (Vec<String>, String) {
    let mut before = Vec::new();
    loop {
        let line = c.next_line().expect("connection open");
        if stop(&line) {
            return (before, line);
        }
        before.push(line);
    }
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
    ann.send_raw(&burst("#p", 300, &["PART #p :done", "PING after"]));

    let (before_part, _) = read_until(&mut ann, |l| l.contains(" PART #p"));
    assert_eq!(numbers(&before_part), (0..300).collect::<Vec<_>>());
    let (after_part, _) = read_until(&mut ann, |l| l.contains(" PONG ") && l.ends_with("after"));
    assert!(numbers(&after_part).is_empty(), "an echo after the PART");

    let (before_part, _) = read_until(&mut ben, |l| l.contains(" PART #p"));
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
    ann.send_raw(&burst("#q", 200, &["QUIT :bye"]));
    let (lines, quit) = read_until(&mut ben, |l| l.contains(" QUIT "));
    assert!(quit.starts_with(":ann!"), "{quit}");
    assert_eq!(numbers(&lines), (0..200).collect::<Vec<_>>());
    ann.read_to_close();
}

#[test]
fn a_private_message_after_a_burst_comes_after_it() {
    let server = TestServer::start(ARGS);
    let [mut ann, mut ben] = server.members("#r", ["ann", "ben"]);
    ann.send_raw(&burst("#r", 100, &["PRIVMSG ben :private"]));
    let (lines, _) = read_until(&mut ben, |l| l.ends_with(" PRIVMSG ben :private"));
    assert_eq!(numbers(&lines), (0..100).collect::<Vec<_>>());
}

#[test]
fn an_error_reply_follows_the_echoes_of_earlier_messages() {
    let server = TestServer::start(ARGS);
    let mut ann = server.cap_client("ann", &["echo-message"]);
    join(&mut ann, "#e");
    ann.send_raw(&burst("#e", 50, &["PRIVMSG #nowhere :lost"]));
    let (lines, error) = read_until(&mut ann, |l| l.contains(" 403 ") || l.contains(" 401 "));
    assert_eq!(error, ":linechat 403 ann #nowhere :No such room");
    assert_eq!(numbers(&lines), (0..50).collect::<Vec<_>>());
}

#[test]
fn a_labeled_message_after_a_burst_gets_its_echo_last_and_labeled() {
    let server = TestServer::start(ARGS);
    let mut ann = server.cap_client("ann", &["echo-message", "labeled-response"]);
    join(&mut ann, "#l");
    ann.send_raw(&burst("#l", 50, &["@label=z1 PRIVMSG #l :labeled"]));
    let (lines, labeled) = read_until(&mut ann, |l| l.contains("label="));
    assert!(labeled.contains("label=z1"), "{labeled}");
    assert!(labeled.ends_with(" PRIVMSG #l :labeled"), "{labeled}");
    assert_eq!(numbers(&lines), (0..50).collect::<Vec<_>>());
}
