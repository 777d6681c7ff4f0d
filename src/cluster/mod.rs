//! Cluster mode (`--redis`): many nodes, one directory. Each node writes
//! its own record and its matches' records to Redis with an expiry it keeps
//! refreshing (`heartbeat`), so the directory shows what is alive and a dead
//! node vanishes within `node_ttl`; any node can then place a player
//! anywhere (`placement`), handing out a signed single-use ticket
//! (`ticket`); and a bus (`bus`) carries broadcasts, kicks and drain orders.
//!
//! This module knows Redis and the directory's data, never sockets or game
//! state: `net` asks it where a player goes and tells it what the node
//! holds. Without `--redis` nothing here runs and a node needs no service.

pub mod bus;
mod directory;
pub mod placement;
pub mod records;
pub mod ticket;

pub use bus::BusMessage;
pub use directory::Directory;
pub use placement::{Placement, PlacementError, Want};
pub use records::{MatchRecord, MovedMatch, MovedSeat, NodeRecord};
pub use ticket::{Ticket, TicketError, TicketSigner};

use crate::config::ClusterConfig;
use serde::Serialize;
use std::collections::{BTreeSet, HashSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

/// Why a cluster request failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ClusterError {
    #[error("the cluster directory (Redis) is unavailable: {0}")]
    Unavailable(String),
    #[error(transparent)]
    Placement(#[from] PlacementError),
    #[error(transparent)]
    Ticket(#[from] TicketError),
}

impl From<redis::RedisError> for ClusterError {
    fn from(e: redis::RedisError) -> Self {
        metrics::counter!("tickwire_cluster_redis_errors_total").increment(1);
        ClusterError::Unavailable(e.to_string())
    }
}

/// What matchmaking answers: dial `url` with `?ticket=`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Offer {
    /// The chosen node's WebSocket route.
    pub url: String,
    /// The match chosen; `None` when the node picks (or creates) one on arrival.
    pub match_id: Option<u64>,
    pub ticket: String,
    pub node: String,
}

impl Offer {
    /// The URL a client dials: `url?ticket=...` (the ticket is URL-safe).
    pub fn dial_url(&self) -> String {
        format!("{}?ticket={}", self.url, self.ticket)
    }
}

/// What this node holds, as the heartbeat reports it.
#[derive(Debug, Clone, Default)]
pub struct LocalView {
    pub players: u32,
    pub capacity: u32,
    pub matches: Vec<MatchRecord>,
}

/// This node's membership of the cluster. Shared by the routes and tasks.
pub struct Cluster {
    config: ClusterConfig,
    game: String,
    schema: String,
    directory: Directory,
    signer: TicketSigner,
    draining: AtomicBool,
    /// The last directory write succeeded.
    registered: AtomicBool,
    subscribed: Arc<AtomicBool>,
    refresh: Notify,
    /// Matches handed to another node: their records are no longer this
    /// node's to write or delete.
    moved: std::sync::Mutex<HashSet<u64>>,
}

impl std::fmt::Debug for Cluster {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Cluster")
            .field("node", &self.config.node_id)
            .field("url", &self.config.public_url)
            .finish()
    }
}

impl Cluster {
    /// A node of the cluster `config` names, serving `game` (its label) with
    /// schema hash `schema`. Connects lazily: Redis may be down at start.
    pub fn new(config: &ClusterConfig, game: &str, schema: &str) -> Result<Self, ClusterError> {
        let directory =
            Directory::new(&config.redis).map_err(|e| ClusterError::Unavailable(e.to_string()))?;
        Ok(Cluster {
            config: config.clone(),
            game: game.to_string(),
            schema: schema.to_string(),
            directory,
            signer: TicketSigner::new(&config.secret),
            draining: AtomicBool::new(false),
            registered: AtomicBool::new(false),
            subscribed: Arc::new(AtomicBool::new(false)),
            refresh: Notify::new(),
            moved: std::sync::Mutex::new(HashSet::new()),
        })
    }

    pub fn node_id(&self) -> &str {
        &self.config.node_id
    }

    /// The game this node serves (its label).
    pub fn game(&self) -> &str {
        &self.game
    }

    pub fn config(&self) -> &ClusterConfig {
        &self.config
    }

