//! Rooms people can run, end to end over real TCP: operators and voice, every room mode,
//! bans and exceptions, KICK and INVITE, the numerics clients rely on, and the server
//! operator commands. Lines are asserted exactly, as clients parse them.

mod common;

use common::{Client, TestServer};

/// Registers `nick` and joins `room`, reading to the end of the names list.
fn joined(server: &TestServer, nick: &str, room: &str) -> Client {
    let mut c = server.client(nick);
    c.send(&format!("JOIN {room}"));
    c.expect(" 366 ");
    c
}

#[test]
fn the_creator_is_operator_and_hands_over_with_mode_o() {
    let server = TestServer::start(&[]);
    let [mut ann, mut ben] = server.members("#r", ["ann", "ben"]);
    ben.send("NAMES #r");
    assert_eq!(ben.expect(" 353 "), ":linechat 353 ben = #r :@ann ben");
    ben.send("MODE #r +o ben");
    assert_eq!(
        ben.expect(" 482 "),
        ":linechat 482 ben #r :You're not a room operator: only operators change its modes"
    );
    ann.send("MODE #r +o ben");
    assert_eq!(ann.expect(" MODE "), ":ann!ann@127.0.0.1 MODE #r +o ben");
    assert_eq!(ben.expect(" MODE "), ":ann!ann@127.0.0.1 MODE #r +o ben");
    // Giving what is already given changes nothing and says nothing.
    ann.send("MODE #r +o ben");
    assert!(ann.sync().is_empty());
    ben.send("WHO #r");
    assert_eq!(
        ben.expect(" 352 "),
        ":linechat 352 ben #r ann 127.0.0.1 linechat ann H@ :0 ann"
    );
    assert_eq!(
        ben.next_line().unwrap(),
        ":linechat 352 ben #r ben 127.0.0.1 linechat ben H@ :0 ben"
    );
    ben.send("WHOIS ann");
    assert_eq!(ben.expect(" 319 "), ":linechat 319 ben ann :@#r");
    ben.send("MODE #r -o+v ann ann");
    assert_eq!(
        ben.expect(" MODE "),
        ":ben!ben@127.0.0.1 MODE #r -o+v ann ann"
    );
    ann.send("NAMES r");
    assert_eq!(ann.expect(" 353 "), ":linechat 353 ann = #r :+ann @ben");
    ann.send("AWAY lunch");
    ann.expect(" 306 ");
    ann.send("WHO #r");
    assert!(ann.expect(" 352 ").ends_with(" ann G+ :0 ann"));
}

#[test]
fn mode_errors_are_the_numerics_clients_expect() {
    let server = TestServer::start(&[]);
    let [mut op, _ben] = server.members("#r", ["op", "ben"]);
    let _carl = joined(&server, "carl", "#elsewhere");
    let cases = [
        ("MODE #r +o nobody", ":linechat 401 op nobody :No such nick"),
        (
            "MODE #r +o carl",
            ":linechat 441 op carl #r :They aren't in that room",
        ),
        (
            "MODE #r +Z",
            ":linechat 472 op Z :is an unknown mode character to me (HELP MODE lists them)",
        ),
        (
            "MODE #r +l many",
            ":linechat 696 op #r l many :The limit is a whole number from 1 to 1000000",
        ),
        (
            "MODE #r +k :has spaces",
            ":linechat 696 op #r k * :A key is 1-32 characters without spaces or commas",
        ),
        (
            "MODE #r +k",
            ":linechat 461 op MODE :Not enough parameters: mode k needs a parameter",
        ),
        (
            "MODE #nowhere +i",
            ":linechat 403 op #nowhere :No such room",
        ),
    ];
    for (input, reply) in cases {
        op.send(input);
        let got = op.sync();
        assert_eq!(got, vec![reply.to_string()], "for {input}");
    }
    op.send("MODE #r");
    let got = op.sync();
    assert_eq!(got[0], ":linechat 324 op #r +nt");
    assert!(got[1].starts_with(":linechat 329 op #r "), "{got:?}");
}

