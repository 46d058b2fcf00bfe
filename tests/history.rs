//! The archive as history, over real sockets: CHATHISTORY with the exact semantics the
//! irctest conformance suite checks, the replay on JOIN in its batched and readable
//! forms, msgid and time stability across restarts and log rotation, and archive text
//! that other tools wrote never smuggling a line or a control character onto the wire.

mod common;

use std::path::Path;

use common::{Client, TestServer, read_archive, split_tags};

/// What a history client negotiates (irctest's chathistory tests ask for these).
const CAPS: [&str; 6] = [
    "message-tags",
    "server-time",
    "echo-message",
    "batch",
    "labeled-response",
    "draft/chathistory",
];

/// One message as irctest compares them: time, msgid, target and text.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Hist {
    time: String,
    msgid: String,
    target: String,
    text: String,
}

/// A received PRIVMSG as a [`Hist`]; it must carry `time` and `msgid`.
fn hist(line: &str) -> Hist {
    let (tags, rest) = split_tags(line);
    let mut parts = rest.splitn(4, ' ');
    let (_source, command, target, text) = (
        parts.next(),
        parts.next(),
        parts.next().unwrap_or_default(),
        parts.next().unwrap_or_default(),
    );
    assert_eq!(command, Some("PRIVMSG"), "{line}");
    Hist {
        time: tags
            .get("time")
            .cloned()
            .unwrap_or_else(|| panic!("no time: {line}")),
        msgid: tags
            .get("msgid")
            .cloned()
            .unwrap_or_else(|| panic!("no msgid: {line}")),
        target: target.to_string(),
        text: text.strip_prefix(':').unwrap_or(text).to_string(),
    }
}

/// Registers `nick` with `caps` and joins `room`, reading to the end of the names list.
fn joined(server: &TestServer, nick: &str, caps: &[&str], room: &str) -> Client {
    let mut c = server.cap_client(nick, caps);
    c.send(&format!("JOIN {room}"));
    c.expect(" 366 ");
    c
}

/// `bar` joins `#chan` and says ten things; returns it and the echoes of what it said.
fn ten_messages(server: &TestServer) -> (Client, Vec<Hist>) {
    let mut bar = joined(server, "bar", &CAPS, "#chan");
    let mut echoes = Vec::new();
    for i in 0..10 {
        bar.send(&format!("PRIVMSG #chan :this is message {i}"));
        echoes.push(hist(&bar.next_line().unwrap()));
    }
    let ids: std::collections::HashSet<_> = echoes.iter().map(|h| &h.msgid).collect();
    let times: std::collections::HashSet<_> = echoes.iter().map(|h| &h.time).collect();
    assert_eq!((ids.len(), times.len()), (10, 10), "{echoes:?}");
    (bar, echoes)
}

/// Reads a batch to its end given its first line, which must open a batch of `kind`
/// (`chathistory #chan`); returns the inner lines with their `batch` tag checked (the
/// batch's own, or that of a batch nested in it).
fn batch_lines(c: &mut Client, start: &str, kind: &str) -> Vec<String> {
    let id = start
        .strip_prefix(":linechat BATCH +")
        .and_then(|r| r.strip_suffix(&format!(" {kind}")))
        .unwrap_or_else(|| panic!("not a {kind} batch: {start:?}"))
        .to_string();
    let mut open = vec![id.clone()];
    let mut inner = Vec::new();
    loop {
        let line = c.next_line().expect("batch end");
        if line == format!(":linechat BATCH -{id}") {
            return inner;
        }
        let (tags, rest) = split_tags(&line);
        let batch = tags
            .get("batch")
            .unwrap_or_else(|| panic!("no batch: {line}"));
        assert!(open.contains(batch), "{line}");
        if let Some(nested) = rest.strip_prefix(":linechat BATCH +") {
            open.push(nested.split(' ').next().unwrap().to_string());
        }
        inner.push(line);
    }
}

/// Sends a CHATHISTORY request and returns the messages of its `chathistory` batch.
fn chathistory(c: &mut Client, request: &str, target: &str) -> Vec<Hist> {
    c.send(request);
    let start = c.next_line().unwrap();
    batch_lines(c, &start, &format!("chathistory {target}"))
        .iter()
        .map(|l| hist(l))
        .collect()
}

/// The msgid the server derives from an archived row.
fn row_msgid(room: &str, row: &(String, String, String)) -> String {
    linechat::history::msgid(room, millis(&row.0), &row.1, &row.2)
}

fn millis(time: &str) -> i64 {
    chrono::DateTime::parse_from_rfc3339(time)
        .unwrap()
        .timestamp_millis()
}

/// `[2026-11-26 10:15]`: the readable replay's stamp of an archived time.
fn minute(time: &str) -> String {
    chrono::DateTime::parse_from_rfc3339(time)
        .unwrap()
        .format("[%Y-%m-%d %H:%M]")
        .to_string()
}

// ---------------------------------------------------------------------------------------
// CHATHISTORY subcommands, as irctest checks them
// ---------------------------------------------------------------------------------------

