//! The accept loop, HTTP routes, and the WebSocket upgrade.

use super::limits::{ConnectionPermit, Refusal};
use super::{connection, App};
use crate::game::Game;
use crate::lobby::{Claim, LobbyError};
use crate::protocol::{MatchId, SessionToken};
use axum::body::Body;
use axum::extract::{Query, Request, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use hyper_util::rt::{TokioIo, TokioTimer};
use std::net::SocketAddr;
use std::sync::Arc;
use tokio::net::TcpListener;
use tokio_tungstenite::tungstenite::protocol::{Role, WebSocketConfig};
use tokio_tungstenite::WebSocketStream;
use tower::ServiceExt;

/// An HTTP error with a JSON body: `{"error": {"code": ..., "message": ...}}`.
pub(crate) fn json_error(
    status: StatusCode,
    code: &'static str,
    message: impl Into<String>,
) -> Response {
    let body = serde_json::json!({ "error": { "code": code, "message": message.into() } });
    (status, Json(body)).into_response()
}

/// Every reason `refuse` counts under, so the series exist from the start.
pub(crate) const REFUSAL_REASONS: &[&str] = &[
    "server_full",
    "too_many_connections",
    "match_not_found",
    "match_full",
    "match_ended",
    "already_connected",
    "invalid_session",
    "bad_capacity",
    "session_not_yours",
    "too_many_matches",
    "bad_query",
    "shutting_down",
    "websocket_required",
    "bad_websocket_version",
    "missing_websocket_key",
    "bad_websocket_key",
    "origin_not_allowed",
    "no_upgrade",
    "unauthorized",
    "match_not_allowed",
];

/// A refused WebSocket handshake: counted by reason, answered in JSON.
fn refuse(status: StatusCode, code: &'static str, message: impl Into<String>) -> Response {
    debug_assert!(
        REFUSAL_REASONS.contains(&code),
        "list {code} in REFUSAL_REASONS"
    );
    metrics::counter!("tickwire_handshake_refusals_total", "reason" => code).increment(1);
    json_error(status, code, message)
}

/// Answers a socket over a connection cap and closes it at once: it gets no
/// task, and holds its descriptor no longer than this call. The answer is
/// written without reading the request (a client that sent one may see the
/// connection reset instead; either way it is refused now, not later).
fn refuse_socket(stream: tokio::net::TcpStream, refusal: Refusal) {
    let (status, code, message) = match refusal {
        Refusal::ServerFull => (
            "503 Service Unavailable",
            "server_full",
            "the server is at its connection limit",
        ),
        Refusal::TooManyFromIp => (
            "429 Too Many Requests",
            "too_many_connections",
            "too many connections from this address",
        ),
    };
    metrics::counter!("tickwire_handshake_refusals_total", "reason" => code).increment(1);
    let body = serde_json::json!({ "error": { "code": code, "message": message } }).to_string();
    let response = format!(
        "HTTP/1.1 {status}\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
        body.len()
    );
    // A fresh socket's send buffer takes this whole; if not, it is cut short.
    let _ = stream.try_write(response.as_bytes());
    drop(stream);
}

pub(crate) async fn accept_loop<G: Game>(listener: TcpListener, app: Arc<App<G>>) {
    let router = routes(app.clone());
    loop {
        let accepted = tokio::select! {
            _ = app.shutdown.cancelled() => break,
            accepted = listener.accept() => accepted,
        };
        let (stream, peer) = match accepted {
            Ok(a) => a,
            Err(e) => {
                // Out of file descriptors and the like: back off instead of spinning.
                tracing::warn!(error = %e, "accept failed");
                tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                continue;
            }
        };
        let admitted = match app.limits.admit(peer.ip()) {
            Ok(permit) => Arc::new(permit),
            Err(refusal) => {
                refuse_socket(stream, refusal);
                continue;
            }
        };
        // Snapshots are small and latency-bound: never wait to coalesce them.
        let _ = stream.set_nodelay(true);
        let router = router.clone();
        let timeout = app.config.handshake_timeout;
        let shutdown = app.shutdown.clone();
        tokio::spawn(async move {
            let service = hyper::service::service_fn(
                move |mut req: hyper::Request<hyper::body::Incoming>| {
                    let router = router.clone();
                    req.extensions_mut().insert(peer);
                    req.extensions_mut().insert(admitted.clone());
                    router.oneshot(req.map(Body::new))
                },
            );
            let conn = hyper::server::conn::http1::Builder::new()
                .timer(TokioTimer::new())
                .header_read_timeout(timeout)
                .serve_connection(TokioIo::new(stream), service)
                .with_upgrades();
            tokio::select! {
                _ = conn => {}
                // Upgraded connections are tasks of their own and close themselves.
                _ = shutdown.cancelled() => {}
            }
        });
    }
}

fn routes<G: Game>(app: Arc<App<G>>) -> Router {
    Router::new()
        .route("/ws", get(ws_upgrade::<G>))
        .merge(super::api::routes::<G>())
        .fallback(|| async { json_error(StatusCode::NOT_FOUND, "not_found", "no such route") })
        .with_state(app)
}

#[derive(Debug, serde::Deserialize)]
struct WsQuery {
    #[serde(rename = "match")]
    match_id: Option<u64>,
    /// A join token, for browsers, which cannot set an Authorization header.
    token: Option<String>,
    /// The session token of a player coming back (32 hex digits).
    resume: Option<String>,
}

fn is_websocket_upgrade(headers: &HeaderMap) -> bool {
    let has_token = |name: header::HeaderName, token: &str| {
        headers.get_all(name).iter().any(|v| {
            v.to_str()
                .map(|s| s.split(',').any(|t| t.trim().eq_ignore_ascii_case(token)))
                .unwrap_or(false)
        })
    };
    has_token(header::CONNECTION, "upgrade") && has_token(header::UPGRADE, "websocket")
}

fn lobby_refusal(e: &LobbyError) -> Response {
    match e {
        LobbyError::NotFound(_) => refuse(StatusCode::NOT_FOUND, "match_not_found", e.to_string()),
        LobbyError::Full(_) => refuse(StatusCode::CONFLICT, "match_full", e.to_string()),
        LobbyError::Ended(_) => refuse(StatusCode::GONE, "match_ended", e.to_string()),
        LobbyError::AlreadyConnected(_) => {
            refuse(StatusCode::CONFLICT, "already_connected", e.to_string())
        }
        LobbyError::InvalidSession => {
            refuse(StatusCode::UNAUTHORIZED, "invalid_session", e.to_string())
        }
        LobbyError::BadCapacity { .. } => {
            refuse(StatusCode::BAD_REQUEST, "bad_capacity", e.to_string())
        }
        LobbyError::NotYours => refuse(StatusCode::FORBIDDEN, "session_not_yours", e.to_string()),
        LobbyError::TooManyMatches(_) => refuse(
            StatusCode::SERVICE_UNAVAILABLE,
            "too_many_matches",
            e.to_string(),
        ),
    }
}

/// `GET /ws[?match=ID]`: places the player, then upgrades. Every refusal is an
/// HTTP error before the upgrade, so a refused client never holds a socket.
async fn ws_upgrade<G: Game>(
    State(app): State<Arc<App<G>>>,
    query: Result<Query<WsQuery>, axum::extract::rejection::QueryRejection>,
    mut req: Request,
) -> Response {
    let Ok(Query(query)) = query else {
        return refuse(
            StatusCode::BAD_REQUEST,
            "bad_query",
            "query parameter `match` must be a match id (an unsigned integer)",
        );
    };
    if app.draining.is_cancelled() {
        return refuse(
            StatusCode::SERVICE_UNAVAILABLE,
            "shutting_down",
            "the server is shutting down",
        );
    }
    let resume = match query.resume.as_deref().map(SessionToken::from_hex) {
        None => None,
        Some(Some(token)) => Some(token),
        Some(None) => {
            return refuse(
                StatusCode::BAD_REQUEST,
                "bad_query",
                "query parameter `resume` must be a session token (32 hex digits)",
            )
        }
    };
    let headers = req.headers();
    if !is_websocket_upgrade(headers) {
        let mut response = refuse(
            StatusCode::UPGRADE_REQUIRED,
            "websocket_required",
            "this route only speaks WebSocket",
        );
        // RFC 9110 15.5.22: a 426 names the protocol to upgrade to.
        let h = response.headers_mut();
        h.insert(header::UPGRADE, HeaderValue::from_static("websocket"));
        h.insert(header::CONNECTION, HeaderValue::from_static("upgrade"));
        return response;
    }
    if headers
        .get(header::SEC_WEBSOCKET_VERSION)
        .map(|v| v.as_bytes())
        != Some(b"13")
    {
        return refuse(
            StatusCode::BAD_REQUEST,
            "bad_websocket_version",
            "Sec-WebSocket-Version must be 13",
        );
    }
    let Some(key) = headers.get(header::SEC_WEBSOCKET_KEY) else {
        return refuse(
            StatusCode::BAD_REQUEST,
            "missing_websocket_key",
            "Sec-WebSocket-Key is missing",
        );
    };
    let accept = tokio_tungstenite::tungstenite::handshake::derive_accept_key(key.as_bytes());
    let peer = req.extensions().get::<SocketAddr>().copied();
    let permit = req.extensions().get::<Arc<ConnectionPermit>>().cloned();
    if !origin_allowed(&app.config.allowed_origins, req.headers()) {
        return refuse(
            StatusCode::FORBIDDEN,
            "origin_not_allowed",
            "this Origin may not open game connections",
        );
    }
    let Some(on_upgrade) = req.extensions_mut().remove::<hyper::upgrade::OnUpgrade>() else {
        return refuse(
            StatusCode::INTERNAL_SERVER_ERROR,
            "no_upgrade",
            "connection cannot be upgraded",
        );
    };
    let mut match_id = query.match_id.map(MatchId);
    let mut known_player = None;
    if let Some(auth) = &app.auth {
        let identity = match auth.verify(req.headers(), query.token.as_deref()) {
            Ok(identity) => identity,
            Err(why) => return refuse(StatusCode::UNAUTHORIZED, "unauthorized", why),
        };
        if let Some(pinned) = identity.match_id {
            if match_id.is_some_and(|asked| asked != pinned) {
                return refuse(
                    StatusCode::FORBIDDEN,
                    "match_not_allowed",
                    format!("this token may only join match {pinned}"),
                );
            }
            match_id = Some(pinned);
        }
        known_player = Some(identity.player);
    }
    let claim = Claim {
        match_id,
        player: known_player,
        resume,
    };
    let seat = match app.lobby.claim(claim).await {
        Ok(seat) => seat,
        Err(e) => return lobby_refusal(&e),
    };

    let ws_config = websocket_config(app.config.max_message_bytes);
    app.connections.clone().spawn(async move {
        let upgraded = match on_upgrade.await {
            Ok(u) => u,
            Err(e) => {
                tracing::debug!(error = %e, "upgrade failed");
                return;
            }
        };
        let ws =
            WebSocketStream::from_raw_socket(TokioIo::new(upgraded), Role::Server, Some(ws_config))
                .await;
        // A panic ends this connection only (its seat is dropped while
        // unwinding, so the player leaves); it is logged and counted.
        let run = std::panic::AssertUnwindSafe(connection::run(ws, seat, app, peer, resume));
        if futures_util::FutureExt::catch_unwind(run).await.is_err() {
            tracing::error!(peer = ?peer, "connection task panicked; closed it");
            metrics::counter!("tickwire_panics_total", "where" => "connection").increment(1);
        }
        // The connection counts as open until its WebSocket is gone.
        drop(permit);
    });

    let mut response = Response::new(Body::empty());
    *response.status_mut() = StatusCode::SWITCHING_PROTOCOLS;
    let h = response.headers_mut();
    h.insert(header::CONNECTION, HeaderValue::from_static("upgrade"));
    h.insert(header::UPGRADE, HeaderValue::from_static("websocket"));
    if let Ok(v) = HeaderValue::from_str(&accept) {
        h.insert(header::SEC_WEBSOCKET_ACCEPT, v);
    }
    response
}

/// Against Cross-Site WebSocket Hijacking: with an allow-list configured, a
/// browser's Origin must be on it. Clients that send no Origin (native games,
/// servers) are not browsers and pass.
fn origin_allowed(allowed: &[String], headers: &HeaderMap) -> bool {
    if allowed.is_empty() {
        return true;
    }
    match headers.get(header::ORIGIN).and_then(|o| o.to_str().ok()) {
        None => true,
        Some(origin) => allowed
            .iter()
            .any(|a| a == "*" || a.eq_ignore_ascii_case(origin)),
    }
}

/// tungstenite's buffers sized for tiny client messages: its default 128 KiB
/// read buffer would cost ~128 KiB of memory per connection (and is zeroed on
/// every read), and its default message limits would let a client make the
/// server buffer 64 MiB. A read buffer the size of the largest message reads
/// any legal frame in one go.
fn websocket_config(max_message: usize) -> WebSocketConfig {
    WebSocketConfig::default()
        .read_buffer_size(max_message.clamp(256, 4096))
        .write_buffer_size(0)
        .max_write_buffer_size(256 * 1024)
        .max_message_size(Some(max_message))
        .max_frame_size(Some(max_message))
}
