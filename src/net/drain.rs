//! Draining a node of a cluster (`POST /v1/admin/drain`, a drain order on
//! the bus, or SIGTERM): the node leaves placement at once (its directory
//! record says `draining`, quick-joins here are redirected, tickets are
//! no longer issued for it), its matches end as their players leave, and
//! when none is left, or after `drain_timeout`, the node stops.

use super::App;
use crate::game::Game;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Starts draining this node; a second call changes nothing.
pub(crate) fn begin<G: Game>(app: Arc<App<G>>) {
    let Some(cluster) = &app.cluster else { return };
    if !cluster.start_draining() {
        return;
    }
    tracing::info!(
        node = cluster.node_id(),
        matches = app.lobby.matches().len(),
        "draining: no new players here; waiting for matches to move or end"
    );
    metrics::counter!("tickwire_cluster_drains_total").increment(1);
    tokio::spawn(run(app));
}

async fn run<G: Game>(app: Arc<App<G>>) {
    let Some(cluster) = app.cluster.clone() else {
        return;
    };
    let deadline = Instant::now() + cluster.config().drain_timeout;
    // Each live match moves if its game opts in and another node has room;
    // the others play on here until they end.
    for handle in app.lobby.matches() {
        if handle.has_ended() {
            continue;
        }
        if let Err(why) = super::migrate::move_match(&app, &handle).await {
            tracing::info!(match_id = %handle.id, reason = %why, "match stays here until it ends");
        }
    }
    loop {
        let left = app
            .lobby
            .matches()
            .iter()
            .filter(|m| !m.has_ended())
            .count();
        if left == 0 {
            tracing::info!("drained: no match left on this node");
            break;
        }
        if Instant::now() >= deadline {
            tracing::warn!(
                matches = left,
                "drain timeout: stopping with matches still running"
            );
            break;
        }
        tokio::select! {
            _ = app.shutdown.cancelled() => return,
            _ = tokio::time::sleep(Duration::from_millis(100)) => {}
        }
    }
    app.drained.cancel();
}
