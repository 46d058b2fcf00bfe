//! The IRCv3 WebSocket binding as a session transport: one IRC line per frame, without
//! its CR LF, in text frames (`text.ircv3.net`, also the default when the client names no
//! subprotocol, as InspIRCd does) or binary frames (`binary.ircv3.net`).
//!
//! Frames become the session's input lines ([`Inbound`], with the same line-length and
//! UTF-8 checks as the TCP codec), and the outbox's lines become frames. The server pings
//! with WebSocket pings (InspIRCd's `nativeping`); a pong counts as activity, so a browser
//! that is there is never sent an IRC PING, and one that is gone is timed out as usual.

use std::net::SocketAddr;
use std::time::Duration;

use axum::extract::ws::{Message, Utf8Bytes, WebSocket, WebSocketUpgrade};
use bytes::Bytes;
use futures::{SinkExt, StreamExt};
use tokio::sync::broadcast;

use crate::codec::{Inbound, decode_line};
use crate::context::Ctx;
use crate::metrics::Transport;
use crate::outbox::OutboxReceiver;

/// The subprotocols served, in the server's order of preference.
pub const SUBPROTOCOLS: [&str; 2] = ["text.ircv3.net", "binary.ircv3.net"];

/// Largest frame (and message) accepted: a few lines' worth. A line over the line limit
/// but within this gets `417` like on TCP; a larger frame closes the connection (1009).
pub const MAX_FRAME_BYTES: usize = 16 * 1024;

/// Longest a WebSocket connection stays silent before the server pings it.
const PING_EVERY: Duration = Duration::from_secs(30);

/// How lines travel: text or binary frames.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Framing {
    Text,
    Binary,
}

impl Framing {
    /// The framing the negotiated subprotocol asks for (text when none was named).
    pub fn of<F>(upgrade: &WebSocketUpgrade<F>) -> Framing {
        match upgrade.selected_protocol() {
            Some(p) if p == SUBPROTOCOLS[1] => Framing::Binary,
            _ => Framing::Text,
        }
    }

    /// Its name in logs.
    pub fn name(self) -> &'static str {
        match self {
            Framing::Text => "text",
            Framing::Binary => "binary",
        }
    }
}

/// Sets the subprotocols and frame limits on an upgrade request.
pub fn configure(upgrade: WebSocketUpgrade) -> WebSocketUpgrade {
    upgrade
        .protocols(SUBPROTOCOLS)
        .max_frame_size(MAX_FRAME_BYTES)
        .max_message_size(MAX_FRAME_BYTES)
}

/// Runs a session over an upgraded WebSocket until either side ends it.
pub async fn run(
    socket: WebSocket,
    framing: Framing,
    peer: SocketAddr,
    transport: Transport,
    ctx: Ctx,
    shutdown: broadcast::Receiver<()>,
) {
    let max = ctx.settings.max_line_bytes + crate::tags::MAX_CLIENT_TAG_BYTES;
    let ping_every = PING_EVERY
        .min(ctx.settings.ping_interval / 2)
        .max(Duration::from_secs(1));
    let (sink, stream) = socket.split();
    let lines = stream
        .take_while(|frame| std::future::ready(!matches!(frame, Ok(Message::Close(_)))))
        .flat_map(move |frame| futures::stream::iter(inbound(frame, max)))
        .boxed();
    let writer = move |rx| write_frames(sink, rx, framing, ping_every);
    crate::session::serve(lines, writer, peer, transport, ctx, shutdown).await;
}

