//! A session's room messages handed to the archive writer and not yet delivered.
//!
//! A client's room messages are pipelined: the session reads the client's next line while
//! the previous message is being archived, so a burst of messages is archived and
//! delivered as one batch instead of one writer round trip each. Everything else the
//! client does (any other command, a reply the server sends it) first waits until its
//! messages in flight are delivered ([`InFlight::settle`]), so the client and everyone
//! else still see its lines in the order it sent them.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use tokio::sync::Notify;

/// Most room messages one client may have in flight before its next line waits.
pub const MAX_IN_FLIGHT: u64 = 64;

/// One session's count of messages in flight; allocated on its first room message, so an
/// idle connection holds nothing.
#[derive(Default)]
pub struct InFlight {
    counts: Option<Arc<Counts>>,
}

#[derive(Default)]
struct Counts {
    /// Messages handed over (written only by the session).
    started: AtomicU64,
    /// Messages whose delivery (or failure) has run.
    finished: AtomicU64,
    /// Signalled when the last message in flight finishes.
    idle: Notify,
}

/// Held by one message in flight; dropping it (after delivery or failure) counts it done.
pub struct Ticket {
    counts: Arc<Counts>,
}

impl InFlight {
    /// Counts a message as handed over; the returned ticket goes with it.
    pub fn start(&mut self) -> Ticket {
        let counts = self.counts.get_or_insert_with(Default::default).clone();
        counts.started.fetch_add(1, Ordering::AcqRel);
        Ticket { counts }
    }

    /// Messages handed over and not yet delivered.
    pub fn pending(&self) -> u64 {
        self.counts.as_ref().map_or(0, |c| {
            c.started
                .load(Ordering::Acquire)
                .saturating_sub(c.finished.load(Ordering::Acquire))
        })
    }

    /// Resolves once every message handed over has been delivered (or refused).
    pub async fn settle(&self) {
        let Some(counts) = &self.counts else { return };
        loop {
            let idle = counts.idle.notified();
            if self.pending() == 0 {
                return;
            }
            idle.await;
        }
    }
}

impl Drop for Ticket {
    fn drop(&mut self) {
        let finished = self.counts.finished.fetch_add(1, Ordering::AcqRel) + 1;
        if finished == self.counts.started.load(Ordering::Acquire) {
            self.counts.idle.notify_one();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn settles_once_every_ticket_is_gone() {
        let mut flight = InFlight::default();
        flight.settle().await;
        let (a, b) = (flight.start(), flight.start());
        assert_eq!(flight.pending(), 2);
        let waiting = tokio::spawn(async move {
            flight.settle().await;
            flight
        });
        drop(a);
        tokio::task::yield_now().await;
        assert!(!waiting.is_finished());
        drop(b);
        let flight = waiting.await.unwrap();
        assert_eq!(flight.pending(), 0);
    }
}
