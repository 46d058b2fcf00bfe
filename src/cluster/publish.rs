//! Publishing to the network's stream and hearing back: each change is a request of this
//! node, published with retries until JetStream acknowledges it, then answered when the
//! applier brings it back in stream order (see [`super::applier`]).

use std::collections::HashMap;
use std::sync::atomic::Ordering;
use std::time::Duration;

use async_nats::jetstream::{context::PublishErrorKind, message::PublishMessage};
use serde::Serialize;
use tokio::sync::oneshot;

use super::{Applied, Cluster, ClusterError, Event};

/// How long a change waits for a lost NATS connection to come back before failing.
const DISCONNECTED_GRACE: Duration = Duration::from_secs(3);

/// How long one publish attempt counts (its envelope's deadline).
pub(super) const ATTEMPT_TIMEOUT: Duration = Duration::from_secs(3);

/// How long a stored change may take to come back through this node's stream reader.
const APPLY_PATIENCE: Duration = Duration::from_secs(120);

/// How much longer than its deadline an attempt waits for its acknowledgement.
const ACK_GRACE: Duration = Duration::from_secs(1);

/// [`Envelope`] as published, borrowing its event (an attempt is serialised afresh).
#[derive(Serialize)]
struct EnvelopeRef<'a> {
    node: String,
    run: u64,
    req: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    deadline: Option<i64>,
    /// The [`Event`], serialised once for every attempt.
    event: &'a serde_json::Value,
}

/// A request of this node whose event has not come back from the stream yet.
pub(crate) struct Waiter {
    /// Where the outcome goes; `None` for a room message its session does not wait for
    /// (see [`Cluster::send_room_line_pipelined`]).
    pub(super) tx: Option<oneshot::Sender<Applied>>,
    /// The requesting client's outbox identity when its line is labeled
    /// ([`crate::reply`]): the replies the change causes are captured for the label.
    pub(super) labeled: Option<usize>,
    /// Counts a pipelined room message in its session's messages in flight until it is
    /// delivered here (or refused).
    pub(crate) ticket: Option<crate::inflight::Ticket>,
}

impl Cluster {
    pub(super) async fn publish(
        &self,
        event: Event,
        labeled: Option<usize>,
    ) -> Result<Applied, ClusterError> {
        let req = self.next_req.fetch_add(1, Ordering::Relaxed);
        let (tx, rx) = oneshot::channel();
        let waiter = Waiter {
            tx: Some(tx),
            labeled,
            ticket: None,
        };
        self.lock_pending().insert(req, waiter);
        let event = serde_json::to_value(&event).expect("events serialise");
        let payload = |deadline| self.envelope(req, &event, deadline);
        if let Err(e) = self.publish_payload(req, payload, true).await {
            self.lock_pending().remove(&req);
            return Err(e);
        }
        // Stored: it will take effect everywhere, and the applier brings it back here in
        // stream order. Waited for as long as that takes (a NATS restart makes the reader
        // start afresh); only a reader stalled for minutes gives up, without claiming
        // the change failed.
        match tokio::time::timeout(APPLY_PATIENCE, rx).await {
            Ok(Ok(applied)) => Ok(applied),
            _ => {
                self.lock_pending().remove(&req);
                tracing::error!(req, "cluster: a stored change was not applied here in time");
                Err(ClusterError::Stalled)
            }
        }
    }

    pub(super) fn envelope(
        &self,
        req: u64,
        event: &serde_json::Value,
        deadline: Option<i64>,
    ) -> bytes::Bytes {
        let envelope = EnvelopeRef {
            node: self.settings.node_name.clone(),
            run: self.run,
            req,
            deadline,
            event,
        };
        serde_json::to_vec(&envelope)
            .expect("events serialise")
            .into()
    }

    /// Publishes and waits for JetStream's acknowledgement (stored on the replicas),
    /// trying again for up to the ack timeout: a NATS server lost from a cluster of them
    /// (the client fails over within moments) or a stream electing a new leader (no
    /// stream, or no answer, for some seconds) delays a change rather than failing it.
    /// Cut off from NATS for [`DISCONNECTED_GRACE`], it fails.
    ///
    /// Each attempt is a new message whose envelope says until when it counts (`payload`
    /// gets that deadline, Unix ms, when `expiring`): an attempt NATS stores too late (it
    /// sat in the client's buffer through an outage) is ignored by every node, and one
    /// stored twice is applied once (the applier knows each request's number). So once
    /// this says it failed, nothing it sent takes effect later.
    pub(super) async fn publish_payload(
        &self,
        req: u64,
        payload: impl Fn(Option<i64>) -> bytes::Bytes,
        expiring: bool,
    ) -> Result<(), ClusterError> {
        let budget = self.settings.ack_timeout;
        let started = std::time::Instant::now();
        let mut error = ClusterError::Unavailable;
        for attempt in 0u32.. {
            let left = budget.saturating_sub(started.elapsed());
            if left.is_zero() {
                return Err(error);
            }
            let connected = async {
                while self.client.connection_state() != async_nats::connection::State::Connected {
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            };
            if tokio::time::timeout(left.min(DISCONNECTED_GRACE), connected)
                .await
                .is_err()
            {
                return Err(ClusterError::Unavailable);
            }
            let try_for = budget
                .saturating_sub(started.elapsed())
                .min(ATTEMPT_TIMEOUT);
            let deadline = expiring
                .then(|| chrono::Utc::now().timestamp_millis() + try_for.as_millis() as i64);
            let message = PublishMessage::build()
                .payload(payload(deadline))
                .message_id(format!("{:x}-{req}-{attempt}", self.run));
            let send = async {
                self.js
                    .send_publish(self.subject.clone(), message)
                    .await?
                    .await
            };
            // The acknowledgement of a message stored just before its deadline is still
            // waited for: only a message NATS stored too late is given up.
            match tokio::time::timeout(try_for + ACK_GRACE, send).await {
                Ok(Ok(ack)) => {
                    self.note_stored(ack.sequence);
                    return Ok(());
                }
                Ok(Err(e)) => {
                    error = match e.kind() {
                        PublishErrorKind::TimedOut => ClusterError::Timeout,
                        _ => ClusterError::Unavailable,
                    };
                    tracing::debug!(error = %e, "cluster: publish not acknowledged; trying again");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
                Err(_) => error = ClusterError::Timeout,
            }
        }
        Err(error)
    }

    /// Hands an applied event's result to the request waiting for it, if it is ours.
    pub(super) fn answer(&self, run: u64, req: u64, applied: impl FnOnce() -> Applied) {
        if run != self.run {
            return;
        }
        let waiter = self.lock_pending().remove(&req);
        if let Some(tx) = waiter.and_then(|w| w.tx) {
            let _ = tx.send(applied());
        }
    }

    /// Takes the waiter of a request of ours, if it is still there.
    pub(super) fn take_waiter(&self, run: u64, req: u64) -> Option<Waiter> {
        if run != self.run {
            return None;
        }
        self.lock_pending().remove(&req)
    }

    /// Whether a request of ours is still waited for: `Some` with the labeled client's
    /// outbox identity, if its line was labeled.
    pub(super) fn awaited(&self, run: u64, req: u64) -> Option<Option<usize>> {
        if run != self.run {
            return None;
        }
        self.lock_pending().get(&req).map(|w| w.labeled)
    }

    pub(super) fn lock_pending(&self) -> std::sync::MutexGuard<'_, HashMap<u64, Waiter>> {
        self.pending.lock().unwrap_or_else(|e| e.into_inner())
    }
}
