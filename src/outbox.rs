//! A client's outgoing queue, bounded in bytes (IRC's "sendq").
//!
//! Senders never wait on a slow reader: a line from *others* (room traffic, private
//! messages) that would push the queue past its limit marks the client for disconnection
//! instead, so one stuck client cannot stall a room or grow the server's memory without
//! bound. Replies to the client's *own* commands (sent from its own session task while it
//! handles a line, see [`replying`]) never count against that hard limit: the session stops
//! reading the client's next commands until they drain below a soft limit, as InspIRCd's
//! soft sendq does, so a big answer (LIST, WHO, CHATHISTORY) never costs the asker its
//! connection and memory stays bounded by one command's answer.

use std::cell::RefCell;
use std::collections::VecDeque;
use std::future::Future;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use bytes::Bytes;
use tokio::sync::Notify;

/// Bytes of replies to its own commands a client may have unread before the session
/// stops reading its next command (InspIRCd's soft sendq is 10 KiB).
pub const SOFT_SENDQ: usize = 16 * 1024;

tokio::task_local! {
    /// The outbox whose client's command is being handled on this task.
    static REPLYING: usize;
}

thread_local! {
    /// While [`batched_wakes`] runs on this thread: the queues that gained lines and whose
    /// writers are still to be woken.
    static DEFERRED: RefCell<Option<Vec<Arc<Shared>>>> = const { RefCell::new(None) };
}

/// Runs `f`, which queues lines to many clients (the deliveries of one archive batch),
/// waking each client's writer once at the end instead of once per line: a recipient of
/// nine messages in the batch is woken once and writes them with one call.
pub fn batched_wakes<R>(f: impl FnOnce() -> R) -> R {
    let outer = DEFERRED.with(|d| d.borrow_mut().replace(Vec::new()));
    let result = f();
    let woken = DEFERRED.with(|d| std::mem::replace(&mut *d.borrow_mut(), outer));
    for shared in woken.into_iter().flatten() {
        shared.wake_pending.store(false, Ordering::Relaxed);
        shared.ready.notify_one();
    }
    result
}

/// Runs `fut` (the handling of one client line) so that what it queues to the client's
/// own outbox (`owner`, see [`Outbox::owner_key`]) counts as replies, not as others' traffic.
pub async fn replying<F: Future>(owner: usize, fut: F) -> F::Output {
    REPLYING.scope(owner, fut).await
}

/// Whose a queued line is, for the two limits and for closing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    /// Others' traffic: held to the hard limit.
    Others,
    /// A reply to the client's own command: paced by the soft limit.
    Own,
    /// The last line of a closing connection (its ERROR).
    Final,
}

/// One queued line and whose it is.
type Queued = (Bytes, Kind);

/// The sending side of a client's queue; cheap to clone.
#[derive(Debug)]
pub struct Outbox {
    shared: Arc<Shared>,
}

/// The lines themselves. A plain locked deque rather than a channel: an idle connection's
/// queue holds no memory (a tokio channel keeps a block of 32 slots, 1.3 KB, per client),
/// and a push is one uncontended lock, since each client has its own queue.
#[derive(Debug, Default)]
struct Lines {
    queue: VecDeque<Queued>,
    /// Live [`Outbox`] clones: the receiver ends once they are all gone.
    senders: usize,
    /// The receiver is gone (the connection's writer ended): pushes are refused.
    closed: bool,
}

/// A queue grown past this many lines by a burst is freed once drained.
const KEEP_QUEUE_CAPACITY: usize = 64;

#[derive(Debug)]
struct Shared {
    lines: Mutex<Lines>,
    /// Signalled when a line is queued or the last sender goes.
    ready: Notify,
    /// A wake-up of the writer is pending at the end of a [`batched_wakes`] scope.
    wake_pending: AtomicBool,
    /// Bytes of others' lines not yet written: held to `limit`.
    queued: AtomicUsize,
    /// Bytes of replies to the client's own commands not yet written.
    own: AtomicUsize,
    /// Signalled when `own` falls below [`SOFT_SENDQ`].
    drained: Notify,
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
    shared: Arc<Shared>,
    /// The final line (the ERROR) has been handed out: the stream ends there, whatever
    /// others queued after it (a QUIT racing the shutdown, say).
    finished: bool,
}

