//! The server core end to end: real process, real sockets, real files.

mod common;

use common::{Client, TestServer, read_archive};

const TS_PATTERN_LEN: usize = "2026-11-23T10:15:30.123Z".len();

fn assert_timestamp(ts: &str) {
    assert_eq!(ts.len(), TS_PATTERN_LEN, "timestamp {ts:?}");
    assert!(
        ts.ends_with('Z') && ts.as_bytes()[10] == b'T',
        "timestamp {ts:?}"
    );
    chrono::DateTime::parse_from_rfc3339(ts).expect("RFC 3339");
}

#[test]
fn netcat_session_from_the_readme_is_seen_by_a_telnet_user_and_archived() {
    let server = TestServer::start(&[]);
    // bob: a telnet user who sends only NICK, then JOIN without '#'.
    let mut bob = server.connect();
    bob.send("NICK bob");
    bob.send("JOIN general");
    bob.expect(" 001 bob ");
    assert_eq!(bob.expect(" JOIN "), ":bob!bob@127.0.0.1 JOIN #general");
    bob.expect(" 366 bob #general ");

    // alice: the piped netcat session, all lines at once.
    let mut alice = server.connect();
    alice.send_raw(b"NICK alice\nJOIN #general\nMSG #general hello, world\nQUIT bye\n");
    let alice_lines = alice.read_to_close();
    assert!(
        alice_lines.iter().any(|l| l.contains(" 001 alice ")),
        "{alice_lines:?}"
    );
    assert!(
        alice_lines
            .iter()
            .any(|l| l == ":linechat 353 alice = #general :@bob alice")
    );
    assert_eq!(
        alice_lines.last().unwrap(),
        "ERROR :Closing link: alice (Quit: bye)"
    );

    assert_eq!(bob.expect("JOIN"), ":alice!alice@127.0.0.1 JOIN #general");
    assert_eq!(
        bob.next_line().unwrap(),
        ":alice!alice@127.0.0.1 PRIVMSG #general :hello, world"
    );
    assert_eq!(
        bob.next_line().unwrap(),
        ":alice!alice@127.0.0.1 QUIT :Quit: bye"
    );

    let rows = read_archive(&server.archive("history_general.csv"));
    assert_eq!(rows.len(), 1);
    assert_timestamp(&rows[0].0);
    assert_eq!(
        (rows[0].1.as_str(), rows[0].2.as_str()),
        ("alice", "hello, world")
    );
    let raw = std::fs::read_to_string(server.archive("history_general.csv")).unwrap();
    assert!(raw.starts_with("timestamp,username,message\n"));
    assert!(raw.ends_with(",alice,\"hello, world\"\n"), "{raw}");
}

#[test]
fn irc_client_registration_waits_for_cap_end() {
    let server = TestServer::start(&[]);
    let mut c = server.connect();
    c.send("CAP LS 302");
    let ls = c.next_line().unwrap();
    assert!(
        ls.starts_with(":linechat CAP * LS :") && ls.contains("server-time"),
        "{ls}"
    );
    c.send("NICK carol");
    c.send("USER carol 0 * :Carol C");
    let before = c.sync();
    assert!(
        before.iter().all(|l| !l.contains(" 001 ")),
        "registered before CAP END: {before:?}"
    );
    c.send("CAP END");
    assert_eq!(
        c.expect(" 001 "),
        ":linechat 001 carol :Welcome to linechat, carol! Type HELP for the commands, JOIN #room to talk."
    );
    let isupport = c.expect(" 005 ");
    assert!(isupport.contains("CASEMAPPING=ascii") && isupport.contains("CHANTYPES=#"));
    c.expect(" 422 ");
    c.send("WHOIS carol");
    assert_eq!(
        c.expect(" 311 "),
        ":linechat 311 carol carol carol 127.0.0.1 * :Carol C"
    );
}

