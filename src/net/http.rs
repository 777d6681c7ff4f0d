//! Serving HTTP/1: the accept loop with its connection caps, the checks
//! every request passes (Host, size, deadline, client address), and the
//! routers of the public and the internal listener.

use super::limits::{client_address, ConnectionPermit, Refusal};
use super::App;
use crate::game::Game;
use axum::body::Body;
use axum::http::{header, StatusCode, Version};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use hyper_util::rt::{TokioIo, TokioTimer};
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use tokio::net::TcpListener;
use tower::ServiceExt;

/// Largest request target (path and query) answered with more than 414:
/// the longest legal one is a path with a join token of at most 4 KiB.
const MAX_URI_BYTES: usize = 8 * 1024;
/// Largest header section we read; hyper's buffer is a little larger so
/// that requests just over it get our JSON 431 rather than hyper's bare one.
const MAX_HEADER_BYTES: usize = 8 * 1024;
/// hyper's read buffer (its minimum is 8 KiB): what the routes need and no
/// more, since every byte of a header section is parsed on a tokio worker.
const HYPER_BUFFER_BYTES: usize = 16 * 1024;
/// Header fields per request at most.
const MAX_HEADERS: usize = 64;

/// An HTTP error with a JSON body: `{"error": {"code": ..., "message": ...}}`.
pub(crate) fn json_error(
    status: StatusCode,
    code: &'static str,
    message: impl Into<String>,
) -> Response {
    let body = serde_json::json!({ "error": { "code": code, "message": message.into() } });
    (status, Json(body)).into_response()
}

/// The address a request comes from, after trusted proxies (a request
/// extension for the routes).
#[derive(Debug, Clone, Copy)]
pub(crate) struct ClientAddr(pub IpAddr);

/// Answers a socket over a connection cap and closes it at once: it gets no
/// task, and holds its descriptor no longer than this call. The answer is
/// written without reading the request (a client that sent one may see the
/// connection reset instead; either way it is refused now, not later). On a
/// TLS listener the socket is only closed: a plain answer would be garbage to
/// a TLS client, and a handshake for a refused socket costs what the cap saves.
fn refuse_socket(stream: tokio::net::TcpStream, refusal: Refusal, tls: bool) {
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
    if tls {
        drop(stream);
        return;
    }
    let body = serde_json::json!({ "error": { "code": code, "message": message } }).to_string();
    let response = format!(
        "HTTP/1.1 {status}\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
        body.len()
    );
    // A fresh socket's send buffer takes this whole; if not, it is cut short.
    let _ = stream.try_write(response.as_bytes());
    drop(stream);
}

pub(crate) async fn accept_loop<G: Game>(listener: TcpListener, app: Arc<App<G>>, router: Router) {
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
        // A trusted proxy carries many clients: they are counted per address
        // as they upgrade, from the forwarded headers.
        let trusted = app
            .config
            .trusted_proxies
            .iter()
            .any(|net| net.contains(&peer.ip().to_canonical()));
        let admitted = match app.limits.admit((!trusted).then_some(peer.ip())) {
            Ok(permit) => Arc::new(permit),
            Err(refusal) => {
                refuse_socket(stream, refusal, app.tls.is_some());
                continue;
            }
        };
        // Snapshots are small and latency-bound: never wait to coalesce them.
        let _ = stream.set_nodelay(true);
        match &app.tls {
            None => {
                tokio::spawn(serve_connection(
                    stream,
                    peer,
                    Some(admitted),
                    router.clone(),
                    app.clone(),
                ));
            }
            Some(acceptor) => {
                let (acceptor, router, app) = (acceptor.clone(), router.clone(), app.clone());
                tokio::spawn(async move {
                    let handshake =
                        tokio::time::timeout(app.config.handshake_timeout, acceptor.accept(stream));
                    match handshake.await {
                        Ok(Ok(stream)) => {
                            serve_connection(stream, peer, Some(admitted), router, app).await
                        }
                        Ok(Err(e)) => {
                            // Plain HTTP on the TLS port, an unknown CA, a scanner.
                            tracing::debug!(%peer, error = %e, "TLS handshake failed");
                            metrics::counter!("tickwire_handshake_refusals_total", "reason" => "tls_handshake_failed").increment(1);
                        }
                        Err(_) => {
                            metrics::counter!("tickwire_handshake_refusals_total", "reason" => "tls_handshake_timeout").increment(1);
                        }
                    }
                });
            }
        }
    }
}

