//! The cluster's routes and glue: `POST /v1/matchmake`, `GET /v1/nodes`,
//! the cluster-wide match list, the admin routes that reach every node
//! (broadcast, kick, drain), and what this node tells the directory and
//! does with bus messages. Everything cluster-specific that `net` does
//! lives here; `crate::cluster` knows Redis, this file knows the server.

use super::api::{admin_refusal, api_refusal, json_body_refusal, read_body};
use super::App;
use crate::cluster::{
    BusMessage, Cluster, ClusterError, LocalView, MatchRecord, PlacementError, TicketError, Want,
};
use crate::game::Game;
use crate::protocol::{PlayerId, ServerMsg};
use axum::extract::State;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Deserialize;
use std::sync::Arc;

/// The close code of a player an operator kicked (RFC 6455's policy violation).
const KICKED: u16 = 1008;

/// What this node holds, for the directory: players seated (a seat taken
/// but not yet joined counts, so racing placements see it at once).
pub(super) fn local_view<G: Game>(app: &App<G>) -> LocalView {
    let game = app
        .cluster
        .as_ref()
        .map_or(String::new(), |c| c.game().to_string());
    let node = app
        .cluster
        .as_ref()
        .map_or(String::new(), |c| c.node_id().to_string());
    let matches: Vec<MatchRecord> = app
        .lobby
        .matches()
        .iter()
        .filter(|m| !m.has_ended())
        .map(|m| {
            let players = m.seated();
            let capacity = u32::from(m.capacity);
            MatchRecord {
                id: m.id.0,
                node: node.clone(),
                players,
                capacity,
                open_seats: capacity.saturating_sub(players),
                game: game.clone(),
            }
        })
        .collect();
    let config = &app.config;
    let capacity = (config.max_matches as u64 * u64::from(config.players_per_match))
        .min(config.max_connections as u64)
        .min(u64::from(u32::MAX)) as u32;
    LocalView {
        players: matches.iter().map(|m| m.players).sum(),
        capacity,
        matches,
    }
}

/// Starts this node's heartbeat and bus subscription, until shutdown.
pub(super) fn join_cluster<G: Game>(cluster: &Arc<Cluster>, app: &Arc<App<G>>) {
    let weak = Arc::downgrade(app);
    let view = Arc::new(move || match weak.upgrade() {
        Some(app) => local_view(&app),
        None => LocalView::default(),
    });
    let weak = Arc::downgrade(app);
    let deliver = Arc::new(move |message: BusMessage| {
        if let Some(app) = weak.upgrade() {
            act_on(&app, message);
        }
    });
    cluster.start(view, deliver, app.shutdown.clone());
    tracing::info!(
        node = cluster.node_id(),
        url = %cluster.ws_url(),
        "cluster mode: joining the directory"
    );
}

/// What this node does with a bus message (or, on a single node, with an
/// operator's request directly).
fn act_on<G: Game>(app: &Arc<App<G>>, message: BusMessage) {
    match message {
        BusMessage::Broadcast { text } => {
            let frame = super::connection::encode_notice(&ServerMsg::Notice { text });
            let reached = app.roster.send_all(frame);
            metrics::counter!("tickwire_notices_sent_total").increment(reached as u64);
            tracing::info!(players = reached, "operator notice sent");
        }
        BusMessage::Kick { player, reason } => {
            let player = PlayerId(player);
            app.lobby.kick(player);
            let closed = app.roster.close_player(
                player,
                KICKED,
                &format!("kicked by an operator: {reason}"),
            );
            if closed > 0 {
                metrics::counter!("tickwire_kicks_total").increment(closed as u64);
                tracing::info!(player = player.0, "player kicked by an operator");
            }
        }
        BusMessage::Drain { node } => {
            if let Some(cluster) = &app.cluster {
                if cluster.node_id() == node {
                    super::drain::begin(app.clone());
                }
            }
        }
        BusMessage::Adopt { match_id, from, to } => {
            if app.cluster.as_ref().is_some_and(|c| c.node_id() == to) {
                super::migrate::adopt(app.clone(), match_id, from);
            }
        }
    }
}

/// A cluster failure as an HTTP answer, counted.
pub(super) fn cluster_refusal(e: &ClusterError) -> Response {
    let retry = |mut r: Response, seconds: &'static str| {
        r.headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from_static(seconds));
        r
    };
    match e {
        ClusterError::Unavailable(_) => retry(
            api_refusal(
                StatusCode::SERVICE_UNAVAILABLE,
                "cluster_unavailable",
                format!("{e}; retry shortly"),
            ),
            "1",
        ),
        ClusterError::Placement(p) => match p {
            PlacementError::MatchNotFound(_) => {
                api_refusal(StatusCode::NOT_FOUND, "match_not_found", e.to_string())
            }
            PlacementError::MatchFull(_) => {
                api_refusal(StatusCode::CONFLICT, "match_full", e.to_string())
            }
            PlacementError::MatchMoving(_) => retry(
                api_refusal(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "match_moving",
                    e.to_string(),
                ),
                "1",
            ),
            PlacementError::NoRoom(_) => retry(
                api_refusal(StatusCode::SERVICE_UNAVAILABLE, "no_room", e.to_string()),
                "5",
            ),
        },
        // Tickets are refused at `/ws`, not here.
        ClusterError::Ticket(_) => {
            api_refusal(StatusCode::BAD_REQUEST, "bad_request", e.to_string())
        }
    }
}