#[test]
fn commands_before_nick_are_refused_with_451() {
    let server = TestServer::start(&[]);
    let mut c = server.connect();
    c.send("JOIN #general");
    assert!(
        c.expect(" 451 ")
            .starts_with(":linechat 451 * :You have not registered")
    );
    c.send("NICK late");
    c.send("LIST");
    c.expect(" 001 late ");
    c.expect(" 323 ");
}

#[test]
fn rooms_are_kept_apart_and_senders_do_not_get_their_own_messages() {
    let server = TestServer::start(&[]);
    let mut a = server.client("ann");
    let mut b = server.client("ben");
    let mut c = server.client("cat");
    a.send("JOIN #one");
    a.expect(" 366 ");
    b.send("JOIN #ONE,#two");
    // The room keeps its creator's spelling.
    b.expect(" 366 ben #one ");
    b.expect(" 366 ben #two");
    c.send("JOIN two");
    c.expect(" 366 ");
    a.expect("ben!ben@127.0.0.1 JOIN #one");
    b.expect("cat!cat@127.0.0.1 JOIN #two");

    a.send("PRIVMSG #one :only for one");
    assert_eq!(
        b.expect("PRIVMSG"),
        ":ann!ann@127.0.0.1 PRIVMSG #one :only for one"
    );
    // cat shares no room with ann: nothing but the PONG arrives.
    assert_eq!(c.sync(), Vec::<String>::new());
    assert_eq!(
        a.sync(),
        Vec::<String>::new(),
        "sender must not get an echo"
    );

    c.send("MSG #two for two");
    assert_eq!(
        b.expect("PRIVMSG"),
        ":cat!cat@127.0.0.1 PRIVMSG #two :for two"
    );
    assert_eq!(a.sync(), Vec::<String>::new());

    assert_eq!(read_archive(&server.archive("history_one.csv")).len(), 1);
    assert_eq!(
        read_archive(&server.archive("history_two.csv"))[0].2,
        "for two"
    );
}

#[test]
fn private_messages_reach_one_nick_and_are_not_archived() {
    let server = TestServer::start(&[]);
    let mut a = server.client("ann");
    let mut b = server.client("ben");
    a.send("MSG ben psst, a secret");
    assert_eq!(
        b.expect("PRIVMSG"),
        ":ann!ann@127.0.0.1 PRIVMSG ben :psst, a secret"
    );
    a.send("NOTICE BEN case-insensitive");
    assert_eq!(
        b.expect("NOTICE"),
        ":ann!ann@127.0.0.1 NOTICE ben :case-insensitive"
    );
    a.send("MSG nobody hello");
    assert_eq!(
        a.expect(" 401 "),
        ":linechat 401 ann nobody :No such nick or room"
    );
    b.send("AWAY :at lunch");
    b.expect(" 306 ");
    a.send("PRIVMSG ben :you there?");
    assert_eq!(a.expect(" 301 "), ":linechat 301 ann ben :at lunch");
    // `.index` is the search index the server keeps beside the archives, `.lock` its lock.
    let files: Vec<_> = std::fs::read_dir(&server.log_dir)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .filter(|n| n != ".index" && n != ".lock")
        .collect();
    assert!(
        files.is_empty(),
        "private messages were archived: {files:?}"
    );
}

#[test]
fn nick_changes_are_announced_and_checked() {
    let server = TestServer::start(&[]);
    let [mut a, mut b] = server.members("#r", ["ann", "ben"]);
    a.send("NICK annie");
    assert_eq!(a.expect(" NICK "), ":ann!ann@127.0.0.1 NICK :annie");
    assert_eq!(b.expect(" NICK "), ":ann!ann@127.0.0.1 NICK :annie");
    b.send("NICK Annie");
    assert_eq!(
        b.expect(" 433 "),
        ":linechat 433 ben Annie :Nickname is already in use; pick another with NICK <nick>"
    );
    b.send("NICK 9lives");
    assert!(
        b.expect(" 432 ")
            .starts_with(":linechat 432 ben 9lives :Erroneous nickname")
    );
    b.send("NICK");
    b.expect(" 431 ");
    // The old nick is free again.
    let mut c = server.client("ann");
    c.send("WHOIS annie");
    c.expect(" 311 ann annie ");
}