#[test]
fn latest_gives_the_newest_messages_and_those_after_a_reference() {
    let server = TestServer::start(&["--flood-rate", "0"]);
    let (mut bar, echo) = ten_messages(&server);
    assert_eq!(
        chathistory(&mut bar, "CHATHISTORY LATEST #chan * 20", "#chan"),
        echo
    );
    assert_eq!(
        chathistory(&mut bar, "CHATHISTORY LATEST #chan * 5", "#chan"),
        echo[5..]
    );
    assert_eq!(
        chathistory(&mut bar, "CHATHISTORY LATEST #chan * 1", "#chan"),
        echo[9..]
    );
    let by_id = format!("CHATHISTORY LATEST #chan msgid={} 20", echo[4].msgid);
    assert_eq!(chathistory(&mut bar, &by_id, "#chan"), echo[5..]);
    let by_time = format!("CHATHISTORY LATEST #chan timestamp={} 20", echo[4].time);
    assert_eq!(chathistory(&mut bar, &by_time, "#chan"), echo[5..]);
}

#[test]
fn before_gives_the_messages_just_before_a_reference() {
    let server = TestServer::start(&["--flood-rate", "0"]);
    let (mut bar, echo) = ten_messages(&server);
    let by_id = format!("CHATHISTORY BEFORE #chan msgid={} 20", echo[6].msgid);
    assert_eq!(chathistory(&mut bar, &by_id, "#chan"), echo[..6]);
    let by_time = format!("CHATHISTORY BEFORE #chan timestamp={} 20", echo[6].time);
    assert_eq!(chathistory(&mut bar, &by_time, "#chan"), echo[..6]);
    let two = format!("CHATHISTORY BEFORE #chan timestamp={} 2", echo[6].time);
    assert_eq!(chathistory(&mut bar, &two, "#chan"), echo[4..6]);
}

#[test]
fn after_gives_the_messages_just_after_a_reference() {
    let server = TestServer::start(&["--flood-rate", "0"]);
    let (mut bar, echo) = ten_messages(&server);
    let by_id = format!("CHATHISTORY AFTER #chan msgid={} 20", echo[3].msgid);
    assert_eq!(chathistory(&mut bar, &by_id, "#chan"), echo[4..]);
    let by_time = format!("CHATHISTORY AFTER #chan timestamp={} 20", echo[3].time);
    assert_eq!(chathistory(&mut bar, &by_time, "#chan"), echo[4..]);
    let three = format!("CHATHISTORY AFTER #chan timestamp={} 3", echo[3].time);
    assert_eq!(chathistory(&mut bar, &three, "#chan"), echo[4..7]);
}

#[test]
fn between_excludes_both_ends_and_counts_the_limit_from_the_first() {
    let server = TestServer::start(&["--flood-rate", "0"]);
    let (mut bar, echo) = ten_messages(&server);
    for kind in ["msgid", "timestamp"] {
        let r = |h: &Hist| {
            if kind == "msgid" {
                format!("msgid={}", h.msgid)
            } else {
                format!("timestamp={}", h.time)
            }
        };
        let (first, last) = (r(&echo[0]), r(&echo[9]));
        let ask = |bar: &mut Client, a: &str, b: &str, n: usize| {
            chathistory(
                bar,
                &format!("CHATHISTORY BETWEEN #chan {a} {b} {n}"),
                "#chan",
            )
        };
        assert_eq!(ask(&mut bar, &first, &last, 20), echo[1..9]);
        assert_eq!(ask(&mut bar, &last, &first, 20), echo[1..9]);
        assert_eq!(ask(&mut bar, &first, &last, 3), echo[1..4]);
        assert_eq!(ask(&mut bar, &last, &first, 3), echo[6..9]);
    }
}

#[test]
fn around_centres_on_the_reference_and_includes_it() {
    let server = TestServer::start(&["--flood-rate", "0"]);
    let (mut bar, echo) = ten_messages(&server);
    let one = format!("CHATHISTORY AROUND #chan msgid={} 1", echo[7].msgid);
    assert_eq!(chathistory(&mut bar, &one, "#chan"), echo[7..8]);
    let three = format!("CHATHISTORY AROUND #chan msgid={} 3", echo[7].msgid);
    assert_eq!(chathistory(&mut bar, &three, "#chan"), echo[6..9]);
    let by_time = format!("CHATHISTORY AROUND #chan timestamp={} 3", echo[7].time);
    assert_eq!(chathistory(&mut bar, &by_time, "#chan"), echo[6..9]);
}

#[test]
fn history_is_the_room_as_everyone_saw_it_live() {
    let server = TestServer::start(&["--flood-rate", "0"]);
    let mut bar = joined(&server, "bar", &CAPS, "#chan");
    let mut watcher = joined(
        &server,
        "watcher",
        &["server-time", "message-tags"],
        "#chan",
    );
    let mut plain = joined(&server, "plain", &[], "#chan");
    bar.sync();
    watcher.send("PRIVMSG #chan :\u{1}ACTION waves\u{1}");
    let waved = bar.next_line().unwrap();
    plain.send("NOTICE #chan :a notice is archived too");
    let live = [waved, bar.next_line().unwrap()];
    bar.send("CHATHISTORY LATEST #chan * 10");
    let start = bar.next_line().unwrap();
    let inner = batch_lines(&mut bar, &start, "chathistory #chan");
    // The archive keeps the nick only, and a NOTICE comes back as a PRIVMSG.
    let tagged = |line: &str, source: &str, text: &str| {
        let (tags, _) = split_tags(line);
        format!(
            "@batch={};msgid={};time={} :{source} PRIVMSG #chan :{text}",
            split_tags(&inner[0]).0["batch"],
            tags["msgid"],
            tags["time"]
        )
    };
    assert_eq!(
        inner,
        [
            tagged(&live[0], "watcher", "\u{1}ACTION waves\u{1}"),
            tagged(&live[1], "plain", "a notice is archived too"),
        ]
    );
    let rows = read_archive(&server.archive("history_chan.csv"));
    for (row, line) in rows.iter().zip(&live) {
        assert_eq!(split_tags(line).0["time"], row.0);
        assert_eq!(split_tags(line).0["msgid"], row_msgid("#chan", row));
    }
}

