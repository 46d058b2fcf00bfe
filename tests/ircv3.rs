//! IRCv3 over real sockets: capability negotiation, message tags, labeled responses,
//! echo-message, TAGMSG, MONITOR, away-notify, extended-join, multi-prefix,
//! userhost-in-names, setname, invite-notify and soju.im/search. Each test follows what
//! the irctest conformance suite checks (parameter order, numerics, FAIL codes) and
//! asserts whole lines, as clients parse them.

mod common;

use common::{Client, TestServer, read_archive, split_tags};

/// Every capability `CAP LS` offers, in its order.
const OFFERED: &str = "away-notify batch cap-notify draft/chathistory chghost echo-message \
     extended-join invite-notify labeled-response message-tags multi-prefix server-time \
     setname soju.im/search userhost-in-names";

/// Registers `nick` with `caps` and joins `room`, reading to the end of the names list.
fn joined(server: &TestServer, nick: &str, caps: &[&str], room: &str) -> Client {
    let mut c = server.cap_client(nick, caps);
    c.send(&format!("JOIN {room}"));
    c.expect(" 366 ");
    c
}

/// The `time` tag of a line, checked to be `YYYY-MM-DDTHH:MM:SS.mmmZ`.
fn time_of(line: &str) -> String {
    let (tags, _) = split_tags(line);
    let time = tags
        .get("time")
        .unwrap_or_else(|| panic!("no time in {line:?}"));
    assert_eq!(time.len(), "2026-11-23T10:15:30.123Z".len(), "{line}");
    chrono::DateTime::parse_from_rfc3339(time).expect("RFC 3339 time");
    assert!(time.ends_with('Z'), "{line}");
    time.clone()
}

/// The `msgid` tag of a line.
fn msgid_of(line: &str) -> String {
    split_tags(line)
        .0
        .get("msgid")
        .unwrap_or_else(|| panic!("no msgid in {line:?}"))
        .clone()
}

/// The msgid the server derives from an archived row (room, time, user, text).
fn archived_msgid(room: &str, row: &(String, String, String)) -> String {
    let millis = chrono::DateTime::parse_from_rfc3339(&row.0)
        .unwrap()
        .timestamp_millis();
    linechat::history::msgid(room, millis, &row.1, &row.2)
}

/// Reads a batch opened by `start` (already read) to its end; returns its reference and
/// its inner lines with the `batch` tag checked and removed.
fn read_batch(c: &mut Client, start: &str) -> (String, Vec<String>) {
    let (_, rest) = split_tags(start);
    let id = rest
        .split(' ')
        .nth(2)
        .and_then(|p| p.strip_prefix('+'))
        .unwrap_or_else(|| panic!("not a batch start: {start:?}"))
        .to_string();
    assert!(
        id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-'),
        "batch id {id:?}"
    );
    let mut inner = Vec::new();
    loop {
        let line = c.next_line().expect("batch end");
        if line == format!(":linechat BATCH -{id}") {
            return (id, inner);
        }
        inner.push(without_tag(&line, "batch", &id));
    }
}

/// `line` without its `key=value` tag, which must be there.
fn without_tag(line: &str, key: &str, value: &str) -> String {
    let (tags, rest) = split_tags(line);
    assert_eq!(tags.get(key).map(String::as_str), Some(value), "{line}");
    let others: Vec<String> = line
        .strip_prefix('@')
        .and_then(|t| t.split_once(' '))
        .map(|(section, _)| {
            section
                .split(';')
                .filter(|i| i.split('=').next() != Some(key))
                .map(str::to_string)
                .collect()
        })
        .unwrap_or_default();
    if others.is_empty() {
        rest.to_string()
    } else {
        format!("@{} {rest}", others.join(";"))
    }
}

// ---------------------------------------------------------------------------------------
// Capability negotiation
// ---------------------------------------------------------------------------------------

#[test]
fn cap_ls_302_lists_every_offered_capability() {
    let server = TestServer::start(&[]);
    let mut c = server.connect();
    c.send("CAP LS 302");
    assert_eq!(
        c.next_line().unwrap(),
        format!(":linechat CAP * LS :{OFFERED}")
    );
}

#[test]
fn bare_cap_ls_is_one_line_without_values_or_continuation() {
    let server = TestServer::start(&[]);
    let mut c = server.connect();
    c.send("CAP LS");
    let ls = c.next_line().unwrap();
    assert_eq!(ls, format!(":linechat CAP * LS :{OFFERED}"));
    assert!(!ls.contains('='), "{ls}");
    // 3.1 clients get no cap-notify.
    c.send("CAP LIST");
    assert_eq!(c.next_line().unwrap(), ":linechat CAP * LIST :");
}

#[test]
fn cap_list_before_anything_is_an_empty_parameter() {
    let server = TestServer::start(&[]);
    let mut c = server.connect();
    c.send("CAP LIST");
    assert_eq!(c.next_line().unwrap(), ":linechat CAP * LIST :");
}

#[test]
fn cap_req_for_an_unknown_capability_is_refused_with_the_exact_list() {
    let server = TestServer::start(&[]);
    let mut c = server.connect();
    c.send("CAP LS 302");
    c.expect(" LS ");
    c.send("CAP REQ :foo qux bar baz qux quux");
    assert_eq!(
        c.next_line().unwrap(),
        ":linechat CAP * NAK :foo qux bar baz qux quux"
    );
    c.send("USER foo foo foo :foo");
    c.send("NICK foo");
    c.send("CAP REQ :foo");
    assert_eq!(c.next_line().unwrap(), ":linechat CAP foo NAK :foo");
    c.send("CAP END");
    assert!(c.next_line().unwrap().starts_with(":linechat 001 foo "));
}

#[test]
fn cap_req_is_acked_or_refused_whole() {
    let server = TestServer::start(&[]);
    let mut c = server.connect();
    c.send("CAP LS 302");
    c.expect(" LS ");
    for req in [
        "foo multi-prefix bar",
        "multi-prefix bar",
        "foo multi-prefix",
    ] {
        c.send(&format!("CAP REQ :{req}"));
        assert_eq!(
            c.next_line().unwrap(),
            format!(":linechat CAP * NAK :{req}")
        );
    }
    // Nothing of the refused lists was enabled (cap-notify comes with LS 302).
    c.send("CAP LIST");
    assert_eq!(c.next_line().unwrap(), ":linechat CAP * LIST :cap-notify");
    c.send("CAP REQ :multi-prefix");
    assert_eq!(c.next_line().unwrap(), ":linechat CAP * ACK :multi-prefix");
    c.send("CAP LIST");
    assert_eq!(
        c.next_line().unwrap(),
        ":linechat CAP * LIST :cap-notify multi-prefix"
    );
}