#[test]
fn topic_names_and_list() {
    let server = TestServer::start(&[]);
    let mut a = server.client("ann");
    let mut b = server.client("ben");
    a.send("JOIN #r");
    a.expect(" 366 ");
    a.send("TOPIC #r");
    assert_eq!(a.expect(" 331 "), ":linechat 331 ann #r :No topic is set");
    a.send("TOPIC #r release on friday, 10:00");
    assert_eq!(
        a.expect(" TOPIC "),
        ":ann!ann@127.0.0.1 TOPIC #r :release on friday, 10:00"
    );
    b.send("TOPIC #r :hijack");
    assert_eq!(
        b.expect(" 442 "),
        ":linechat 442 ben #r :You're not in that room"
    );
    b.send("JOIN #r");
    assert_eq!(
        b.expect(" 332 "),
        ":linechat 332 ben #r :release on friday, 10:00"
    );
    assert!(b.expect(" 333 ").starts_with(":linechat 333 ben #r ann "));
    assert_eq!(b.expect(" 353 "), ":linechat 353 ben = #r :@ann ben");
    b.send("NAMES r");
    assert_eq!(b.expect(" 353 "), ":linechat 353 ben = #r :@ann ben");
    b.expect(" 366 ben #r ");
    b.send("JOIN #empty-soon");
    b.expect(" 366 ben #empty-soon");
    b.send("LIST");
    assert_eq!(b.expect(" 321 "), ":linechat 321 ben Room Users :Name");
    assert_eq!(b.next_line().unwrap(), ":linechat 322 ben #empty-soon 1 :");
    assert_eq!(
        b.next_line().unwrap(),
        ":linechat 322 ben #r 2 :release on friday, 10:00"
    );
    assert_eq!(b.next_line().unwrap(), ":linechat 323 ben :End of /LIST");
    b.send("PART #empty-soon :bye room");
    assert_eq!(
        b.expect(" PART "),
        ":ben!ben@127.0.0.1 PART #empty-soon :bye room"
    );
    b.send("LIST");
    b.expect(" 321 ");
    assert_eq!(
        b.next_line().unwrap(),
        ":linechat 322 ben #r 2 :release on friday, 10:00"
    );
    b.expect(" 323 ");
    b.send("PART #empty-soon");
    assert_eq!(
        b.expect(" 403 "),
        ":linechat 403 ben #empty-soon :No such room"
    );
    a.send("TOPIC #r :");
    assert_eq!(b.expect(" TOPIC "), ":ann!ann@127.0.0.1 TOPIC #r :");
}

#[test]
fn quit_and_part_are_seen_by_the_room() {
    let server = TestServer::start(&[]);
    let mut a = server.client("ann");
    let mut b = server.client("ben");
    for c in [&mut a, &mut b] {
        c.send("JOIN #r,#s");
        c.expect(" 366 ");
        c.expect(" 366 ");
    }
    a.expect("ben!ben@127.0.0.1 JOIN #s");
    b.send("QUIT :gone fishing");
    assert_eq!(
        b.read_to_close().last().unwrap(),
        "ERROR :Closing link: ben (Quit: gone fishing)"
    );
    // One QUIT even though two rooms were shared.
    assert_eq!(
        a.sync(),
        vec![":ben!ben@127.0.0.1 QUIT :Quit: gone fishing".to_string()]
    );
    let mut c = server.client("cat");
    c.send("JOIN #r");
    assert_eq!(c.expect(" 353 "), ":linechat 353 cat = #r :@ann cat");
    // A dropped connection is reported too.
    drop(c);
    assert_eq!(
        a.expect(" QUIT "),
        ":cat!cat@127.0.0.1 QUIT :Connection closed"
    );
}

