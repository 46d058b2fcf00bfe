//! A client's outgoing queue, bounded in bytes (IRC's "sendq").
//!
//! Senders never wait on a slow reader: a line that would push the queue past its limit
//! marks the client for disconnection instead, so one stuck client cannot stall a room or
//! grow the server's memory without bound.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use tokio::sync::{Notify, mpsc};

/// The sending side of a client's queue; cheap to clone.
#[derive(Clone, Debug)]
pub struct Outbox {
    tx: mpsc::UnboundedSender<Bytes>,
    shared: Arc<Shared>,
}

#[derive(Debug)]
struct Shared {
    queued: AtomicUsize,
    limit: usize,
    /// Set once the connection must close (sendq exceeded, KILL); the reason stays.
    closing: AtomicBool,
    reason: Mutex<Option<Closing>>,
    close: Notify,
}

/// Why a connection was asked to close.
#[derive(Debug, Clone)]
pub struct Closing {
    /// What others see in the QUIT line.
    pub reason: String,
    /// The text of the final ERROR line to the client.
    pub error: String,
}

/// The receiving side, drained by the connection's writer task.
pub struct OutboxReceiver {
    rx: mpsc::UnboundedReceiver<Bytes>,
    shared: Arc<Shared>,
}

impl Outbox {
    /// A queue that holds at most `limit` bytes not yet written to the socket.
    pub fn new(limit: usize) -> (Outbox, OutboxReceiver) {
        let (tx, rx) = mpsc::unbounded_channel();
        let shared = Arc::new(Shared {
            queued: AtomicUsize::new(0),
            limit,
            closing: AtomicBool::new(false),
            reason: Mutex::new(None),
            close: Notify::new(),
        });
        (
            Outbox {
                tx,
                shared: shared.clone(),
            },
            OutboxReceiver { rx, shared },
        )
    }

    /// Identifies this client's queue (all clones share it): what a labeled-response
    /// capture compares with (see [`crate::reply`]).
    pub fn owner_key(&self) -> usize {
        Arc::as_ptr(&self.shared) as usize
    }

    /// Queues a line; returns false (and flags the client) when the sendq is exceeded.
    /// While this client's own labeled command runs, the line is taken as one of its
    /// replies instead (see [`crate::reply`]).
    pub fn send(&self, line: Bytes) -> bool {
        if self.shared.closing.load(Ordering::Relaxed) {
            return false;
        }
        if crate::reply::capture(self.owner_key(), &line) {
            return true;
        }
        self.enqueue(line)
    }

    /// Queues a message delivered to this client (a PRIVMSG, NOTICE or TAGMSG naming it):
    /// never one of its labeled replies, even when it messaged itself — then the echo is
    /// the reply and this is the delivery (labeled-response, echo-message).
    pub fn deliver(&self, line: Bytes) -> bool {
        self.enqueue(line)
    }

    fn enqueue(&self, line: Bytes) -> bool {
        if self.shared.closing.load(Ordering::Relaxed) {
            return false;
        }
        let len = line.len();
        let before = self.shared.queued.fetch_add(len, Ordering::Relaxed);
        if before + len > self.shared.limit {
            self.shared.queued.fetch_sub(len, Ordering::Relaxed);
            self.close("SendQ exceeded", "SendQ exceeded");
            return false;
        }
        if self.tx.send(line).is_err() {
            self.shared.queued.fetch_sub(len, Ordering::Relaxed);
            return false;
        }
        true
    }

    /// Queues a line even past the limit: for the final ERROR line of a closing connection.
    pub fn send_final(&self, line: Bytes) {
        self.shared.queued.fetch_add(line.len(), Ordering::Relaxed);
        let _ = self.tx.send(line);
    }

    /// Asks the connection to close with `reason` (what others see in its QUIT): the
    /// sendq overflowing, or an operator's KILL. The first reason given stands; nothing
    /// more is queued after it.
    /// `error` is the text of the ERROR line the client itself gets.
    pub fn close(&self, reason: &str, error: &str) {
        let mut slot = self.shared.reason.lock().unwrap_or_else(|e| e.into_inner());
        if slot.is_none() {
            *slot = Some(Closing {
                reason: reason.to_string(),
                error: error.to_string(),
            });
            self.shared.closing.store(true, Ordering::Relaxed);
            self.shared.close.notify_one();
        }
    }

    /// Resolves, with the reason, once the connection has been asked to close.
    pub async fn closed(&self) -> Closing {
        loop {
            let notified = self.shared.close.notified();
            if let Some(reason) = self
                .shared
                .reason
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .clone()
            {
                return reason;
            }
            notified.await;
        }
    }
}

impl OutboxReceiver {
    /// The next queued line, or `None` once every sender is gone.
    pub async fn recv(&mut self) -> Option<Bytes> {
        let line = self.rx.recv().await?;
        self.shared.queued.fetch_sub(line.len(), Ordering::Relaxed);
        Some(line)
    }

    /// A queued line if one is ready now.
    pub fn try_recv(&mut self) -> Option<Bytes> {
        let line = self.rx.try_recv().ok()?;
        self.shared.queued.fetch_sub(line.len(), Ordering::Relaxed);
        Some(line)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn exceeding_the_limit_flags_overflow() {
        let (out, mut rx) = Outbox::new(10);
        assert!(out.send(Bytes::from_static(b"12345")));
        assert!(out.send(Bytes::from_static(b"12345")));
        assert!(!out.send(Bytes::from_static(b"1")));
        assert_eq!(out.closed().await.reason, "SendQ exceeded");
        assert_eq!(rx.recv().await.unwrap(), Bytes::from_static(b"12345"));
        assert!(!out.send(Bytes::from_static(b"1")), "stays flagged");
    }
}