#[test]
fn registration_waits_for_cap_end_and_cap_end_without_req_registers() {
    let server = TestServer::start(&[]);
    let mut c = server.connect();
    c.send("CAP LS 302");
    c.expect(" LS ");
    c.send("USER foo foo foo :foo");
    c.send("NICK foo");
    assert!(c.sync().iter().all(|l| !l.contains(" 001 ")));
    c.send("CAP END");
    assert_eq!(
        c.next_line().unwrap(),
        ":linechat 001 foo :Welcome to linechat, foo! Type HELP for the commands, JOIN #room to talk."
    );
}

#[test]
fn a_capability_can_be_removed_and_its_tags_stop() {
    let server = TestServer::start(&[]);
    let mut sender = server.client("sender");
    let mut c = server.connect();
    c.send("CAP LS 302");
    c.expect(" LS ");
    c.send("CAP REQ :echo-message server-time");
    c.send("nick bar");
    c.send("user user 0 * realname");
    c.send("CAP END");
    assert_eq!(
        c.next_line().unwrap(),
        ":linechat CAP * ACK :echo-message server-time"
    );
    c.expect(" 001 ");
    c.expect_any(&[" 376 ", " 422 "]);
    c.send("CAP LIST");
    assert_eq!(
        c.next_line().unwrap(),
        ":linechat CAP bar LIST :cap-notify echo-message server-time"
    );

    sender.send("PRIVMSG bar :hi");
    let got = c.expect(" PRIVMSG ");
    time_of(&got);
    assert!(
        got.ends_with(" :sender!sender@127.0.0.1 PRIVMSG bar :hi"),
        "{got}"
    );

    c.send("CAP REQ :-server-time");
    assert_eq!(
        c.next_line().unwrap(),
        ":linechat CAP bar ACK :-server-time"
    );
    c.send("CAP LIST");
    assert_eq!(
        c.next_line().unwrap(),
        ":linechat CAP bar LIST :cap-notify echo-message"
    );
    sender.send("PRIVMSG bar :again");
    assert_eq!(
        c.expect(" PRIVMSG "),
        ":sender!sender@127.0.0.1 PRIVMSG bar :again"
    );
}

#[test]
fn cap_after_registration_changes_caps_without_registering_again() {
    let server = TestServer::start(&[]);
    let mut c = server.client("ann");
    c.send("CAP REQ :server-time");
    assert_eq!(c.next_line().unwrap(), ":linechat CAP ann ACK :server-time");
    c.send("CAP END");
    c.send("CAP FROB");
    assert_eq!(c.sync(), [":linechat 410 ann FROB :Invalid CAP subcommand"]);
}

#[test]
fn a_telnet_user_who_never_sends_cap_gets_no_tags() {
    let server = TestServer::start(&[]);
    let [mut ann, mut ben] = server.members("#r", ["ann", "ben"]);
    ann.send("@+typing=active;label=x PRIVMSG #r :plain");
    assert_eq!(
        ben.expect(" PRIVMSG "),
        ":ann!ann@127.0.0.1 PRIVMSG #r :plain"
    );
    // A label without labeled-response is ignored: no ACK, no tag.
    ann.send("@label=x PING tok");
    assert_eq!(ann.next_line().unwrap(), ":linechat PONG linechat :tok");
}

// ---------------------------------------------------------------------------------------
// message-tags, server-time, msgid
// ---------------------------------------------------------------------------------------

#[test]
fn client_tags_reach_message_tags_clients_only_and_time_reaches_server_time_clients() {
    let server = TestServer::start(&[]);
    let mut alice = joined(&server, "alice", &["message-tags"], "#test");
    let mut bob = joined(&server, "bob", &["message-tags", "echo-message"], "#test");
    let mut carol = joined(&server, "carol", &[], "#test");
    let mut dave = joined(&server, "dave", &["server-time"], "#test");
    for c in [&mut alice, &mut bob, &mut carol] {
        c.sync();
    }

    alice.send("@+baz=bat;fizz=buzz PRIVMSG #test hi");
    let to_bob = bob.expect(" PRIVMSG ");
    let id = msgid_of(&to_bob);
    assert_eq!(
        to_bob,
        format!("@+baz=bat;msgid={id} :alice!alice@127.0.0.1 PRIVMSG #test :hi")
    );
    assert_eq!(
        carol.expect(" PRIVMSG "),
        ":alice!alice@127.0.0.1 PRIVMSG #test :hi"
    );
    let to_dave = dave.expect(" PRIVMSG ");
    let time = time_of(&to_dave);
    assert_eq!(
        to_dave,
        format!("@time={time} :alice!alice@127.0.0.1 PRIVMSG #test :hi")
    );
    assert!(alice.sync().is_empty(), "no echo without echo-message");

    // The time is the archived row's; the msgid is derived from that row.
    let rows = read_archive(&server.archive("history_test.csv"));
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].0, time);
    assert_eq!(archived_msgid("#test", &rows[0]), id);

    bob.send("@+bat=baz;+fizz=buzz PRIVMSG #test :hi yourself");
    let echo = bob.expect(" PRIVMSG ");
    let to_alice = alice.expect(" PRIVMSG ");
    assert_eq!(echo, to_alice);
    let id2 = msgid_of(&echo);
    assert_ne!(id, id2);
    assert_eq!(
        echo,
        format!("@+bat=baz;+fizz=buzz;msgid={id2} :bob!bob@127.0.0.1 PRIVMSG #test :hi yourself")
    );
    assert_eq!(
        carol.expect(" PRIVMSG "),
        ":bob!bob@127.0.0.1 PRIVMSG #test :hi yourself"
    );
}

#[test]
fn tag_values_are_unescaped_and_escaped_again_on_relay() {
    let server = TestServer::start(&[]);
    let mut alice = joined(&server, "alice", &["message-tags"], "#t");
    let mut bob = joined(&server, "bob", &["message-tags"], "#t");
    alice.sync();
    bob.send(r"@+a=semi\:colon\sspace\\back;+b=trail\;+c=l😃l;+d TAGMSG #t");
    let got = alice.expect(" TAGMSG ");
    let (tags, rest) = split_tags(&got);
    assert_eq!(rest, ":bob!bob@127.0.0.1 TAGMSG #t");
    assert_eq!(tags["+a"], r"semi;colon space\back");
    // A trailing lone backslash is dropped; a key without a value stays valueless.
    assert_eq!(tags["+b"], "trail");
    assert_eq!(tags["+c"], "l😃l");
    assert_eq!(tags["+d"], "");
    assert!(
        got.starts_with(r"@+a=semi\:colon\sspace\\back;+b=trail;+c=l😃l;+d;msgid="),
        "{got}"
    );
}