/// The input lines one frame carries. A frame is one line by the binding; a frame holding
/// several (CR LF separated) is taken line by line, as the TCP codec would.
fn inbound(
    frame: Result<Message, axum::Error>,
    max: usize,
) -> Vec<Result<Inbound, std::io::Error>> {
    let data: Bytes = match frame {
        Ok(Message::Text(text)) => Bytes::from(text),
        Ok(Message::Binary(data)) => data,
        Ok(Message::Pong(_)) => return vec![Ok(Inbound::Alive)],
        // Answered by the WebSocket layer itself.
        Ok(Message::Ping(_)) | Ok(Message::Close(_)) => return Vec::new(),
        Err(e) => return vec![Err(std::io::Error::other(e))],
    };
    let data = data.strip_suffix(b"\n").unwrap_or(&data);
    data.split(|b| *b == b'\n')
        .map(|line| Ok(decode_line(line.strip_suffix(b"\r").unwrap_or(line), max)))
        .collect()
}

/// One outgoing line (ending in CR LF) as a frame without the ending.
fn frame(line: Bytes, framing: Framing) -> Message {
    let end = line.len() - line.ends_with(b"\r\n") as usize * 2;
    let line = line.slice(..end);
    match framing {
        Framing::Binary => Message::Binary(line),
        Framing::Text => match Utf8Bytes::try_from(line.clone()) {
            Ok(text) => Message::Text(text),
            // Lines are UTF-8 (UTF8ONLY); a text frame must be, whatever happens.
            Err(_) => Message::Text(String::from_utf8_lossy(&line).into_owned().into()),
        },
    }
}

/// Drains the outbox into frames, batching what is queued into one flush, and pings the
/// client when nothing was sent for a while. Ends with a Close frame.
async fn write_frames<S>(
    mut sink: S,
    mut rx: OutboxReceiver,
    framing: Framing,
    ping_every: Duration,
) where
    S: futures::Sink<Message, Error = axum::Error> + Unpin,
{
    let mut ping = tokio::time::interval_at(tokio::time::Instant::now() + ping_every, ping_every);
    ping.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            msg = rx.recv() => {
                let Some(msg) = msg else { break };
                if sink.feed(frame(msg, framing)).await.is_err() {
                    return;
                }
                while let Some(more) = rx.try_recv() {
                    if sink.feed(frame(more, framing)).await.is_err() {
                        return;
                    }
                }
                if sink.flush().await.is_err() {
                    return;
                }
                ping.reset();
            }
            _ = ping.tick() => {
                if sink.send(Message::Ping(Bytes::new())).await.is_err() {
                    return;
                }
            }
        }
    }
    let _ = sink.send(Message::Close(None)).await;
    let _ = sink.close().await;
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lines(frame: Message) -> Vec<Inbound> {
        inbound(Ok(frame), 20)
            .into_iter()
            .map(Result::unwrap)
            .collect()
    }

    #[test]
    fn a_frame_is_a_line_with_or_without_its_ending() {
        assert_eq!(
            lines(Message::Text("NICK a".into())),
            [Inbound::Line("NICK a".into())]
        );
        assert_eq!(
            lines(Message::Text("NICK a\r\n".into())),
            [Inbound::Line("NICK a".into())]
        );
        assert_eq!(
            lines(Message::Text("NICK a\r\nJOIN #b".into())),
            [
                Inbound::Line("NICK a".into()),
                Inbound::Line("JOIN #b".into())
            ]
        );
    }

    #[test]
    fn binary_frames_get_the_codec_checks() {
        assert_eq!(
            lines(Message::Binary(Bytes::from_static(b"PRIVMSG #a :\xff"))),
            [Inbound::InvalidUtf8("PRIVMSG #a :\u{fffd}".into())]
        );
        assert_eq!(
            lines(Message::Binary(Bytes::from(vec![b'a'; 21]))),
            [Inbound::TooLong]
        );
        assert_eq!(lines(Message::Pong(Bytes::new())), [Inbound::Alive]);
    }

    #[test]
    fn outgoing_lines_lose_their_ending() {
        let line = Bytes::from_static(b":s 001 a :hi\r\n");
        assert_eq!(
            frame(line.clone(), Framing::Text),
            Message::Text(":s 001 a :hi".into())
        );
        assert_eq!(
            frame(line, Framing::Binary),
            Message::Binary(Bytes::from_static(b":s 001 a :hi"))
        );
    }
}