#[test]
fn bad_input_gets_clear_errors_and_the_connection_survives() {
    let server = TestServer::start(&["--max-line-bytes", "100"]);
    let [mut a, mut b] = server.members("#r", ["ann", "ben"]);

    let cases: Vec<(Vec<u8>, &str)> = vec![
        (
            format!("PRIVMSG #r :{}\r\n", "x".repeat(200)).into_bytes(),
            ":linechat 417 ann :Input line was too long (the limit is 100 bytes); it was ignored",
        ),
        (
            b"PRIVMSG #r :caf\xe9\r\n".to_vec(),
            "FAIL PRIVMSG INVALID_UTF8 :Message rejected for containing invalid UTF-8",
        ),
        (
            b"PRIVMSG #r :a\0b\r\n".to_vec(),
            "FAIL * INVALID_CHARACTER :Message rejected: line contains a NUL byte",
        ),
        (
            b"PRIVMSG #r :a\rb\r\n".to_vec(),
            "FAIL * INVALID_CHARACTER :Message rejected: line contains a carriage return in the middle",
        ),
        (
            b"FROBNICATE now\r\n".to_vec(),
            ":linechat 421 ann FROBNICATE :Unknown command FROBNICATE; type HELP for the list",
        ),
        (
            b"PRIVMSG\r\n".to_vec(),
            ":linechat 411 ann :No recipient given (PRIVMSG <#room|nick> <text>)",
        ),
        (
            b"PRIVMSG #r\r\n".to_vec(),
            ":linechat 412 ann :No text to send",
        ),
        (
            b"JOIN\r\n".to_vec(),
            ":linechat 461 ann JOIN :Not enough parameters. Usage: JOIN <#room>[,<#room>...]",
        ),
        (
            b"NICK b@d\r\n".to_vec(),
            ":linechat 432 ann b@d :Erroneous nickname: nick may contain only letters, digits, - and [ ] \\ ` _ ^ { | }",
        ),
        (
            b"JOIN #bad\x07room\r\n".to_vec(),
            ":linechat 479 ann #bad\x07room :Illegal room name: room name may not contain spaces, commas, colons, @ or control characters",
        ),
        (
            format!("JOIN #{}\r\n", "r".repeat(60)).into_bytes(),
            "Illegal room name: room name is longer than 50 bytes",
        ),
        (
            b"MSG #elsewhere hi\r\n".to_vec(),
            ":linechat 403 ann #elsewhere :No such room",
        ),
    ];
    for (input, reply) in &cases {
        a.send_raw(input);
        let got = a.expect_any(&[" 4", "FAIL "]);
        assert!(
            got.contains(reply),
            "for {:?} got {got:?}, want {reply:?}",
            String::from_utf8_lossy(input)
        );
    }
    // A long line split across writes is still one refusal, and the stream resynchronises.
    a.send_raw(&[b'y'; 150]);
    a.send_raw(&[b'y'; 150]);
    a.send_raw(b"\r\nPRIVMSG #r :still here\r\n");
    a.expect(" 417 ");
    assert_eq!(
        b.expect("PRIVMSG"),
        ":ann!ann@127.0.0.1 PRIVMSG #r :still here"
    );
    // Nothing refused reached the room or the archive.
    assert_eq!(b.sync(), Vec::<String>::new());
    let rows = read_archive(&server.archive("history_r.csv"));
    assert_eq!(
        rows.iter().map(|r| r.2.as_str()).collect::<Vec<_>>(),
        ["still here"]
    );
}

#[test]
fn archive_round_trips_commas_quotes_and_japanese() {
    let server = TestServer::start(&[]);
    let [mut a, mut b] = server.members("#開発", ["ann", "ben"]);
    let texts = [
        "hello, world",
        "she said \"hi\", then left",
        "明日デプロイします",
        "trailing spaces and :colons: ",
        "\u{1}ACTION waves\u{1}",
    ];
    for t in texts {
        a.send(&format!("PRIVMSG #開発 :{t}"));
        assert_eq!(
            b.expect("PRIVMSG"),
            format!(":ann!ann@127.0.0.1 PRIVMSG #開発 :{t}")
        );
    }
    let path = server.archive("history_%E9%96%8B%E7%99%BA.csv");
    let rows = read_archive(&path);
    assert_eq!(rows.iter().map(|r| r.2.as_str()).collect::<Vec<_>>(), texts);
    assert!(rows.iter().all(|r| r.1 == "ann"));
    assert!(
        rows.windows(2).all(|w| w[0].0 <= w[1].0),
        "timestamps in order"
    );
}

