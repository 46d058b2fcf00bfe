//! The server-side handle: keeps the index current while the server runs and answers
//! searches without blocking the event loop.
//!
//! The server owns the index's single writer (tantivy's lock file) for as long as it
//! runs, so `chat-search index`/`rebuild` refuse to run meanwhile (with a message saying
//! so) while `chat-search query` keeps working: readers take no lock.
//!
//! Flow: the archive writer bumps a `watch` channel after each batch of rows is handed to
//! the OS; [`LiveIndex::run`] wakes on each change, waits until at least
//! [`LiveConfig::commit_interval`] has passed since its previous catch-up (so a burst of
//! messages costs one commit, not hundreds), then runs the same incremental catch-up as
//! the CLI in `spawn_blocking` and reloads the reader. A message accepted by the server
//! is therefore searchable within about `commit_interval` plus the indexing time.
//! Searches run in `spawn_blocking` too, at most [`LiveConfig::max_concurrent`] at once,
//! capped at [`LiveConfig::max_results`] hits and abandoned after
//! [`LiveConfig::timeout`].

use std::future::Future;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tantivy::{IndexReader, ReloadPolicy};
use tokio::sync::{Semaphore, watch};
use tokio::task::JoinHandle;
use tokio::time::Instant;

use super::error::{IndexError, SearchError};
use super::indexer::{IndexReport, Indexer, WriterConfig};
use super::request::{SearchRequest, SearchResults, execute};
use super::schema::Fields;

/// Limits of the live index; [`Default`] suits a small chat server.
#[derive(Debug, Clone, Copy)]
pub struct LiveConfig {
    /// Most hits one search returns, whatever the request asks for.
    pub max_results: usize,
    /// A search running longer than this is answered with [`SearchError::Timeout`].
    pub timeout: Duration,
    /// Searches running at once; more wait (within their timeout).
    pub max_concurrent: usize,
    /// Minimum time between two catch-ups (and so commits).
    pub commit_interval: Duration,
}

impl Default for LiveConfig {
    fn default() -> Self {
        LiveConfig {
            max_results: 100,
            timeout: Duration::from_secs(5),
            max_concurrent: 2,
            commit_interval: Duration::from_millis(300),
        }
    }
}

struct Inner {
    indexer: Mutex<Indexer>,
    reader: IndexReader,
    fields: Fields,
    index_dir: PathBuf,
    config: LiveConfig,
    permits: Arc<Semaphore>,
    /// The archive's row counter as of the last finished catch-up: every row counted up
    /// to it is searchable. `None` until the first catch-up (the archives as found at
    /// startup) has finished.
    indexed: watch::Sender<Option<u64>>,
}

/// Cheap-to-clone handle on the server's index (one writer, shared reader).
#[derive(Clone)]
pub struct LiveIndex {
    inner: Arc<Inner>,
}

impl LiveIndex {
    /// Opens (creating if needed) the index in `index_dir` for the archives in `log_dir`
    /// with default limits, taking the writer lock. Nothing is indexed until
    /// [`LiveIndex::catch_up`] or [`LiveIndex::run`].
    pub fn open(log_dir: &Path, index_dir: &Path) -> Result<LiveIndex, IndexError> {
        Self::open_with(log_dir, index_dir, LiveConfig::default())
    }

    /// Like [`LiveIndex::open`] with explicit limits (the server's `--search-max-results`).
    pub fn open_with(
        log_dir: &Path,
        index_dir: &Path,
        config: LiveConfig,
    ) -> Result<LiveIndex, IndexError> {
        let indexer = Indexer::open(log_dir, index_dir, WriterConfig::live())?;
        let reader = indexer
            .index()
            .reader_builder()
            .reload_policy(ReloadPolicy::Manual)
            .try_into()
            .map_err(|e| IndexError::Tantivy(index_dir.to_path_buf(), e.to_string()))?;
        Ok(LiveIndex {
            inner: Arc::new(Inner {
                fields: indexer.fields(),
                indexer: Mutex::new(indexer),
                reader,
                index_dir: index_dir.to_path_buf(),
                config,
                permits: Arc::new(Semaphore::new(config.max_concurrent.max(1))),
                indexed: watch::channel(None).0,
            }),
        })
    }

    /// The limits in force.
    pub fn config(&self) -> LiveConfig {
        self.inner.config
    }