#[test]
fn tagmsg_reaches_message_tags_members_only_and_is_never_archived() {
    let server = TestServer::start(&[]);
    let mut alice = joined(&server, "alice", &["message-tags"], "#test");
    let mut bob = joined(&server, "bob", &["message-tags", "echo-message"], "#test");
    let mut carol = joined(&server, "carol", &[], "#test");
    let mut dave = joined(&server, "dave", &["server-time"], "#test");
    for c in [&mut alice, &mut bob, &mut carol] {
        c.sync();
    }
    bob.send(r"@+buzz=fizz\:buzz;cat=dog;+steel=wootz TAGMSG #test");
    let echo = bob.expect(" TAGMSG ");
    let relay = alice.expect(" TAGMSG ");
    assert_eq!(echo, relay);
    let id = msgid_of(&echo);
    assert_eq!(
        echo,
        format!(r"@+buzz=fizz\:buzz;+steel=wootz;msgid={id} :bob!bob@127.0.0.1 TAGMSG #test")
    );
    assert!(carol.sync().is_empty(), "no TAGMSG without message-tags");
    assert!(dave.sync().is_empty(), "server-time alone is not enough");

    // Typing notifications are not history.
    alice.send("@+typing=active TAGMSG #test");
    bob.expect(" TAGMSG ");
    assert!(
        !server.archive("history_test.csv").exists(),
        "TAGMSG was archived"
    );
    alice.send("PRIVMSG #test :a real line");
    bob.expect(" PRIVMSG ");
    let rows = read_archive(&server.archive("history_test.csv"));
    assert_eq!(
        rows.iter().map(|r| r.2.as_str()).collect::<Vec<_>>(),
        ["a real line"]
    );
}

#[test]
fn tagmsg_to_a_nick_needs_message_tags_and_an_existing_nick() {
    let server = TestServer::start(&[]);
    let mut alice = server.cap_client("alice", &["message-tags"]);
    let mut bob = server.cap_client("bob", &["message-tags"]);
    let mut carol = server.client("carol");
    alice.send("@+typing=active TAGMSG bob");
    let got = bob.expect(" TAGMSG ");
    let id = msgid_of(&got);
    assert_eq!(
        got,
        format!("@+typing=active;msgid={id} :alice!alice@127.0.0.1 TAGMSG bob")
    );
    alice.send("@+typing=active TAGMSG carol");
    assert!(carol.sync().is_empty());
    alice.send("@+typing=active TAGMSG nobody");
    assert_eq!(
        alice.next_line().unwrap(),
        ":linechat 401 alice nobody :No such nick or room"
    );
    alice.send("TAGMSG");
    assert!(
        alice
            .next_line()
            .unwrap()
            .starts_with(":linechat 461 alice TAGMSG ")
    );
}

#[test]
fn tags_past_4094_bytes_are_refused_with_417_and_the_limit_itself_passes() {
    let server = TestServer::start(&[]);
    let mut alice = joined(&server, "alice", &["message-tags", "echo-message"], "#test");
    let mut bob = joined(&server, "bob", &["message-tags"], "#test");
    alice.sync();

    let max_tagmsg = format!("@foo=bar;+baz={} TAGMSG #test", "a".repeat(4081));
    assert_eq!(max_tagmsg.find("TAGMSG"), Some(4096));
    alice.send(&max_tagmsg);
    let echo = alice.next_line().unwrap();
    let relay = bob.next_line().unwrap();
    for line in [&echo, &relay] {
        let (tags, rest) = split_tags(line);
        assert_eq!(rest, ":alice!alice@127.0.0.1 TAGMSG #test");
        assert_eq!(tags["+baz"], "a".repeat(4081));
        assert!(!tags.contains_key("foo"));
    }
    assert_eq!(msgid_of(&echo), msgid_of(&relay));

    let excess_tagmsg = format!("@foo=bar;+baz={} TAGMSG #test", "a".repeat(4082));
    assert_eq!(excess_tagmsg.find("TAGMSG"), Some(4097));
    alice.send(&excess_tagmsg);
    assert!(
        alice
            .next_line()
            .unwrap()
            .starts_with(":linechat 417 alice :"),
        "{:?}",
        alice.seen.last()
    );
    assert!(bob.sync().is_empty());

    let max_privmsg = format!(
        "@foo=bar;+baz={} PRIVMSG #test {}",
        "a".repeat(4081),
        "b".repeat(496)
    );
    assert_eq!(max_privmsg.len(), 4096 + 510);
    alice.send(&max_privmsg);
    let echo = alice.next_line().unwrap();
    let relay = bob.next_line().unwrap();
    for line in [&echo, &relay] {
        let (tags, rest) = split_tags(line);
        assert_eq!(
            rest,
            format!(":alice!alice@127.0.0.1 PRIVMSG #test :{}", "b".repeat(496))
        );
        assert_eq!(tags["+baz"], "a".repeat(4081));
    }
    assert_eq!(msgid_of(&echo), msgid_of(&relay));

    let excess_privmsg = format!(
        "@foo=bar;+baz={} PRIVMSG #test {}",
        "a".repeat(4082),
        "b".repeat(495)
    );
    assert_eq!(excess_privmsg.find("PRIVMSG"), Some(4097));
    assert_eq!(excess_privmsg.len(), 4096 + 510);
    alice.send(&excess_privmsg);
    assert!(
        alice
            .next_line()
            .unwrap()
            .starts_with(":linechat 417 alice :")
    );
    assert!(bob.sync().is_empty());
    let rows = read_archive(&server.archive("history_test.csv"));
    assert_eq!(rows.len(), 1, "only the message within the limits");
}

// ---------------------------------------------------------------------------------------
// labeled-response
// ---------------------------------------------------------------------------------------

const LABELED: [&str; 2] = ["batch", "labeled-response"];

#[test]
fn one_reply_is_labeled_without_a_batch() {
    let server = TestServer::start(&[]);
    let mut c = server.cap_client("bar", &LABELED);
    c.send("@label=98765 PING adhoctestline");
    assert_eq!(
        c.next_line().unwrap(),
        "@label=98765 :linechat PONG linechat :adhoctestline"
    );
}

#[test]
fn no_reply_is_a_labeled_ack() {
    let server = TestServer::start(&[]);
    let mut c = server.cap_client("bar", &LABELED);
    c.send("@label=98765 PONG adhoctestline");
    assert_eq!(c.sync(), ["@label=98765 :linechat ACK"]);
}

#[test]
fn an_unknown_command_gets_a_labeled_421() {
    let server = TestServer::start(&[]);
    let mut c = server.cap_client("bar", &LABELED);
    c.send("@label=deadbeef NONEXISTENT_COMMAND");
    assert_eq!(
        c.sync(),
        [
            "@label=deadbeef :linechat 421 bar NONEXISTENT_COMMAND :Unknown command NONEXISTENT_COMMAND; type HELP for the list"
        ]
    );
}

