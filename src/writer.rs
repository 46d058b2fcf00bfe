//! Draining a client's outbox to a byte stream (TCP, TLS).
//!
//! A lone line is written as it is; lines queued together are gathered into one buffer
//! and one write, which is freed afterwards, so an idle connection holds no output buffer
//! (see README, "Limits and safety", for the memory per connection). (Handing the lines to
//! `writev` one slice each instead measured slower: more, smaller system calls.)

use tokio::io::{AsyncWrite, AsyncWriteExt};

use crate::outbox::OutboxReceiver;

/// Most bytes gathered into one write when several lines are queued.
const WRITE_BATCH: usize = 64 * 1024;

/// Writes the client's lines until every sender is gone or the stream fails, then shuts
/// the stream down.
pub async fn write_loop<W: AsyncWrite>(writer: W, mut rx: OutboxReceiver) {
    tokio::pin!(writer);
    while let Some(first) = rx.recv().await {
        let written = match rx.try_recv() {
            None => writer.write_all(&first).await,
            Some(second) => write_gathered(&mut writer, &mut rx, &first, &second).await,
        };
        if written.is_err() || writer.flush().await.is_err() {
            return;
        }
    }
    let _ = writer.shutdown().await;
}

/// Copies `first`, `second` and whatever else is queued into one buffer per
/// [`WRITE_BATCH`] bytes, each written with one call.
async fn write_gathered<W: AsyncWrite + Unpin>(
    writer: &mut W,
    rx: &mut OutboxReceiver,
    first: &[u8],
    second: &[u8],
) -> std::io::Result<()> {
    let queued = first.len() + second.len() + rx.queued_bytes();
    let mut batch = Vec::with_capacity(queued.min(WRITE_BATCH));
    batch.extend_from_slice(first);
    batch.extend_from_slice(second);
    while let Some(more) = rx.try_recv() {
        if batch.len() + more.len() > WRITE_BATCH {
            writer.write_all(&batch).await?;
            batch.clear();
        }
        batch.extend_from_slice(&more);
    }
    writer.write_all(&batch).await
}