#[test]
fn several_changes_apply_and_echo_as_one_line_and_the_key_stays_inside() {
    let server = TestServer::start(&[]);
    let [mut op, mut ben] = server.members("#r", ["op", "ben"]);
    op.send("MODE #r +kl-t sesame 10");
    let echo = ":op!op@127.0.0.1 MODE #r +kl-t sesame 10";
    assert_eq!(op.expect(" MODE "), echo);
    assert_eq!(ben.expect(" MODE "), echo);
    ben.send("MODE #r");
    assert_eq!(ben.expect(" 324 "), ":linechat 324 ben #r +kln sesame 10");
    let mut out = server.client("outsider");
    out.send("MODE #r");
    assert_eq!(
        out.expect(" 324 "),
        ":linechat 324 outsider #r +kln <key> 10"
    );
    // -t was applied: any member sets the topic now.
    ben.send("TOPIC #r :open floor");
    assert_eq!(
        op.expect(" TOPIC "),
        ":ben!ben@127.0.0.1 TOPIC #r :open floor"
    );
    op.send("MODE #r -kl *");
    assert_eq!(op.expect(" MODE "), ":op!op@127.0.0.1 MODE #r -kl *");
    assert!(!server.log.text().contains("sesame"), "the key was logged");
}

#[test]
fn a_telnet_user_sets_a_key_and_a_second_user_is_refused_until_they_give_it() {
    let server = TestServer::start(&[]);
    let mut host = server.connect();
    host.send("NICK host");
    host.send("JOIN secret");
    host.expect(" 366 host #secret ");
    host.send("MODE secret +k sesame");
    assert_eq!(
        host.expect(" MODE "),
        ":host!host@127.0.0.1 MODE #secret +k sesame"
    );
    let mut guest = server.connect();
    guest.send("NICK guest");
    guest.send("JOIN secret");
    assert_eq!(
        guest.expect(" 475 "),
        ":linechat 475 guest #secret :Cannot join room (+k): wrong or missing key (JOIN #room key)"
    );
    guest.send("JOIN #secret wrong");
    guest.expect(" 475 ");
    guest.send("MSG #secret let me in");
    assert_eq!(
        guest.expect(" 404 "),
        ":linechat 404 guest #secret :Cannot send to room: you are not in it (+n; JOIN it first)"
    );
    guest.send("JOIN #secret sesame");
    assert_eq!(
        guest.expect(" JOIN "),
        ":guest!guest@127.0.0.1 JOIN #secret"
    );
    assert_eq!(host.expect(" JOIN "), ":guest!guest@127.0.0.1 JOIN #secret");
}

#[test]
fn join_with_several_rooms_and_keys_treats_each_on_its_own() {
    let server = TestServer::start(&[]);
    let mut op = server.client("op");
    op.send("JOIN #a,#b");
    op.expect(" 366 op #b ");
    op.send("MODE #a +k ka");
    op.expect(" MODE ");
    let mut c = server.client("cat");
    c.send("JOIN #a,b,inv@lid,#c ka");
    assert_eq!(c.expect(" JOIN "), ":cat!cat@127.0.0.1 JOIN #a");
    assert_eq!(c.expect(" JOIN "), ":cat!cat@127.0.0.1 JOIN #b");
    assert!(
        c.expect(" 479 ")
            .starts_with(":linechat 479 cat inv@lid :Illegal room name")
    );
    assert_eq!(c.expect(" JOIN "), ":cat!cat@127.0.0.1 JOIN #c");
    c.send("JOIN ,,,");
    assert!(c.expect(" 461 ").starts_with(":linechat 461 cat JOIN :"));
}

