//! The WebSocket handshake: `GET /ws[?match=ID][&token=JWT][&resume=TOKEN]`.
//! Every check (protocol, Origin, token, seat) runs before the upgrade, so a
//! refusal is an HTTP error with a JSON body and a refused client never
//! holds a WebSocket.

use super::http::{json_error, ClientAddr};
use super::limits::{ConnectionPermit, Refusal};
use super::{connection, App};
use crate::game::Game;
use crate::lobby::{Claim, LobbyError};
use crate::protocol::{MatchId, SessionToken};
use crate::replicate::schema::hash_hex;
use axum::body::Body;
use axum::extract::{Query, Request, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode, Version};
use axum::response::Response;
use base64::Engine;
use hyper_util::rt::TokioIo;
use std::net::SocketAddr;
use std::sync::Arc;
use tokio_tungstenite::tungstenite::protocol::{Role, WebSocketConfig};
use tokio_tungstenite::WebSocketStream;

/// Every reason `refuse` counts under, so the series exist from the start.
pub(crate) const REFUSAL_REASONS: &[&str] = &[
    "server_full",
    "too_many_connections",
    "match_not_found",
    "match_full",
    "no_spectator_room",
    "nothing_to_watch",
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
    "bad_http_version",
    "origin_not_allowed",
    "no_upgrade",
    "unauthorized",
    "match_not_allowed",
    "schema_mismatch",
    "tls_handshake_failed",
    "tls_handshake_timeout",
    "bad_ticket",
    "ticket_expired",
    "ticket_wrong_node",
    "ticket_reused",
    "cluster_unavailable",
];

/// A refused WebSocket handshake: counted by reason, answered in JSON. The
/// refusal also rides along as a response extension, for a client that
/// asked to read it from a close frame (`refusal=close`).
fn refuse(status: StatusCode, code: &'static str, message: impl Into<String>) -> Response {
    debug_assert!(
        REFUSAL_REASONS.contains(&code),
        "list {code} in REFUSAL_REASONS"
    );
    metrics::counter!("tickwire_handshake_refusals_total", "reason" => code).increment(1);
    let message = message.into();
    let mut response = json_error(status, code, message.clone());
    response.extensions_mut().insert(Refused {
        status,
        code,
        message,
    });
    response
}

#[derive(Debug, Clone)]
struct Refused {
    status: StatusCode,
    code: &'static str,
    message: String,
}

/// Browsers do not show a page the HTTP status or body of a refused
/// upgrade, only a bare 1006 close. A client that sends `refusal=close` gets
/// every refusal of a well-formed handshake as an accepted WebSocket closed
/// at once with code `4000 + status` and reason `"<code>: <message>"`.
fn wants_refusal_in_close(req: &Request) -> bool {
    req.uri()
        .query()
        .is_some_and(|q| q.split('&').any(|pair| pair == "refusal=close"))
}

/// The `Sec-WebSocket-Accept` answer when `req` is a well-formed WebSocket
/// handshake (RFC 6455 4.1), else `None`.
fn handshake_accept(req: &Request) -> Option<String> {
    let headers = req.headers();
    if req.version() != Version::HTTP_11
        || !is_websocket_upgrade(headers)
        || headers
            .get(header::SEC_WEBSOCKET_VERSION)
            .map(|v| v.as_bytes())
            != Some(b"13")
    {
        return None;
    }
    let key = headers.get(header::SEC_WEBSOCKET_KEY)?;
    // The key is 16 random bytes, base64-encoded.
    let decoded = base64::engine::general_purpose::STANDARD.decode(key.as_bytes());
    if decoded.map_or(true, |k| k.len() != 16) {
        return None;
    }
    Some(tokio_tungstenite::tungstenite::handshake::derive_accept_key(key.as_bytes()))
}

fn switching_protocols(accept: &str) -> Response {
    let mut response = Response::new(Body::empty());
    *response.status_mut() = StatusCode::SWITCHING_PROTOCOLS;
    let h = response.headers_mut();
    h.insert(header::CONNECTION, HeaderValue::from_static("upgrade"));
    h.insert(header::UPGRADE, HeaderValue::from_static("websocket"));
    if let Ok(v) = HeaderValue::from_str(accept) {
        h.insert(header::SEC_WEBSOCKET_ACCEPT, v);
    }
    response
}

/// Close reasons are at most 123 bytes (RFC 6455 5.5: a control frame's
/// payload is 125 bytes, 2 of them the code); cut on a character boundary.
fn close_reason(code: &str, message: &str) -> String {
    let mut reason = format!("{code}: {message}");
    if reason.len() > 123 {
        let mut end = 123;
        while !reason.is_char_boundary(end) {
            end -= 1;
        }
        reason.truncate(end);
    }
    reason
}

