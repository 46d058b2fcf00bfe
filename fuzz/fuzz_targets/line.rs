//! The path of every client byte: the line codec, the message grammar and command
//! dispatch's parameter checks. Nothing may panic.
#![no_main]

use bytes::BytesMut;
use libfuzzer_sys::fuzz_target;
use linechat::codec::{Inbound, LineCodec};
use linechat::command::Command;
use linechat::message::Message;
use tokio_util::codec::Decoder;

fuzz_target!(|data: &[u8]| {
    let mut codec = LineCodec::new(512 + 4096);
    let mut buf = BytesMut::from(data);
    while let Ok(Some(item)) = codec.decode(&mut buf) {
        if let Inbound::Line(text) = item
            && let Ok(Some(msg)) = Message::parse(&text)
        {
            let _ = Command::parse(&msg);
        }
    }
    let _ = codec.decode_eof(&mut buf);
});