#[test]
fn room_names_cannot_write_outside_the_log_dir() {
    let server = TestServer::start(&[]);
    let mut a = server.client("ann");
    for room in ["#../../escape", "#..", "#a/b", "#%2e%2e"] {
        a.send(&format!("JOIN {room}"));
        a.expect(" 366 ");
        a.send(&format!("MSG {room} hi"));
    }
    a.sync();
    let mut names: Vec<String> = std::fs::read_dir(&server.log_dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        // the search index the server keeps beside the archives, and the directory's lock
        .filter(|n| n != ".index" && n != ".lock")
        .collect();
    names.sort();
    assert_eq!(
        names,
        [
            "history_%252e%252e.csv",
            "history_..%2F..%2Fescape.csv",
            "history_...csv",
            "history_a%2Fb.csv"
        ]
    );
    let parent = server.log_dir.parent().unwrap();
    let outside: Vec<_> = std::fs::read_dir(parent)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(outside, ["logs"]);
}

#[test]
fn password_is_required_when_configured() {
    let server = TestServer::start(&["--password", "s3cret"]);
    let mut wrong = server.connect();
    wrong.send("PASS nope");
    wrong.send("NICK eve");
    wrong.send("USER eve 0 * :Eve");
    let lines = wrong.read_to_close();
    assert!(
        lines
            .iter()
            .any(|l| l.starts_with(":linechat 464 eve :Password incorrect")),
        "{lines:?}"
    );
    assert_eq!(
        lines.last().unwrap(),
        "ERROR :Closing link: eve (Bad password)"
    );
    let mut right = server.connect();
    right.send("PASS s3cret");
    right.send("NICK ann");
    right.send("USER ann 0 * :Ann");
    right.expect(" 001 ann ");
    assert!(
        !server.log.text().contains("s3cret"),
        "password reached the log"
    );
}

#[test]
fn idle_clients_are_pinged_and_dropped_and_unregistered_ones_time_out() {
    let server = TestServer::start(&[
        "--ping-interval",
        "1",
        "--ping-timeout",
        "1",
        "--registration-timeout",
        "1",
    ]);
    let mut lurker = server.connect();
    assert_eq!(
        lurker.read_to_close(),
        ["ERROR :Closing link: registration timed out"]
    );
    let mut a = server.client("ann");
    let mut b = server.client("ben");
    b.send("JOIN #r");
    b.expect(" 366 ");
    a.send("JOIN #r");
    a.expect(" 366 ");
    // ben answers pings (on his own thread, at once) and stays; ann ignores them and is dropped.
    let ben = std::thread::spawn(move || {
        loop {
            let line = b.next_line().expect("ben stays connected");
            if line.starts_with("PING ") {
                b.send("PONG :linechat");
            }
            if line.contains(" QUIT ") {
                return line;
            }
        }
    });
    assert_eq!(a.expect("PING"), "PING :linechat");
    assert_eq!(
        a.read_to_close().last().unwrap(),
        "ERROR :Closing link: ping timeout"
    );
    assert_eq!(ben.join().unwrap(), ":ann!ann@127.0.0.1 QUIT :Ping timeout");
}

#[test]
fn server_refuses_connections_past_max_clients() {
    let server = TestServer::start(&["--max-clients", "1"]);
    let _a = server.client("ann");
    let mut b = server.connect();
    assert_eq!(
        b.read_to_close(),
        ["ERROR :Server is full, try again later"]
    );
}

#[test]
fn unwritable_archive_refuses_the_message_and_the_server_keeps_running() {
    let server = TestServer::start(&[]);
    // A directory where the room's file should be: every write to it fails.
    std::fs::create_dir_all(server.archive("history_broken.csv")).unwrap();
    let mut a = server.client("ann");
    let mut b = server.client("ben");
    for c in [&mut a, &mut b] {
        c.send("JOIN #broken,#fine");
        c.expect(" #fine :End of /NAMES list");
    }
    a.send("MSG #broken lost");
    assert_eq!(
        a.expect("FAIL"),
        ":linechat FAIL PRIVMSG ARCHIVE_FAILED #broken :Message not delivered: the server could not write it to the room archive"
    );
    a.send("MSG #fine kept");
    assert_eq!(
        b.expect("PRIVMSG"),
        ":ann!ann@127.0.0.1 PRIVMSG #fine :kept"
    );
    server.log.wait_for("archive write failed");
}

#[test]
fn sighup_reopens_archives_for_logrotate() {
    let server = TestServer::start(&[]);
    let mut a = server.client("ann");
    a.send("JOIN #r");
    a.expect(" 366 ");
    a.send("MSG #r before rotation");
    a.sync();
    let live = server.archive("history_r.csv");
    let rotated = server.archive("history_r.csv.1");
    std::fs::rename(&live, &rotated).unwrap();
    server.signal(libc::SIGHUP);
    server.log.wait_for("archive files reopened");
    a.send("MSG #r after rotation");
    a.sync();
    assert_eq!(read_archive(&rotated)[0].2, "before rotation");
    let rows = read_archive(&live);
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].2, "after rotation");
}

