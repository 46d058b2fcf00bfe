//! Keep-alive over real sockets: IRC clients are PINGed when silent and dropped when they
//! do not answer; a telnet-style session (NICK alone) is never PINGed, so a person who
//! reads without typing stays, until the day it answers a PING like an IRC client.
//!
//! No sleeps: time is measured by events, the timeouts of the IRC clients in the same room.

mod common;

use common::{Client, TestServer};

/// Reads until `needle` arrives, failing if a server PING came first.
fn expect_unpinged(c: &mut Client, needle: &str) -> String {
    let line = c.expect_any(&[needle, "PING :"]);
    assert!(
        !line.starts_with("PING "),
        "a telnet-style session was pinged; seen:\n{}",
        c.seen.join("\n")
    );
    line
}

/// Waits for `c`'s PING, ignores it, and checks the ping timeout that follows.
fn pinged_and_dropped(c: &mut Client) {
    assert_eq!(c.expect("PING"), "PING :linechat");
    assert_eq!(
        c.read_to_close().last().map(String::as_str),
        Some("ERROR :Closing link: ping timeout")
    );
}

#[test]
fn silent_telnet_users_stay_while_silent_irc_clients_are_pinged_and_dropped() {
    let server = TestServer::start(&["--ping-interval", "1", "--ping-timeout", "1"]);
    // dan types NICK and nothing else: the 2-second grace registers him.
    let mut dan = server.connect();
    dan.send("NICK dan");
    // tom types NICK and JOIN: the JOIN registers him. Neither ever answers anything.
    let mut tom = server.connect();
    tom.send("NICK tom");
    tom.send("JOIN #r");
    tom.expect(" 366 ");

    // ann is an IRC client (NICK and USER) that never answers PING.
    let mut ann = server.client("ann");
    ann.send("JOIN #r");
    ann.expect(" 366 ");
    expect_unpinged(&mut tom, ":ann!ann@127.0.0.1 JOIN #r");
    pinged_and_dropped(&mut ann);
    expect_unpinged(&mut tom, ":ann!ann@127.0.0.1 QUIT :Ping timeout");

    expect_unpinged(&mut dan, " 001 dan ");
    dan.send("JOIN #r");
    expect_unpinged(&mut dan, " 366 ");
    expect_unpinged(&mut tom, ":dan!dan@127.0.0.1 JOIN #r");

    // bea negotiates capabilities and never sends USER: CAP makes her an IRC client.
    let mut bea = server.connect();
    bea.send("CAP LS 302");
    bea.expect(" CAP * LS ");
    bea.send("NICK bea");
    bea.send("CAP END");
    bea.send("JOIN #r");
    bea.expect(" 366 ");
    pinged_and_dropped(&mut bea);
    expect_unpinged(&mut tom, ":bea!bea@127.0.0.1 QUIT :Ping timeout");
    expect_unpinged(&mut dan, ":bea!bea@127.0.0.1 QUIT :Ping timeout");

    // Two ping timeouts later tom and dan, silent all along, still get the room's messages.
    let mut cy = server.client("cy");
    cy.send("JOIN #r");
    cy.expect(" 366 ");
    cy.send("MSG #r still there?");
    for person in [&mut tom, &mut dan] {
        expect_unpinged(person, ":cy!cy@127.0.0.1 PRIVMSG #r :still there?");
        assert!(!person.seen.iter().any(|l| l.starts_with("PING")));
    }

    // Once tom answers a PING (here, unasked) he is an IRC client: pinged, and dropped
    // when silent.
    tom.send("PONG :linechat");
    pinged_and_dropped(&mut tom);
    expect_unpinged(&mut dan, ":tom!tom@127.0.0.1 QUIT :Ping timeout");
}