fn cluster_off() -> Response {
    api_refusal(
        StatusCode::NOT_FOUND,
        "cluster_off",
        "this node is not in a cluster; start it with --redis (and --cluster-secret)",
    )
}

/// Reads an optional JSON body: empty means all defaults.
async fn json_body<T: serde::de::DeserializeOwned + Default>(
    headers: &HeaderMap,
    body: axum::body::Body,
) -> Result<T, Response> {
    if let Some(refusal) = json_body_refusal(headers) {
        return Err(refusal);
    }
    let bytes = read_body(body).await.map_err(|r| *r)?;
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Ok(T::default());
    }
    serde_json::from_slice(&bytes).map_err(|e| {
        api_refusal(
            StatusCode::BAD_REQUEST,
            "bad_request",
            format!("invalid body: {e}"),
        )
    })
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct MatchmakeRequest {
    match_id: Option<u64>,
    game: Option<String>,
}

/// `POST /v1/matchmake`: where to play, with a ticket for that node.
pub(super) async fn matchmake<G: Game>(
    State(app): State<Arc<App<G>>>,
    headers: HeaderMap,
    body: axum::body::Body,
) -> Response {
    let request: MatchmakeRequest = match json_body(&headers, body).await {
        Ok(r) => r,
        Err(refusal) => return refusal,
    };
    let Some(cluster) = &app.cluster else {
        return cluster_off();
    };
    let want = Want {
        match_id: request.match_id,
        game: request.game.as_deref(),
        exclude: None,
    };
    match cluster.matchmake(&want).await {
        Ok(offer) => Json(offer).into_response(),
        Err(e) => cluster_refusal(&e),
    }
}

/// `GET /v1/nodes`: the live nodes of the cluster.
pub(super) async fn nodes<G: Game>(State(app): State<Arc<App<G>>>) -> Response {
    let Some(cluster) = &app.cluster else {
        return cluster_off();
    };
    match cluster.nodes().await {
        Ok(nodes) => Json(serde_json::json!({
            "self": cluster.node_id(),
            "nodes": nodes,
        }))
        .into_response(),
        Err(e) => cluster_refusal(&e),
    }
}

/// `GET /v1/matches?scope=cluster`: every live match of every node.
pub(super) async fn cluster_matches<G: Game>(app: &App<G>) -> Response {
    let Some(cluster) = &app.cluster else {
        return cluster_off();
    };
    match cluster.matches().await {
        Ok(matches) => Json(serde_json::json!({ "matches": matches })).into_response(),
        Err(e) => cluster_refusal(&e),
    }
}

