//! The server's indexing task: keeps the index current and heals it.
//!
//! The CSV archives are the source of truth and the index commits its per-file offsets
//! atomically with its documents ([`super::state`]), so healing is always the same move:
//! throw away what is not committed and catch up again from the committed offsets.
//!
//! * **Missing** (first start, or deleted while running): created and built from the
//!   archives, [`Status::Rebuilding`] meanwhile.
//! * **Built by another version** ([`IndexError::Outdated`]: the analyzer or state
//!   format changed): deleted and rebuilt the same way.
//! * **Damaged** (checksums, missing segment files, unreadable `meta.json`, a tantivy
//!   panic): moved aside to `.index.damaged-<time>` ([`super::health::move_aside`]) and
//!   rebuilt the same way.
//! * **A failed catch-up** (disk full while writing a segment or committing): the writer
//!   is dropped, which discards everything uncommitted, and the attempt is retried with
//!   exponential backoff ([`LiveConfig::retry_min`] to [`LiveConfig::retry_max`]) by
//!   reopening the index and reading the archives from the committed offsets, so the rows
//!   written meanwhile are indexed once space returns, exactly once.
//! * **Locked** by another writer (a manual `chat-search index`): retried the same way.
//!
//! [`LiveConfig::retry_min`]: super::LiveConfig::retry_min
//! [`LiveConfig::retry_max`]: super::LiveConfig::retry_max

use std::future::Future;
use std::sync::atomic::Ordering;
use std::sync::{Arc, MutexGuard};
use std::time::Duration;

use tantivy::ReloadPolicy;
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tokio::time::Instant;

use super::error::IndexError;
use super::health::{guard, move_aside};
use super::indexer::{IndexReport, Indexer, WriterConfig};
use super::live::{Inner, LiveIndex, Reader, Status};
use super::schema::index_exists;

impl Inner {
    pub(super) fn lock_engine(&self) -> MutexGuard<'_, Option<Indexer>> {
        self.engine.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Opens the index (verified), moving a damaged one aside and starting a rebuild
    /// when it is damaged or missing, and points searches at it. Blocking.
    pub(super) fn open_engine(&self) -> Result<Indexer, IndexError> {
        let dir = &self.index_dir;
        let existed = index_exists(dir);
        let indexer = match Indexer::open(&self.log_dir, dir, WriterConfig::live()) {
            Ok(indexer) => indexer,
            Err(IndexError::Outdated(_, version)) => {
                std::fs::remove_dir_all(dir).map_err(|e| IndexError::Io(dir.clone(), e))?;
                tracing::warn!(
                    "search index {} was built by another version of linechat (format \
                     {version}); rebuilding it from the archives",
                    dir.display()
                );
                self.begin_rebuild();
                Indexer::open(&self.log_dir, dir, WriterConfig::live())?
            }
            Err(IndexError::Corrupt(_, why)) => {
                let aside = move_aside(dir)?;
                tracing::error!(
                    "search index {} is damaged ({why}); moved it to {} and rebuilding it \
                     from the archives",
                    dir.display(),
                    aside.display()
                );
                self.begin_rebuild();
                Indexer::open(&self.log_dir, dir, WriterConfig::live())?
            }
            Err(e) => return Err(e),
        };
        if !existed {
            tracing::info!(
                "search index {} is missing; building it from the archives",
                dir.display()
            );
            self.begin_rebuild();
        }
        let reader = guard(dir, || {
            indexer
                .index()
                .reader_builder()
                .reload_policy(ReloadPolicy::Manual)
                .try_into()
                .map_err(|e| IndexError::Corrupt(dir.clone(), e.to_string()))
        })?;
        self.reader.store(Some(Arc::new(Reader {
            reader,
            fields: indexer.fields(),
        })));
        Ok(indexer)
    }

    fn begin_rebuild(&self) {
        self.done.store(0, Ordering::Relaxed);
        self.total.store(0, Ordering::Relaxed);
        self.health.send_modify(|h| {
            h.indexed = None;
            h.status = Status::Rebuilding;
        });
    }

    /// Opens the index if needed, then one catch-up and commit. On failure the writer is
    /// dropped (uncommitted rows are read again next time). Blocking.
    pub(super) fn attempt(&self) -> Result<IndexReport, IndexError> {
        let mut engine = self.lock_engine();
        if engine.is_some() {
            if self.suspect.swap(false, Ordering::Relaxed) {
                *engine = None; // reopening verifies it
            } else if !index_exists(&self.index_dir) {
                tracing::warn!(
                    "search index {} disappeared; building it again from the archives",
                    self.index_dir.display()
                );
                *engine = None;
            }
        }
        if engine.is_none() {
            *engine = Some(self.open_engine()?);
        }
        let indexer = engine.as_mut().expect("opened above");
        if self.health.borrow().status == Status::Rebuilding {
            let total = indexer.archive_bytes();
            self.total.store(total, Ordering::Relaxed);
            let done = total.saturating_sub(indexer.pending_bytes());
            self.done.store(done, Ordering::Relaxed);
        }
        let reader = self.reader.load_full();
        let dir = &self.index_dir;
        let result = guard(dir, || {
            let report = indexer.catch_up(&mut |n| {
                self.done.fetch_add(n, Ordering::Relaxed);
            })?;
            if report.state_changed {
                indexer.commit()?;
                if let Some(r) = &reader {
                    r.reader
                        .reload()
                        .map_err(|e| IndexError::Tantivy(dir.clone(), e.to_string()))?;
                }
            }
            Ok(report)
        });
        if result.is_err() {
            *engine = None;
        }
        result
    }
}