#[test]
fn targets_lists_ones_rooms_by_their_latest_message() {
    let tmp = tempfile::tempdir().unwrap();
    let times = [
        "2026-01-01T00:00:01.000Z",
        "2026-01-01T00:00:02.000Z",
        "2026-01-01T00:00:03.000Z",
    ];
    for (room, time) in ["b", "a", "c"].iter().zip(times) {
        write_csv(
            &tmp.path().join(format!("history_{room}.csv")),
            &[
                ("2025-12-31T00:00:00.000Z".to_string(), "old", "earlier"),
                (time.to_string(), "alice", "latest"),
            ],
        );
    }
    write_csv(
        &tmp.path().join("history_elsewhere.csv"),
        &[(
            "2026-01-01T00:00:02.500Z".to_string(),
            "alice",
            "not bar's room",
        )],
    );
    let server = TestServer::start_in(tmp.path(), &[]);
    let mut bar = server.cap_client("bar", &CAPS);
    bar.send("JOIN #a,#b,#c");
    bar.expect(" 366 bar #c ");
    let targets = |bar: &mut Client, from: &str, to: &str, n: usize| {
        bar.send(&format!(
            "CHATHISTORY TARGETS timestamp={from} timestamp={to} {n}"
        ));
        let start = bar.next_line().unwrap();
        batch_lines(bar, &start, "draft/chathistory-targets")
            .iter()
            .map(|l| split_tags(l).1.to_string())
            .collect::<Vec<_>>()
    };
    let line = |room: &str, t: &str| format!(":linechat CHATHISTORY TARGETS {room} {t}");
    let (early, late) = ("2000-01-01T00:00:00.000Z", "2199-01-01T00:00:00.000Z");
    let all = [
        line("#b", times[0]),
        line("#a", times[1]),
        line("#c", times[2]),
    ];
    assert_eq!(targets(&mut bar, early, late, 10), all);
    assert_eq!(targets(&mut bar, late, early, 10), all);
    // The limit counts from the first timestamp, as BETWEEN's does.
    assert_eq!(targets(&mut bar, early, late, 2), all[..2]);
    assert_eq!(targets(&mut bar, late, early, 2), all[1..]);
    // Both bounds are exclusive.
    assert_eq!(targets(&mut bar, times[0], times[2], 10), all[1..2]);
}

#[test]
fn a_room_one_is_not_in_or_that_does_not_exist_is_an_invalid_target() {
    let server = TestServer::start(&[]);
    let mut bar = server.cap_client("bar", &CAPS);
    let mut qux = joined(&server, "qux", &[], "#real_channel");
    qux.send("PRIVMSG #real_channel :private to members");
    qux.sync();
    for room in ["#nonexistent_channel", "#real_channel", "nonexistent"] {
        bar.send(&format!("CHATHISTORY LATEST {room} * 10"));
        assert_eq!(
            bar.next_line().unwrap(),
            format!(
                ":linechat FAIL CHATHISTORY INVALID_TARGET LATEST {room} :Messages could not be retrieved: no such room, or you are not in it"
            )
        );
    }
}

#[test]
fn a_nick_has_no_archived_history_so_its_batch_is_empty() {
    let server = TestServer::start(&[]);
    let mut bar = server.cap_client("bar", &CAPS);
    let mut qux = server.cap_client("qux", &CAPS);
    qux.send("PRIVMSG bar :a private word");
    bar.expect(" PRIVMSG ");
    qux.next_line().unwrap();
    assert!(chathistory(&mut bar, "CHATHISTORY LATEST qux * 10", "qux").is_empty());
    assert!(chathistory(&mut bar, "CHATHISTORY LATEST QUX * 10", "QUX").is_empty());
}

#[test]
fn malformed_requests_get_the_standard_replies() {
    let server = TestServer::start(&[]);
    let mut bar = joined(&server, "bar", &CAPS, "#chan");
    let cases = [
        ("CHATHISTORY", "NEED_MORE_PARAMS *"),
        ("CHATHISTORY LATEST #chan *", "NEED_MORE_PARAMS LATEST"),
        ("CHATHISTORY BETWEEN #chan * * 5", "INVALID_PARAMS BETWEEN"),
        ("CHATHISTORY FROB #chan * 5", "UNKNOWN_COMMAND FROB"),
        ("CHATHISTORY BEFORE #chan * 5", "INVALID_PARAMS BEFORE"),
        ("CHATHISTORY AFTER #chan garbage 5", "INVALID_PARAMS AFTER"),
        (
            "CHATHISTORY AFTER #chan timestamp=yesterday 5",
            "INVALID_PARAMS AFTER",
        ),
        ("CHATHISTORY LATEST #chan * 0", "INVALID_PARAMS LATEST"),
        ("CHATHISTORY LATEST #chan * many", "INVALID_PARAMS LATEST"),
    ];
    for (request, reply) in cases {
        bar.send(request);
        let got = bar.next_line().unwrap();
        assert!(
            got.starts_with(&format!(":linechat FAIL CHATHISTORY {reply} :")),
            "{request}: {got}"
        );
    }
    // An unknown msgid finds nothing rather than failing.
    assert!(chathistory(&mut bar, "CHATHISTORY AFTER #chan msgid=nope 5", "#chan").is_empty());
}