#[test]
fn a_labeled_join_is_one_labeled_response_batch() {
    let server = TestServer::start(&[]);
    let mut c = server.cap_client(
        "bar",
        &["batch", "labeled-response", "message-tags", "server-time"],
    );
    c.send("@label=12345 JOIN #xyz");
    let start = c.next_line().unwrap();
    let (tags, rest) = split_tags(&start);
    assert_eq!(tags.get("label").map(String::as_str), Some("12345"));
    assert_eq!(tags.len(), 1, "{start}");
    assert!(rest.ends_with(" labeled-response"), "{start}");
    let (_, inner) = read_batch(&mut c, &start);
    assert_eq!(inner.len(), 3, "{inner:?}");
    let time = time_of(&inner[0]);
    assert_eq!(
        inner,
        [
            format!("@time={time} :bar!bar@127.0.0.1 JOIN #xyz"),
            ":linechat 353 bar = #xyz :@bar".to_string(),
            ":linechat 366 bar #xyz :End of /NAMES list".to_string(),
        ]
    );
    assert!(c.sync().is_empty());
}

#[test]
fn a_labeled_privmsg_to_a_room_labels_the_echo_only() {
    let server = TestServer::start(&[]);
    let caps = ["echo-message", "batch", "labeled-response"];
    let mut foo = joined(&server, "foo", &caps, "#test");
    let mut bar = joined(&server, "bar", &caps, "#test");
    foo.sync();
    foo.send("@label=12345;+draft/reply=123;+draft/react=l😃l PRIVMSG #test :hi");
    assert_eq!(
        foo.next_line().unwrap(),
        "@label=12345 :foo!foo@127.0.0.1 PRIVMSG #test :hi"
    );
    assert_eq!(
        bar.next_line().unwrap(),
        ":foo!foo@127.0.0.1 PRIVMSG #test :hi"
    );
    foo.send("@label=12346 NOTICE #test :hi");
    assert_eq!(
        foo.next_line().unwrap(),
        "@label=12346 :foo!foo@127.0.0.1 NOTICE #test :hi"
    );
    assert_eq!(
        bar.next_line().unwrap(),
        ":foo!foo@127.0.0.1 NOTICE #test :hi"
    );
}

#[test]
fn a_labeled_privmsg_to_a_nick_labels_the_echo_only() {
    let server = TestServer::start(&[]);
    let caps = ["echo-message", "batch", "labeled-response"];
    let mut foo = server.cap_client("foo", &caps);
    let mut bar = server.cap_client("bar", &caps);
    for command in ["PRIVMSG", "NOTICE"] {
        foo.send(&format!("@label=12345 {command} bar :hi"));
        assert_eq!(
            foo.next_line().unwrap(),
            format!("@label=12345 :foo!foo@127.0.0.1 {command} bar :hi")
        );
        assert_eq!(
            bar.next_line().unwrap(),
            format!(":foo!foo@127.0.0.1 {command} bar :hi")
        );
    }
}

#[test]
fn a_labeled_message_to_oneself_labels_exactly_one_of_the_two_copies() {
    let server = TestServer::start(&[]);
    let mut foo = server.cap_client(
        "foo",
        &["echo-message", "batch", "labeled-response", "message-tags"],
    );
    for (command, text) in [("PRIVMSG", " :hi"), ("NOTICE", " :hi"), ("TAGMSG", "")] {
        foo.send(&format!(
            "@label=12345;+draft/react=l😃l {command} foo{text}"
        ));
        let got = [foo.next_line().unwrap(), foo.next_line().unwrap()];
        let mut labels = 0;
        for line in &got {
            let (tags, rest) = split_tags(line);
            assert_eq!(rest, format!(":foo!foo@127.0.0.1 {command} foo{text}"));
            assert_eq!(tags["+draft/react"], "l😃l");
            if tags.contains_key("label") {
                assert_eq!(tags["label"], "12345");
                labels += 1;
            }
        }
        assert_eq!(labels, 1, "{got:?}");
        assert_eq!(msgid_of(&got[0]), msgid_of(&got[1]));
        assert!(foo.sync().is_empty());
    }
}

#[test]
fn a_labeled_privmsg_to_several_nicks_is_a_batch_of_echoes() {
    let server = TestServer::start(&[]);
    let caps = ["echo-message", "batch", "labeled-response"];
    let mut foo = server.cap_client("foo", &caps);
    let mut others = ["bar", "carl", "alice"].map(|n| server.cap_client(n, &caps));
    foo.send("@label=12345 PRIVMSG bar,carl,alice :hi");
    let start = foo.next_line().unwrap();
    assert!(
        start.starts_with("@label=12345 :linechat BATCH +"),
        "{start}"
    );
    let (_, inner) = read_batch(&mut foo, &start);
    assert_eq!(
        inner,
        ["bar", "carl", "alice"].map(|n| format!(":foo!foo@127.0.0.1 PRIVMSG {n} :hi"))
    );
    for (c, nick) in others.iter_mut().zip(["bar", "carl", "alice"]) {
        assert_eq!(
            c.next_line().unwrap(),
            format!(":foo!foo@127.0.0.1 PRIVMSG {nick} :hi")
        );
    }
}

#[test]
fn a_labeled_tagmsg_keeps_its_client_tags_and_only_the_sender_sees_the_label() {
    let server = TestServer::start(&[]);
    let caps = ["echo-message", "batch", "labeled-response", "message-tags"];
    let mut foo = joined(&server, "foo", &caps, "#test");
    let mut bar = joined(&server, "bar", &caps, "#test");
    foo.sync();
    foo.send("PRIVMSG bar :hi");
    let msgid = msgid_of(&foo.next_line().unwrap());
    assert_eq!(msgid_of(&bar.next_line().unwrap()), msgid);
    for target in ["bar", "#test"] {
        foo.send(&format!(
            "@label=12345;+draft/reply={msgid};+draft/react=l😃l TAGMSG {target}"
        ));
        let echo = foo.next_line().unwrap();
        let relay = bar.next_line().unwrap();
        let id = msgid_of(&relay);
        assert_eq!(
            relay,
            format!(
                "@+draft/reply={msgid};+draft/react=l😃l;msgid={id} :foo!foo@127.0.0.1 TAGMSG {target}"
            )
        );
        assert_eq!(echo, format!("@label=12345;{}", &relay[1..]));
    }
}

// ---------------------------------------------------------------------------------------
// echo-message
// ---------------------------------------------------------------------------------------

#[test]
fn echo_message_returns_the_archived_line_as_the_room_receives_it() {
    let server = TestServer::start(&[]);
    let mut baz = joined(&server, "baz", &["echo-message", "server-time"], "#chan");
    let mut qux = joined(&server, "qux", &["server-time"], "#chan");
    baz.sync();
    for command in ["PRIVMSG", "NOTICE"] {
        baz.send(&format!("{command} #chan :hello everyone"));
        let echo = baz.next_line().unwrap();
        let relay = qux.next_line().unwrap();
        assert_eq!(echo, relay);
        let time = time_of(&echo);
        assert_eq!(
            echo,
            format!("@time={time} :baz!baz@127.0.0.1 {command} #chan :hello everyone")
        );
    }
    let rows = read_archive(&server.archive("history_chan.csv"));
    assert_eq!(rows.len(), 2);
}