    pub fn directory(&self) -> &Directory {
        &self.directory
    }

    /// This node's WebSocket route as clients dial it.
    pub fn ws_url(&self) -> String {
        format!("{}/ws", self.config.public_url)
    }

    /// Whether the node is draining (no new players, matches moving away).
    pub fn is_draining(&self) -> bool {
        self.draining.load(Ordering::Acquire)
    }

    /// Marks the node draining; `false` if it already was.
    pub fn start_draining(&self) -> bool {
        let first = !self.draining.swap(true, Ordering::AcqRel);
        self.refresh_soon();
        first
    }

    /// Whether the directory has this node's current record and the bus
    /// subscription is in place.
    pub fn is_connected(&self) -> bool {
        self.registered.load(Ordering::Acquire) && self.subscribed.load(Ordering::Acquire)
    }

    /// Asks the heartbeat to write the node's figures now (a seat was taken,
    /// a match created), so placement elsewhere sees them soon.
    pub fn refresh_soon(&self) {
        self.refresh.notify_one();
    }

    fn moved(&self) -> std::sync::MutexGuard<'_, HashSet<u64>> {
        self.moved.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Match `id` is being handed to another node: from now on this node
    /// neither writes nor deletes its record (the new node writes it).
    pub fn mark_moved(&self, id: u64) {
        self.moved().insert(id);
    }

    /// The hand-over of match `id` failed: it is this node's again.
    pub fn unmark_moved(&self, id: u64) {
        self.moved().remove(&id);
        self.refresh_soon();
    }

    /// The live node to move a match of this node to: the least loaded of
    /// the same game (schema), not draining, with room.
    pub async fn move_target(&self) -> Result<Option<NodeRecord>, ClusterError> {
        let nodes = self.directory.nodes().await?;
        Ok(nodes
            .into_iter()
            .filter(|n| {
                n.id != self.config.node_id
                    && !n.draining
                    && n.schema == self.schema
                    && n.players < n.capacity
            })
            .min_by(|a, b| a.load().total_cmp(&b.load()).then(a.id.cmp(&b.id))))
    }