#[test]
fn the_limit_is_capped_by_isupport_chathistory() {
    let server = TestServer::start(&["--flood-rate", "0", "--chathistory-max", "3"]);
    let mut c = server.connect();
    c.send("NICK n");
    c.send("USER n 0 * :n");
    let isupport: Vec<String> = (0..)
        .map(|_| c.next_line().unwrap())
        .take_while(|l| !l.contains(" 376 ") && !l.contains(" 422 "))
        .filter(|l| l.contains(" 005 "))
        .collect();
    assert!(
        isupport
            .iter()
            .any(|l| l.contains(" CHATHISTORY=3 ") && l.contains(" MSGREFTYPES=msgid,timestamp ")),
        "{isupport:?}"
    );
    let (mut bar, echo) = ten_messages(&server);
    assert_eq!(
        chathistory(&mut bar, "CHATHISTORY LATEST #chan * 100", "#chan"),
        echo[7..]
    );
}

#[test]
fn without_batch_the_history_comes_as_plain_tagged_lines() {
    let server = TestServer::start(&[]);
    let mut bar = joined(
        &server,
        "bar",
        &["draft/chathistory", "server-time", "message-tags"],
        "#chan",
    );
    bar.send("PRIVMSG #chan :one");
    bar.send("PRIVMSG #chan :two");
    bar.sync();
    bar.send("CHATHISTORY LATEST #chan * 10");
    let got = bar.sync();
    assert_eq!(got.len(), 2, "{got:?}");
    let texts: Vec<String> = got.iter().map(|l| hist(l).text).collect();
    assert_eq!(texts, ["one", "two"]);
}

#[test]
fn a_labeled_chathistory_is_its_batch_with_the_label() {
    let server = TestServer::start(&[]);
    let mut bar = joined(&server, "bar", &CAPS, "#chan");
    bar.send("PRIVMSG #chan :only one");
    let echo = hist(&bar.next_line().unwrap());
    // One batch answers the command: it carries the label itself (as ergo does), with
    // no labeled-response batch around it.
    bar.send("@label=h1 CHATHISTORY LATEST #chan * 10");
    let start = bar.next_line().unwrap();
    let (tags, rest) = split_tags(&start);
    assert_eq!(tags.len(), 1, "{start}");
    assert_eq!(tags["label"], "h1");
    let got: Vec<Hist> = batch_lines(&mut bar, rest, "chathistory #chan")
        .iter()
        .map(|l| hist(l))
        .collect();
    assert_eq!(got, [echo]);
    // Nothing to return is still one (empty) labeled batch.
    bar.send("@label=h2 CHATHISTORY BEFORE #chan timestamp=2000-01-01T00:00:00.000Z 10");
    let start = bar.next_line().unwrap();
    let (tags, rest) = split_tags(&start);
    assert_eq!(tags["label"], "h2");
    assert!(batch_lines(&mut bar, rest, "chathistory #chan").is_empty());
    // Two rooms joined at once are two answers: wrapped in a labeled-response batch.
    bar.send("@label=h3 JOIN #x,#y");
    let start = bar.next_line().unwrap();
    let (tags, rest) = split_tags(&start);
    assert_eq!(tags["label"], "h3");
    let inner = batch_lines(&mut bar, rest, "labeled-response");
    assert_eq!(inner.len(), 6, "{inner:?}");
}

// ---------------------------------------------------------------------------------------
// Replay on JOIN
// ---------------------------------------------------------------------------------------

/// `alice` (a telnet user) says hello and waves in `#r`; returns her, still in the room,
/// and the archived rows.
fn alice_talks(server: &TestServer) -> (Client, Vec<(String, String, String)>) {
    let mut alice = server.client("alice");
    alice.send("JOIN #r");
    alice.expect(" 366 ");
    alice.send("PRIVMSG #r :hello");
    alice.send("PRIVMSG #r :\u{1}ACTION waves\u{1}");
    alice.sync();
    (alice, read_archive(&server.archive("history_r.csv")))
}

#[test]
fn a_batch_and_server_time_client_gets_the_replay_as_a_chathistory_batch() {
    let server = TestServer::start(&[]);
    let (_alice, rows) = alice_talks(&server);
    let mut bob = server.cap_client("bob", &["batch", "server-time", "message-tags"]);
    bob.send("JOIN #r");
    assert_eq!(
        bob.next_line().unwrap().split_once(' ').unwrap().1,
        ":bob!bob@127.0.0.1 JOIN #r"
    );
    assert_eq!(
        bob.next_line().unwrap(),
        ":linechat 353 bob = #r :@alice bob"
    );
    assert_eq!(
        bob.next_line().unwrap(),
        ":linechat 366 bob #r :End of /NAMES list"
    );
    let start = bob.next_line().unwrap();
    let inner = batch_lines(&mut bob, &start, "chathistory #r");
    let id = split_tags(&inner[0]).0["batch"].clone();
    assert_eq!(
        inner,
        [
            format!(
                "@batch={id};msgid={};time={} :alice PRIVMSG #r :hello",
                row_msgid("#r", &rows[0]),
                rows[0].0
            ),
            format!(
                "@batch={id};msgid={};time={} :alice PRIVMSG #r :\u{1}ACTION waves\u{1}",
                row_msgid("#r", &rows[1]),
                rows[1].0
            ),
        ]
    );
    assert!(bob.sync().is_empty());
}