#[test]
fn echo_message_works_with_nobody_else_in_the_room_and_without_server_time() {
    let server = TestServer::start(&[]);
    let mut baz = joined(&server, "baz", &["echo-message"], "#chan");
    baz.send("PRIVMSG #chan :hello everyone");
    assert_eq!(
        baz.sync(),
        [":baz!baz@127.0.0.1 PRIVMSG #chan :hello everyone"]
    );
}

#[test]
fn a_direct_message_echo_carries_the_label_client_tags_and_the_delivered_msgid() {
    let server = TestServer::start(&[]);
    let caps = ["batch", "labeled-response", "echo-message", "message-tags"];
    let mut bar = server.cap_client("bar", &caps);
    let mut qux = server.cap_client("qux", &caps);
    bar.send("@label=xyz;+example-client-tag=example-value PRIVMSG qux :hi there");
    let echo = bar.next_line().unwrap();
    let delivery = qux.next_line().unwrap();
    let id = msgid_of(&delivery);
    assert_eq!(
        delivery,
        format!(
            "@+example-client-tag=example-value;msgid={id} :bar!bar@127.0.0.1 PRIVMSG qux :hi there"
        )
    );
    assert_eq!(echo, format!("@label=xyz;{}", &delivery[1..]));
}

#[test]
fn a_refused_message_is_not_echoed() {
    let server = TestServer::start(&[]);
    let mut op = joined(&server, "op", &[], "#quiet");
    op.send("MODE #quiet +m");
    op.expect(" MODE ");
    let mut baz = joined(&server, "baz", &["echo-message"], "#quiet");
    baz.send("PRIVMSG #quiet :may I?");
    let got = baz.sync();
    assert_eq!(got.len(), 1, "{got:?}");
    assert!(got[0].starts_with(":linechat 404 baz #quiet :"), "{got:?}");
    assert!(op.sync().iter().all(|l| !l.contains("may I?")));
}

// ---------------------------------------------------------------------------------------
// MONITOR
// ---------------------------------------------------------------------------------------

#[test]
fn isupport_advertises_monitor_and_its_limit() {
    let server = TestServer::start(&[]);
    let mut c = server.connect();
    c.send("NICK foo");
    c.send("USER foo 0 * :foo");
    let mut tokens = Vec::new();
    loop {
        let line = c.next_line().unwrap();
        if line.contains(" 005 ") {
            tokens.extend(line.split(' ').map(str::to_string));
        }
        if line.contains(" 376 ") || line.contains(" 422 ") {
            break;
        }
    }
    assert!(tokens.iter().any(|t| t == "MONITOR=100"), "{tokens:?}");
}

#[test]
fn monitor_reports_a_nick_coming_online_and_going_offline() {
    let server = TestServer::start(&[]);
    let mut foo = server.client("foo");
    foo.send("MONITOR + bar");
    assert_eq!(foo.next_line().unwrap(), ":linechat 731 foo :bar");
    let mut bar = server.client("bar");
    assert_eq!(
        foo.next_line().unwrap(),
        ":linechat 730 foo :bar!bar@127.0.0.1"
    );
    bar.send("QUIT :bye");
    bar.read_to_close();
    assert_eq!(foo.next_line().unwrap(), ":linechat 731 foo :bar");
    let _bar = server.client("bar");
    assert_eq!(
        foo.next_line().unwrap(),
        ":linechat 730 foo :bar!bar@127.0.0.1"
    );
}

#[test]
fn monitor_plus_answers_730_for_online_and_731_for_offline_nicks() {
    let server = TestServer::start(&[]);
    let mut foo = server.client("foo");
    let _bar = server.client("bar");
    foo.send("MONITOR + bar,baz");
    assert_eq!(
        foo.sync(),
        [
            ":linechat 730 foo :bar!bar@127.0.0.1",
            ":linechat 731 foo :baz"
        ]
    );
    foo.send("MONITOR S");
    assert_eq!(
        foo.sync(),
        [
            ":linechat 730 foo :bar!bar@127.0.0.1",
            ":linechat 731 foo :baz"
        ]
    );
}

#[test]
fn monitor_minus_is_silent_and_stops_the_notices() {
    let server = TestServer::start(&[]);
    let mut foo = server.client("foo");
    foo.send("MONITOR + bar");
    foo.sync();
    let mut bar = server.client("bar");
    assert_eq!(
        foo.next_line().unwrap(),
        ":linechat 730 foo :bar!bar@127.0.0.1"
    );
    foo.send("MONITOR - bar");
    assert!(foo.sync().is_empty());
    bar.send("QUIT :bye");
    bar.read_to_close();
    let _again = server.client("bar");
    assert!(foo.sync().is_empty());
}

#[test]
fn monitor_takes_nicks_not_masks() {
    let server = TestServer::start(&[]);
    let mut foo = server.client("foo");
    foo.send("MONITOR + *!username@localhost");
    foo.send("MONITOR + *!username@127.0.0.1");
    assert_eq!(
        foo.sync(),
        [
            ":linechat 731 foo :*!username@localhost",
            ":linechat 731 foo :*!username@127.0.0.1"
        ]
    );
    let _bar = server.client("bar");
    assert!(foo.sync().is_empty());
}

#[test]
fn one_watcher_removing_a_nick_leaves_the_other_watching() {
    let server = TestServer::start(&[]);
    let mut foo = server.client("foo");
    let mut bar = server.client("bar");
    foo.send("MONITOR + qux");
    bar.send("MONITOR + qux");
    foo.sync();
    bar.sync();
    bar.send("MONITOR - qux");
    assert!(bar.sync().is_empty());
    let _qux = server.client("qux");
    assert_eq!(foo.sync(), [":linechat 730 foo :qux!qux@127.0.0.1"]);
    assert!(bar.sync().is_empty());
}

#[test]
fn monitor_list_and_clear() {
    let server = TestServer::start(&[]);
    let mut bar = server.client("bar");
    bar.send("MONITOR L");
    assert_eq!(bar.sync(), [":linechat 733 bar :End of MONITOR list"]);
    bar.send("MONITOR + qux");
    bar.send("MONITOR + bazbat,Qux");
    bar.sync();
    bar.send("MONITOR L");
    assert_eq!(
        bar.sync(),
        [
            ":linechat 732 bar :bazbat,qux",
            ":linechat 733 bar :End of MONITOR list"
        ]
    );
    bar.send("MONITOR - qux");
    bar.send("MONITOR L");
    assert_eq!(
        bar.sync(),
        [
            ":linechat 732 bar :bazbat",
            ":linechat 733 bar :End of MONITOR list"
        ]
    );
    bar.send("MONITOR C");
    bar.send("MONITOR L");
    assert_eq!(bar.sync(), [":linechat 733 bar :End of MONITOR list"]);
    let _bazbat = server.client("bazbat");
    assert!(bar.sync().is_empty());
}