#[test]
fn torn_last_row_is_repaired_on_start() {
    let tmp = tempfile::tempdir().unwrap();
    let path = tmp.path().join("history_r.csv");
    std::fs::write(
        &path,
        "timestamp,username,message\n2026-01-01T00:00:00.000Z,ann,whole\n2026-01-01T00:00:01.000Z,ann,\"tor",
    )
    .unwrap();
    let server = TestServer::start_in(tmp.path(), &[]);
    server.log.wait_for("removed a torn last row");
    let mut a = server.client("ann");
    a.send("JOIN #r");
    a.expect(" 366 ");
    a.send("MSG #r next");
    a.sync();
    let rows = read_archive(&path);
    assert_eq!(
        rows.iter().map(|r| r.2.as_str()).collect::<Vec<_>>(),
        ["whole", "next"]
    );
}

#[test]
fn sigkill_under_traffic_loses_no_message_anyone_saw() {
    let tmp = tempfile::tempdir().unwrap();
    // Traffic far beyond any flood limit is the point here: flood control off.
    let mut server = TestServer::start_in(tmp.path(), &["--flood-rate", "0"]);
    let addr = server.addr;
    let mut listener = server.client("listener");
    listener.send("JOIN #load");
    listener.expect(" 366 ");
    // Two senders flood the room from their own threads until the server dies.
    let senders: Vec<_> = (0..2)
        .map(|n| {
            std::thread::spawn(move || {
                let mut c = Client::connect(addr);
                c.send_raw(format!("NICK s{n}\r\nJOIN #load\r\n").as_bytes());
                for i in 0..100_000 {
                    let line = format!("PRIVMSG #load :s{n} message {i}, \"quoted\"\r\n");
                    if std::io::Write::write_all(&mut c_writer(&c), line.as_bytes()).is_err() {
                        break;
                    }
                }
            })
        })
        .collect();
    let mut received = Vec::new();
    while received.len() < 2_000 {
        let line = listener.next_line().expect("server alive");
        if let Some(text) = line.split(" PRIVMSG #load :").nth(1) {
            received.push(text.to_string());
        }
    }
    server.child.kill().unwrap(); // SIGKILL
    server.child.wait().unwrap();
    // Whatever was already on its way to the listener counts as seen too.
    while let Some(line) = listener.next_line() {
        if let Some(text) = line.split(" PRIVMSG #load :").nth(1) {
            received.push(text.to_string());
        }
    }
    for s in senders {
        s.join().unwrap();
    }
    let archived: std::collections::HashSet<String> =
        read_archive(&tmp.path().join("history_load.csv"))
            .into_iter()
            .map(|r| r.2)
            .collect();
    let missing: Vec<&String> = received.iter().filter(|m| !archived.contains(*m)).collect();
    assert!(
        missing.is_empty(),
        "{} of {} received messages missing from the archive, e.g. {:?}",
        missing.len(),
        received.len(),
        missing.first()
    );
    // The archive stays valid for the next start.
    let _restarted = TestServer::start_in(tmp.path(), &[]);
}

