//! The HTTP side over real sockets: the IRCv3 WebSocket binding (subprotocols, framing,
//! Origin, limits), the embedded page, `/api/rooms`, `/health` and `/metrics`.

mod common;
mod tls_support;

use std::net::{SocketAddr, TcpStream};

use common::{GUARD, TestServer, http_get};
use tungstenite::client::IntoClientRequest;
use tungstenite::http::HeaderValue;
use tungstenite::{Message, WebSocket};

type Ws = WebSocket<TcpStream>;

fn web_server(extra: &[&str]) -> TestServer {
    let mut args = vec!["--http-listen", "127.0.0.1:0"];
    args.extend_from_slice(extra);
    TestServer::start(&args)
}

/// Opens `/ws` with the given subprotocols and headers; the handshake's response too.
fn ws_connect(
    addr: SocketAddr,
    protocols: Option<&str>,
    headers: &[(&'static str, &str)],
) -> Result<(Ws, tungstenite::handshake::client::Response), tungstenite::Error> {
    let mut req = format!("ws://{addr}/ws").into_client_request().unwrap();
    if let Some(p) = protocols {
        req.headers_mut()
            .insert("Sec-WebSocket-Protocol", HeaderValue::from_str(p).unwrap());
    }
    for (k, v) in headers {
        req.headers_mut()
            .insert(*k, HeaderValue::from_str(v).unwrap());
    }
    let stream = TcpStream::connect(addr).unwrap();
    stream.set_read_timeout(Some(GUARD)).unwrap();
    tungstenite::client(req, stream).map_err(|e| match e {
        tungstenite::HandshakeError::Failure(e) => e,
        tungstenite::HandshakeError::Interrupted(_) => panic!("blocking handshake interrupted"),
    })
}

/// A WebSocket client speaking IRC lines, one per frame.
struct WsClient {
    ws: Ws,
    log: common::Log,
}

impl WsClient {
    fn open(server: &TestServer) -> WsClient {
        let (ws, resp) = ws_connect(server.http_addr(), Some("text.ircv3.net"), &[]).unwrap();
        assert_eq!(
            resp.headers().get("sec-websocket-protocol").unwrap(),
            "text.ircv3.net"
        );
        WsClient {
            ws,
            log: server.log.clone(),
        }
    }

    fn send(&mut self, line: &str) {
        self.ws.send(Message::text(line)).unwrap();
    }

    /// The next IRC line, answering pings on the way.
    fn next(&mut self) -> Option<String> {
        loop {
            match self.ws.read() {
                Ok(Message::Text(t)) => return Some(t.to_string()),
                Ok(Message::Binary(b)) => panic!("binary frame on a text connection: {b:?}"),
                Ok(Message::Close(_)) => return None,
                Ok(_) => continue,
                Err(tungstenite::Error::ConnectionClosed)
                | Err(tungstenite::Error::AlreadyClosed) => {
                    return None;
                }
                Err(tungstenite::Error::Io(e)) => {
                    panic!("read failed: {e}; log:\n{}", self.log.text())
                }
                Err(_) => return None,
            }
        }
    }

    fn expect(&mut self, needle: &str) -> String {
        loop {
            let line = self
                .next()
                .unwrap_or_else(|| panic!("closed while waiting for {needle:?}"));
            assert!(
                !line.contains('\r') && !line.contains('\n'),
                "a frame is one line without its ending: {line:?}"
            );
            if line.contains(needle) {
                return line;
            }
        }
    }

    fn register(&mut self, nick: &str) {
        self.send(&format!("NICK {nick}"));
        self.send(&format!("USER {nick} 0 * :{nick}"));
        self.expect(" 001 ");
        // The end of the welcome: the MOTD's end, or "no MOTD".
        loop {
            let line = self.expect(" ");
            if line.contains(" 376 ") || line.contains(" 422 ") {
                break;
            }
        }
    }
}

/// One plain HTTP/1.1 request; the status code, headers and body.

#[test]
fn websocket_and_telnet_users_share_a_room_one_line_per_frame() {
    let server = web_server(&[]);
    let mut web = WsClient::open(&server);
    web.register("webby");
    web.send("JOIN #general");
    web.expect(" 366 ");
    let mut tcp = server.client("telly");
    tcp.send("JOIN #general");
    tcp.expect(" 366 ");
    web.expect(":telly!");
    tcp.send("PRIVMSG #general :hello from telnet");
    assert!(
        web.expect("PRIVMSG #general")
            .ends_with(":hello from telnet")
    );
    web.send("PRIVMSG #general :こんにちは from the browser");
    assert!(
        tcp.expect("PRIVMSG #general")
            .ends_with(":こんにちは from the browser")
    );
    // Both reach the archive, whatever the transport.
    let rows = common::read_archive(&server.archive("history_general.csv"));
    let texts: Vec<&str> = rows.iter().map(|(_, _, t)| t.as_str()).collect();
    assert_eq!(texts, ["hello from telnet", "こんにちは from the browser"]);
}

#[test]
fn binary_subprotocol_gets_binary_frames_and_no_subprotocol_gets_text() {
    let server = web_server(&[]);
    let addr = server.http_addr();
    let (mut ws, resp) = ws_connect(addr, Some("binary.ircv3.net, text.ircv3.net"), &[]).unwrap();
    assert_eq!(
        resp.headers().get("sec-websocket-protocol").unwrap(),
        "text.ircv3.net",
        "the server's preference among those offered"
    );
    ws.close(None).unwrap();
    let (mut ws, resp) = ws_connect(addr, Some("binary.ircv3.net"), &[]).unwrap();
    assert_eq!(
        resp.headers().get("sec-websocket-protocol").unwrap(),
        "binary.ircv3.net"
    );
    ws.send(Message::binary(b"NICK bin\r\n".to_vec())).unwrap();
    ws.send(Message::binary(b"USER bin 0 * :bin".to_vec()))
        .unwrap();
    let first = loop {
        match ws.read().unwrap() {
            Message::Binary(b) => break b,
            Message::Text(t) => panic!("text frame on a binary connection: {t}"),
            _ => continue,
        }
    };
    assert!(
        first.starts_with(b":") && !first.ends_with(b"\n"),
        "{first:?}"
    );
    // Invalid UTF-8 in a binary frame is refused like on TCP.
    ws.send(Message::binary(b"PRIVMSG bin :\xff".to_vec()))
        .unwrap();
    let refusal = loop {
        if let Message::Binary(b) = ws.read().unwrap()
            && b.windows(12).any(|w| w == b"INVALID_UTF8")
        {
            break String::from_utf8(b.to_vec()).unwrap();
        }
    };
    assert!(refusal.contains("FAIL PRIVMSG INVALID_UTF8"), "{refusal}");

    let (ws, resp) = ws_connect(addr, None, &[]).unwrap();
    assert!(resp.headers().get("sec-websocket-protocol").is_none());
    let mut plain = WsClient {
        ws,
        log: server.log.clone(),
    };
    plain.register("noproto");
}

#[test]
fn a_foreign_origin_is_refused_and_the_pages_own_or_a_listed_one_is_not() {
    let server = web_server(&["--web-origin", "https://chat.example.org"]);
    let addr = server.http_addr();
    let refused = ws_connect(
        addr,
        Some("text.ircv3.net"),
        &[("Origin", "https://evil.example")],
    );
    match refused {
        Err(tungstenite::Error::Http(resp)) => assert_eq!(resp.status(), 403),
        other => panic!("expected 403, got {:?}", other.map(|(_, r)| r.status())),
    }
    let own = format!("http://{addr}");
    assert!(ws_connect(addr, Some("text.ircv3.net"), &[("Origin", &own)]).is_ok());
    assert!(
        ws_connect(
            addr,
            Some("text.ircv3.net"),
            &[("Origin", "https://chat.example.org")]
        )
        .is_ok()
    );
    server.log.wait_for("origin not allowed");
}

#[test]
fn over_long_lines_get_417_and_oversize_frames_close_the_connection() {
    let server = web_server(&[]);
    let mut web = WsClient::open(&server);
    web.register("big");
    web.send(&format!("PRIVMSG big :{}", "x".repeat(600)));
    web.expect(" 417 big ");
    web.send("PING still-here");
    web.expect("PONG");
    // A frame over 16 KiB is more than any line: the connection is closed.
    let _ = web.ws.send(Message::text("y".repeat(20_000)));
    while web.next().is_some() {}
    server.log.wait_for("disconnected");
}

#[test]
fn a_trusted_proxys_forwarded_address_is_the_clients_host_and_others_are_ignored() {
    let server = web_server(&["--trusted-proxy", "127.0.0.1"]);
    let addr = server.http_addr();
    let (ws, _) = ws_connect(
        addr,
        Some("text.ircv3.net"),
        &[("X-Forwarded-For", "203.0.113.7")],
    )
    .unwrap();
    let mut web = WsClient {
        ws,
        log: server.log.clone(),
    };
    web.register("proxied");
    web.send("WHOIS proxied");
    assert!(web.expect(" 311 ").contains(" 203.0.113.7 "));

    let untrusted = web_server(&[]);
    let (ws, _) = ws_connect(
        untrusted.http_addr(),
        Some("text.ircv3.net"),
        &[("X-Forwarded-For", "203.0.113.7")],
    )
    .unwrap();
    let mut web = WsClient {
        ws,
        log: untrusted.log.clone(),
    };
    web.register("direct");
    web.send("WHOIS direct");
    assert!(web.expect(" 311 ").contains(" 127.0.0.1 "));
}

#[test]
fn idle_websockets_are_pinged_with_websocket_pings() {
    let server = web_server(&["--ping-interval", "2"]);
    let mut web = WsClient::open(&server);
    web.register("idle");
    // tungstenite answers the ping by itself; the session stays up.
    loop {
        if let Message::Ping(_) = web.ws.read().unwrap() {
            break;
        }
    }
    web.send("PING after-ping");
    web.expect("PONG");
}

#[test]
fn the_page_its_files_and_the_room_list_are_served() {
    let server = web_server(&[]);
    let addr = server.http_addr();
    let (code, head, body) = http_get(addr, "/");
    assert_eq!(code, 200);
    assert!(head.contains("content-type: text/html"));
    assert!(head.contains("content-security-policy: default-src 'none'; script-src 'self'"));
    assert!(body.contains("/app.js"));
    let (code, head, _) = http_get(addr, "/app.js");
    assert_eq!(code, 200);
    assert!(head.contains("content-type: text/javascript"));
    assert_eq!(http_get(addr, "/nothing-here").0, 404);

    let mut tcp = server.client("host");
    tcp.send("JOIN #lobby");
    tcp.send("TOPIC #lobby :<b>not bold</b>");
    tcp.expect(" TOPIC #lobby ");
    tcp.send("JOIN #hidden");
    tcp.send("MODE #hidden +s");
    tcp.expect(" MODE #hidden +s");
    let (code, _, body) = http_get(addr, "/api/rooms");
    assert_eq!(code, 200);
    let json: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(
        json,
        serde_json::json!({"rooms": [{"name": "#lobby", "members": 1, "topic": "<b>not bold</b>"}]})
    );
}

#[test]
fn health_reports_archive_index_and_listeners() {
    let server = web_server(&[]);
    let addr = server.http_addr();
    server.log.wait_for("search index rebuilt");
    let (code, head, body) = http_get(addr, "/health");
    assert_eq!(code, 200, "{body}");
    assert!(head.contains("content-type: application/json"));
    let json: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(json["status"], "ok");
    assert_eq!(json["ready"], true);
    assert_eq!(json["archive"]["writable"], true);
    assert_eq!(json["index"]["state"], "ready");
    let kinds: Vec<&str> = json["listeners"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["kind"].as_str().unwrap())
        .collect();
    assert_eq!(kinds, ["irc", "http"]);
    assert_eq!(
        json["listeners"][0]["addr"].as_str().unwrap(),
        server.addr.to_string()
    );
}

#[test]
fn metrics_count_connections_by_transport_messages_and_latencies() {
    let server = web_server(&[]);
    let addr = server.http_addr();
    let mut web = WsClient::open(&server);
    web.register("m1");
    web.send("JOIN #m");
    web.expect(" 366 ");
    let mut tcp = server.client("m2");
    tcp.send("JOIN #m");
    tcp.expect(" 366 ");
    web.send("PRIVMSG #m :one");
    tcp.expect(":one");
    tcp.send("PRIVMSG #m :two");
    web.expect(":two");
    let (code, head, body) = http_get(addr, "/metrics");
    assert_eq!(code, 200);
    assert!(head.contains("content-type: application/openmetrics-text"));
    for expected in [
        "linechat_connections{transport=\"websocket\"} 1",
        "linechat_connections{transport=\"plain\"} 1",
        "linechat_connections{transport=\"tls\"} 0",
        "linechat_registered_users 2",
        "linechat_rooms 1",
        "linechat_messages_relayed_total 2",
        "linechat_messages_archived_total 2",
        "linechat_archive_write_seconds_count 2",
        "linechat_sendq_disconnects_total 0",
        "linechat_flood_paced_lines_total 0",
        "linechat_search_seconds_count 0",
        "# EOF",
    ] {
        assert!(
            body.contains(expected),
            "{expected:?} missing from:\n{body}"
        );
    }
}

#[test]
fn with_the_index_off_nothing_is_indexed_search_says_so_and_health_is_ready() {
    let server = web_server(&["--search-index", "off"]);
    server.log.wait_for("search index off");
    let [mut a] = server.members("#quiet", ["a"]);
    a.send("PRIVMSG #quiet :archived but not indexed");
    a.send("SEARCH #quiet archived");
    let fail = a.expect("FAIL SEARCH");
    assert!(
        fail.contains("UNAVAILABLE") && fail.contains("turned off"),
        "{fail}"
    );
    assert_eq!(
        common::read_archive(&server.archive("history_quiet.csv")).len(),
        1
    );
    assert!(!server.log_dir.join(".index").exists());
    let (code, _, body) = http_get(server.http_addr(), "/health");
    assert_eq!(code, 200, "{body}");
    let json: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(json["index"]["state"], "off");
    assert_eq!(json["ready"], true);
}

#[test]
fn https_serves_the_page_and_secure_websockets_with_the_reloadable_certificate() {
    use tls_support::{TestCa, TlsClient};
    let ca = TestCa::new();
    let dir = tempfile::tempdir().unwrap();
    let first = ca.leaf();
    let (cert, key) = first.write(dir.path());
    let server = tls_support::start_tls_server(
        &dir.path().join("logs"),
        &cert,
        &key,
        &["--https-listen", "127.0.0.1:0"],
    );
    let addr = server.web_addr("https");
    let tls = TlsClient::connect_tls(addr, ca.client_config_any());
    assert_eq!(tls.server_cert(), first.der);
    let stream = tls.into_stream();
    let mut req = "wss://localhost/ws".into_client_request().unwrap();
    req.headers_mut().insert(
        "Sec-WebSocket-Protocol",
        HeaderValue::from_static("text.ircv3.net"),
    );
    let (ws, _) = tungstenite::client(req, stream).unwrap_or_else(|e| panic!("{e}"));
    let mut secure = SecureWs { ws };
    secure.send("NICK sec");
    secure.send("USER sec 0 * :sec");
    secure.expect(" 001 sec ");
    let [mut plain] = server.members("#s", ["plain"]);
    secure.send("JOIN #s");
    plain.expect(":sec!");
    secure.send("PRIVMSG #s :over wss");
    plain.expect(":over wss");

    // SIGHUP reloads the certificate for HTTPS too.
    let second = ca.leaf();
    second.write_to(&cert, &key);
    server.signal(libc::SIGHUP);
    server.log.wait_for("TLS certificate reloaded");
    let late = TlsClient::connect_tls(addr, ca.client_config_any());
    assert_eq!(late.server_cert(), second.der);
}

/// A WebSocket over TLS, reading text frames.
struct SecureWs {
    ws: WebSocket<rustls::StreamOwned<rustls::ClientConnection, TcpStream>>,
}

impl SecureWs {
    fn send(&mut self, line: &str) {
        self.ws.send(Message::text(line)).unwrap();
    }

    fn expect(&mut self, needle: &str) -> String {
        loop {
            if let Message::Text(t) = self.ws.read().unwrap()
                && t.contains(needle)
            {
                return t.to_string();
            }
        }
    }
}