/// Upgrades a refused handshake only to close it with the refusal (see
/// [`wants_refusal_in_close`]). The socket keeps its connection permit until
/// it is gone, and never reaches the lobby.
fn refuse_in_close<G: Game>(
    app: &Arc<App<G>>,
    on_upgrade: hyper::upgrade::OnUpgrade,
    accept: &str,
    refused: Refused,
    permit: Option<Arc<ConnectionPermit>>,
) -> Response {
    use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
    use tokio_tungstenite::tungstenite::protocol::CloseFrame;
    app.connections.spawn(async move {
        let Ok(upgraded) = on_upgrade.await else {
            return;
        };
        let mut ws = WebSocketStream::from_raw_socket(
            TokioIo::new(upgraded),
            Role::Server,
            Some(websocket_config(256)),
        )
        .await;
        let frame = CloseFrame {
            code: CloseCode::from(4000 + refused.status.as_u16()),
            reason: close_reason(refused.code, &refused.message).into(),
        };
        let bounded = std::time::Duration::from_secs(2);
        if tokio::time::timeout(bounded, ws.close(Some(frame)))
            .await
            .is_ok()
        {
            // The client's answering close ends the stream; nothing else is read.
            let _ = tokio::time::timeout(bounded, async {
                while let Some(Ok(_)) = futures_util::StreamExt::next(&mut ws).await {}
            })
            .await;
        }
        drop(permit);
    });
    switching_protocols(accept)
}

/// `GET /ws[?match=ID]`: places the player, then upgrades. Every refusal is an
/// HTTP error before the upgrade, so a refused client never holds a socket
/// (but see [`wants_refusal_in_close`]).
pub(crate) async fn ws_upgrade<G: Game>(
    State(app): State<Arc<App<G>>>,
    query: Result<Query<WsQuery>, axum::extract::rejection::QueryRejection>,
    mut req: Request,
) -> Response {
    let in_close = wants_refusal_in_close(&req);
    let accept = handshake_accept(&req);
    let permit = req.extensions().get::<Arc<ConnectionPermit>>().cloned();
    let mut on_upgrade = req.extensions_mut().remove::<hyper::upgrade::OnUpgrade>();
    let response = place_and_upgrade(app.clone(), query, req, &mut on_upgrade).await;
    match (
        in_close,
        response.extensions().get::<Refused>(),
        accept,
        on_upgrade,
    ) {
        (true, Some(refused), Some(accept), Some(on_upgrade)) => {
            refuse_in_close(&app, on_upgrade, &accept, refused.clone(), permit)
        }
        _ => response,
    }
}

#[derive(Debug, serde::Deserialize)]
pub(crate) struct WsQuery {
    #[serde(rename = "match")]
    match_id: Option<u64>,
    /// A join token, for browsers, which cannot set an Authorization header.
    token: Option<String>,
    /// The session token of a player coming back (32 hex digits).
    resume: Option<String>,
    /// The schema hash the client was built for (16 hex digits); another
    /// game's client is refused before it holds a socket.
    schema: Option<String>,
    /// `1` (or `true`): watch the match as a spectator.
    spectate: Option<String>,
    /// A matchmaking ticket (`POST /v1/matchmake`) for this node.
    ticket: Option<String>,
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
        LobbyError::NoSpectatorRoom(_) => {
            refuse(StatusCode::CONFLICT, "no_spectator_room", e.to_string())
        }
        LobbyError::NothingToWatch => {
            refuse(StatusCode::NOT_FOUND, "nothing_to_watch", e.to_string())
        }
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
        // Only a move asks for a given id; never a connection.
        LobbyError::AlreadyHere(_) => refuse(StatusCode::CONFLICT, "match_full", e.to_string()),
    }
}

