//! The HTTP side of `chat-server`: the embedded web client, the WebSocket endpoint (the
//! IRCv3 WebSocket binding, so the page is simply an IRC client), the lobby's room list,
//! `/health` and `/metrics`.
//!
//! HTTP connections are accepted by the same accept loop as IRC ones (same slots,
//! per-address limits and TLS acceptor); each is then served by hyper with the axum
//! [`Router`] below. A WebSocket keeps its connection's slot and runs the one session code
//! path ([`crate::session::serve`]) over [`ws`] frames.

mod assets;
mod health;
pub mod origin;
pub mod ws;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::{Extension, State};
use axum::http::{HeaderMap, Request, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::sync::broadcast;
use tokio_util::task::TaskTracker;
use tower::ServiceExt;

use crate::context::Ctx;
use crate::limits::AddrLimits;
use crate::metrics::Transport;

/// What the HTTP handlers share: the server context and the per-address limits (applied
/// again to the real address of a client behind a trusted proxy), and the listeners to
/// report in `/health`.
#[derive(Clone)]
pub struct Web {
    ctx: Ctx,
    addrs: Arc<AddrLimits>,
    listeners: Arc<Vec<health::ListenerInfo>>,
}

impl Web {
    /// The HTTP side of a server whose listeners are `listeners` (address, kind).
    pub fn new(
        ctx: Ctx,
        addrs: Arc<AddrLimits>,
        listeners: Vec<(SocketAddr, &'static str)>,
    ) -> Web {
        let listeners = listeners
            .into_iter()
            .map(|(addr, kind)| health::ListenerInfo { addr, kind })
            .collect();
        Web {
            ctx,
            addrs,
            listeners: Arc::new(listeners),
        }
    }

    /// The routes: the page's files, `/ws`, `/api/rooms`, `/health`, `/metrics`.
    pub fn router(&self) -> Router {
        Router::new()
            .route("/ws", get(websocket))
            .route("/api/rooms", get(rooms))
            .route("/health", get(health::health))
            .route("/metrics", get(metrics))
            .merge(assets::routes())
            .with_state(self.clone())
    }
}

/// One HTTP connection's facts, given to its requests: who it is from, whether it is
/// over TLS, what holds its connection slot, and where a WebSocket session it upgrades to
/// is tracked and told of shutdown.
#[derive(Clone)]
pub struct Conn {
    pub peer: SocketAddr,
    pub secure: bool,
    /// The connection's slot and address share; a WebSocket session keeps them.
    pub hold: Arc<dyn Send + Sync>,
    pub sessions: TaskTracker,
    pub shutdown: broadcast::Sender<()>,
}

/// Longest an idle HTTP client may take to send its request headers.
const HEADER_TIMEOUT: Duration = Duration::from_secs(10);
/// Longest a closing HTTP connection may take to finish its response at shutdown.
const CLOSE_WAIT: Duration = Duration::from_secs(5);

/// Serves HTTP/1.1 (with upgrades to WebSocket) on one accepted connection until the
/// client closes it or the server shuts down.
pub async fn serve_connection<IO>(io: IO, conn: Conn, router: Router)
where
    IO: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let mut shutdown = conn.shutdown.subscribe();
    let peer = conn.peer;
    let service = hyper::service::service_fn(move |mut req: Request<hyper::body::Incoming>| {
        req.extensions_mut().insert(conn.clone());
        router.clone().oneshot(req)
    });
    let http = hyper::server::conn::http1::Builder::new()
        .timer(TokioTimer::new())
        .header_read_timeout(HEADER_TIMEOUT)
        .serve_connection(TokioIo::new(io), service)
        .with_upgrades();
    tokio::pin!(http);
    let done = tokio::select! {
        done = http.as_mut() => done,
        _ = shutdown.recv() => {
            http.as_mut().graceful_shutdown();
            tokio::time::timeout(CLOSE_WAIT, http).await.unwrap_or(Ok(()))
        }
    };
    if let Err(e) = done {
        tracing::debug!(%peer, error = %e, "http connection ended with an error");
    }
}

/// `GET /ws`: the IRCv3 WebSocket binding. Refuses a foreign Origin (403) and a client
/// behind a trusted proxy whose real address is over its limits (429).
async fn websocket(
    State(web): State<Web>,
    Extension(conn): Extension<Conn>,
    headers: HeaderMap,
    upgrade: axum::extract::ws::WebSocketUpgrade,
) -> Response {
    let settings = &web.ctx.settings;
    if let Err(origin) = origin::check_origin(&headers, &settings.web_origins) {
        tracing::info!(peer = %conn.peer, %origin, "WebSocket refused: origin not allowed");
        return (
            StatusCode::FORBIDDEN,
            format!("Origin {origin} is not allowed (see --web-origin)\n"),
        )
            .into_response();
    }
    let peer = origin::client_addr(conn.peer, &headers, &settings.trusted_proxies);
    let addr_permit = if peer.ip() == conn.peer.ip() {
        None
    } else {
        match web.addrs.admit(peer.ip()) {
            Ok(permit) => Some(permit),
            Err(refused) => {
                tracing::warn!(%peer, "WebSocket refused: {}", refused.reason());
                return (StatusCode::TOO_MANY_REQUESTS, refused.error_line()).into_response();
            }
        }
    };
    let transport = if conn.secure {
        Transport::WebsocketTls
    } else {
        Transport::Websocket
    };
    let upgrade = ws::configure(upgrade);
    let framing = ws::Framing::of(&upgrade);
    let token = conn.sessions.token();
    let shutdown = conn.shutdown.subscribe();
    let hold = conn.hold.clone();
    let ctx = web.ctx.clone();
    upgrade.on_upgrade(move |socket| async move {
        let _tracked = token;
        let _held = (hold, addr_permit);
        tracing::info!(%peer, transport = transport.name(), framing = framing.name(), "connected");
        ws::run(socket, framing, peer, transport, ctx, shutdown).await;
    })
}

/// One room in the lobby's list.
#[derive(serde::Serialize)]
struct RoomEntry {
    name: String,
    members: usize,
    topic: String,
}

/// `GET /api/rooms`: the rooms LIST shows someone in none of them (secret rooms hidden),
/// busiest first, for the lobby.
async fn rooms(State(web): State<Web>) -> Response {
    let mut rooms: Vec<RoomEntry> = web
        .ctx
        .state
        .list(crate::state::ClientId::MAX)
        .into_iter()
        .map(|r| RoomEntry {
            name: r.name,
            members: r.members,
            topic: r.topic,
        })
        .collect();
    rooms.sort_by(|a, b| b.members.cmp(&a.members).then_with(|| a.name.cmp(&b.name)));
    (
        [(header::CACHE_CONTROL, "no-store")],
        axum::Json(serde_json::json!({ "rooms": rooms })),
    )
        .into_response()
}

/// `GET /metrics`: Prometheus (OpenMetrics) text.
async fn metrics(State(web): State<Web>) -> Response {
    let lusers = web.ctx.state.lusers();
    let cluster = web.ctx.cluster.as_ref().map(|c| c.status());
    let text = crate::metrics::get().render(
        lusers.visible + lusers.invisible,
        lusers.rooms,
        cluster.as_ref(),
    );
    (
        [(
            header::CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        text,
    )
        .into_response()
}