    /// Waits (at most `within`) until the directory says node `node` holds match `id`.
    pub async fn wait_for_owner(&self, id: u64, node: &str, within: Duration) -> bool {
        let deadline = tokio::time::Instant::now() + within;
        while tokio::time::Instant::now() < deadline {
            if let Ok(Some(record)) = self.directory.match_record(id).await {
                if record.node == node {
                    return true;
                }
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
        false
    }

    /// Where a player goes, with a ticket for that node.
    pub async fn matchmake(&self, want: &Want<'_>) -> Result<Offer, ClusterError> {
        let (nodes, matches) = tokio::try_join!(self.directory.nodes(), self.directory.matches())?;
        let placement = placement::place(&nodes, &matches, want)?;
        let exp = records::now_ms() + self.config.ticket_ttl.as_millis() as u64;
        let (_, ticket) = self
            .signer
            .issue(&placement.node.id, placement.match_id, exp);
        metrics::counter!("tickwire_cluster_tickets_issued_total").increment(1);
        Ok(Offer {
            url: placement.node.ws_url(),
            match_id: placement.match_id,
            ticket,
            node: placement.node.id,
        })
    }

    /// Checks a ticket shown at this node and marks it used.
    pub async fn redeem(&self, text: &str) -> Result<Ticket, ClusterError> {
        let ticket = self
            .signer
            .verify(text, &self.config.node_id, records::now_ms())?;
        if !self
            .directory
            .redeem(&ticket.id, self.config.ticket_ttl)
            .await?
        {
            return Err(TicketError::Reused.into());
        }
        Ok(ticket)
    }

    /// The live nodes, by id.
    pub async fn nodes(&self) -> Result<Vec<NodeRecord>, ClusterError> {
        let mut nodes = self.directory.nodes().await?;
        nodes.sort_by(|a, b| a.id.cmp(&b.id));
        Ok(nodes)
    }

    /// Every match of every live node, by id.
    pub async fn matches(&self) -> Result<Vec<MatchRecord>, ClusterError> {
        let (nodes, mut matches) =
            tokio::try_join!(self.directory.nodes(), self.directory.matches())?;
        // A dead node's match records may outlive its node record by a beat.
        matches.retain(|m| nodes.iter().any(|n| n.id == m.node));
        matches.sort_by_key(|m| m.id);
        Ok(matches)
    }

    /// Publishes a message to every node (this one included).
    pub async fn publish(&self, message: &BusMessage) -> Result<(), ClusterError> {
        Ok(self.directory.publish(message).await?)
    }

    /// Starts the heartbeat and the bus subscription; both end with `stop`.
    /// `view` reads what the node holds; `deliver` acts on bus messages.
    pub fn start(
        self: &Arc<Self>,
        view: Arc<dyn Fn() -> LocalView + Send + Sync>,
        deliver: Arc<dyn Fn(BusMessage) + Send + Sync>,
        stop: CancellationToken,
    ) {
        tokio::spawn(bus::listen(
            self.directory.client().clone(),
            self.subscribed.clone(),
            deliver,
            stop.clone(),
        ));
        tokio::spawn(heartbeat(self.clone(), view, stop));
    }

    /// Takes this node out of the directory at once (a clean exit), rather
    /// than waiting for its keys to expire.
    pub async fn leave(&self, view: &LocalView) {
        // A moved match's record is its new node's now.
        let ids: Vec<u64> = {
            let moved = self.moved();
            view.matches
                .iter()
                .map(|m| m.id)
                .filter(|id| !moved.contains(id))
                .collect()
        };
        let left = tokio::time::timeout(
            Duration::from_secs(2),
            self.directory.remove_node(&self.config.node_id, &ids),
        )
        .await;
        if !matches!(left, Ok(Ok(()))) {
            tracing::warn!("could not remove this node from the directory; its keys will expire");
        }
    }

    fn record(&self, view: &LocalView) -> NodeRecord {
        NodeRecord {
            id: self.config.node_id.clone(),
            url: self.config.public_url.clone(),
            game: self.game.clone(),
            schema: self.schema.clone(),
            players: view.players,
            matches: view.matches.len() as u32,
            capacity: view.capacity,
            draining: self.is_draining(),
            updated_ms: records::now_ms(),
        }
    }
}

/// Writes the node's record and its matches' every third of the TTL (and
/// soon after a change), so a record outlives two missed beats; deletes the
/// records of matches that ended. A failed write marks the node
/// unregistered; the next beat that succeeds registers it again (after a
/// Redis restart, the directory is rebuilt this way without a restart).
async fn heartbeat(
    cluster: Arc<Cluster>,
    view: Arc<dyn Fn() -> LocalView + Send + Sync>,
    stop: CancellationToken,
) {
    let period = cluster.config.node_ttl / 3;
    let mut published: BTreeSet<u64> = BTreeSet::new();
    loop {
        let mut local = view();
        {
            let moved = cluster.moved();
            local.matches.retain(|m| !moved.contains(&m.id));
            published.retain(|id| !moved.contains(id));
        }
        local.players = local.matches.iter().map(|m| m.players).sum();
        let record = cluster.record(&local);
        let current: BTreeSet<u64> = local.matches.iter().map(|m| m.id).collect();
        let ended: Vec<u64> = published.difference(&current).copied().collect();
        let write = cluster.directory.publish_node(
            &record,
            &local.matches,
            &ended,
            cluster.config.node_ttl,
        );
        match write.await {
            Ok(()) => {
                published = current;
                if !cluster.registered.swap(true, Ordering::AcqRel) {
                    tracing::info!(node = %record.id, url = %record.url, "registered in the cluster directory");
                    metrics::counter!("tickwire_cluster_registrations_total").increment(1);
                }
            }
            Err(e) => {
                metrics::counter!("tickwire_cluster_redis_errors_total").increment(1);
                if cluster.registered.swap(false, Ordering::AcqRel) {
                    tracing::warn!(error = %e, "cluster directory unreachable; serving local matches, retrying");
                }
            }
        }
        // A beat soon after a change, but never more than 20 a second.
        let wait = async {
            tokio::select! {
                _ = tokio::time::sleep(period) => {}
                _ = cluster.refresh.notified() => {
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            }
        };
        tokio::select! {
            _ = stop.cancelled() => return,
            _ = wait => {}
        }
    }
}
