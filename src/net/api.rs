//! Operator routes: health, readiness, Prometheus metrics, load-test stats and
//! the match API. Every error is JSON with a code and a message. Routes that
//! change state need the admin token; every `/v1/` route is rate-limited per
//! client address.

use super::http::{json_error, ClientAddr};
use super::App;
use crate::game::Game;
use crate::lobby::{LobbyError, MatchHandle};
use crate::protocol::MatchId;
use crate::replicate::generic::GenericCodec;
use crate::replicate::schema::hash_hex;
use axum::extract::{Path, Request, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, MethodRouter};
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use std::sync::atomic::Ordering;
use std::sync::Arc;

/// Largest request body an API route reads.
const MAX_API_BODY: usize = 4 * 1024;

/// A refused API or HTTP request: counted by reason, answered in JSON.
pub(crate) fn api_refusal(
    status: StatusCode,
    code: &'static str,
    message: impl Into<String>,
) -> Response {
    debug_assert!(API_REFUSALS.contains(&code), "list {code} in API_REFUSALS");
    metrics::counter!("tickwire_api_refusals_total", "reason" => code).increment(1);
    json_error(status, code, message)
}

/// The refusal of a request without the admin token, if it is one. Compared
/// in constant time, so response timing tells nothing about a guess.
pub(super) fn admin_refusal<G: Game>(app: &App<G>, headers: &HeaderMap) -> Option<Response> {
    use subtle::ConstantTimeEq;
    let Some(expected) = app.config.admin_token.as_deref() else {
        return Some(api_refusal(
            StatusCode::NOT_FOUND,
            "admin_routes_off",
            "routes that change state are off; start the server with --admin-token \
             (or TICKWIRE_ADMIN_TOKEN) to turn them on",
        ));
    };
    let given = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split_once(' '))
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
        .map(|(_, token)| token.trim());
    // Hashing first makes the comparison constant-time in the length too.
    let digest = |t: &str| -> [u8; 32] {
        use sha2::Digest;
        sha2::Sha256::digest(t.as_bytes()).into()
    };
    match given {
        Some(token) if bool::from(digest(token).ct_eq(&digest(expected))) => None,
        _ => {
            let mut refusal = api_refusal(
                StatusCode::UNAUTHORIZED,
                "unauthorized",
                "this route needs Authorization: Bearer <admin token>",
            );
            refusal
                .headers_mut()
                .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
            Some(refusal)
        }
    }
}

/// The refusal of a body this route may not read as JSON, if it is one: a
/// body must be sent as `application/json` (a cross-site form or
/// `text/plain` POST is not), and be small.
pub(super) fn json_body_refusal(headers: &HeaderMap) -> Option<Response> {
    let length = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok()?.parse::<u64>().ok());
    // Answered before the body is read, so an `Expect: 100-continue`
    // client gets its 413 instead of a 100.
    if length.is_some_and(|l| l > MAX_API_BODY as u64) {
        return Some(api_refusal(
            StatusCode::PAYLOAD_TOO_LARGE,
            "body_too_large",
            format!("a request body is at most {MAX_API_BODY} bytes"),
        ));
    }
    let has_body = length.is_some_and(|l| l > 0) || headers.contains_key(header::TRANSFER_ENCODING);
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(|v| v.split(';').next().unwrap_or("").trim());
    match content_type {
        Some(t) if t.eq_ignore_ascii_case("application/json") => None,
        None if !has_body => None,
        _ => Some(api_refusal(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
            "send the body as Content-Type: application/json",
        )),
    }
}

/// Reads a checked body, answering every failure in JSON.
pub(super) async fn read_body(body: axum::body::Body) -> Result<axum::body::Bytes, Box<Response>> {
    axum::body::to_bytes(body, MAX_API_BODY).await.map_err(|e| {
        let too_large = std::error::Error::source(&e)
            .is_some_and(|s| s.is::<http_body_util::LengthLimitError>());
        Box::new(if too_large {
            api_refusal(
                StatusCode::PAYLOAD_TOO_LARGE,
                "body_too_large",
                format!("a request body is at most {MAX_API_BODY} bytes"),
            )
        } else {
            api_refusal(
                StatusCode::BAD_REQUEST,
                "bad_body",
                "the request body could not be read",
            )
        })
    })
}

