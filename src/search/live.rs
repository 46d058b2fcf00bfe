//! The server-side handle: keeps the index current while the server runs and answers
//! searches without blocking the event loop, whatever state the index is in.
//!
//! The server owns the index's single writer (tantivy's lock file) for as long as it
//! runs, so `chat-search index`/`rebuild` refuse to run meanwhile (with a message saying
//! so) while `chat-search query` keeps working: readers take no lock.
//!
//! Flow: the archive writer bumps a `watch` channel after each batch of rows is handed to
//! the OS; the [`keeper`](super::keeper) task wakes on each change, waits until at least
//! [`LiveConfig::commit_interval`] has passed since its previous catch-up (so a burst of
//! messages costs one commit, not hundreds), then runs the same incremental catch-up as
//! the CLI in `spawn_blocking` and reloads the reader. A message accepted by the server
//! is therefore searchable within about `commit_interval` plus the indexing time; a
//! SEARCH waiting for rows already delivered (read-your-writes) cuts that wait short, so
//! it waits for the indexing alone (SEARCH p99 under a fan-out load: 365 ms -> 55-78 ms,
//! `cargo bench --bench load -- --scenarios history`).
//! Searches run in `spawn_blocking` too, at most [`LiveConfig::max_concurrent`] at once,
//! capped at [`LiveConfig::max_results`] hits and abandoned after
//! [`LiveConfig::timeout`].
//!
//! The index is only a cache of the CSVs, so its troubles never reach the chat: the
//! handle starts without opening anything ([`LiveIndex::start`]), and the keeper opens,
//! verifies, rebuilds and retries in the background. Meanwhile [`LiveIndex::wait_indexed`]
//! tells a search at once that it cannot be answered yet ([`Status`]), instead of letting
//! it wait or answer from an incomplete index.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use arc_swap::ArcSwapOption;
use tantivy::IndexReader;
use tokio::sync::{Notify, Semaphore, watch};
use tokio::time::Instant;

use super::error::{IndexError, SearchError};
use super::health::panic_text;
use super::indexer::{IndexReport, Indexer};
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
    /// First wait before retrying a failed catch-up (doubled after each failure).
    pub retry_min: Duration,
    /// Longest wait between two retries.
    pub retry_max: Duration,
}

impl Default for LiveConfig {
    fn default() -> Self {
        LiveConfig {
            max_results: 100,
            timeout: Duration::from_secs(5),
            max_concurrent: 2,
            commit_interval: Duration::from_millis(300),
            retry_min: Duration::from_millis(500),
            retry_max: Duration::from_secs(10),
        }
    }
}

/// What the index can do right now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Status {
    /// Being opened and checked, or catching up with the archives found at start-up.
    Starting,
    /// Current: searches are answered.
    Ready,
    /// Being built from the archives (it was missing or damaged); see
    /// [`LiveIndex::progress`].
    Rebuilding,
    /// The last catch-up failed (disk full…); retried with backoff. What was indexed
    /// before stays searchable.
    Failing(String),
    /// The index cannot be opened (another writer holds it); retried with backoff.
    Unavailable(String),
}

/// The keeper's report to searchers.
#[derive(Debug, Clone)]
pub(super) struct Health {
    /// The archive's row counter as of the last successful catch-up: every row counted up
    /// to it is searchable. `None` until then, and again while rebuilding.
    pub(super) indexed: Option<u64>,
    pub(super) status: Status,
}

/// A reader on the index currently in use, with its fields.
pub(super) struct Reader {
    pub(super) reader: IndexReader,
    pub(super) fields: Fields,
}