    /// Indexes whatever the archives gained since the last call, commits if anything
    /// changed and makes it visible to searches. Runs in `spawn_blocking`.
    pub async fn catch_up(&self) -> Result<IndexReport, IndexError> {
        let inner = self.inner.clone();
        tokio::task::spawn_blocking(move || {
            let mut indexer = inner.indexer.lock().unwrap_or_else(|p| p.into_inner());
            let report = indexer.catch_up(&mut |_| {})?;
            if report.state_changed {
                indexer.commit()?;
                inner
                    .reader
                    .reload()
                    .map_err(|e| IndexError::Tantivy(inner.index_dir.clone(), e.to_string()))?;
            }
            Ok(report)
        })
        .await
        .map_err(|e| {
            IndexError::Tantivy(
                self.inner.index_dir.clone(),
                format!("indexing task failed: {e}"),
            )
        })?
    }

    /// Spawns [`LiveIndex::run`] on the current runtime.
    pub fn spawn(
        &self,
        ticks: watch::Receiver<u64>,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> JoinHandle<()> {
        tokio::spawn(self.clone().run(ticks, shutdown))
    }

    /// Keeps the index current until `shutdown` completes or the archive writer drops
    /// its end of `ticks`: one catch-up at start (rows written while the server was
    /// down), one per change of `ticks` (coalesced to one per `commit_interval`), and a
    /// last one on the way out. Errors are logged, never fatal: search is a convenience
    /// and must not take the chat down.
    pub async fn run(self, mut ticks: watch::Receiver<u64>, shutdown: impl Future<Output = ()>) {
        tokio::pin!(shutdown);
        let interval = self.inner.config.commit_interval;
        let mut last = Instant::now();
        let through = *ticks.borrow_and_update();
        self.logged_catch_up(through).await;
        loop {
            tokio::select! {
                _ = &mut shutdown => break,
                changed = ticks.changed() => if changed.is_err() { break },
            }
            let wait = interval.saturating_sub(last.elapsed());
            tokio::select! {
                _ = &mut shutdown => break,
                _ = tokio::time::sleep(wait) => {}
            }
            let through = *ticks.borrow_and_update();
            last = Instant::now();
            self.logged_catch_up(through).await;
        }
        let through = *ticks.borrow_and_update();
        self.logged_catch_up(through).await;
    }

    /// Waits (at most `limit`) until the archives as found at startup and every row
    /// counted up to `through` (the archive's [`written`](crate::archive::Archive::written)
    /// counter) are searchable, so a search finds the messages its requester has already
    /// seen, before a restart too. On timeout the search goes ahead with what is indexed.
    pub async fn wait_indexed(&self, through: u64, limit: Duration) {
        let mut indexed = self.inner.indexed.subscribe();
        let caught_up = |n: &Option<u64>| n.is_some_and(|n| n >= through);
        let _ = tokio::time::timeout(limit, indexed.wait_for(caught_up)).await;
    }

    /// A catch-up, then `through` (the counter read before it started) published as
    /// indexed: the catch-up reads every archive to its end. A failed catch-up publishes
    /// too, so searches do not each wait out their limit on an index that is stuck.
    async fn logged_catch_up(&self, through: u64) {
        self.catch_up_and_log().await;
        self.inner.indexed.send_replace(Some(through));
    }

    async fn catch_up_and_log(&self) {
        match self.catch_up().await {
            Ok(report) => {
                for m in &report.malformed {
                    tracing::warn!("search index: skipped malformed row {m}");
                }
                for note in &report.notes {
                    tracing::info!("search index: {note}");
                }
                if report.added > 0 {
                    tracing::debug!(added = report.added, "search index updated");
                }
            }
            Err(e) => tracing::error!("search index: {e}"),
        }
    }

    /// Runs a search off the event loop, capped at `max_results` hits and bounded by
    /// `timeout` (an abandoned search finishes in the background, holding its permit).
    pub async fn search(&self, mut req: SearchRequest) -> Result<SearchResults, SearchError> {
        let cfg = self.inner.config;
        req.limit = req.limit.clamp(1, cfg.max_results.max(1));
        let inner = self.inner.clone();
        let work = async move {
            let permit = inner.permits.clone().acquire_owned().await;
            let task = tokio::task::spawn_blocking(move || {
                let _permit = permit;
                let searcher = inner.reader.searcher();
                execute(&searcher, &inner.fields, &req)
            });
            task.await
        };
        match tokio::time::timeout(cfg.timeout, work).await {
            Err(_) => Err(SearchError::Timeout),
            Ok(Err(e)) => Err(SearchError::Index(IndexError::Tantivy(
                self.inner.index_dir.clone(),
                format!("search task failed: {e}"),
            ))),
            Ok(Ok(result)) => result,
        }
    }
}