#[test]
fn a_plain_client_gets_the_replay_as_marked_timestamped_notices() {
    let server = TestServer::start(&[]);
    let (_alice, rows) = alice_talks(&server);
    for caps in [&[][..], &["batch"][..], &["message-tags"][..]] {
        let mut bob = server.cap_client("bob", caps);
        bob.send("JOIN #r");
        bob.expect(" 366 ");
        let got: Vec<String> = bob
            .sync()
            .iter()
            .map(|l| split_tags(l).1.to_string())
            .collect();
        assert_eq!(
            got,
            [
                ":linechat NOTICE #r :*** Replaying the last 2 messages of #r (times in UTC)"
                    .to_string(),
                format!(":linechat NOTICE #r :{} <alice> hello", minute(&rows[0].0)),
                format!(":linechat NOTICE #r :{} * alice waves", minute(&rows[1].0)),
                ":linechat NOTICE #r :*** End of replay".to_string(),
            ],
            "caps {caps:?}"
        );
        bob.send("QUIT");
        bob.read_to_close();
    }
}

#[test]
fn a_server_time_client_without_batch_gets_the_original_lines_with_their_times() {
    let server = TestServer::start(&[]);
    let (_alice, rows) = alice_talks(&server);
    let mut bob = server.cap_client("bob", &["server-time"]);
    bob.send("JOIN #r");
    bob.expect(" 366 ");
    assert_eq!(
        bob.sync(),
        [
            format!("@time={} :alice PRIVMSG #r :hello", rows[0].0),
            format!(
                "@time={} :alice PRIVMSG #r :\u{1}ACTION waves\u{1}",
                rows[1].0
            ),
        ]
    );
}

#[test]
fn a_telnet_user_sees_the_replay_too() {
    let server = TestServer::start(&[]);
    let (_alice, rows) = alice_talks(&server);
    let mut carol = server.connect();
    carol.send_raw(b"NICK carol\nJOIN r\n");
    carol.expect(" 366 ");
    assert_eq!(
        carol.sync(),
        [
            ":linechat NOTICE #r :*** Replaying the last 2 messages of #r (times in UTC)"
                .to_string(),
            format!(":linechat NOTICE #r :{} <alice> hello", minute(&rows[0].0)),
            format!(":linechat NOTICE #r :{} * alice waves", minute(&rows[1].0)),
            ":linechat NOTICE #r :*** End of replay".to_string(),
        ]
    );
}

#[test]
fn a_labeled_join_nests_the_replay_batch_in_its_labeled_response() {
    let server = TestServer::start(&[]);
    let (_alice, rows) = alice_talks(&server);
    let mut bob = server.cap_client("bob", &["batch", "server-time", "labeled-response"]);
    bob.send("@label=j JOIN #r");
    let start = bob.next_line().unwrap();
    let (tags, rest) = split_tags(&start);
    assert_eq!(tags["label"], "j");
    let inner = batch_lines(&mut bob, rest, "labeled-response");
    let outer = split_tags(&inner[0]).0["batch"].clone();
    let plain: Vec<String> = inner
        .iter()
        .map(|l| {
            let (tags, rest) = split_tags(l);
            let time = tags
                .get("time")
                .map_or(String::new(), |t| format!(" time={t}"));
            let batch = if tags["batch"] == outer {
                "outer"
            } else {
                "inner"
            };
            format!("[{batch}{time}] {rest}")
        })
        .collect();
    let join_time = split_tags(&inner[0]).0["time"].clone();
    let nested = split_tags(&inner[3])
        .1
        .split(' ')
        .nth(2)
        .and_then(|r| r.strip_prefix('+'))
        .unwrap()
        .to_string();
    assert_eq!(
        plain,
        [
            format!("[outer time={join_time}] :bob!bob@127.0.0.1 JOIN #r"),
            "[outer] :linechat 353 bob = #r :@alice bob".to_string(),
            "[outer] :linechat 366 bob #r :End of /NAMES list".to_string(),
            format!("[outer] :linechat BATCH +{nested} chathistory #r"),
            format!("[inner time={}] :alice PRIVMSG #r :hello", rows[0].0),
            format!(
                "[inner time={}] :alice PRIVMSG #r :\u{1}ACTION waves\u{1}",
                rows[1].0
            ),
            format!("[outer] :linechat BATCH -{nested}"),
        ]
    );
    assert_eq!(split_tags(&inner[4]).0["batch"], nested);
}

#[test]
fn history_works_for_a_room_whose_name_is_not_ascii() {
    let server = TestServer::start(&[]);
    let mut ann = server.client("ann");
    ann.send("JOIN #開発");
    ann.expect(" 366 ");
    ann.send("PRIVMSG #開発 :明日デプロイします");
    ann.sync();
    let rows = read_archive(&server.archive("history_%E9%96%8B%E7%99%BA.csv"));
    let mut bar = joined(&server, "bar", &CAPS, "#開発");
    let got = chathistory(&mut bar, "CHATHISTORY LATEST #開発 * 10", "#開発");
    assert_eq!(
        got,
        [Hist {
            time: rows[0].0.clone(),
            msgid: row_msgid("#開発", &rows[0]),
            target: "#開発".into(),
            text: "明日デプロイします".into(),
        }]
    );
    let mut plain = server.client("plain");
    plain.send("JOIN #開発");
    plain.expect(" 366 ");
    assert_eq!(
        plain.sync()[1],
        format!(
            ":linechat NOTICE #開発 :{} <ann> 明日デプロイします",
            minute(&rows[0].0)
        )
    );
}

