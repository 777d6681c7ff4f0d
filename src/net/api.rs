//! Operator routes: health, readiness, Prometheus metrics, load-test stats and
//! the match API. Every error is JSON with a code and a message.

use super::http::json_error;
use super::App;
use crate::game::Game;
use crate::lobby::{LobbyError, MatchHandle};
use crate::protocol::MatchId;
use axum::extract::{Path, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use std::sync::atomic::Ordering;
use std::sync::Arc;

/// Every reason an API request is refused under (`tickwire_api_refusals_total`).
pub(crate) const API_REFUSALS: &[&str] = &[
    "unauthorized",
    "admin_routes_off",
    "rate_limited",
    "too_many_matches",
    "request_timeout",
    "unsupported_media_type",
];

pub(crate) fn routes<G: Game>() -> Router<Arc<App<G>>> {
    Router::new()
        .route(
            "/healthz",
            get(|| async { Json(serde_json::json!({ "status": "ok" })) }),
        )
        .route("/readyz", get(readyz::<G>))
        .route("/metrics", get(metrics_text::<G>))
        .route("/v1/stats", get(stats::<G>))
        .route("/v1/stats/window", post(restart_window::<G>))
        .route(
            "/v1/matches",
            get(list_matches::<G>).post(create_match::<G>),
        )
        .route("/v1/matches/{id}", get(get_match::<G>))
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
    }
}

async fn stats<G: Game>(State(app): State<Arc<App<G>>>) -> Json<Stats> {
    Json(collect(&app, false))
}

/// Closes the current tick window (returning its figures) and starts a new one:
/// a load test calls it when its warm-up ends.
async fn restart_window<G: Game>(State(app): State<Arc<App<G>>>) -> Json<Stats> {
    Json(collect(&app, true))
}

#[derive(Serialize)]
struct MatchInfo {
    id: u64,
    players: u32,
    capacity: u16,
    tick: u32,
    age_s: f64,
    seed: u64,
}

fn info<G: Game>(m: &MatchHandle<G>) -> MatchInfo {
    MatchInfo {
        id: m.id.0,
        players: m.stats.players.load(Ordering::Relaxed),
        capacity: m.capacity,
        tick: m.stats.tick.load(Ordering::Relaxed),
        age_s: m.created.elapsed().as_secs_f64(),
        seed: m.seed,
    }
}

async fn list_matches<G: Game>(State(app): State<Arc<App<G>>>) -> Response {
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
    match app.lobby.get(MatchId(id)) {
        Some(m) => Json(info(&m)).into_response(),
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
    body: axum::body::Bytes,
) -> Response {
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
        Err(e @ LobbyError::TooManyMatches(_)) => json_error(
            StatusCode::SERVICE_UNAVAILABLE,
            "too_many_matches",
            e.to_string(),
        ),
        Err(e) => json_error(StatusCode::INTERNAL_SERVER_ERROR, "internal", e.to_string()),
    }
}