/// The per-address request rate of the `/v1/` routes.
async fn rate_limited<G: Game>(
    State(app): State<Arc<App<G>>>,
    req: Request,
    next: Next,
) -> Response {
    if let Some(ClientAddr(ip)) = req.extensions().get::<ClientAddr>().copied() {
        if let Err(wait) = app.api_rate.check(ip) {
            let mut refusal = api_refusal(
                StatusCode::TOO_MANY_REQUESTS,
                "rate_limited",
                "too many API requests from this address",
            );
            let seconds = wait.as_secs_f64().ceil().max(1.0) as u64;
            if let Ok(value) = HeaderValue::from_str(&seconds.to_string()) {
                refusal.headers_mut().insert(header::RETRY_AFTER, value);
            }
            return refusal;
        }
    }
    next.run(req).await
}

/// Every reason an API request is refused under (`tickwire_api_refusals_total`).
pub(crate) const API_REFUSALS: &[&str] = &[
    "unauthorized",
    "admin_routes_off",
    "rate_limited",
    "too_many_matches",
    "request_timeout",
    "unsupported_media_type",
    "body_too_large",
    "bad_body",
    "bad_host",
    "uri_too_long",
    "headers_too_large",
    "method_not_allowed",
    "bad_request",
    "cluster_off",
    "cluster_unavailable",
    "match_not_found",
    "match_full",
    "match_moving",
    "no_room",
    "bad_scope",
    "node_not_found",
];

/// Health always; the read-only routes (metrics, stats, listing matches)
/// and the admin routes (which change state) where asked.
pub(crate) fn routes<G: Game>(
    app: &Arc<App<G>>,
    read_only: bool,
    admin: bool,
) -> Router<Arc<App<G>>> {
    // Every client needs the schema: served wherever the API is.
    let mut v1 = Router::new().route("/v1/schema", get(schema::<G>));
    let mut matches: Option<MethodRouter<Arc<App<G>>>> = None;
    if read_only {
        v1 = v1
            .route("/v1/stats", get(stats::<G>))
            .route("/v1/matches/{id}", get(get_match::<G>))
            .route("/v1/nodes", get(super::cluster_api::nodes::<G>));
        matches = Some(get(list_matches::<G>));
    }
    if admin {
        use super::cluster_api as cluster;
        v1 = v1
            .route("/v1/stats/window", post(restart_window::<G>))
            .route("/v1/matchmake", post(cluster::matchmake::<G>))
            .route("/v1/admin/broadcast", post(cluster::broadcast::<G>))
            .route("/v1/admin/kick", post(cluster::kick::<G>))
            .route("/v1/admin/drain", post(cluster::drain::<G>));
        matches = Some(match matches {
            Some(m) => m.post(create_match::<G>),
            None => post(create_match::<G>),
        });
    }
    if let Some(m) = matches {
        v1 = v1.route("/v1/matches", m);
    }
    let v1 = v1.route_layer(middleware::from_fn_with_state(
        app.clone(),
        rate_limited::<G>,
    ));
    let mut router = Router::new()
        .route(
            "/healthz",
            get(|| async { Json(serde_json::json!({ "status": "ok" })) }),
        )
        .route("/readyz", get(readyz::<G>))
        .merge(v1);
    if read_only {
        router = router.route("/metrics", get(metrics_text::<G>));
    }
    router
}

/// `GET /v1/schema`: the game's schema and its hash, with the hash as ETag.
async fn schema<G: Game>(State(app): State<Arc<App<G>>>, headers: HeaderMap) -> Response {
    let etag = format!("\"{}\"", hash_hex(app.schema.hash));
    let fresh = headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|t| t.trim() == etag));
    if fresh {
        return (StatusCode::NOT_MODIFIED, [(header::ETAG, etag)]).into_response();
    }
    let body = format!(
        "{{\"hash\":\"{}\",\"schema\":{}}}",
        hash_hex(app.schema.hash),
        app.schema.json
    );
    (
        StatusCode::OK,
        [
            (header::CONTENT_TYPE, "application/json".to_string()),
            (header::ETAG, etag),
        ],
        body,
    )
        .into_response()
}