#[test]
fn a_draft_chathistory_client_gets_no_replay() {
    let server = TestServer::start(&[]);
    let _alice = alice_talks(&server);
    let mut bob = server.cap_client("bob", &CAPS);
    bob.send("JOIN #r");
    bob.expect(" 366 ");
    assert!(bob.sync().is_empty());
}

#[test]
fn the_replay_is_bounded_by_its_settings() {
    let tmp = tempfile::tempdir().unwrap();
    let server = TestServer::start_in(tmp.path(), &["--history-replay-lines", "1"]);
    let (_alice, rows) = alice_talks(&server);
    let mut bob = server.client("bob");
    bob.send("JOIN #r");
    bob.expect(" 366 ");
    assert_eq!(
        bob.sync(),
        [
            ":linechat NOTICE #r :*** Replaying the last 1 message of #r (times in UTC)"
                .to_string(),
            format!(":linechat NOTICE #r :{} * alice waves", minute(&rows[1].0)),
            ":linechat NOTICE #r :*** End of replay".to_string(),
        ]
    );
    stop(server);
    let off = TestServer::start_in(tmp.path(), &["--history-replay-lines", "0"]);
    let mut carol = off.client("carol");
    carol.send("JOIN #r");
    carol.expect(" 366 ");
    assert!(carol.sync().is_empty());
}

#[test]
fn nothing_older_than_the_replay_window_is_replayed() {
    let tmp = tempfile::tempdir().unwrap();
    let old = chrono::Utc::now() - chrono::Duration::hours(30);
    write_csv(
        &tmp.path().join("history_r.csv"),
        &[(
            old.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string(),
            "alice",
            "yesterday's news",
        )],
    );
    let server = TestServer::start_in(tmp.path(), &[]);
    let mut bob = server.client("bob");
    bob.send("JOIN #r");
    bob.expect(" 366 ");
    assert!(bob.sync().is_empty());
    // It is still history: CHATHISTORY reaches it.
    let mut carl = joined(&server, "carl", &CAPS, "#r");
    let got = chathistory(&mut carl, "CHATHISTORY LATEST #r * 10", "#r");
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].text, "yesterday's news");
}

// ---------------------------------------------------------------------------------------
// Restarts and rotation
// ---------------------------------------------------------------------------------------

/// Stops a server the way systemd does, waiting for it to exit.
fn stop(mut server: TestServer) {
    server.signal(libc::SIGTERM);
    server.wait();
}

#[test]
fn history_msgids_and_times_survive_a_restart() {
    let tmp = tempfile::tempdir().unwrap();
    let server = TestServer::start_in(tmp.path(), &[]);
    let mut bar = joined(&server, "bar", &CAPS, "#r");
    bar.send("PRIVMSG #r :before the restart");
    let live = hist(&bar.next_line().unwrap());
    bar.send("PRIVMSG #r :\u{1}ACTION reboots\u{1}");
    let live_action = hist(&bar.next_line().unwrap());
    drop(bar);
    stop(server);

    let server = TestServer::start_in(tmp.path(), &[]);
    let mut bob = server.cap_client("bob", &["batch", "server-time", "message-tags"]);
    bob.send("JOIN #r");
    bob.expect(" 366 ");
    let start = bob.next_line().unwrap();
    let replayed: Vec<Hist> = batch_lines(&mut bob, &start, "chathistory #r")
        .iter()
        .map(|l| hist(l))
        .collect();
    assert_eq!(replayed, [live.clone(), live_action.clone()]);

    let mut plain = server.client("plain");
    plain.send("JOIN #r");
    plain.expect(" 366 ");
    assert_eq!(
        plain.sync()[1..3],
        [
            format!(
                ":linechat NOTICE #r :{} <bar> before the restart",
                minute(&live.time)
            ),
            format!(
                ":linechat NOTICE #r :{} * bar reboots",
                minute(&live_action.time)
            ),
        ]
    );

    let mut carl = joined(&server, "carl", &CAPS, "#r");
    assert_eq!(
        chathistory(&mut carl, "CHATHISTORY LATEST #r * 10", "#r"),
        [live.clone(), live_action]
    );
    let by_old_id = format!("CHATHISTORY AROUND #r msgid={} 1", live.msgid);
    assert_eq!(chathistory(&mut carl, &by_old_id, "#r"), [live]);
}

