//! What the directory holds, as plain data: a node's record, a match's
//! record, and the Redis key of each. Every figure is written whole by the
//! node that owns it (SET with an expiry, never INCR/DECR), so a node that
//! stalls or dies leaves no count behind that could drift: its keys expire.

use serde::{Deserialize, Serialize};

/// Prefix of every key and channel tickwire uses, so a Redis shared with
/// other services stays readable.
pub const PREFIX: &str = "tickwire:";

/// The pub/sub channel every node listens on (broadcasts, kicks, drains).
pub const BUS_CHANNEL: &str = "tickwire:bus";

/// Key of a node's record.
pub fn node_key(node: &str) -> String {
    format!("{PREFIX}node:{node}")
}

/// Pattern that matches every node's record (for SCAN).
pub const NODE_PATTERN: &str = "tickwire:node:*";

/// Key of a match's record; match ids are unique in the cluster (each node
/// numbers its matches under its own prefix, see `match_id_base`).
pub fn match_key(id: u64) -> String {
    format!("{PREFIX}match:{id}")
}

/// Pattern that matches every match record (for SCAN).
pub const MATCH_PATTERN: &str = "tickwire:match:*";

/// Key that marks a ticket as used, for as long as the ticket is valid.
pub fn ticket_key(id: &str) -> String {
    format!("{PREFIX}ticket:{id}")
}

/// Key of a migrating match's state, read once by the node it moves to.
pub fn migration_key(id: u64) -> String {
    format!("{PREFIX}migration:{id}")
}

/// One live node, as it last told the directory.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NodeRecord {
    pub id: String,
    /// What clients dial: `ws(s)://host:port`; the WebSocket route is `/ws` under it.
    pub url: String,
    /// The game it serves (the label of `tickwire serve --game`) and its schema hash.
    pub game: String,
    pub schema: String,
    pub players: u32,
    pub matches: u32,
    /// Players it takes at most.
    pub capacity: u32,
    /// A draining node gets no new player and no new match.
    pub draining: bool,
    /// Milliseconds since the Unix epoch when it wrote this record.
    pub updated_ms: u64,
}

impl NodeRecord {
    /// Share of its capacity in use, 0 (idle) to 1 (full).
    pub fn load(&self) -> f64 {
        if self.capacity == 0 {
            1.0
        } else {
            f64::from(self.players) / f64::from(self.capacity)
        }
    }

    /// The URL of its WebSocket route.
    pub fn ws_url(&self) -> String {
        format!("{}/ws", self.url)
    }
}

/// One live match, as its node last told the directory.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MatchRecord {
    pub id: u64,
    pub node: String,
    pub players: u32,
    pub capacity: u32,
    pub open_seats: u32,
    pub game: String,
}

/// A match on its way from one node to another (a drain), stored under
/// `migration_key` until the receiving node takes it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MovedMatch {
    pub id: u64,
    pub seed: u64,
    pub capacity: u16,
    /// The last tick stepped on the old node.
    pub tick: u32,
    /// The game's schema hash: only a node of the same game takes it.
    pub schema: String,
    /// `Game::save`'s bytes, base64.
    pub game: String,
    pub players: Vec<MovedSeat>,
}

/// One player of a moving match: its seat's bookkeeping and session token.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MovedSeat {
    pub player: u64,
    /// `Role::to_wire`: 0 player, 1 spectator, 2 admin.
    pub role: u8,
    pub entity: u32,
    pub last_seq: u32,
    pub next_event: u32,
    /// The session token, 32 hex digits: the player resumes with it.
    pub token: String,
}

/// The first match id of a node: its id hashed into 12 bits, shifted past
/// 40 bits of counter, so ids from different nodes do not meet (up to 2^40
/// matches a node) and stay below 2^53 (exact in JavaScript).
pub fn match_id_base(node: &str) -> u64 {
    // FNV-1a: stable across builds and platforms, unlike std's hasher.
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for b in node.bytes() {
        hash ^= u64::from(b);
        hash = hash.wrapping_mul(0x0100_0000_01b3);
    }
    ((hash & 0xfff) << 40) | 1
}

/// Milliseconds since the Unix epoch.
pub fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn match_ids_of_different_nodes_start_apart_and_stay_exact_in_javascript() {
        let a = match_id_base("node-a");
        let b = match_id_base("node-b");
        assert_ne!(a, b);
        assert!(a < (1 << 53) && b < (1 << 53));
        assert_eq!(a & ((1 << 40) - 1), 1, "the counter starts at 1");
    }

    #[test]
    fn a_node_without_capacity_counts_as_full() {
        let mut n = NodeRecord {
            id: "a".into(),
            url: "ws://127.0.0.1:1".into(),
            game: "arena-v1".into(),
            schema: "0".into(),
            players: 4,
            matches: 1,
            capacity: 16,
            draining: false,
            updated_ms: 0,
        };
        assert_eq!(n.load(), 0.25);
        n.capacity = 0;
        assert_eq!(n.load(), 1.0);
        assert_eq!(n.ws_url(), "ws://127.0.0.1:1/ws");
    }
}