#[test]
fn limit_invite_only_and_invitations() {
    let server = TestServer::start(&[]);
    let [mut op, _ben] = server.members("#r", ["op", "ben"]);
    op.send("MODE #r +l 2");
    assert_eq!(op.expect(" MODE "), ":op!op@127.0.0.1 MODE #r +l 2");
    let mut cat = server.client("cat");
    cat.send("JOIN #r");
    assert_eq!(
        cat.sync(),
        vec![":linechat 471 cat #r :Cannot join room (+l): the room is full".to_string()]
    );
    op.send("MODE #r -l+i");
    assert_eq!(op.expect(" MODE "), ":op!op@127.0.0.1 MODE #r -l+i");
    cat.send("JOIN #r");
    assert_eq!(
        cat.expect(" 473 "),
        ":linechat 473 cat #r :Cannot join room (+i): you must be invited"
    );
    // In a +i room only operators invite.
    let mut ben = server.client("ben2");
    ben.send("INVITE cat #r");
    assert_eq!(
        ben.expect(" 442 "),
        ":linechat 442 ben2 #r :You're not in that room"
    );
    op.send("INVITE cat #r");
    assert_eq!(op.expect(" 341 "), ":linechat 341 op cat #r");
    assert_eq!(cat.expect(" INVITE "), ":op!op@127.0.0.1 INVITE cat #r");
    cat.send("INVITE");
    assert_eq!(cat.expect(" 336 "), ":linechat 336 cat #r");
    cat.expect(" 337 ");
    op.send("INVITE ben #r");
    assert_eq!(
        op.expect(" 443 "),
        ":linechat 443 op ben #r :is already in that room"
    );
    op.send("INVITE nobody #r");
    assert_eq!(op.expect(" 401 "), ":linechat 401 op nobody :No such nick");
    cat.send("JOIN #r");
    assert_eq!(cat.expect(" JOIN "), ":cat!cat@127.0.0.1 JOIN #r");
    // The invitation is used up.
    cat.send("PART #r");
    cat.expect(" PART ");
    cat.send("JOIN #r");
    cat.expect(" 473 ");
    // An invite exception lets matching users in without one.
    op.send("MODE #r +I cat!*@*");
    assert_eq!(op.expect(" MODE "), ":op!op@127.0.0.1 MODE #r +I cat!*@*");
    cat.send("JOIN #r");
    assert_eq!(cat.expect(" JOIN "), ":cat!cat@127.0.0.1 JOIN #r");
    op.send("MODE #r I");
    assert!(
        op.expect(" 346 ")
            .starts_with(":linechat 346 op #r cat!*@* op!op@127.0.0.1 ")
    );
    op.expect(" 347 op #r ");
}

#[test]
fn bans_keep_out_and_silence_and_exceptions_let_back_in() {
    let server = TestServer::start(&[]);
    let [mut op, mut bob] = server.members("#r", ["op", "Bob"]);
    op.send("MODE #r +b bob");
    assert_eq!(op.expect(" MODE "), ":op!op@127.0.0.1 MODE #r +b bob!*@*");
    bob.expect(" MODE ");
    bob.send("MSG #r can you hear me");
    assert_eq!(
        bob.expect(" 404 "),
        ":linechat 404 Bob #r :Cannot send to room (+b): you are banned"
    );
    assert!(op.sync().is_empty(), "a banned member's line was delivered");
    op.send("KICK #r bob");
    assert_eq!(op.expect(" KICK "), ":op!op@127.0.0.1 KICK #r Bob :op");
    assert_eq!(bob.expect(" KICK "), ":op!op@127.0.0.1 KICK #r Bob :op");
    bob.send("JOIN #r");
    assert_eq!(
        bob.expect(" 474 "),
        ":linechat 474 Bob #r :Cannot join room (+b): you are banned"
    );
    op.send("MODE #r +b");
    assert!(
        op.expect(" 367 ")
            .starts_with(":linechat 367 op #r bob!*@* op!op@127.0.0.1 ")
    );
    assert_eq!(
        op.next_line().unwrap(),
        ":linechat 368 op #r :End of room ban list"
    );
    op.send("MODE #r +e *!*@127.0.0.1");
    op.expect(" MODE ");
    bob.send("JOIN #r");
    assert_eq!(bob.expect(" JOIN "), ":Bob!Bob@127.0.0.1 JOIN #r");
    // Only operators see the exception list.
    bob.send("MODE #r e");
    bob.expect(" 482 ");
    assert!(
        !server.archive("history_r.csv").exists(),
        "a refused line reached the archive"
    );
}

