//! Line framing with a hard length limit that keeps the connection usable.
//!
//! tokio-util's `LinesCodec::new()` buffers without bound and its bounded variant turns an
//! over-long line into a stream error; IRC servers instead reject the line, discard bytes up
//! to the next newline and carry on. This codec does that, and reports invalid UTF-8 as an
//! item too, so the session can answer each problem with a clear error reply.

use bytes::{Buf, BufMut, BytesMut};
use tokio_util::codec::Decoder;

/// One framed input line, or the reason a line was rejected.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Inbound {
    /// A complete line without its LF/CRLF ending.
    Line(String),
    /// A line longer than the limit; its bytes were discarded.
    TooLong,
    /// A line that is not valid UTF-8, with the bad bytes replaced (U+FFFD) so the
    /// refusal can name its command and label; it is never acted on.
    InvalidUtf8(String),
    /// Proof the peer is alive that carries no line: a WebSocket pong. It counts as
    /// activity for the keep-alive, not against flood control.
    Alive,
}

/// One line's bytes (without its ending) as an [`Inbound`]: too long, not UTF-8, or a
/// line. Shared by the byte-stream codec and message-framed transports (WebSocket).
pub fn decode_line(line: &[u8], max_len: usize) -> Inbound {
    if line.len() > max_len {
        return Inbound::TooLong;
    }
    match std::str::from_utf8(line) {
        Ok(s) => Inbound::Line(s.to_string()),
        Err(_) => Inbound::InvalidUtf8(String::from_utf8_lossy(line).into()),
    }
}

/// Splits input on LF, dropping a preceding CR, with a length limit per line.
#[derive(Debug)]
pub struct LineCodec {
    max_len: usize,
    /// Bytes of the buffer already scanned for a newline, so rescans stay linear.
    scanned: usize,
    /// True while discarding the rest of an over-long line.
    discarding: bool,
}

impl LineCodec {
    /// A codec accepting lines of at most `max_len` bytes, excluding the line ending.
    pub fn new(max_len: usize) -> Self {
        LineCodec {
            max_len,
            scanned: 0,
            discarding: false,
        }
    }
}

impl Decoder for LineCodec {
    type Item = Inbound;
    type Error = std::io::Error;

    fn decode(&mut self, buf: &mut BytesMut) -> Result<Option<Inbound>, std::io::Error> {
        loop {
            let newline = buf[self.scanned..].iter().position(|b| *b == b'\n');
            match newline {
                Some(offset) => {
                    let end = self.scanned + offset;
                    self.scanned = 0;
                    if self.discarding {
                        buf.advance(end + 1);
                        self.discarding = false;
                        return Ok(Some(Inbound::TooLong));
                    }
                    let mut line = buf.split_to(end + 1);
                    line.truncate(end);
                    if line.last() == Some(&b'\r') {
                        line.truncate(end - 1);
                    }
                    return Ok(Some(decode_line(&line, self.max_len)));
                }
                None if self.discarding => {
                    buf.clear();
                    self.scanned = 0;
                    return Ok(None);
                }
                // One extra byte of slack for the CR of a CRLF ending.
                None if buf.len() > self.max_len + 1 => {
                    buf.clear();
                    self.scanned = 0;
                    self.discarding = true;
                    continue;
                }
                None => {
                    self.scanned = buf.len();
                    return Ok(None);
                }
            }
        }
    }

    fn decode_eof(&mut self, buf: &mut BytesMut) -> Result<Option<Inbound>, std::io::Error> {
        match self.decode(buf)? {
            Some(item) => Ok(Some(item)),
            None if buf.is_empty() && !self.discarding => Ok(None),
            None if self.discarding => {
                self.discarding = false;
                Ok(Some(Inbound::TooLong))
            }
            None => {
                // A last line without a newline still counts, like telnet's final input.
                buf.put_u8(b'\n');
                self.decode(buf)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decode_all(codec: &mut LineCodec, input: &[u8]) -> Vec<Inbound> {
        let mut buf = BytesMut::from(input);
        let mut out = Vec::new();
        while let Some(item) = codec.decode(&mut buf).unwrap() {
            out.push(item);
        }
        out
    }

    #[test]
    fn splits_lf_and_crlf() {
        let mut c = LineCodec::new(512);
        assert_eq!(
            decode_all(&mut c, b"NICK a\r\nJOIN b\nPART"),
            vec![
                Inbound::Line("NICK a".into()),
                Inbound::Line("JOIN b".into())
            ]
        );
    }

    #[test]
    fn overlong_line_is_reported_once_and_stream_resyncs() {
        let mut c = LineCodec::new(10);
        let mut buf = BytesMut::new();
        buf.extend_from_slice(&[b'x'; 30]);
        assert_eq!(c.decode(&mut buf).unwrap(), None);
        assert!(buf.is_empty(), "discarded bytes must not be buffered");
        buf.extend_from_slice(b"yyyy\nok\n");
        assert_eq!(c.decode(&mut buf).unwrap(), Some(Inbound::TooLong));
        assert_eq!(
            c.decode(&mut buf).unwrap(),
            Some(Inbound::Line("ok".into()))
        );
    }

    #[test]
    fn limit_is_exact_and_excludes_crlf() {
        let mut c = LineCodec::new(4);
        assert_eq!(
            decode_all(&mut c, b"abcd\r\nabcde\r\nab\n"),
            vec![
                Inbound::Line("abcd".into()),
                Inbound::TooLong,
                Inbound::Line("ab".into())
            ]
        );
    }

    #[test]
    fn invalid_utf8_is_an_item_not_an_error() {
        let mut c = LineCodec::new(512);
        assert_eq!(
            decode_all(&mut c, b"\xff\xfe\nfine\n"),
            vec![
                Inbound::InvalidUtf8("\u{fffd}\u{fffd}".into()),
                Inbound::Line("fine".into())
            ]
        );
    }

    #[test]
    fn last_line_without_newline_counts_at_eof() {
        let mut c = LineCodec::new(512);
        let mut buf = BytesMut::from(&b"QUIT"[..]);
        assert_eq!(c.decode(&mut buf).unwrap(), None);
        assert_eq!(
            c.decode_eof(&mut buf).unwrap(),
            Some(Inbound::Line("QUIT".into()))
        );
        assert_eq!(c.decode_eof(&mut buf).unwrap(), None);
    }
}