#[test]
fn nick_changes_count_as_online_and_offline_but_case_changes_do_not() {
    let server = TestServer::start(&[]);
    let mut bar = server.client("bar");
    bar.send("MONITOR + qux");
    bar.sync();
    let mut baz = server.client("baz");
    assert!(bar.sync().is_empty());
    baz.send("NICK qux");
    baz.expect(" NICK ");
    assert_eq!(bar.sync(), [":linechat 730 bar :qux!baz@127.0.0.1"]);
    baz.send("NICK QUX");
    baz.expect(" NICK ");
    assert!(bar.sync().is_empty());
    baz.send("NICK bazbat");
    baz.expect(" NICK ");
    assert_eq!(bar.sync(), [":linechat 731 bar :QUX"]);
}

#[test]
fn the_monitor_list_is_bounded_with_734() {
    let server = TestServer::start(&[]);
    let mut foo = server.client("foo");
    let first: Vec<String> = (0..60).map(|i| format!("n{i}")).collect();
    let second: Vec<String> = (60..102).map(|i| format!("n{i}")).collect();
    foo.send(&format!("MONITOR + {}", first.join(",")));
    foo.send(&format!("MONITOR + {}", second.join(",")));
    let got = foo.sync();
    assert_eq!(
        got.last().unwrap(),
        ":linechat 734 foo 100 n100,n101 :Monitor list is full."
    );
    let offline: Vec<&str> = got
        .iter()
        .filter_map(|l| l.strip_prefix(":linechat 731 foo :"))
        .flat_map(|l| l.split(','))
        .collect();
    assert_eq!(offline.len(), 100, "{got:?}");
    assert!(got.iter().all(|l| l.len() <= 512));
    foo.send("MONITOR");
    assert!(
        foo.next_line()
            .unwrap()
            .starts_with(":linechat 461 foo MONITOR :")
    );
}

#[test]
fn monitor_replies_stay_within_512_bytes_however_long_the_nicks() {
    let server = TestServer::start(&["--flood-rate", "0"]);
    let nick = |i: usize| format!("n{i:02}{}", "n".repeat(27));
    let online: Vec<Client> = (0..20).map(|i| server.client(&nick(i))).collect();
    let offline: Vec<String> = (20..45).map(nick).collect();
    let mut foo = server.client("foo");
    for chunk in (0..20).map(nick).collect::<Vec<_>>().chunks(10) {
        foo.send(&format!("MONITOR + {}", chunk.join(",")));
    }
    for chunk in offline.chunks(10) {
        foo.send(&format!("MONITOR + {}", chunk.join(",")));
    }
    foo.send("MONITOR S");
    foo.send("MONITOR L");
    let got = foo.sync();
    for line in &got {
        assert!(line.len() + 2 <= 512, "{} bytes: {line}", line.len() + 2);
    }
    let items = |code: &str| -> Vec<String> {
        let prefix = format!(":linechat {code} foo :");
        got.iter()
            .filter_map(|l| l.strip_prefix(&prefix))
            .flat_map(|l| l.split(','))
            .map(str::to_string)
            .collect()
    };
    // Each nick once from `+`, once more from `S`; L lists all 45.
    assert_eq!(items("730").len(), 40);
    let first = format!("{}!", nick(0));
    assert!(
        items("730")
            .iter()
            .any(|m| m.starts_with(&first) && m.ends_with("@127.0.0.1"))
    );
    assert_eq!(items("731").len(), 50);
    assert_eq!(items("732").len(), 45);
    drop(online);
}

// ---------------------------------------------------------------------------------------
// away-notify, extended-join, multi-prefix, userhost-in-names, setname, invite-notify
// ---------------------------------------------------------------------------------------

#[test]
fn away_notify_tells_room_members_who_asked_for_it() {
    let server = TestServer::start(&[]);
    let mut foo = joined(&server, "foo", &["away-notify"], "#chan");
    let mut plain = joined(&server, "plain", &[], "#chan");
    let mut bar = joined(&server, "bar", &[], "#chan");
    foo.sync();
    plain.sync();
    bar.send("AWAY :i'm going away");
    bar.expect(" 306 ");
    assert_eq!(foo.sync(), [":bar!bar@127.0.0.1 AWAY :i'm going away"]);
    bar.send("AWAY");
    bar.expect(" 305 ");
    assert_eq!(foo.sync(), [":bar!bar@127.0.0.1 AWAY"]);
    assert!(plain.sync().is_empty());
}

#[test]
fn away_notify_tells_of_an_away_user_joining() {
    let server = TestServer::start(&[]);
    let mut foo = joined(&server, "foo", &["away-notify"], "#chan");
    let mut plain = joined(&server, "plain", &[], "#chan");
    foo.sync();
    let mut bar = server.client("bar");
    bar.send("AWAY :i'm already away");
    bar.expect(" 306 ");
    bar.send("JOIN #chan");
    bar.expect(" 366 ");
    assert_eq!(
        foo.sync(),
        [
            ":bar!bar@127.0.0.1 JOIN #chan",
            ":bar!bar@127.0.0.1 AWAY :i'm already away"
        ]
    );
    assert_eq!(plain.sync(), [":bar!bar@127.0.0.1 JOIN #chan"]);
}

#[test]
fn extended_join_adds_account_and_realname() {
    let server = TestServer::start(&[]);
    let mut foo = joined(&server, "foo", &["extended-join"], "#chan");
    let mut plain = joined(&server, "plain", &[], "#chan");
    foo.sync();
    let mut bar = server.connect();
    bar.send("NICK bar");
    bar.send("USER b 0 * :Bar Realname");
    bar.expect(" 001 ");
    bar.send("JOIN #chan");
    assert_eq!(bar.expect(" JOIN "), ":bar!b@127.0.0.1 JOIN #chan");
    assert_eq!(foo.sync(), [":bar!b@127.0.0.1 JOIN #chan * :Bar Realname"]);
    assert_eq!(plain.sync(), [":bar!b@127.0.0.1 JOIN #chan"]);
    // The joiner's own echo is extended too when it asked.
    let mut ext = server.cap_client("ext", &["extended-join"]);
    ext.send("JOIN #chan");
    assert_eq!(ext.expect(" JOIN "), ":ext!ext@127.0.0.1 JOIN #chan * :ext");
}

#[test]
fn multi_prefix_shows_every_rank_in_names_and_who() {
    let server = TestServer::start(&[]);
    let mut foo = joined(&server, "foo", &["multi-prefix"], "#chan");
    let mut plain = joined(&server, "plain", &[], "#chan");
    foo.send("MODE #chan +v foo");
    foo.expect(" MODE ");
    foo.send("NAMES #chan");
    assert_eq!(
        foo.sync(),
        [
            ":linechat 353 foo = #chan :@+foo plain",
            ":linechat 366 foo #chan :End of /NAMES list"
        ]
    );
    foo.send("WHO #chan");
    assert_eq!(
        foo.next_line().unwrap(),
        ":linechat 352 foo #chan foo 127.0.0.1 linechat foo H@+ :0 foo"
    );
    plain.sync();
    plain.send("NAMES #chan");
    assert_eq!(
        plain.next_line().unwrap(),
        ":linechat 353 plain = #chan :@foo plain"
    );
    plain.send("WHO #chan");
    assert_eq!(
        plain.expect(" 352 "),
        ":linechat 352 plain #chan foo 127.0.0.1 linechat foo H@ :0 foo"
    );
}