#[test]
fn moderated_rooms_let_only_operators_and_voiced_members_speak() {
    let server = TestServer::start(&[]);
    let [mut op, mut ben] = server.members("#r", ["op", "ben"]);
    op.send("MODE #r +m");
    ben.expect(" MODE ");
    ben.send("MSG #r hello?");
    assert_eq!(
        ben.expect(" 404 "),
        ":linechat 404 ben #r :Cannot send to room (+m): only operators and voiced members may speak"
    );
    op.send("MODE #r +v ben");
    ben.expect(" MODE ");
    ben.send("MSG #r now I can");
    assert_eq!(
        op.expect(" PRIVMSG "),
        ":ben!ben@127.0.0.1 PRIVMSG #r :now I can"
    );
    // Voice is not enough for a locked topic.
    ben.send("TOPIC #r :mine");
    assert_eq!(
        ben.expect(" 482 "),
        ":linechat 482 ben #r :You're not a room operator"
    );
}

#[test]
fn outside_messages_need_minus_n_and_notices_never_get_errors() {
    let server = TestServer::start(&[]);
    let [mut op] = server.members("#r", ["op"]);
    let mut out = server.client("out");
    out.send("NOTICE #r psst");
    out.send("NOTICE #nowhere psst");
    out.send("NOTICE nobody psst");
    out.send("NOTICE #r");
    assert!(out.sync().is_empty(), "a NOTICE got an error reply");
    op.send("MODE #r -n");
    op.expect(" MODE ");
    out.send("MSG #r from outside");
    assert_eq!(
        op.expect(" PRIVMSG "),
        ":out!out@127.0.0.1 PRIVMSG #r :from outside"
    );
}

#[test]
fn kick_needs_an_operator_and_names_each_target() {
    let server = TestServer::start(&[]);
    let [mut op, mut ben, mut cat] = server.members("#r", ["op", "ben", "cat"]);
    let mut out = server.client("out");
    out.send("KICK #r ben");
    assert_eq!(
        out.expect(" 442 "),
        ":linechat 442 out #r :You're not in that room"
    );
    ben.send("KICK #r cat");
    assert_eq!(
        ben.expect(" 482 "),
        ":linechat 482 ben #r :You're not a room operator"
    );
    op.send("KICK #r out");
    assert_eq!(
        op.expect(" 441 "),
        ":linechat 441 op out #r :They aren't in that room"
    );
    op.send("KICK #nowhere ben");
    op.expect(" 403 op #nowhere ");
    op.send("KICK #r ben,cat :spring cleaning, sorry");
    let first = ":op!op@127.0.0.1 KICK #r ben :spring cleaning, sorry";
    let second = ":op!op@127.0.0.1 KICK #r cat :spring cleaning, sorry";
    assert_eq!(op.expect(" KICK "), first);
    assert_eq!(op.expect(" KICK "), second);
    assert_eq!(ben.expect(" KICK "), first);
    assert_eq!(cat.expect(" KICK "), first);
    assert_eq!(cat.expect(" KICK "), second);
    ben.send("MSG #r still here?");
    ben.expect(" 404 ");
    op.send("NAMES #r");
    assert_eq!(op.expect(" 353 "), ":linechat 353 op = #r :@op");
}