pub(super) struct Inner {
    pub(super) log_dir: PathBuf,
    pub(super) index_dir: PathBuf,
    pub(super) config: LiveConfig,
    /// The writer side; `None` until opened, and after a failure (reopened next time).
    pub(super) engine: Mutex<Option<Indexer>>,
    /// The reader searches use; replaced when the index is reopened or rebuilt.
    pub(super) reader: ArcSwapOption<Reader>,
    pub(super) permits: Arc<Semaphore>,
    pub(super) health: watch::Sender<Health>,
    /// Rebuild progress: archive bytes indexed, and in all.
    pub(super) done: AtomicU64,
    pub(super) total: AtomicU64,
    /// Set when tantivy panicked during a search: the keeper re-verifies the index.
    pub(super) suspect: AtomicBool,
    /// Wakes the keeper outside of archive ticks (a suspect index).
    pub(super) wake: Notify,
    /// A search is waiting for rows not yet indexed: the keeper catches up now rather
    /// than at the end of its `commit_interval`.
    pub(super) hurry: Notify,
}

/// Cheap-to-clone handle on the server's index (one writer, shared reader).
#[derive(Clone)]
pub struct LiveIndex {
    pub(super) inner: Arc<Inner>,
}

impl LiveIndex {
    /// A handle on the index in `index_dir` for the archives in `log_dir`, opening
    /// nothing yet: [`LiveIndex::run`] opens (verifying, rebuilding if damaged) in the
    /// background, so a damaged index never delays or stops the server's start.
    pub fn start(log_dir: &Path, index_dir: &Path, config: LiveConfig) -> LiveIndex {
        LiveIndex {
            inner: Arc::new(Inner {
                log_dir: log_dir.to_path_buf(),
                index_dir: index_dir.to_path_buf(),
                config,
                engine: Mutex::new(None),
                reader: ArcSwapOption::empty(),
                permits: Arc::new(Semaphore::new(config.max_concurrent.max(1))),
                health: watch::channel(Health {
                    indexed: None,
                    status: Status::Starting,
                })
                .0,
                done: AtomicU64::new(0),
                total: AtomicU64::new(0),
                suspect: AtomicBool::new(false),
                wake: Notify::new(),
                hurry: Notify::new(),
            }),
        }
    }

    /// Opens (creating if needed) the index in `index_dir` for the archives in `log_dir`
    /// with default limits, taking the writer lock now. Nothing is indexed until
    /// [`LiveIndex::catch_up`] or [`LiveIndex::run`].
    pub fn open(log_dir: &Path, index_dir: &Path) -> Result<LiveIndex, IndexError> {
        Self::open_with(log_dir, index_dir, LiveConfig::default())
    }

    /// Like [`LiveIndex::open`] with explicit limits.
    pub fn open_with(
        log_dir: &Path,
        index_dir: &Path,
        config: LiveConfig,
    ) -> Result<LiveIndex, IndexError> {
        let live = Self::start(log_dir, index_dir, config);
        let indexer = live.inner.open_engine()?;
        *live.inner.lock_engine() = Some(indexer);
        Ok(live)
    }

    /// The limits in force.
    pub fn config(&self) -> LiveConfig {
        self.inner.config
    }

    /// What the index can do right now.
    pub fn status(&self) -> Status {
        self.inner.health.borrow().status.clone()
    }

    /// Percentage of the archives' bytes indexed by the rebuild under way (0–99).
    pub fn progress(&self) -> u64 {
        let total = self.inner.total.load(Ordering::Relaxed);
        let done = self.inner.done.load(Ordering::Relaxed);
        (done.saturating_mul(100).checked_div(total).unwrap_or(0)).min(99)
    }

    /// Indexes whatever the archives gained since the last call (opening the index first
    /// if needed), commits if anything changed and makes it visible to searches. Runs in
    /// `spawn_blocking`.
    pub async fn catch_up(&self) -> Result<IndexReport, IndexError> {
        let inner = self.inner.clone();
        let report = tokio::task::spawn_blocking(move || inner.attempt())
            .await
            .map_err(|e| {
                IndexError::Tantivy(
                    self.inner.index_dir.clone(),
                    format!("indexing task failed: {e}"),
                )
            })??;
        self.inner.health.send_modify(|h| h.status = Status::Ready);
        Ok(report)
    }