impl Outbox {
    /// A queue that holds at most `limit` bytes not yet written to the socket.
    pub fn new(limit: usize) -> (Outbox, OutboxReceiver) {
        let shared = Arc::new(Shared {
            lines: Mutex::new(Lines {
                senders: 1,
                ..Lines::default()
            }),
            ready: Notify::new(),
            wake_pending: AtomicBool::new(false),
            queued: AtomicUsize::new(0),
            own: AtomicUsize::new(0),
            drained: Notify::new(),
            limit,
            closing: AtomicBool::new(false),
            reason: Mutex::new(None),
            close: Notify::new(),
        });
        (
            Outbox {
                shared: shared.clone(),
            },
            OutboxReceiver {
                shared,
                finished: false,
            },
        )
    }

    /// The queue of a client connected to another cluster node: it takes nothing (that
    /// node delivers to it), so lines for it cost one refused push.
    pub fn elsewhere() -> Outbox {
        let (outbox, rx) = Outbox::new(0);
        drop(rx);
        outbox
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
        if REPLYING
            .try_with(|k| *k == self.owner_key())
            .unwrap_or(false)
        {
            self.shared.own.fetch_add(len, Ordering::Relaxed);
            if !self.shared.push((line, Kind::Own)) {
                self.shared.own.fetch_sub(len, Ordering::Relaxed);
                return false;
            }
            return true;
        }
        let before = self.shared.queued.fetch_add(len, Ordering::Relaxed);
        if before + len > self.shared.limit {
            self.shared.queued.fetch_sub(len, Ordering::Relaxed);
            crate::metrics::get().sendq_disconnects.inc();
            self.close("SendQ exceeded", "SendQ exceeded");
            return false;
        }
        if !self.shared.push((line, Kind::Others)) {
            self.shared.queued.fetch_sub(len, Ordering::Relaxed);
            return false;
        }
        true
    }

    /// Bytes of replies to the client's own commands not yet written.
    pub fn own_backlog(&self) -> usize {
        self.shared.own.load(Ordering::Relaxed)
    }

    /// Resolves once the replies not yet written are below [`SOFT_SENDQ`]: until then the
    /// session reads no further command from the client.
    pub async fn replies_drained(&self) {
        loop {
            let notified = self.shared.drained.notified();
            if self.own_backlog() < SOFT_SENDQ {
                return;
            }
            notified.await;
        }
    }