impl LiveIndex {
    /// Spawns [`LiveIndex::run`] on the current runtime.
    pub fn spawn(
        &self,
        ticks: watch::Receiver<u64>,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> JoinHandle<bool> {
        tokio::spawn(self.clone().run(ticks, shutdown))
    }

    /// Keeps the index current until `shutdown` completes or the archive writer drops
    /// its end of `ticks`: one catch-up at start (opening, verifying, rebuilding if
    /// needed; rows written while the server was down), one per change of `ticks`
    /// (coalesced to one per `commit_interval`), retries with backoff after a failure,
    /// and a last catch-up on the way out if the index is healthy. Errors are logged,
    /// never fatal: search is a convenience and must not take the chat down. Returns
    /// whether the index was up to date at the end.
    pub async fn run(
        self,
        mut ticks: watch::Receiver<u64>,
        shutdown: impl Future<Output = ()>,
    ) -> bool {
        tokio::pin!(shutdown);
        let cfg = self.inner.config;
        let mut backoff = cfg.retry_min;
        loop {
            let through = *ticks.borrow_and_update();
            let started = Instant::now();
            if self.attempt_and_publish(through, backoff).await {
                backoff = cfg.retry_min;
                tokio::select! {
                    _ = &mut shutdown => break,
                    changed = ticks.changed() => if changed.is_err() { break },
                    _ = self.inner.wake.notified() => {}
                }
                // Rows are coalesced into one commit per interval, unless a search is
                // waiting for them.
                let wait = cfg.commit_interval.saturating_sub(started.elapsed());
                tokio::select! {
                    _ = &mut shutdown => break,
                    _ = tokio::time::sleep(wait) => {}
                    _ = self.inner.hurry.notified() => {}
                }
            } else {
                let until = Instant::now() + backoff;
                backoff = (backoff * 2).min(cfg.retry_max);
                loop {
                    tokio::select! {
                        _ = &mut shutdown => return false,
                        _ = tokio::time::sleep_until(until) => break,
                        changed = ticks.changed() => if changed.is_err() { return false },
                    }
                }
            }
        }
        if self.status() != Status::Ready {
            return false;
        }
        let through = *ticks.borrow_and_update();
        self.attempt_and_publish(through, Duration::ZERO).await
    }

    /// One attempt; on success `through` (the counter read before it started) is
    /// published as indexed (the catch-up reads every archive to its end). Returns
    /// whether it succeeded.
    async fn attempt_and_publish(&self, through: u64, retry_in: Duration) -> bool {
        let inner = self.inner.clone();
        let result = tokio::task::spawn_blocking(move || inner.attempt())
            .await
            .unwrap_or_else(|e| {
                Err(IndexError::Tantivy(
                    self.inner.index_dir.clone(),
                    format!("indexing task failed: {e}"),
                ))
            });
        let was = self.status();
        match result {
            Ok(report) => {
                for m in &report.malformed {
                    tracing::warn!("search index: skipped malformed row {m}");
                }
                for note in &report.notes {
                    tracing::info!("search index: {note}");
                }
                match &was {
                    Status::Rebuilding => tracing::info!(
                        "search index rebuilt: {} messages from {} rooms",
                        report.added,
                        report.rooms.len()
                    ),
                    Status::Failing(_) | Status::Unavailable(_) => {
                        tracing::info!(
                            "search index: recovered, {} messages caught up",
                            report.added
                        )
                    }
                    _ if report.added > 0 => {
                        tracing::debug!(added = report.added, "search index updated")
                    }
                    _ => {}
                }
                self.inner.health.send_modify(|h| {
                    h.indexed = Some(through);
                    h.status = Status::Ready;
                });
                true
            }
            Err(e) => {
                let status = match (&e, &was) {
                    (IndexError::Locked(_), _) => Status::Unavailable(e.to_string()),
                    (_, Status::Rebuilding) => Status::Rebuilding,
                    _ => Status::Failing(e.to_string()),
                };
                let first = !matches!(was, Status::Failing(_) | Status::Unavailable(_));
                let secs = retry_in.as_secs_f64();
                if first {
                    tracing::error!("{e}; retrying in {secs:.1} s");
                } else {
                    tracing::warn!("{e}; retrying in {secs:.1} s");
                }
                self.inner.health.send_modify(|h| h.status = status);
                false
            }
        }
    }
}