    /// Waits (at most `limit`) until the archives as found at startup and every row
    /// counted up to `through` (the archive's [`written`](crate::archive::Archive::written)
    /// counter) are searchable, so a search finds the messages its requester has already
    /// seen, before a restart too. Fails at once with [`SearchError::Unavailable`] when
    /// those rows cannot be searchable soon: the index is being rebuilt (after a short
    /// grace, enough for a small archive), failing or cannot be opened. On timeout the
    /// search goes ahead with what is indexed.
    pub async fn wait_indexed(&self, through: u64, limit: Duration) -> Result<(), SearchError> {
        const REBUILD_GRACE: Duration = Duration::from_secs(1);
        let deadline = Instant::now() + limit;
        let mut grace_until: Option<Instant> = None;
        let mut health = self.inner.health.subscribe();
        loop {
            let h = health.borrow_and_update().clone();
            if h.indexed.is_some_and(|n| n >= through) {
                return Ok(());
            }
            let now = Instant::now();
            let mut until = deadline;
            match &h.status {
                Status::Starting | Status::Ready => {}
                Status::Rebuilding => {
                    until = until.min(*grace_until.get_or_insert(now + REBUILD_GRACE));
                }
                blocked => return Err(self.refusal(blocked).expect("a blocked status refuses")),
            }
            if now >= until {
                return self.refusal(&h.status).map_or(Ok(()), Err);
            }
            self.inner.hurry.notify_one();
            if let Ok(Err(_)) = tokio::time::timeout_at(until, health.changed()).await {
                return Ok(()); // the handle is gone: nothing more will be indexed
            }
        }
    }

    /// Why a search cannot be answered in `status`, if it cannot.
    fn refusal(&self, status: &Status) -> Option<SearchError> {
        let text = match status {
            Status::Starting | Status::Ready => return None,
            Status::Rebuilding => format!(
                "the index is being rebuilt ({}% done); try again shortly",
                self.progress()
            ),
            Status::Failing(_) => "the index is catching up after a write failure (the server \
                                   retries by itself); try again shortly"
                .to_string(),
            Status::Unavailable(_) => "the index cannot be opened right now (see the server \
                                       log; the server retries by itself); try again shortly"
                .to_string(),
        };
        Some(SearchError::Unavailable(text))
    }

    /// Runs a search off the event loop, capped at `max_results` hits and bounded by
    /// `timeout` (an abandoned search finishes in the background, holding its permit).
    /// Refused with [`SearchError::Unavailable`] while the index is being rebuilt.
    pub async fn search(&self, mut req: SearchRequest) -> Result<SearchResults, SearchError> {
        let status = self.status();
        if status == Status::Rebuilding {
            return Err(self.refusal(&status).expect("rebuilding refuses"));
        }
        let Some(reader) = self.inner.reader.load_full() else {
            return Err(self.refusal(&status).unwrap_or_else(|| {
                SearchError::Unavailable("the index is being opened; try again shortly".into())
            }));
        };
        let cfg = self.inner.config;
        req.limit = req.limit.clamp(1, cfg.max_results.max(1));
        let inner = self.inner.clone();
        let work = async move {
            let permit = inner.permits.clone().acquire_owned().await;
            let task = tokio::task::spawn_blocking(move || {
                let _permit = permit;
                let run = || execute(&reader.reader.searcher(), &reader.fields, &req);
                std::panic::catch_unwind(std::panic::AssertUnwindSafe(run)).map_err(|p| {
                    tracing::error!(
                        "search index: tantivy panicked during a search ({}); checking the index",
                        panic_text(&*p)
                    );
                    inner.suspect.store(true, Ordering::Relaxed);
                    inner.wake.notify_one();
                    SearchError::Unavailable(
                        "the index is being checked after an error; try again shortly".into(),
                    )
                })?
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