/// Sends `message` to every node (through the bus), or on a single node
/// acts on it here.
async fn to_every_node<G: Game>(app: &Arc<App<G>>, message: BusMessage) -> Response {
    match &app.cluster {
        Some(cluster) => match cluster.publish(&message).await {
            Ok(()) => (
                StatusCode::ACCEPTED,
                Json(serde_json::json!({ "published": true })),
            )
                .into_response(),
            Err(e) => cluster_refusal(&e),
        },
        None => {
            act_on(app, message);
            (
                StatusCode::ACCEPTED,
                Json(serde_json::json!({ "published": true })),
            )
                .into_response()
        }
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct BroadcastRequest {
    text: String,
}

/// `POST /v1/admin/broadcast {"text"}`: a notice to every player on every node.
pub(super) async fn broadcast<G: Game>(
    State(app): State<Arc<App<G>>>,
    headers: HeaderMap,
    body: axum::body::Body,
) -> Response {
    if let Some(refusal) = admin_refusal(&app, &headers) {
        return refusal;
    }
    let request: BroadcastRequest = match json_body(&headers, body).await {
        Ok(r) => r,
        Err(refusal) => return refusal,
    };
    let text = request.text.trim();
    if text.is_empty() || text.len() > crate::cluster::bus::MAX_NOTICE_BYTES {
        return api_refusal(
            StatusCode::BAD_REQUEST,
            "bad_request",
            format!(
                "`text` must be 1 to {} bytes",
                crate::cluster::bus::MAX_NOTICE_BYTES
            ),
        );
    }
    let message = BusMessage::Broadcast {
        text: text.to_string(),
    };
    to_every_node(&app, message).await
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct KickRequest {
    player: Option<u64>,
    reason: Option<String>,
}

/// `POST /v1/admin/kick {"player", "reason"?}`: closes that player's
/// connection wherever it plays, with no resume.
pub(super) async fn kick<G: Game>(
    State(app): State<Arc<App<G>>>,
    headers: HeaderMap,
    body: axum::body::Body,
) -> Response {
    if let Some(refusal) = admin_refusal(&app, &headers) {
        return refusal;
    }
    let request: KickRequest = match json_body(&headers, body).await {
        Ok(r) => r,
        Err(refusal) => return refusal,
    };
    let Some(player) = request.player else {
        return api_refusal(
            StatusCode::BAD_REQUEST,
            "bad_request",
            "`player` (a player id) is required",
        );
    };
    let mut reason = request.reason.unwrap_or_else(|| "no reason given".into());
    // The reason rides in a close frame (123 bytes with the prefix).
    if reason.len() > 80 {
        let mut end = 80;
        while !reason.is_char_boundary(end) {
            end -= 1;
        }
        reason.truncate(end);
    }
    to_every_node(&app, BusMessage::Kick { player, reason }).await
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct DrainRequest {
    node: Option<String>,
}

/// `POST /v1/admin/drain {"node"?}`: that node (this one by default) stops
/// taking players and moves its matches away, then exits.
pub(super) async fn drain<G: Game>(
    State(app): State<Arc<App<G>>>,
    headers: HeaderMap,
    body: axum::body::Body,
) -> Response {
    if let Some(refusal) = admin_refusal(&app, &headers) {
        return refusal;
    }
    let request: DrainRequest = match json_body(&headers, body).await {
        Ok(r) => r,
        Err(refusal) => return refusal,
    };
    let Some(cluster) = &app.cluster else {
        return cluster_off();
    };
    let node = request
        .node
        .unwrap_or_else(|| cluster.node_id().to_string());
    if node == cluster.node_id() {
        // This node: no need for Redis to be up to drain it.
        super::drain::begin(app.clone());
        return (
            StatusCode::ACCEPTED,
            Json(serde_json::json!({ "draining": node })),
        )
            .into_response();
    }
    match cluster.nodes().await {
        Ok(nodes) if !nodes.iter().any(|n| n.id == node) => {
            return api_refusal(
                StatusCode::NOT_FOUND,
                "node_not_found",
                format!("node {node} is not in the directory"),
            )
        }
        Ok(_) => {}
        Err(e) => return cluster_refusal(&e),
    }
    match cluster
        .publish(&BusMessage::Drain { node: node.clone() })
        .await
    {
        Ok(()) => (
            StatusCode::ACCEPTED,
            Json(serde_json::json!({ "draining": node })),
        )
            .into_response(),
        Err(e) => cluster_refusal(&e),
    }
}

/// Sends a player that this node will not seat (draining, or no room for
/// a quick-join) to another node: 307 to that node's `/ws` with a ticket,
/// the same in the JSON body for clients that do not follow redirects.
pub(super) async fn redirect(cluster: &Cluster) -> Result<Response, ClusterError> {
    let want = Want {
        match_id: None,
        game: Some(cluster.game()),
        exclude: Some(cluster.node_id()),
    };
    let offer = cluster.matchmake(&want).await?;
    metrics::counter!("tickwire_cluster_redirects_total").increment(1);
    let body = serde_json::json!({ "error": {
        "code": "redirect",
        "message": format!("this node takes no new players now; play on node {}", offer.node),
        "url": offer.url,
        "ticket": offer.ticket,
        "match_id": offer.match_id,
        "node": offer.node,
    }});
    let mut response = (StatusCode::TEMPORARY_REDIRECT, Json(body)).into_response();
    let location = HeaderValue::from_str(&offer.dial_url())
        .map_err(|_| ClusterError::Unavailable("a node's URL is not a valid header".into()))?;
    response.headers_mut().insert(header::LOCATION, location);
    Ok(response)
}

/// How a ticket refused at `/ws` is answered: status, code and message.
pub(super) fn ticket_refusal(e: &ClusterError) -> (StatusCode, &'static str, String) {
    match e {
        ClusterError::Ticket(t) => match t {
            TicketError::Malformed | TicketError::BadSignature => {
                (StatusCode::UNAUTHORIZED, "bad_ticket", e.to_string())
            }
            TicketError::Expired => (StatusCode::UNAUTHORIZED, "ticket_expired", e.to_string()),
            TicketError::WrongNode(_) => (
                StatusCode::MISDIRECTED_REQUEST,
                "ticket_wrong_node",
                e.to_string(),
            ),
            TicketError::Reused => (StatusCode::CONFLICT, "ticket_reused", e.to_string()),
        },
        _ => (
            StatusCode::SERVICE_UNAVAILABLE,
            "cluster_unavailable",
            format!("{e}; retry shortly"),
        ),
    }
}