#[test]
fn userhost_in_names_lists_full_masks() {
    let server = TestServer::start(&[]);
    let _foo = joined(&server, "foo", &[], "#chan");
    let mut bar = server.cap_client("bar", &["userhost-in-names", "multi-prefix"]);
    bar.send("JOIN #chan");
    assert_eq!(
        bar.expect(" 353 "),
        ":linechat 353 bar = #chan :@foo!foo@127.0.0.1 bar!bar@127.0.0.1"
    );
}

#[test]
fn setname_is_confirmed_and_seen_by_capable_room_members_only() {
    let server = TestServer::start(&[]);
    let mut foo = joined(&server, "foo", &["setname"], "#chan");
    let mut bar = joined(&server, "bar", &["setname"], "#chan");
    let mut baz = joined(&server, "baz", &[], "#chan");
    foo.sync();
    bar.sync();
    foo.send("SETNAME qux");
    assert_eq!(foo.next_line().unwrap(), ":foo!foo@127.0.0.1 SETNAME :qux");
    assert_eq!(bar.next_line().unwrap(), ":foo!foo@127.0.0.1 SETNAME :qux");
    assert!(baz.sync().is_empty());
    foo.send("WHOIS foo");
    assert_eq!(
        foo.expect(" 311 "),
        ":linechat 311 foo foo foo 127.0.0.1 * :qux"
    );
    foo.sync();
    foo.send("SETNAME :with spaces too");
    assert_eq!(
        foo.next_line().unwrap(),
        ":foo!foo@127.0.0.1 SETNAME :with spaces too"
    );
}

#[test]
fn setname_refuses_an_invalid_realname() {
    let server = TestServer::start(&[]);
    let mut foo = server.cap_client("foo", &["setname"]);
    foo.send(&format!("SETNAME :{}", "x".repeat(151)));
    let fail = foo.next_line().unwrap();
    assert!(
        fail.starts_with(":linechat FAIL SETNAME INVALID_REALNAME :"),
        "{fail}"
    );
    foo.send("SETNAME");
    assert!(
        foo.next_line()
            .unwrap()
            .starts_with(":linechat 461 foo SETNAME :")
    );
    foo.send("WHOIS foo");
    assert_eq!(
        foo.expect(" 311 "),
        ":linechat 311 foo foo foo 127.0.0.1 * :foo"
    );
}

#[test]
fn invite_notify_tells_members_who_could_invite_too() {
    let server = TestServer::start(&[]);
    let mut ann = joined(&server, "ann", &["invite-notify"], "#r");
    let mut ben = joined(&server, "ben", &["invite-notify"], "#r");
    let mut cat = joined(&server, "cat", &[], "#r");
    let mut dan = server.client("dan");
    let mut eve = server.client("eve");
    ann.sync();
    ben.sync();
    ann.send("INVITE dan #r");
    assert_eq!(ann.sync(), [":linechat 341 ann dan #r"]);
    assert_eq!(dan.next_line().unwrap(), ":ann!ann@127.0.0.1 INVITE dan #r");
    assert_eq!(ben.sync(), [":ann!ann@127.0.0.1 INVITE dan #r"]);
    assert!(cat.sync().is_empty());
    // In an invite-only room only operators could invite, so only they are told.
    ann.send("MODE #r +i");
    ann.expect(" MODE ");
    ben.sync();
    cat.sync();
    ann.send("INVITE eve #r");
    ann.expect(" 341 ");
    assert_eq!(eve.next_line().unwrap(), ":ann!ann@127.0.0.1 INVITE eve #r");
    assert!(ben.sync().is_empty());
}

// ---------------------------------------------------------------------------------------
// soju.im/search and SEARCH without a room
// ---------------------------------------------------------------------------------------

const SEARCHER: [&str; 4] = ["batch", "server-time", "message-tags", "soju.im/search"];

#[test]
fn soju_search_answers_in_a_batch_with_the_live_time_and_msgid() {
    let server = TestServer::start(&[]);
    let mut alice = joined(&server, "alice", &SEARCHER, "#dev");
    let mut bob = joined(&server, "bob", &[], "#dev");
    alice.sync();
    bob.send("PRIVMSG #dev :deploy failed");
    let live_fail = alice.expect(" PRIVMSG ");
    bob.send("PRIVMSG #dev :lunch?");
    alice.expect(" PRIVMSG ");
    bob.send("PRIVMSG #dev :deploy fixed");
    let live_fixed = alice.expect(" PRIVMSG ");

    alice.send("SEARCH in=#dev;text=deploy");
    let start = alice.next_line().unwrap();
    assert!(start.ends_with(" soju.im/search"), "{start}");
    let (_, inner) = read_batch(&mut alice, &start);
    let expect = |live: &str, text: &str| {
        format!(
            "@msgid={};time={} :bob PRIVMSG #dev :{text}",
            msgid_of(live),
            time_of(live)
        )
    };
    assert_eq!(
        inner,
        [
            expect(&live_fail, "deploy failed"),
            expect(&live_fixed, "deploy fixed")
        ]
    );

    alice.send("SEARCH in=#dev;text=deploy;limit=1");
    let start = alice.next_line().unwrap();
    let (_, inner) = read_batch(&mut alice, &start);
    assert_eq!(inner, [expect(&live_fixed, "deploy fixed")]);

    // With `after`, the search runs forwards from that time (inclusive): the oldest.
    let after = time_of(&live_fail);
    alice.send(&format!("SEARCH in=#dev;text=deploy;after={after};limit=1"));
    let start = alice.next_line().unwrap();
    let (_, inner) = read_batch(&mut alice, &start);
    assert_eq!(inner, [expect(&live_fail, "deploy failed")]);
    alice.send(&format!("SEARCH in=#dev;text=deploy;before={after}"));
    let start = alice.next_line().unwrap();
    let (_, inner) = read_batch(&mut alice, &start);
    assert_eq!(inner, [expect(&live_fail, "deploy failed")]);
}