async fn readyz<G: Game>(State(app): State<Arc<App<G>>>) -> Response {
    if app.draining.is_cancelled() {
        json_error(
            StatusCode::SERVICE_UNAVAILABLE,
            "shutting_down",
            "the server is shutting down",
        )
    } else {
        Json(serde_json::json!({ "status": "ready" })).into_response()
    }
}

fn players<G: Game>(app: &App<G>) -> u64 {
    app.lobby
        .matches()
        .iter()
        .map(|m| u64::from(m.stats.players.load(Ordering::Relaxed)))
        .sum()
}

async fn metrics_text<G: Game>(State(app): State<Arc<App<G>>>) -> Response {
    // Gauges are read at scrape time, so the hot paths never update them.
    metrics::gauge!("tickwire_matches").set(app.lobby.matches().len() as f64);
    metrics::gauge!("tickwire_players").set(players(&app) as f64);
    let body = crate::metrics::prometheus().render();
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], body).into_response()
}

#[derive(Serialize)]
struct Stats {
    uptime_s: f64,
    matches: usize,
    players: u64,
    /// Open TCP connections, WebSocket or not.
    connections: usize,
    /// Disconnected players within their reconnect grace.
    parked_players: usize,
    tick_threads: usize,
    ticks_total: u64,
    tick_overruns_total: u64,
    /// Tick durations since the window began (`POST /v1/stats/window`).
    tick: crate::metrics::TickWindow,
    /// Interest management and budgets, over the same window.
    interest: crate::metrics::InterestWindow,
    /// With interest management: a full frame of the whole world, averaged
    /// over the matches that sampled one (what a client would get per tick
    /// without it).
    full_world_frame_bytes: Option<f64>,
}

fn collect<G: Game>(app: &App<G>, restart: bool) -> Stats {
    Stats {
        uptime_s: app.stats.uptime().as_secs_f64(),
        matches: app.lobby.matches().len(),
        players: players(app),
        connections: app.limits.open(),
        parked_players: app.lobby.parked_players(),
        tick_threads: app.lobby.tick_threads(),
        ticks_total: app.stats.ticks_total(),
        tick_overruns_total: app.stats.overruns_total(),
        tick: app.stats.window(restart),
        interest: app.stats.interest.window(restart),
        full_world_frame_bytes: full_world(app),
    }
}

fn full_world<G: Game>(app: &App<G>) -> Option<f64> {
    let sizes: Vec<u64> = app
        .lobby
        .matches()
        .iter()
        .map(|m| m.stats.full_world_bytes.load(Ordering::Relaxed))
        .filter(|&b| b > 0)
        .collect();
    (!sizes.is_empty()).then(|| sizes.iter().sum::<u64>() as f64 / sizes.len() as f64)
}

async fn stats<G: Game>(State(app): State<Arc<App<G>>>) -> Json<Stats> {
    Json(collect(&app, false))
}

/// Closes the current tick window (returning its figures) and starts a new one:
/// a load test calls it when its warm-up ends.
async fn restart_window<G: Game>(State(app): State<Arc<App<G>>>, headers: HeaderMap) -> Response {
    if let Some(refusal) = admin_refusal(&app, &headers).or_else(|| json_body_refusal(&headers)) {
        return refusal;
    }
    Json(collect(&app, true)).into_response()
}

#[derive(Serialize)]
struct MatchInfo {
    id: u64,
    /// "live"; an ended match's entry (with its result) says "ended".
    state: &'static str,
    players: u32,
    /// Spectators and admins watching, apart from the players.
    spectators: u32,
    capacity: u16,
    tick: u32,
    age_s: f64,
    seed: u64,
}

fn info<G: Game>(m: &MatchHandle<G>) -> MatchInfo {
    MatchInfo {
        id: m.id.0,
        state: "live",
        players: m.stats.players.load(Ordering::Relaxed),
        spectators: m.watching(),
        capacity: m.capacity,
        tick: m.stats.tick.load(Ordering::Relaxed),
        age_s: m.created.elapsed().as_secs_f64(),
        seed: m.seed,
    }
}