#[test]
fn secret_rooms_hide_from_list_names_and_whois() {
    let server = TestServer::start(&[]);
    let [mut op] = server.members("#hidden", ["op"]);
    op.send("MODE #hidden +s");
    op.expect(" MODE ");
    let mut out = server.client("out");
    out.send("LIST");
    out.expect(" 321 ");
    assert_eq!(out.next_line().unwrap(), ":linechat 323 out :End of /LIST");
    out.send("NAMES #hidden");
    assert_eq!(
        out.expect(" 366 "),
        ":linechat 366 out #hidden :End of /NAMES list"
    );
    out.send("WHOIS op");
    out.expect(" 311 ");
    assert!(out.expect(" 312 ").contains(" 312 out op "), "319 leaked");
    op.send("NAMES #hidden");
    assert_eq!(op.expect(" 353 "), ":linechat 353 op @ #hidden :@op");
}

#[test]
fn topic_lock_and_unchanged_topics() {
    let server = TestServer::start(&[]);
    let [mut op, mut ben] = server.members("#r", ["op", "ben"]);
    ben.send("TOPIC #r :my topic");
    ben.expect(" 482 ");
    op.send("TOPIC #r :release friday");
    assert_eq!(
        ben.expect(" TOPIC "),
        ":op!op@127.0.0.1 TOPIC #r :release friday"
    );
    op.expect(" TOPIC ");
    op.send("TOPIC #r :release friday");
    assert!(op.sync().is_empty());
    assert!(ben.sync().is_empty());
}

#[test]
fn idle_members_are_kicked_when_the_room_asks_for_it() {
    let server = TestServer::start(&[]);
    let [mut op, mut ben] = server.members("#r", ["op", "ben"]);
    op.send("MODE #r +W 1s");
    assert_eq!(op.expect(" MODE "), ":op!op@127.0.0.1 MODE #r +W 1s");
    op.send("MODE #r");
    assert_eq!(op.expect(" 324 "), ":linechat 324 op #r +Wnt 1s");
    // ben says nothing; the sweep kicks him, the operator stays.
    assert_eq!(
        ben.expect(" KICK "),
        ":linechat KICK #r ben :Idle for 1 seconds (room mode +W)"
    );
    assert_eq!(
        op.expect(" KICK "),
        ":linechat KICK #r ben :Idle for 1 seconds (room mode +W)"
    );
    op.send("NAMES #r");
    assert_eq!(op.expect(" 353 "), ":linechat 353 op = #r :@op");
}

#[test]
fn whowas_after_a_nick_change_and_a_quit() {
    let server = TestServer::start(&[]);
    let mut a = server.client("alice");
    a.send("NICK alice2");
    a.expect(" NICK ");
    a.send("QUIT bye");
    a.read_to_close();
    let mut q = server.client("q");
    q.send("WHOWAS alice");
    assert_eq!(
        q.expect(" 314 "),
        ":linechat 314 q alice alice 127.0.0.1 * :alice"
    );
    assert!(
        q.expect(" 312 ")
            .starts_with(":linechat 312 q alice linechat :")
    );
    assert_eq!(q.expect(" 369 "), ":linechat 369 q alice :End of WHOWAS");
    q.send("WHOWAS alice2 1");
    assert_eq!(
        q.expect(" 314 "),
        ":linechat 314 q alice2 alice 127.0.0.1 * :alice"
    );
    q.send("WHOWAS nobody");
    assert_eq!(
        q.expect(" 406 "),
        ":linechat 406 q nobody :There was no such nickname"
    );
    q.expect(" 369 q nobody ");
}

