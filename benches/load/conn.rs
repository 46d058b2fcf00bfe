//! One IRC client connection, over TCP or over the IRCv3 WebSocket binding
//! (`text.ircv3.net`, one line per text frame): registration with 433 retries, JOIN, and
//! a reader that answers every PING with a PONG whatever else the caller is waiting for.

use std::io;
use std::sync::Arc;

use futures::stream::{SplitSink, SplitStream};
use futures::{SinkExt, StreamExt};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::sync::Mutex;
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::HeaderValue;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Transport {
    Tcp,
    /// IRCv3 WebSocket binding at `ws://ADDR/ws`.
    Ws,
}

type Ws = WebSocketStream<TcpStream>;

enum Sink {
    Tcp(OwnedWriteHalf),
    Ws(SplitSink<Ws, Message>),
}

/// The sending half; cloned into the reader so that it can answer PINGs.
#[derive(Clone)]
pub struct Writer(Arc<Mutex<Sink>>);

impl Writer {
    /// Sends one IRC line (without its line ending).
    pub async fn send(&self, line: &str) -> io::Result<()> {
        let mut sink = self.0.lock().await;
        match &mut *sink {
            Sink::Tcp(w) => {
                let mut buf = Vec::with_capacity(line.len() + 2);
                buf.extend_from_slice(line.as_bytes());
                buf.extend_from_slice(b"\r\n");
                w.write_all(&buf).await
            }
            Sink::Ws(w) => w.send(Message::text(line)).await.map_err(io::Error::other),
        }
    }

    /// Sends several lines: one write over TCP, one frame each over WebSocket.
    pub async fn send_all(&self, lines: &[String]) -> io::Result<()> {
        let mut sink = self.0.lock().await;
        match &mut *sink {
            Sink::Tcp(w) => {
                let mut buf = Vec::new();
                for l in lines {
                    buf.extend_from_slice(l.as_bytes());
                    buf.extend_from_slice(b"\r\n");
                }
                w.write_all(&buf).await
            }
            Sink::Ws(w) => {
                for l in lines {
                    w.feed(Message::text(l.as_str()))
                        .await
                        .map_err(io::Error::other)?;
                }
                w.flush().await.map_err(io::Error::other)
            }
        }
    }
}

enum Source {
    Tcp(BufReader<OwnedReadHalf>),
    Ws(SplitStream<Ws>),
}

/// The receiving half. [`Reader::next_line`] answers PINGs by itself.
pub struct Reader {
    source: Source,
    writer: Writer,
}

impl Reader {
    /// The next line other than a PING, into `line` (without its ending); false at the end
    /// of the connection.
    pub async fn next_line(&mut self, line: &mut String) -> io::Result<bool> {
        loop {
            line.clear();
            match &mut self.source {
                Source::Tcp(r) => {
                    if r.read_line(line).await? == 0 {
                        return Ok(false);
                    }
                    while line.ends_with('\n') || line.ends_with('\r') {
                        line.pop();
                    }
                }
                Source::Ws(r) => match r.next().await {
                    None => return Ok(false),
                    Some(Err(e)) => return Err(io::Error::other(e)),
                    Some(Ok(Message::Text(t))) => line.push_str(t.as_str()),
                    Some(Ok(Message::Binary(b))) => line.push_str(&String::from_utf8_lossy(&b)),
                    Some(Ok(Message::Close(_))) => return Ok(false),
                    Some(Ok(_)) => continue,
                },
            }
            if command(line) == "PING" {
                let token = line.split_once(" PING").map_or("", |(_, t)| t);
                let token = if token.is_empty() {
                    line.strip_prefix("PING").unwrap_or("")
                } else {
                    token
                };
                self.writer.send(&format!("PONG{token}")).await?;
                continue;
            }
            return Ok(true);
        }
    }

    /// Reads on, answering PINGs, until the connection ends; returns whether it ended
    /// with an ERROR line (the server dropped us).
    pub async fn drain(mut self) -> bool {
        let mut line = String::new();
        let mut error = false;
        while let Ok(true) = self.next_line(&mut line).await {
            error |= command(&line) == "ERROR";
        }
        error
    }
}

/// The command (or numeric) of a line, after its tags and source.
pub fn command(line: &str) -> &str {
    let mut rest = line;
    if rest.starts_with('@') {
        rest = rest.split_once(' ').map_or("", |(_, r)| r);
    }
    if rest.starts_with(':') {
        rest = rest.split_once(' ').map_or("", |(_, r)| r);
    }
    rest.split(' ').next().unwrap_or("")
}