/// The handshake's checks, the seat, and the upgrade; `on_upgrade` is taken
/// only when the connection is accepted.
async fn place_and_upgrade<G: Game>(
    app: Arc<App<G>>,
    query: Result<Query<WsQuery>, axum::extract::rejection::QueryRejection>,
    req: Request,
    on_upgrade: &mut Option<hyper::upgrade::OnUpgrade>,
) -> Response {
    let Ok(Query(query)) = query else {
        return refuse(
            StatusCode::BAD_REQUEST,
            "bad_query",
            "query parameter `match` must be a match id (an unsigned integer)",
        );
    };
    // A stopping node of a cluster sends new players elsewhere (below);
    // a player resuming here is refused, as on a single node.
    let may_redirect = app.cluster.is_some() && query.resume.is_none();
    if app.draining.is_cancelled() && !may_redirect {
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
    let send_schema = match query.schema.as_deref() {
        None => true,
        Some(hash) if hash == hash_hex(app.schema.hash) => false,
        Some(hash) => {
            return refuse(
                StatusCode::CONFLICT,
                "schema_mismatch",
                format!(
                    "this client was built for schema {hash}, the server's game has schema {}; \
                     update the client or fetch GET /v1/schema",
                    hash_hex(app.schema.hash)
                ),
            )
        }
    };
    let headers = req.headers();
    // RFC 6455 4.1: the opening handshake is an HTTP/1.1 request.
    if req.version() != Version::HTTP_11 {
        return refuse(
            StatusCode::BAD_REQUEST,
            "bad_http_version",
            "a WebSocket handshake must be an HTTP/1.1 request",
        );
    }
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
    // RFC 6455 4.1: the key is 16 random bytes, base64-encoded.
    let decoded = base64::engine::general_purpose::STANDARD.decode(key.as_bytes());
    if decoded.map_or(true, |k| k.len() != 16) {
        return refuse(
            StatusCode::BAD_REQUEST,
            "bad_websocket_key",
            "Sec-WebSocket-Key must be 16 bytes in base64",
        );
    }
    let accept = tokio_tungstenite::tungstenite::handshake::derive_accept_key(key.as_bytes());
    let peer = req.extensions().get::<SocketAddr>().copied();
    let client = req
        .extensions()
        .get::<ClientAddr>()
        .map(|c| c.0)
        .or(peer.map(|p| p.ip()));
    let mut permits: Vec<Arc<ConnectionPermit>> = req
        .extensions()
        .get::<Arc<ConnectionPermit>>()
        .cloned()
        .into_iter()
        .collect();
    if let Err(why) = origin_allowed(&app.config.allowed_origins, req.headers()) {
        return refuse(StatusCode::FORBIDDEN, "origin_not_allowed", why);
    }
    // Through a trusted proxy: the client's own address is capped here.
    if let (Some(peer), Some(client)) = (peer, client) {
        if client != peer.ip() {
            match app.limits.admit_client(client) {
                Ok(permit) => permits.push(Arc::new(permit)),
                Err(Refusal::TooManyFromIp | Refusal::ServerFull) => {
                    return refuse(
                        StatusCode::TOO_MANY_REQUESTS,
                        "too_many_connections",
                        "too many connections from this address",
                    )
                }
            }
        }
    }
    if on_upgrade.is_none() {
        return refuse(
            StatusCode::INTERNAL_SERVER_ERROR,
            "no_upgrade",
            "connection cannot be upgraded",
        );
    }
    let spectate = match query.spectate.as_deref() {
        None | Some("0") | Some("false") => false,
        Some("1") | Some("true") => true,
        Some(_) => {
            return refuse(
                StatusCode::BAD_REQUEST,
                "bad_query",
                "query parameter `spectate` must be 1 or 0",
            )
        }
    };
    let mut match_id = query.match_id.map(MatchId);
    let mut known_player = None;
    // Without a token everyone may play or watch; a token's role may only
    // narrow that (a spectator token never gets an entity).
    let mut role = crate::replicate::Role::Player;
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
        role = identity.role;
    }
    if spectate && role.plays() {
        role = crate::replicate::Role::Spectator;
    }
    let mut ticketed = false;
    if let Some(text) = query.ticket.as_deref() {
        let Some(cluster) = &app.cluster else {
            return refuse(
                StatusCode::BAD_REQUEST,
                "bad_ticket",
                "this node is not in a cluster: it issues and takes no tickets",
            );
        };
        if resume.is_some() || query.match_id.is_some() {
            return refuse(
                StatusCode::BAD_REQUEST,
                "bad_query",
                "a ticket names its match: send `ticket` without `match` or `resume`",
            );
        }
        match cluster.redeem(text).await {
            Ok(ticket) => {
                let asked = ticket.match_id.map(MatchId);
                if let (Some(pinned), Some(asked)) = (match_id, asked) {
                    if pinned != asked {
                        return refuse(
                            StatusCode::FORBIDDEN,
                            "match_not_allowed",
                            format!("this token may only join match {pinned}"),
                        );
                    }
                }
                match_id = match_id.or(asked);
                ticketed = true;
            }
            Err(e) => {
                let (status, code, message) = super::cluster_api::ticket_refusal(&e);
                return refuse(status, code, message);
            }
        }
    }
    if let Some(cluster) = &app.cluster {
        let leaving = app.draining.is_cancelled() || cluster.is_draining();
        let quick = match_id.is_none() && role.plays();
        if resume.is_none() && role.plays() && (leaving || (quick && !app.lobby.has_room())) {
            return match super::cluster_api::redirect(cluster).await {
                Ok(response) => response,
                Err(_) if app.draining.is_cancelled() => refuse(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "shutting_down",
                    "the server is shutting down and no other node has room",
                ),
                Err(e) => super::cluster_api::cluster_refusal(&e),
            };
        }
    }
    let claim = Claim {
        match_id,
        player: known_player,
        resume,
        role,
    };
    let seat = match app.lobby.claim(claim).await {
        Ok(seat) => seat,
        // A ticket's match filled (or ended) since the directory last
        // showed it: its bearer plays in another match here instead.
        Err(LobbyError::Full(_) | LobbyError::NotFound(_) | LobbyError::Ended(_))
            if ticketed && claim.match_id.is_some() =>
        {
            metrics::counter!("tickwire_cluster_ticket_fallbacks_total").increment(1);
            match app
                .lobby
                .claim(Claim {
                    match_id: None,
                    ..claim
                })
                .await
            {
                Ok(seat) => seat,
                Err(e) => return lobby_refusal(&e),
            }
        }
        Err(e) => return lobby_refusal(&e),
    };
    if let Some(cluster) = &app.cluster {
        cluster.refresh_soon();
    }

    // Taken only now: a refusal above leaves it for `refuse_in_close`.
    let Some(on_upgrade) = on_upgrade.take() else {
        app.lobby.abandon(seat, resume);
        return refuse(
            StatusCode::INTERNAL_SERVER_ERROR,
            "no_upgrade",
            "connection cannot be upgraded",
        );
    };
    let ws_config = websocket_config(app.config.max_message_bytes);
    app.connections.clone().spawn(async move {
        let upgraded = match on_upgrade.await {
            Ok(u) => u,
            Err(e) => {
                tracing::debug!(error = %e, "upgrade failed");
                // A resumed or taken-over seat is kept for its player.
                app.lobby.abandon(seat, resume);
                return;
            }
        };
        let ws =
            WebSocketStream::from_raw_socket(TokioIo::new(upgraded), Role::Server, Some(ws_config))
                .await;
        // A panic ends this connection only (its seat is dropped while
        // unwinding, so the player leaves); it is logged and counted.
        let run = std::panic::AssertUnwindSafe(connection::run(
            ws,
            seat,
            app,
            client,
            resume,
            send_schema,
        ));
        if futures_util::FutureExt::catch_unwind(run).await.is_err() {
            tracing::error!(client = ?client, "connection task panicked; closed it");
            metrics::counter!("tickwire_panics_total", "where" => "connection").increment(1);
        }
        // The connection counts as open until its WebSocket is gone.
        drop(permits);
    });

    switching_protocols(&accept)
}