/// Serves one connection's HTTP/1 requests (and hands an upgrade over), over
/// TCP or TLS.
pub(crate) async fn serve_connection<G, S>(
    stream: S,
    peer: SocketAddr,
    permit: Option<Arc<ConnectionPermit>>,
    router: Router,
    app: Arc<App<G>>,
) where
    G: Game,
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let config = &app.config;
    let service_app = app.clone();
    let service = hyper::service::service_fn(
        move |mut req: hyper::Request<hyper::body::Incoming>| {
            let router = router.clone();
            let app = service_app.clone();
            let client = client_address(peer.ip(), req.headers(), &app.config.trusted_proxies);
            req.extensions_mut().insert(peer);
            req.extensions_mut().insert(ClientAddr(client));
            if let Some(permit) = &permit {
                req.extensions_mut().insert(permit.clone());
            }
            async move {
                if let Some(refusal) = malformed(&req) {
                    return Ok::<_, std::convert::Infallible>(refusal);
                }
                // The whole request, body included, within the deadline: a
                // trickled body cannot hold a connection slot.
                match tokio::time::timeout(
                    app.config.request_timeout,
                    router.oneshot(req.map(Body::new)),
                )
                .await
                {
                    Ok(response) => response,
                    Err(_) => {
                        metrics::counter!("tickwire_api_refusals_total", "reason" => "request_timeout").increment(1);
                        let mut response = json_error(
                            StatusCode::REQUEST_TIMEOUT,
                            "request_timeout",
                            "the request did not arrive whole within the request timeout",
                        );
                        response.headers_mut().insert(
                            header::CONNECTION,
                            header::HeaderValue::from_static("close"),
                        );
                        Ok(response)
                    }
                }
            }
        },
    );
    let conn = hyper::server::conn::http1::Builder::new()
        .timer(TokioTimer::new())
        .header_read_timeout(config.handshake_timeout.min(config.request_timeout))
        .max_buf_size(HYPER_BUFFER_BYTES)
        .max_headers(MAX_HEADERS)
        .serve_connection(TokioIo::new(stream), service)
        .with_upgrades();
    tokio::select! {
        _ = conn => {}
        // Upgraded connections are tasks of their own and close themselves.
        _ = app.shutdown.cancelled() => {}
    }
}

/// A request no route should see: a missing or repeated Host (HTTP/1.1
/// requires exactly one), an over-long target or header section.
fn malformed<B>(req: &hyper::Request<B>) -> Option<Response> {
    let hosts = req.headers().get_all(header::HOST).iter().count();
    if hosts > 1 || (hosts == 0 && req.version() == Version::HTTP_11) {
        return Some(super::api::api_refusal(
            StatusCode::BAD_REQUEST,
            "bad_host",
            "a request needs exactly one Host header",
        ));
    }
    if req.uri().to_string().len() > MAX_URI_BYTES {
        return Some(super::api::api_refusal(
            StatusCode::URI_TOO_LONG,
            "uri_too_long",
            format!("the request target is longer than {MAX_URI_BYTES} bytes"),
        ));
    }
    let header_bytes: usize = req
        .headers()
        .iter()
        .map(|(k, v)| k.as_str().len() + v.len() + 4)
        .sum();
    if header_bytes > MAX_HEADER_BYTES {
        return Some(super::api::api_refusal(
            StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
            "headers_too_large",
            format!("the header section is larger than {MAX_HEADER_BYTES} bytes"),
        ));
    }
    None
}

/// The public listener's routes: the game, its browser demo, health, the
/// admin routes, and (unless `--metrics-bind` moves them) metrics and the
/// read-only API.
pub(crate) fn public_routes<G: Game>(app: Arc<App<G>>) -> Router {
    let with_read_only = app.config.metrics_bind.is_none();
    Router::new()
        .route("/ws", get(super::upgrade::ws_upgrade::<G>))
        .merge(super::demo::routes())
        .merge(super::api::routes::<G>(&app, with_read_only, true))
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .with_state(app)
}

/// The internal listener's routes (`--metrics-bind`): health, metrics and the
/// read-only API.
pub(crate) fn internal_routes<G: Game>(app: Arc<App<G>>) -> Router {
    Router::new()
        .merge(super::api::routes::<G>(&app, true, false))
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .with_state(app)
}

async fn not_found() -> Response {
    json_error(StatusCode::NOT_FOUND, "not_found", "no such route")
}

async fn method_not_allowed() -> Response {
    super::api::api_refusal(
        StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
        "this route does not take that method",
    )
}