/// The parameters of a line after its command, as one string.
pub fn params(line: &str) -> &str {
    let c = command(line);
    let at = line
        .find(&format!("{c} "))
        .map_or(line.len(), |i| i + c.len() + 1);
    &line[at.min(line.len())..]
}

/// Opens a connection (not yet registered).
pub async fn open(addr: &str, transport: Transport) -> io::Result<(Reader, Writer)> {
    let stream = TcpStream::connect(addr).await?;
    stream.set_nodelay(true)?;
    let (source, sink) = match transport {
        Transport::Tcp => {
            let (r, w) = stream.into_split();
            (Source::Tcp(BufReader::new(r)), Sink::Tcp(w))
        }
        Transport::Ws => {
            let mut req = format!("ws://{addr}/ws")
                .into_client_request()
                .map_err(io::Error::other)?;
            req.headers_mut().insert(
                "Sec-WebSocket-Protocol",
                HeaderValue::from_static("text.ircv3.net"),
            );
            let (ws, _) = tokio_tungstenite::client_async(req, stream)
                .await
                .map_err(io::Error::other)?;
            let (w, r) = ws.split();
            (Source::Ws(r), Sink::Ws(w))
        }
    };
    let writer = Writer(Arc::new(Mutex::new(sink)));
    Ok((
        Reader {
            source,
            writer: writer.clone(),
        },
        writer,
    ))
}

/// Connects and registers as `nick` (or `nick_N` while the server answers 433), optionally
/// requesting capabilities first; returns once the server sent 001, with the nick given.
/// An attempt that gets no 001 within 10 s (a daemon with a short listen backlog can leave
/// a connection half-open) is abandoned and tried again, three times in all.
pub async fn register(
    addr: &str,
    transport: Transport,
    nick: &str,
    caps: &str,
) -> io::Result<(Reader, Writer, String)> {
    let mut last = io::Error::other("no attempt");
    for _ in 0..3 {
        match tokio::time::timeout(
            std::time::Duration::from_secs(10),
            register_once(addr, transport, nick, caps),
        )
        .await
        {
            Ok(Ok(c)) => return Ok(c),
            Ok(Err(e)) => last = e,
            Err(_) => last = io::Error::other("no 001 within 10 s"),
        }
    }
    Err(last)
}

async fn register_once(
    addr: &str,
    transport: Transport,
    nick: &str,
    caps: &str,
) -> io::Result<(Reader, Writer, String)> {
    let (mut r, w) = open(addr, transport).await?;
    let mut nick = nick.to_string();
    let mut first = Vec::new();
    if !caps.is_empty() {
        first.push("CAP LS 302".to_string());
        first.push(format!("CAP REQ :{caps}"));
        first.push("CAP END".to_string());
    }
    first.push(format!("NICK {nick}"));
    first.push(format!("USER {nick} 0 * :load {nick}"));
    w.send_all(&first).await?;
    let mut line = String::new();
    let mut tries = 0;
    while r.next_line(&mut line).await? {
        match command(&line) {
            "001" => return Ok((r, w, nick)),
            "433" | "436" => {
                tries += 1;
                if tries > 20 {
                    break;
                }
                nick = format!("{}_{tries}", nick.split('_').next().unwrap_or("u"));
                w.send(&format!("NICK {nick}")).await?;
            }
            "ERROR" | "465" => return Err(io::Error::other(line.clone())),
            _ => {}
        }
    }
    Err(io::Error::other(format!(
        "connection closed before 001 (last line: {line})"
    )))
}

/// Joins `room` and waits for the end of its NAMES list (366).
pub async fn join(r: &mut Reader, w: &Writer, room: &str) -> io::Result<()> {
    w.send(&format!("JOIN {room}")).await?;
    let mut line = String::new();
    while r.next_line(&mut line).await? {
        match command(&line) {
            "366" if params(&line).split(' ').nth(1) == Some(room) => return Ok(()),
            "403" | "405" | "471" | "473" | "474" | "475" | "479" | "ERROR" => {
                return Err(io::Error::other(format!("JOIN {room}: {line}")));
            }
            _ => {}
        }
    }
    Err(io::Error::other(format!("closed while joining {room}")))
}