fn c_writer(c: &Client) -> &std::net::TcpStream {
    c.writer()
}

#[test]
fn sigterm_tells_every_client_flushes_the_archive_and_exits_zero() {
    // Fifty messages at once, all accepted before the signal: flood control off.
    let mut server = TestServer::start(&["--flood-rate", "0"]);
    let [mut a, mut b] = server.members("#r", ["ann", "ben"]);
    for i in 0..50 {
        a.send(&format!("MSG #r accepted {i}"));
    }
    // The last one was accepted once ben has it.
    b.expect("accepted 49");
    server.signal(libc::SIGTERM);
    assert_eq!(
        a.read_to_close().last().unwrap(),
        "ERROR :Server shutting down"
    );
    assert_eq!(
        b.read_to_close().last().unwrap(),
        "ERROR :Server shutting down"
    );
    assert_eq!(server.wait(), Some(0));
    let rows = read_archive(&server.archive("history_r.csv"));
    assert_eq!(rows.len(), 50);
    assert_eq!(rows[49].2, "accepted 49");
}

#[test]
fn a_client_that_stops_reading_is_dropped_at_its_sendq_and_others_carry_on() {
    // The stuck client's peers flood on purpose: flood control off.
    let server = TestServer::start(&["--sendq-bytes", "65536", "--flood-rate", "0"]);
    let [mut stuck, mut talker] = server.members("#r", ["stuck", "talker"]);
    // Far more than the kernel's socket buffers plus the sendq can hold for `stuck`.
    let text = "z".repeat(400);
    let mut sent = 0;
    let quit_seen = loop {
        for _ in 0..1000 {
            talker.send(&format!("PRIVMSG #r :{text}"));
        }
        sent += 1000;
        // Each PING round trip also proves the talker is still served.
        let lines = talker.sync();
        if let Some(q) = lines.iter().find(|l| l.contains(" QUIT ")) {
            break q.clone();
        }
        assert!(sent < 200_000, "stuck client never hit its sendq");
    };
    assert_eq!(quit_seen, ":stuck!stuck@127.0.0.1 QUIT :SendQ exceeded");
    let tail = stuck.read_to_close();
    assert_eq!(tail.last().unwrap(), "ERROR :SendQ exceeded");
    server.log.wait_for("SendQ exceeded");
}

#[test]
fn flood_control_paces_a_burst_without_losing_or_reordering_lines() {
    let server = TestServer::start(&["--flood-burst", "3", "--flood-rate", "4"]);
    let [mut flooder, mut reader] = server.members("#f", ["flooder", "reader"]);
    // Ten messages in one write: past the burst, the server reads four lines a second.
    let burst: String = (0..10)
        .map(|i| format!("PRIVMSG #f :line {i}\r\n"))
        .collect();
    flooder.send_raw(burst.as_bytes());
    server.log.wait_for("flood control: input paced");
    for i in 0..10 {
        let got = reader.expect(" PRIVMSG ");
        assert!(got.ends_with(&format!("PRIVMSG #f :line {i}")), "{got}");
    }
    // Nothing was dropped: the flooder is still connected and every line was archived.
    flooder.sync();
    let rows = common::read_archive(&server.archive("history_f.csv"));
    let texts: Vec<&str> = rows.iter().map(|r| r.2.as_str()).collect();
    let expected: Vec<String> = (0..10).map(|i| format!("line {i}")).collect();
    assert_eq!(texts, expected);
}