#[test]
fn history_msgids_survive_log_rotation_and_span_the_rotated_file() {
    let server = TestServer::start(&["--flood-rate", "0"]);
    let mut bar = joined(&server, "bar", &CAPS, "#r");
    let mut said = Vec::new();
    for i in 0..3 {
        bar.send(&format!("PRIVMSG #r :old {i}"));
        said.push(hist(&bar.next_line().unwrap()));
    }
    let before = chathistory(&mut bar, "CHATHISTORY LATEST #r * 10", "#r");
    assert_eq!(before, said);

    std::fs::rename(
        server.archive("history_r.csv"),
        server.archive("history_r.csv-20261125"),
    )
    .unwrap();
    server.signal(libc::SIGHUP);
    server.log.wait_for("archive files reopened");
    for i in 0..2 {
        bar.send(&format!("PRIVMSG #r :new {i}"));
        said.push(hist(&bar.next_line().unwrap()));
    }
    assert_eq!(read_archive(&server.archive("history_r.csv")).len(), 2);
    assert_eq!(
        read_archive(&server.archive("history_r.csv-20261125")).len(),
        3
    );

    assert_eq!(
        chathistory(&mut bar, "CHATHISTORY LATEST #r * 10", "#r"),
        said
    );
    let before_new = format!("CHATHISTORY BEFORE #r msgid={} 10", said[3].msgid);
    assert_eq!(chathistory(&mut bar, &before_new, "#r"), said[..3]);
    let after_old = format!("CHATHISTORY AFTER #r msgid={} 10", said[2].msgid);
    assert_eq!(chathistory(&mut bar, &after_old, "#r"), said[3..]);
    let across = format!(
        "CHATHISTORY BETWEEN #r msgid={} msgid={} 10",
        said[1].msgid, said[4].msgid
    );
    assert_eq!(chathistory(&mut bar, &across, "#r"), said[2..4]);

    // A joiner's replay spans both files as well.
    let mut plain = server.client("plain");
    plain.send("JOIN #r");
    plain.expect(" 366 ");
    let replay = plain.sync();
    assert_eq!(replay.len(), 7, "{replay:?}");
    assert!(replay[1].ends_with("<bar> old 0") && replay[5].ends_with("<bar> new 1"));
}

#[test]
fn tagmsg_is_neither_history_nor_replayed() {
    let server = TestServer::start(&[]);
    let mut bar = joined(&server, "bar", &CAPS, "#r");
    bar.send("@+typing=active TAGMSG #r");
    bar.send("PRIVMSG #r :typed it");
    let got = bar.sync();
    assert_eq!(got.len(), 2, "{got:?}");
    let said = hist(&got[1]);
    assert_eq!(
        chathistory(&mut bar, "CHATHISTORY LATEST #r * 10", "#r"),
        [said]
    );
    let rows = read_archive(&server.archive("history_r.csv"));
    assert_eq!(rows.len(), 1);
    let mut plain = server.client("plain");
    plain.send("JOIN #r");
    plain.expect(" 366 ");
    let replay = plain.sync();
    assert_eq!(replay.len(), 3, "{replay:?}");
    assert!(replay[1].ends_with("<bar> typed it"));
}

// ---------------------------------------------------------------------------------------
// Archive text written by other tools
// ---------------------------------------------------------------------------------------

/// Writes an archive CSV with a header and the rows given.
fn write_csv(path: &Path, rows: &[(String, &str, &str)]) {
    let mut w = csv::Writer::from_path(path).unwrap();
    w.write_record(["timestamp", "username", "message"])
        .unwrap();
    for (time, user, text) in rows {
        w.write_record([time.as_str(), user, text]).unwrap();
    }
    w.flush().unwrap();
}

/// A log directory holding `#ops` rows that try to break out of their line, written an
/// hour ago by some other tool.
fn hostile_archive() -> (tempfile::TempDir, Vec<String>) {
    let tmp = tempfile::tempdir().unwrap();
    let base = chrono::Utc::now() - chrono::Duration::hours(1);
    let at = |s: i64| {
        (base + chrono::Duration::seconds(s))
            .format("%Y-%m-%dT%H:%M:%S%.3fZ")
            .to_string()
    };
    let times: Vec<String> = (0..4).map(at).collect();
    write_csv(
        &tmp.path().join("history_ops.csv"),
        &[
            (
                times[0].clone(),
                "mallory",
                "hi\r\n:mallory!m@evil PRIVMSG #ops :pwned",
            ),
            (
                times[1].clone(),
                "eve\u{1b}[2J",
                "\u{1b}[31mred\u{1b}[0m \0nul \u{7}bell \u{85}next\u{9f} tab\there",
            ),
            (times[2].clone(), "alice", "\u{1}ACTION waves\u{1}"),
            (
                times[3].clone(),
                "mal lory!x@y",
                "\u{1}ACTION \u{1}evil\r\nQUIT\u{1}",
            ),
        ],
    );
    (tmp, times)
}

/// Checks a received line holds no control character but an ACTION's own `\x01`s.
fn assert_clean(line: &str) {
    let body = line
        .strip_suffix("\u{1}")
        .and_then(|l| l.rsplit_once(" :\u{1}ACTION "))
        .map_or(line.to_string(), |(a, b)| format!("{a} :ACTION {b}"));
    assert!(
        !body.chars().any(char::is_control),
        "control character on the wire: {line:?}"
    );
    assert!(
        !line.starts_with(":mallory!m@evil"),
        "injected line: {line:?}"
    );
}

/// The hostile rows as their PRIVMSG source and text must come out.
const SAFE: [(&str, &str); 4] = [
    ("mallory", "hi  :mallory!m@evil PRIVMSG #ops :pwned"),
    ("eve[2J", "[31mred[0m nul bell next tab here"),
    ("alice", "\u{1}ACTION waves\u{1}"),
    ("mal_lory_x_y", "\u{1}ACTION evil  QUIT\u{1}"),
];