#[derive(Deserialize)]
struct ListScope {
    scope: Option<String>,
}

/// `GET /v1/matches[?scope=local|cluster]`: this node's matches, or every
/// node's (from the cluster directory).
async fn list_matches<G: Game>(
    State(app): State<Arc<App<G>>>,
    scope: Result<axum::extract::Query<ListScope>, axum::extract::rejection::QueryRejection>,
) -> Response {
    let scope = scope.ok().and_then(|q| q.0.scope);
    match scope.as_deref() {
        None | Some("local") => {}
        Some("cluster") => return super::cluster_api::cluster_matches(&app).await,
        Some(_) => {
            return api_refusal(
                StatusCode::BAD_REQUEST,
                "bad_scope",
                "`scope` is `local` (this node) or `cluster` (every node)",
            )
        }
    }
    let matches: Vec<MatchInfo> = app.lobby.matches().iter().map(|m| info(m)).collect();
    Json(serde_json::json!({ "matches": matches })).into_response()
}

async fn get_match<G: Game>(State(app): State<Arc<App<G>>>, Path(id): Path<String>) -> Response {
    let Ok(id) = id.parse::<u64>() else {
        return json_error(
            StatusCode::BAD_REQUEST,
            "bad_match_id",
            "a match id is an unsigned integer",
        );
    };
    if let Some(m) = app.lobby.get(MatchId(id)) {
        return Json(info(&m)).into_response();
    }
    match app.lobby.ended_match(MatchId(id)) {
        Some(ended) => {
            // The result travels as the game's event; shown as the schema's JSON.
            let result = GenericCodec::new(app.schema.schema.clone())
                .ok()
                .and_then(|codec| codec.decode_event(&ended.result).ok());
            Json(serde_json::json!({
                "id": id,
                "state": "ended",
                "ticks": ended.ticks,
                "ended_s_ago": ended.ended.elapsed().as_secs_f64(),
                "result": result,
            }))
            .into_response()
        }
        None => json_error(
            StatusCode::NOT_FOUND,
            "match_not_found",
            format!("match {id} does not exist"),
        ),
    }
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct CreateMatch {
    seed: Option<u64>,
    capacity: Option<u16>,
}

async fn create_match<G: Game>(
    State(app): State<Arc<App<G>>>,
    headers: HeaderMap,
    body: axum::body::Body,
) -> Response {
    if let Some(refusal) = admin_refusal(&app, &headers).or_else(|| json_body_refusal(&headers)) {
        return refusal;
    }
    let body = match read_body(body).await {
        Ok(b) => b,
        Err(refusal) => return *refusal,
    };
    // An empty body means all defaults; anything else must be the JSON object.
    let request = if body.iter().all(u8::is_ascii_whitespace) {
        CreateMatch::default()
    } else {
        match serde_json::from_slice::<CreateMatch>(&body) {
            Ok(r) => r,
            Err(e) => {
                return json_error(
                    StatusCode::BAD_REQUEST,
                    "bad_request",
                    format!("invalid body: {e}"),
                )
            }
        }
    };
    if app.draining.is_cancelled() {
        return json_error(
            StatusCode::SERVICE_UNAVAILABLE,
            "shutting_down",
            "the server is shutting down",
        );
    }
    match app.lobby.create_match(request.seed, request.capacity) {
        Ok(m) => (StatusCode::CREATED, Json(info(&m))).into_response(),
        Err(e @ LobbyError::BadCapacity { .. }) => json_error(
            StatusCode::UNPROCESSABLE_ENTITY,
            "bad_capacity",
            e.to_string(),
        ),
        Err(e @ LobbyError::TooManyMatches(_)) => api_refusal(
            StatusCode::SERVICE_UNAVAILABLE,
            "too_many_matches",
            e.to_string(),
        ),
        Err(e) => json_error(StatusCode::INTERNAL_SERVER_ERROR, "internal", e.to_string()),
    }
}