#[test]
fn lusers_counts_users_unknowns_and_rooms() {
    let server = TestServer::start(&[]);
    let mut a = server.client("a");
    a.send("MODE a +i");
    a.expect(" MODE ");
    let _b = joined(&server, "b", "#r");
    let _pending = server.connect();
    let mut c = server.connect();
    c.send("NICK c");
    c.send("USER c 0 * :c");
    let burst: Vec<String> = {
        c.expect(" 001 ");
        let mut lines = Vec::new();
        loop {
            let l = c.next_line().unwrap();
            let end = l.contains(" 422 ") || l.contains(" 376 ");
            lines.push(l);
            if end {
                break lines;
            }
        }
    };
    // Between ISUPPORT and the MOTD, the welcome burst carries LUSERS.
    let codes: Vec<&str> = burst.iter().map(|l| l.split(' ').nth(1).unwrap()).collect();
    let lusers = ["251", "252", "253", "254", "255", "265", "266"];
    let pos: Vec<usize> = lusers
        .iter()
        .map(|code| codes.iter().position(|c| c == code).unwrap())
        .collect();
    assert!(pos.windows(2).all(|w| w[0] < w[1]), "{codes:?}");
    assert!(codes.iter().position(|c| *c == "005").unwrap() < pos[0]);
    a.send("LUSERS");
    assert_eq!(
        a.expect(" 251 "),
        ":linechat 251 a :There are 2 users and 1 invisible on 1 servers"
    );
    assert_eq!(
        a.next_line().unwrap(),
        ":linechat 252 a 0 :operator(s) online"
    );
    assert!(a.next_line().unwrap().starts_with(":linechat 253 a "));
    assert_eq!(a.next_line().unwrap(), ":linechat 254 a 1 :rooms formed");
    assert_eq!(
        a.next_line().unwrap(),
        ":linechat 255 a :I have 3 clients and 0 servers"
    );
    assert_eq!(
        a.next_line().unwrap(),
        ":linechat 265 a 3 3 :Current local users 3, max 3"
    );
}

#[test]
fn who_masks_follow_visibility() {
    let server = TestServer::start(&[]);
    let mut evan = server.client("evan");
    evan.send("MODE evan +i");
    evan.expect(" MODE ");
    let _eve = server.client("eve");
    let mut q = server.client("q");
    q.send("WHO ev*");
    assert_eq!(
        q.sync(),
        vec![
            ":linechat 352 q * eve 127.0.0.1 linechat eve H :0 eve".to_string(),
            ":linechat 315 q ev* :End of /WHO list".to_string()
        ]
    );
    q.send("WHO evan");
    assert_eq!(
        q.expect(" 352 "),
        ":linechat 352 q * evan 127.0.0.1 linechat evan H :0 evan"
    );
    q.expect(" 315 q evan ");
    q.send("WHO *");
    let lines = q.sync();
    assert_eq!(lines.len(), 3, "{lines:?}"); // eve, q, 315
    q.send("WHO idontexist");
    assert_eq!(
        q.sync(),
        vec![":linechat 315 q idontexist :End of /WHO list".to_string()]
    );
    q.send("USERHOST eve evan nobody");
    assert_eq!(
        q.expect(" 302 "),
        ":linechat 302 q :eve=+eve@127.0.0.1 evan=+evan@127.0.0.1"
    );
}

#[test]
fn help_pages_use_the_help_numerics() {
    let server = TestServer::start(&[]);
    let mut c = server.client("c");
    c.send("HELP KICK");
    let lines = c.sync();
    assert_eq!(
        lines[0],
        ":linechat 704 c KICK :KICK <#room> <nick>[,<nick>...] [reason]"
    );
    assert!(
        lines[1..lines.len() - 1]
            .iter()
            .all(|l| l.contains(" 705 c KICK :"))
    );
    assert_eq!(lines.last().unwrap(), ":linechat 706 c KICK :End of /HELP");
    c.send("HELP MODE");
    assert!(c.sync().iter().any(|l| l.contains("+k <key>")));
    c.send("HELP nonsense");
    assert_eq!(
        c.sync(),
        vec![":linechat 524 c nonsense :No help available on this topic".to_string()]
    );
    c.send("TIME");
    assert!(c.expect(" 391 ").starts_with(":linechat 391 c linechat "));
    c.send("VERSION");
    assert!(c.expect(" 351 ").starts_with(":linechat 351 c linechat-"));
    c.send("LINKS");
    assert_eq!(c.expect(" 365 "), ":linechat 365 c * :End of /LINKS list");
}