/// Against Cross-Site WebSocket Hijacking: with an allow-list configured, a
/// browser's Origin must be on it. Clients that send no Origin (native games,
/// servers) are not browsers and pass. An Origin that is not visible ASCII,
/// or more than one, is refused in any case: it is not a browser's either,
/// and letting it pass would make the check fail open.
fn origin_allowed(allowed: &[String], headers: &HeaderMap) -> Result<(), &'static str> {
    let mut origins = headers.get_all(header::ORIGIN).iter();
    let Some(origin) = origins.next() else {
        return Ok(());
    };
    if origins.next().is_some() {
        return Err("a request may carry one Origin header");
    }
    let Ok(origin) = origin.to_str() else {
        return Err("the Origin header is not visible ASCII");
    };
    if allowed.is_empty()
        || allowed
            .iter()
            .any(|a| a == "*" || a.eq_ignore_ascii_case(origin))
    {
        Ok(())
    } else {
        Err("this Origin may not open game connections")
    }
}

/// Bytes of queued messages after which tungstenite writes without waiting
/// for the flush: a tick's events, snapshot and report are far less.
const WRITE_BATCH: usize = 64 * 1024;

/// tungstenite's buffers sized for tiny client messages: its default 128 KiB
/// read buffer would cost ~128 KiB of memory per connection (and is zeroed on
/// every read), and its default message limits would let a client make the
/// server buffer 64 MiB. A read buffer the size of the largest message reads
/// any legal frame in one go. The write buffer holds a tick's messages
/// until the writer flushes them in one write (its capacity is the largest
/// tick's, whatever this target).
fn websocket_config(max_message: usize) -> WebSocketConfig {
    WebSocketConfig::default()
        .read_buffer_size(max_message.clamp(256, 4096))
        .write_buffer_size(WRITE_BATCH)
        .max_write_buffer_size(256 * 1024)
        .max_message_size(Some(max_message))
        .max_frame_size(Some(max_message))
}