    /// Queues a line even past the limit: for the final ERROR line of a closing connection.
    /// Once the connection was asked to [close](Outbox::close), the lines still queued
    /// before it are dropped unwritten: the writer finishes the line in hand, so the
    /// client's stream ends on a line boundary with the ERROR, at once.
    pub fn send_final(&self, line: Bytes) {
        self.shared.own.fetch_add(line.len(), Ordering::Relaxed);
        self.shared.push((line, Kind::Final));
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

impl Shared {
    fn lock(&self) -> MutexGuard<'_, Lines> {
        self.lines.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Queues a line and wakes the writer (at the end of the current [`batched_wakes`]
    /// scope, if one runs); false once the receiver is gone.
    fn push(self: &Arc<Self>, queued: Queued) -> bool {
        {
            let mut lines = self.lock();
            if lines.closed {
                return false;
            }
            lines.queue.push_back(queued);
        }
        let deferred = DEFERRED.with(|d| match d.borrow_mut().as_mut() {
            Some(woken) => {
                if !self.wake_pending.swap(true, Ordering::Relaxed) {
                    woken.push(self.clone());
                }
                true
            }
            None => false,
        });
        if !deferred {
            self.ready.notify_one();
        }
        true
    }

    /// The next queued line (`Ok(None)`: none yet; `Err(())`: none will come, every
    /// sender is gone). A queue a burst grew is freed once empty.
    fn pop(&self) -> Result<Option<Queued>, ()> {
        let mut lines = self.lock();
        let queued = lines.queue.pop_front();
        if lines.queue.is_empty() && lines.queue.capacity() > KEEP_QUEUE_CAPACITY {
            lines.queue = VecDeque::new();
        }
        match queued {
            None if lines.senders == 0 => Err(()),
            queued => Ok(queued),
        }
    }
}

impl Clone for Outbox {
    fn clone(&self) -> Outbox {
        self.shared.lock().senders += 1;
        Outbox {
            shared: self.shared.clone(),
        }
    }
}

impl Drop for Outbox {
    fn drop(&mut self) {
        let last = {
            let mut lines = self.shared.lock();
            lines.senders -= 1;
            lines.senders == 0
        };
        if last {
            self.shared.ready.notify_one();
        }
    }
}

impl Drop for OutboxReceiver {
    fn drop(&mut self) {
        let mut lines = self.shared.lock();
        lines.closed = true;
        lines.queue = VecDeque::new();
    }
}

impl OutboxReceiver {
    /// The next line to write, or `None` once every sender is gone.
    pub async fn recv(&mut self) -> Option<Bytes> {
        loop {
            if self.finished {
                return None;
            }
            // A line queued between this look and the wait leaves a permit in `ready`
            // (notify_one), so it is not missed.
            match self.shared.pop().ok()? {
                Some(queued) => {
                    if let Some(line) = self.taken(queued) {
                        return Some(line);
                    }
                }
                None => self.shared.ready.notified().await,
            }
        }
    }

    /// Bytes queued and not yet taken: what a writer gathering lines sizes its buffer by.
    pub fn queued_bytes(&self) -> usize {
        self.shared.queued.load(Ordering::Relaxed) + self.shared.own.load(Ordering::Relaxed)
    }

    /// A line to write if one is ready now.
    pub fn try_recv(&mut self) -> Option<Bytes> {
        loop {
            if self.finished {
                return None;
            }
            let queued = self.shared.pop().ok().flatten()?;
            if let Some(line) = self.taken(queued) {
                return Some(line);
            }
        }
    }

    /// Accounts for a line leaving the queue; `None` when it is dropped unwritten because
    /// the connection is closing (only its final line is still written).
    fn taken(&mut self, (line, kind): Queued) -> Option<Bytes> {
        self.finished |= kind == Kind::Final;
        let len = line.len();
        if kind != Kind::Others {
            let before = self.shared.own.fetch_sub(len, Ordering::Relaxed);
            if before >= SOFT_SENDQ && before - len < SOFT_SENDQ {
                self.shared.drained.notify_waiters();
            }
        } else {
            self.shared.queued.fetch_sub(len, Ordering::Relaxed);
        }
        let dropped = kind != Kind::Final && self.shared.closing.load(Ordering::Relaxed);
        (!dropped).then_some(line)
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
        assert!(!out.send(Bytes::from_static(b"1")), "stays flagged");
        // What was queued before the close is dropped: the ERROR follows the line in hand.
        out.send_final(Bytes::from_static(b"ERROR :SendQ exceeded\r\n"));
        assert_eq!(
            rx.recv().await.unwrap(),
            Bytes::from_static(b"ERROR :SendQ exceeded\r\n")
        );
        drop(out);
        assert!(rx.recv().await.is_none());
    }

    #[tokio::test]
    async fn nothing_follows_the_final_line() {
        let (out, mut rx) = Outbox::new(1000);
        assert!(out.send(Bytes::from_static(b"before\r\n")));
        out.send_final(Bytes::from_static(b"ERROR :Server shutting down\r\n"));
        // Another session's QUIT racing the shutdown.
        out.send(Bytes::from_static(b":ben QUIT :Server shutting down\r\n"));
        assert_eq!(rx.recv().await.unwrap(), Bytes::from_static(b"before\r\n"));
        assert_eq!(
            rx.recv().await.unwrap(),
            Bytes::from_static(b"ERROR :Server shutting down\r\n")
        );
        assert!(rx.try_recv().is_none());
        assert!(rx.recv().await.is_none(), "the stream ends with the ERROR");
    }

    #[tokio::test]
    async fn replies_to_own_commands_pass_the_limit_and_drain() {
        let (out, mut rx) = Outbox::new(10);
        let big = Bytes::from(vec![b'x'; SOFT_SENDQ]);
        let owner = out.owner_key();
        replying(owner, async {
            assert!(out.send(big.clone()));
            assert!(out.send(big.clone()));
        })
        .await;
        assert_eq!(out.own_backlog(), 2 * SOFT_SENDQ);
        assert!(
            out.send(Bytes::from_static(b"12345")),
            "others' lines still fit"
        );
        let waiting = tokio::spawn({
            let out = out.clone();
            async move { out.replies_drained().await }
        });
        assert_eq!(rx.recv().await.unwrap().len(), SOFT_SENDQ);
        assert_eq!(rx.recv().await.unwrap().len(), SOFT_SENDQ);
        waiting.await.unwrap();
        assert_eq!(out.own_backlog(), 0);
    }
}
