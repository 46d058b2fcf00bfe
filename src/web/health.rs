//! `GET /health`: liveness and readiness as JSON, for load balancers, systemd checks and
//! people. Ready means the archive takes rows (its writer runs and the directory is
//! writable), the search index answers, and the listeners are bound; 503 otherwise, with
//! the reason in the body.

use std::net::SocketAddr;

use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

use super::Web;
use crate::search::Status;

/// A bound listener, as `/health` reports it.
#[derive(Clone, Serialize)]
pub struct ListenerInfo {
    pub addr: SocketAddr,
    /// `irc`, `irc-tls`, `http` or `https`.
    pub kind: &'static str,
}

#[derive(Serialize)]
struct Report {
    /// `ok`, or `degraded` when not ready.
    status: &'static str,
    /// The process answers (always true when there is an answer at all).
    live: bool,
    ready: bool,
    archive: ArchiveReport,
    index: IndexReport,
    listeners: Vec<ListenerInfo>,
    connections: usize,
    registered_users: usize,
    rooms: usize,
    uptime_seconds: i64,
    /// A cluster node's membership and stream position.
    #[serde(skip_serializing_if = "Option::is_none")]
    cluster: Option<crate::cluster::ClusterStatus>,
}

#[derive(Serialize)]
struct ArchiveReport {
    writable: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    problem: Option<String>,
}

#[derive(Serialize)]
struct IndexReport {
    open: bool,
    /// `ready`, `starting`, `rebuilding`, `failing`, `unavailable` or `off`.
    state: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    problem: Option<String>,
}

/// The health report; 200 when ready, 503 when not.
pub async fn health(State(web): State<Web>) -> Response {
    let ctx = &web.ctx;
    let archive = archive_report(ctx).await;
    let index = match ctx.search.as_ref().map(|s| s.status()) {
        None => IndexReport {
            open: false,
            state: "off",
            problem: None,
        },
        Some(Status::Ready) => IndexReport {
            open: true,
            state: "ready",
            problem: None,
        },
        Some(Status::Starting) => IndexReport {
            open: false,
            state: "starting",
            problem: None,
        },
        Some(Status::Rebuilding) => IndexReport {
            open: false,
            state: "rebuilding",
            problem: None,
        },
        // What was indexed stays searchable while a catch-up is retried.
        Some(Status::Failing(e)) => IndexReport {
            open: true,
            state: "failing",
            problem: Some(e),
        },
        Some(Status::Unavailable(e)) => IndexReport {
            open: false,
            state: "unavailable",
            problem: Some(e),
        },
    };
    let listeners = web.listeners.as_ref().clone();
    // A server without an index (--search-index off) is ready without one.
    let cluster = ctx.cluster.as_ref().map(|c| c.status());
    // A node cut off from NATS refuses messages: not ready.
    let ready = archive.writable
        && (index.open || index.state == "off")
        && !listeners.is_empty()
        && cluster.as_ref().is_none_or(|c| c.connected);
    let lusers = ctx.state.lusers();
    let report = Report {
        status: if ready { "ok" } else { "degraded" },
        live: true,
        ready,
        archive,
        index,
        listeners,
        connections: ctx.state.client_count(),
        registered_users: lusers.visible + lusers.invisible,
        rooms: lusers.rooms,
        uptime_seconds: (chrono::Utc::now() - ctx.started).num_seconds(),
        cluster,
    };
    let code = if ready {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (
        code,
        [(header::CACHE_CONTROL, "no-store")],
        axum::Json(report),
    )
        .into_response()
}

/// Whether rows can be written: the archive's writer is running and the directory is
/// writable (checked with access(2), off the event loop; nothing is written).
async fn archive_report(ctx: &crate::context::Ctx) -> ArchiveReport {
    if !ctx.archive.accepting() {
        return ArchiveReport {
            writable: false,
            problem: Some("the archive writer has stopped".into()),
        };
    }
    let dir = ctx.archive.dir().to_path_buf();
    let checked = tokio::task::spawn_blocking(move || writable(&dir)).await;
    match checked {
        Ok(Ok(())) => ArchiveReport {
            writable: true,
            problem: None,
        },
        Ok(Err(e)) => ArchiveReport {
            writable: false,
            problem: Some(e),
        },
        Err(e) => ArchiveReport {
            writable: false,
            problem: Some(e.to_string()),
        },
    }
}

fn writable(dir: &std::path::Path) -> Result<(), String> {
    use std::os::unix::ffi::OsStrExt;
    let path = std::ffi::CString::new(dir.as_os_str().as_bytes()).map_err(|e| e.to_string())?;
    // SAFETY: access(2) reads a NUL-terminated path we own.
    if unsafe { libc::access(path.as_ptr(), libc::W_OK | libc::X_OK) } == 0 {
        Ok(())
    } else {
        Err(format!(
            "{} is not writable: {}",
            dir.display(),
            std::io::Error::last_os_error()
        ))
    }
}