#[test]
fn parameters_with_spaces_are_never_echoed_in_a_middle_position() {
    let server = TestServer::start(&[]);
    let mut c = server.client("c");
    c.send("NICK :a b");
    assert!(c.expect(" 432 ").starts_with(":linechat 432 c * :"));
    c.send("JOIN #ok1,:evil");
    c.expect(" 366 ");
    assert!(c.expect(" 479 ").starts_with(":linechat 479 c * :"));
}

/// A config file with one operator, its hash made by `chat-server --hash-password`.
fn oper_config(dir: &std::path::Path) -> std::path::PathBuf {
    use std::io::Write;
    use std::process::{Command, Stdio};
    let mut child = Command::new(env!("CARGO_BIN_EXE_chat-server"))
        .arg("--hash-password")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(b"operpassword\n")
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success());
    let hash = String::from_utf8(out.stdout).unwrap();
    assert!(hash.starts_with("$argon2id$"), "{hash}");
    let path = dir.join("linechat.toml");
    std::fs::write(
        &path,
        format!(
            "[[oper]]\nname = \"operuser\"\npassword = \"{}\"\n",
            hash.trim()
        ),
    )
    .unwrap();
    path
}

#[test]
fn operators_kill_wallops_and_act_in_any_room() {
    let tmp = tempfile::tempdir().unwrap();
    let config = oper_config(tmp.path());
    let server = TestServer::start(&["--config", config.to_str().unwrap()]);
    let mut boss = server.client("boss");
    boss.send("KILL victim :no");
    assert!(
        boss.expect(" 481 ")
            .starts_with(":linechat 481 boss :Permission Denied")
    );
    boss.send("OPER operuser wrongpassword");
    assert_eq!(
        boss.expect(" 464 "),
        ":linechat 464 boss :Password incorrect"
    );
    server.log.wait_for("OPER failed");
    assert!(
        !server.log.text().contains("wrongpassword"),
        "password logged"
    );
    boss.send("OPER nosuch operpassword");
    boss.expect(" 464 ");
    boss.send("OPER operuser operpassword");
    assert_eq!(
        boss.expect(" 381 "),
        ":linechat 381 boss :You are now an IRC operator"
    );
    assert_eq!(
        boss.next_line().unwrap(),
        ":boss!boss@127.0.0.1 MODE boss :+o"
    );
    assert!(
        !server.log.text().contains("operpassword"),
        "password logged"
    );

    let [mut owner, mut victim] = server.members("#r", ["owner", "victim"]);
    // An operator acts as a room operator in a room it is not even in.
    boss.send("MODE #r +m");
    assert_eq!(owner.expect(" MODE "), ":boss!boss@127.0.0.1 MODE #r +m");
    boss.send("KICK #r owner :oper says");
    assert_eq!(
        victim.expect(" KICK "),
        ":boss!boss@127.0.0.1 KICK #r owner :oper says"
    );
    let mut listener = server.client("listener");
    listener.send("MODE listener +w");
    listener.expect(" MODE ");
    boss.send("WALLOPS maintenance at noon");
    assert_eq!(
        listener.expect(" WALLOPS "),
        ":boss!boss@127.0.0.1 WALLOPS :maintenance at noon"
    );
    assert!(victim.sync().is_empty(), "WALLOPS reached a -w user");
    boss.send("WHOIS boss");
    assert_eq!(
        boss.expect(" 313 "),
        ":linechat 313 boss boss :is an IRC operator"
    );
    boss.send("KILL victim spamming the room");
    let tail = victim.read_to_close();
    assert_eq!(
        tail.last().unwrap(),
        "ERROR :Closing link: victim (Killed (boss (spamming the room)))"
    );
    boss.send("WHOWAS victim");
    boss.expect(" 314 boss victim ");
}
