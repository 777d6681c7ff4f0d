//! Moving a live match to another node of the cluster (a drain). The old
//! node stops the match between two ticks (`MatchHandle::export`), leaves
//! its state in Redis and tells the new node on the bus; the new node
//! restores the game at the same tick (`Game::restore`) with every player's
//! seat parked under its session token, and writes the match's directory
//! record; once the record names the new node, the old one closes each
//! player with close code 4002 and the new node's URL as the reason, and
//! the clients resume there, same entity. Any failure before that point
//! thaws the match where it was: a move never loses a match.

use super::App;
use crate::cluster::{BusMessage, MovedMatch, MovedSeat};
use crate::game::{Game, MatchSettings};
use crate::lobby::{Adopted, MatchHandle};
use crate::protocol::{EntityId, MatchId, PlayerId, SessionToken, Tick};
use crate::replicate::Role;
use crate::tick::MovedPlayer;
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use std::sync::Arc;
use std::time::Duration;

/// The close code that tells a client its match moved; the reason is the
/// WebSocket URL to resume at (`client::MOVED`).
pub(crate) const MOVED: u16 = 4002;

/// How long the old node waits for the new one to take a match over.
const HANDOVER: Duration = Duration::from_secs(5);

/// How long a moving match's state waits in Redis to be taken.
const STATE_TTL: Duration = Duration::from_secs(30);

/// Why a match stayed where it was.
#[derive(Debug, thiserror::Error)]
pub(crate) enum Stay {
    #[error("no other node can take it")]
    NoTarget,
    #[error("its game does not move (no `Game::save`)")]
    NotMovable,
    #[error("the cluster directory is unavailable: {0}")]
    Directory(String),
    #[error("node {0} did not take it over in time")]
    NotTaken(String),
}

/// Moves match `handle` to the least-loaded other node.
pub(crate) async fn move_match<G: Game>(
    app: &Arc<App<G>>,
    handle: &Arc<MatchHandle<G>>,
) -> Result<String, Stay> {
    let Some(cluster) = &app.cluster else {
        return Err(Stay::NoTarget);
    };
    let target = cluster
        .move_target()
        .await
        .map_err(|e| Stay::Directory(e.to_string()))?
        .ok_or(Stay::NoTarget)?;
    let exported = handle
        .export(Duration::from_secs(2))
        .await
        .ok_or(Stay::NotMovable)?;
    let id = handle.id.0;
    let moved = MovedMatch {
        id,
        seed: handle.seed,
        capacity: handle.capacity,
        tick: exported.tick.0,
        schema: crate::replicate::schema::hash_hex(app.schema.hash),
        game: STANDARD.encode(&exported.game),
        players: exported
            .players
            .iter()
            .filter_map(|p| {
                let token = app.lobby.session_of(p.player)?;
                Some(MovedSeat {
                    player: p.player.0,
                    role: p.role.to_wire(),
                    entity: p.entity.0,
                    last_seq: p.last_seq,
                    next_event: p.next_event,
                    token: token.to_hex(),
                })
            })
            .collect(),
    };
    let state = serde_json::to_vec(&moved).expect("a moved match serializes");
    cluster.mark_moved(id);
    let handed = async {
        cluster
            .directory()
            .put_migration(id, &state, STATE_TTL)
            .await
            .map_err(|e| Stay::Directory(e.to_string()))?;
        let adopt = BusMessage::Adopt {
            match_id: id,
            from: cluster.node_id().to_string(),
            to: target.id.clone(),
        };
        cluster
            .publish(&adopt)
            .await
            .map_err(|e| Stay::Directory(e.to_string()))?;
        if cluster.wait_for_owner(id, &target.id, HANDOVER).await {
            Ok(())
        } else {
            Err(Stay::NotTaken(target.id.clone()))
        }
    };
    if let Err(why) = handed.await {
        cluster.unmark_moved(id);
        handle.thaw();
        metrics::counter!("tickwire_cluster_migrations_failed_total").increment(1);
        return Err(why);
    }
    // The new node holds the match: its players go there. Their sessions
    // here end (a resume here would find a frozen match).
    for p in &exported.players {
        app.lobby.kick(p.player);
    }
    let url = target.ws_url();
    let closed = app.roster.close_match(handle.id, MOVED, &url);
    metrics::counter!("tickwire_cluster_migrations_total").increment(1);
    tracing::info!(match_id = id, to = %target.id, tick = exported.tick.0, players = closed, "match moved to another node");
    Ok(target.id)
}

/// Takes over match `match_id` from node `from` (a bus `Adopt` for this node).
pub(crate) fn adopt<G: Game>(app: Arc<App<G>>, match_id: u64, from: String) {
    tokio::spawn(async move {
        match restore(&app, match_id).await {
            Ok(()) => {
                if let Some(cluster) = &app.cluster {
                    cluster.refresh_soon();
                }
                tracing::info!(match_id, from = %from, "took over a match from another node");
            }
            Err(why) => {
                metrics::counter!("tickwire_cluster_migrations_failed_total").increment(1);
                tracing::warn!(match_id, from = %from, reason = %why, "could not take over a match");
            }
        }
    });
}

async fn restore<G: Game>(app: &Arc<App<G>>, match_id: u64) -> Result<(), String> {
    let cluster = app.cluster.as_ref().ok_or("not in a cluster")?;
    let state = cluster
        .directory()
        .take_migration(match_id)
        .await
        .map_err(|e| e.to_string())?
        .ok_or("its state is not in the directory (expired, or taken)")?;
    let moved: MovedMatch = serde_json::from_slice(&state).map_err(|e| e.to_string())?;
    let schema = crate::replicate::schema::hash_hex(app.schema.hash);
    if moved.schema != schema {
        return Err(format!("it is another game's (schema {})", moved.schema));
    }
    let bytes = STANDARD.decode(&moved.game).map_err(|e| e.to_string())?;
    let settings = MatchSettings {
        seed: moved.seed,
        tick_rate: app.config.tick_rate,
        capacity: moved.capacity,
    };
    let game = G::restore(&settings, &bytes).ok_or("the game could not restore its state")?;
    let players = moved
        .players
        .iter()
        .filter_map(|s| {
            Some((
                MovedPlayer {
                    player: PlayerId(s.player),
                    role: Role::from_wire(s.role)?,
                    entity: EntityId(s.entity),
                    last_seq: s.last_seq,
                    next_event: s.next_event,
                },
                SessionToken::from_hex(&s.token)?,
            ))
        })
        .collect();
    app.lobby
        .adopt(Adopted {
            id: MatchId(moved.id),
            seed: moved.seed,
            capacity: moved.capacity,
            game,
            tick: Tick(moved.tick),
            players,
            identified: app.auth.is_some(),
        })
        .map_err(|e| e.to_string())?;
    Ok(())
}