#[test]
fn soju_search_by_sender_and_time_without_text() {
    let server = TestServer::start(&[]);
    let mut alice = joined(&server, "alice", &SEARCHER, "#chan");
    let mut jackie = joined(&server, "jackie", &[], "#chan");
    alice.sync();
    jackie.send("PRIVMSG #chan :Be what you want");
    alice.expect(" PRIVMSG ");
    alice.send("PRIVMSG #chan :not jackie");
    jackie.expect(" PRIVMSG ");
    alice.send("SEARCH from=jackie;in=#chan");
    let start = alice.next_line().unwrap();
    let (_, inner) = read_batch(&mut alice, &start);
    assert_eq!(inner.len(), 1, "{inner:?}");
    assert!(inner[0].ends_with(" :jackie PRIVMSG #chan :Be what you want"));
    // Nothing that old: an empty batch, not an error.
    alice.send("SEARCH before=2010-01-01T00:00:00.000Z;in=#chan");
    let start = alice.next_line().unwrap();
    assert!(start.ends_with(" soju.im/search"), "{start}");
    let (_, inner) = read_batch(&mut alice, &start);
    assert!(inner.is_empty(), "{inner:?}");
}

#[test]
fn soju_search_refuses_bad_attributes_and_rooms_one_is_not_in() {
    let server = TestServer::start(&[]);
    let mut alice = joined(&server, "alice", &SEARCHER, "#dev");
    let _bob = joined(&server, "bob", &[], "#private");
    for (req, param) in [
        ("SEARCH in=#dev;after=yesterday;text=x", "after"),
        ("SEARCH in=#dev;text=x;limit=none", "limit"),
        ("SEARCH in=#dev;text=x;colour=blue", "colour"),
        ("SEARCH in=#private;text=x", "in"),
    ] {
        alice.send(req);
        let fail = alice.next_line().unwrap();
        assert!(
            fail.starts_with(&format!(":linechat FAIL SEARCH INVALID_PARAMS {param} :")),
            "{req}: {fail}"
        );
    }
}

#[test]
fn search_words_without_a_room_searches_every_room_one_is_in() {
    let server = TestServer::start(&[]);
    let mut alice = server.client("alice");
    alice.send("JOIN #one,#two");
    alice.expect(" 366 alice #one ");
    alice.expect(" 366 alice #two ");
    let mut bob = server.client("bob");
    bob.send("JOIN #one,#two,#three");
    bob.expect(" 366 bob #three ");
    for room in ["#one", "#two", "#three"] {
        bob.send(&format!("PRIVMSG {room} :hello from {room}"));
    }
    bob.sync();
    alice.sync();
    alice.send("SEARCH hello");
    let mut answer = Vec::new();
    loop {
        let line = alice.next_line().unwrap();
        let end = line.contains("End of SEARCH");
        answer.push(line);
        if end {
            break;
        }
    }
    assert_eq!(answer.len(), 3, "{answer:?}");
    for (line, room) in answer.iter().zip(["#one", "#two"]) {
        let (head, text) = line.split_once(" :[").unwrap();
        assert_eq!(head, format!(":linechat NOTICE {room}"));
        assert!(
            text.ends_with(&format!("] <bob> hello from {room}")),
            "{line}"
        );
    }
    assert_eq!(
        answer[2],
        ":linechat NOTICE alice :End of SEARCH your rooms: 2 matches"
    );
}

// ---------------------------------------------------------------------------------------
// UTF8ONLY
// ---------------------------------------------------------------------------------------

#[test]
fn invalid_utf8_is_refused_naming_its_command_and_keeping_its_label() {
    let server = TestServer::start(&[]);
    let mut foo = joined(
        &server,
        "foo",
        &["batch", "echo-message", "labeled-response"],
        "#qux",
    );
    let mut bar = joined(&server, "bar", &[], "#qux");
    foo.sync();
    foo.send_raw(b"PRIVMSG bar hi\xaa\r\n");
    assert_eq!(
        foo.next_line().unwrap(),
        ":linechat FAIL PRIVMSG INVALID_UTF8 :Message rejected for containing invalid UTF-8"
    );
    foo.send_raw(b"@label=xyz PRIVMSG #qux hi\xaa\r\n");
    assert_eq!(
        foo.next_line().unwrap(),
        "@label=xyz :linechat FAIL PRIVMSG INVALID_UTF8 :Message rejected for containing invalid UTF-8"
    );
    foo.send_raw(b"\xff\xfe\r\n");
    assert_eq!(
        foo.next_line().unwrap(),
        ":linechat FAIL * INVALID_UTF8 :Message rejected for containing invalid UTF-8"
    );
    assert!(bar.sync().is_empty(), "nothing invalid was delivered");
    assert!(!server.archive("history_qux.csv").exists());
}

#[test]
fn search_results_name_the_room_as_it_is_spelled_live() {
    let server = TestServer::start(&[]);
    let mut alice = joined(&server, "alice", &SEARCHER, "#DevOps");
    let mut bob = joined(&server, "bob", &[], "#DevOps");
    alice.sync();
    bob.send("PRIVMSG #DevOps :deploy failed");
    let live = alice.expect(" PRIVMSG ");
    alice.send("SEARCH in=#devops;text=deploy");
    let start = alice.next_line().unwrap();
    let (_, inner) = read_batch(&mut alice, &start);
    assert_eq!(
        inner,
        [format!(
            "@msgid={};time={} :bob PRIVMSG #DevOps :deploy failed",
            msgid_of(&live),
            time_of(&live)
        )]
    );
    bob.send("SEARCH deploy");
    let got = bob.sync();
    assert!(got[0].starts_with(":linechat NOTICE #DevOps :["), "{got:?}");
    bob.send("SEARCH #devops deploy");
    let got = bob.sync();
    assert!(got[0].starts_with(":linechat NOTICE #DevOps :["), "{got:?}");
    assert_eq!(
        got[1],
        ":linechat NOTICE #DevOps :End of SEARCH #DevOps: 1 match"
    );
}

/// Bot mode: `MODE me +B` shows in WHO and WHOIS, and the bot's messages carry the `bot`
/// tag for message-tags clients (and nothing for the others); `-B` takes it away.
#[test]
fn bot_mode_tags_the_bots_messages_and_shows_in_who_and_whois() {
    let server = TestServer::start(&[]);
    let mut botty = joined(&server, "botty", &[], "#r");
    let mut tagged = joined(&server, "tagged", &["message-tags"], "#r");
    let mut plain = joined(&server, "plain", &[], "#r");
    botty.sync();
    botty.send("MODE botty +B");
    assert_eq!(
        botty.expect(" MODE "),
        ":botty!botty@127.0.0.1 MODE botty :+B"
    );
    botty.send("PRIVMSG #r :beep");
    let got = tagged.expect("beep");
    assert!(got.starts_with("@bot;msgid="), "{got}");
    assert_eq!(
        plain.expect("beep"),
        ":botty!botty@127.0.0.1 PRIVMSG #r :beep"
    );
    tagged.send("WHO botty");
    assert!(tagged.expect(" 352 ").contains(" botty HB"));
    tagged.send("WHOIS botty");
    assert_eq!(
        tagged.expect(" 335 "),
        ":linechat 335 tagged botty :is a bot"
    );
    botty.send("MODE botty -B");
    botty.expect(" MODE botty :-B");
    botty.send("PRIVMSG #r :human now");
    let got = tagged.expect("human now");
    assert!(!got.contains("bot;"), "{got}");
}
