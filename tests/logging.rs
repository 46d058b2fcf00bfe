//! The server's log as an operator reads it: `RUST_LOG=debug` shows linechat's commands and
//! CAP exchanges, never message bodies or secrets, and no dependency's internals.

mod common;

use common::TestServer;

#[test]
fn debug_logs_commands_and_cap_exchanges_but_no_bodies_secrets_or_dependencies() {
    let tmp = tempfile::tempdir().unwrap();
    let logs = tmp.path().join("logs");
    let mut cmd = TestServer::command(&logs, &[]);
    cmd.env("RUST_LOG", "debug");
    let server = TestServer::spawn(cmd, &logs);
    let mut c = server.connect();
    c.send("PASS pass-secret");
    c.send("CAP LS 302");
    c.send("NICK ann");
    c.send("USER ann 0 * :Ann Example");
    c.send("CAP REQ :server-time batch");
    c.send("CAP END");
    c.expect(" 001 ");
    c.send("JOIN #r,#s key-secret");
    c.send("MODE #r +k mode-secret");
    c.send("MSG #r body-secret one");
    c.send("TOPIC #r :body-secret two");
    c.send("SEARCH #r body-secret-three");
    c.send("OPER admin oper-secret");
    c.send("PART #s :body-secret four");
    c.send("QUIT :body-secret five");
    c.read_to_close();
    server.log.wait_for("disconnected");
    let log = server.log.text();

    let command = server.log.wait_for("command=JOIN");
    assert!(
        command.contains("nick=ann") && command.contains("#r,#s"),
        "{command}"
    );
    assert!(command.contains("client="), "{command}");
    let ack = server.log.wait_for("CAP ACK");
    assert!(ack.contains("server-time batch"), "{ack}");
    server.log.wait_for("command=MODE");
    server.log.wait_for("command=QUIT");
    assert!(
        !log.contains("-secret"),
        "a body or secret was logged:\n{log}"
    );
    assert!(!log.contains(" tantivy"), "dependency noise:\n{log}");
}