#[test]
fn hostile_archive_rows_replay_as_one_clean_line_each() {
    let (tmp, times) = hostile_archive();
    let server = TestServer::start_in(tmp.path(), &[]);
    let mut bob = server.cap_client("bob", &["batch", "server-time"]);
    bob.send("JOIN #ops");
    bob.expect(" 366 ");
    let start = bob.next_line().unwrap();
    let inner = batch_lines(&mut bob, &start, "chathistory #ops");
    let expected: Vec<String> = SAFE
        .iter()
        .zip(&times)
        .map(|((nick, text), t)| format!("time={t} :{nick} PRIVMSG #ops :{text}"))
        .collect();
    let got: Vec<String> = inner
        .iter()
        .map(|l| l.split_once(';').unwrap().1.to_string())
        .collect();
    assert_eq!(got, expected);
    for line in bob.seen.iter() {
        assert_clean(line);
    }

    let mut carol = server.client("carol");
    carol.send("JOIN #ops");
    carol.expect(" 366 ");
    let replay = carol.sync();
    assert_eq!(
        replay,
        [
            ":linechat NOTICE #ops :*** Replaying the last 4 messages of #ops (times in UTC)"
                .to_string(),
            format!(
                ":linechat NOTICE #ops :{} <mallory> hi  :mallory!m@evil PRIVMSG #ops :pwned",
                minute(&times[0])
            ),
            format!(
                ":linechat NOTICE #ops :{} <eve[2J> [31mred[0m nul bell next tab here",
                minute(&times[1])
            ),
            format!(":linechat NOTICE #ops :{} * alice waves", minute(&times[2])),
            format!(
                ":linechat NOTICE #ops :{} * mal_lory_x_y evil  QUIT",
                minute(&times[3])
            ),
            ":linechat NOTICE #ops :*** End of replay".to_string(),
        ]
    );
    for line in carol.seen.iter() {
        assert_clean(line);
    }
}

#[test]
fn hostile_archive_rows_come_out_of_chathistory_clean() {
    let (tmp, times) = hostile_archive();
    let server = TestServer::start_in(tmp.path(), &[]);
    let mut bob = joined(&server, "bob", &CAPS, "#ops");
    let got = chathistory(&mut bob, "CHATHISTORY LATEST #ops * 10", "#ops");
    let expected: Vec<(String, String)> = SAFE
        .iter()
        .zip(&times)
        .map(|((_, text), t)| (t.clone(), text.to_string()))
        .collect();
    assert_eq!(
        got.iter()
            .map(|h| (h.time.clone(), h.text.clone()))
            .collect::<Vec<_>>(),
        expected
    );
    for line in bob.seen.iter() {
        assert_clean(line);
    }
}

#[test]
fn hostile_archive_rows_come_out_of_search_clean() {
    let (tmp, times) = hostile_archive();
    let server = TestServer::start_in(tmp.path(), &[]);
    let mut bob = joined(
        &server,
        "bob",
        &[
            "batch",
            "server-time",
            "soju.im/search",
            "draft/chathistory",
        ],
        "#ops",
    );
    bob.send("SEARCH in=#ops;text=pwned");
    let start = bob.next_line().unwrap();
    let inner = batch_lines(&mut bob, &start, "soju.im/search");
    assert_eq!(inner.len(), 1, "{inner:?}");
    assert!(
        inner[0].ends_with(&format!(
            "time={} :mallory PRIVMSG #ops :hi  :mallory!m@evil PRIVMSG #ops :pwned",
            times[0]
        )),
        "{inner:?}"
    );
    bob.send("SEARCH #ops bell");
    assert_eq!(
        bob.sync(),
        [
            format!(
                ":linechat NOTICE #ops :{} <eve[2J> [31mred[0m nul bell next tab here",
                minute(&times[1])
            ),
            ":linechat NOTICE #ops :End of SEARCH #ops: 1 match".to_string(),
        ]
    );
    bob.send("SEARCH #ops waves");
    assert_eq!(
        bob.sync(),
        [
            format!(":linechat NOTICE #ops :{} * alice waves", minute(&times[2])),
            ":linechat NOTICE #ops :End of SEARCH #ops: 1 match".to_string(),
        ]
    );
    for line in bob.seen.iter() {
        assert_clean(line);
    }
}

/// A big answer to one's own command never costs the connection (soft sendq): with the
/// smallest sendq (4 KiB), 1000 archived lines of ~120 bytes come back whole, and the
/// client goes on talking afterwards. Before the soft sendq this was `SendQ exceeded`.
#[test]
fn a_big_history_answer_never_exceeds_the_askers_sendq() {
    let tmp = tempfile::tempdir().unwrap();
    let logs = tmp.path().join("logs");
    std::fs::create_dir_all(&logs).unwrap();
    let mut csv = String::from("timestamp,username,message\n");
    for i in 0..1000 {
        csv.push_str(&format!(
            "2026-11-20T10:{:02}:{:02}.{:03}Z,old,line {i} of a long and fairly wordy archived conversation about nothing\n",
            i / 600,
            (i / 10) % 60,
            i % 10
        ));
    }
    std::fs::write(logs.join("history_big.csv"), csv).unwrap();
    let server = TestServer::start_in(&logs, &["--sendq-bytes", "4096"]);
    let mut c = joined(&server, "reader", &CAPS, "#big");
    let got = chathistory(&mut c, "CHATHISTORY LATEST #big * 1000", "#big");
    assert_eq!(got.len(), 1000);
    assert_eq!(
        got[999].text,
        "line 999 of a long and fairly wordy archived conversation about nothing"
    );
    c.send("PRIVMSG #big :still here");
    assert!(c.next_line().unwrap().ends_with("PRIVMSG #big :still here"));
}
