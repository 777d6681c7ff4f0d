//! The directory in Redis: nodes and matches written whole with an expiry
//! by their owner, read by any node; tickets marked used; bus messages
//! published. Every call has a deadline (the connection manager's response
//! timeout), so a node whose Redis is gone answers "unavailable" quickly
//! instead of hanging a request.

use super::records::{
    match_key, migration_key, node_key, ticket_key, MatchRecord, NodeRecord, BUS_CHANNEL,
    MATCH_PATTERN, NODE_PATTERN,
};
use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use std::time::Duration;

/// How long a Redis call may take before the node counts Redis as down.
const REDIS_TIMEOUT: Duration = Duration::from_secs(1);

/// Keys a SCAN walks at most while listing: a bound on one listing's work.
const MAX_SCANNED: usize = 100_000;

/// Redis, as the cluster uses it.
#[derive(Clone)]
pub struct Directory {
    client: redis::Client,
    conn: ConnectionManager,
}

impl std::fmt::Debug for Directory {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Directory")
    }
}

impl Directory {
    /// Connects lazily: a node starts (and serves its players) while Redis
    /// is down, and joins the directory when Redis comes back.
    pub fn new(url: &str) -> redis::RedisResult<Self> {
        let client = redis::Client::open(url)?;
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(REDIS_TIMEOUT))
            .set_response_timeout(Some(REDIS_TIMEOUT))
            .set_number_of_retries(2)
            .set_max_delay(Duration::from_millis(500));
        let conn = ConnectionManager::new_lazy_with_config(client.clone(), config)?;
        Ok(Directory { client, conn })
    }

    /// The client, for the pub/sub connection (which cannot be multiplexed).
    pub fn client(&self) -> &redis::Client {
        &self.client
    }

    /// Writes this node's record and its matches' records, each expiring
    /// after `ttl`, and deletes the records of matches that ended since the
    /// last write; one round trip.
    pub async fn publish_node(
        &self,
        node: &NodeRecord,
        matches: &[MatchRecord],
        ended: &[u64],
        ttl: Duration,
    ) -> redis::RedisResult<()> {
        let ttl_ms = ttl.as_millis().max(1) as u64;
        let mut pipe = redis::pipe();
        pipe.cmd("SET")
            .arg(node_key(&node.id))
            .arg(json(node))
            .arg("PX")
            .arg(ttl_ms)
            .ignore();
        for m in matches {
            pipe.cmd("SET")
                .arg(match_key(m.id))
                .arg(json(m))
                .arg("PX")
                .arg(ttl_ms)
                .ignore();
        }
        for id in ended {
            pipe.cmd("DEL").arg(match_key(*id)).ignore();
        }
        pipe.query_async::<()>(&mut self.conn.clone()).await
    }

    /// Removes this node and its matches at once (a clean exit).
    pub async fn remove_node(&self, node: &str, matches: &[u64]) -> redis::RedisResult<()> {
        let mut pipe = redis::pipe();
        pipe.cmd("DEL").arg(node_key(node)).ignore();
        for id in matches {
            pipe.cmd("DEL").arg(match_key(*id)).ignore();
        }
        pipe.query_async::<()>(&mut self.conn.clone()).await
    }

    /// Every live node (records that have not expired).
    pub async fn nodes(&self) -> redis::RedisResult<Vec<NodeRecord>> {
        self.list(NODE_PATTERN).await
    }

    /// Every live match record.
    pub async fn matches(&self) -> redis::RedisResult<Vec<MatchRecord>> {
        self.list(MATCH_PATTERN).await
    }

    /// One match's record.
    pub async fn match_record(&self, id: u64) -> redis::RedisResult<Option<MatchRecord>> {
        let text: Option<String> = redis::cmd("GET")
            .arg(match_key(id))
            .query_async(&mut self.conn.clone())
            .await?;
        Ok(text.and_then(|t| serde_json::from_str(&t).ok()))
    }

    async fn list<T: serde::de::DeserializeOwned>(
        &self,
        pattern: &str,
    ) -> redis::RedisResult<Vec<T>> {
        let mut conn = self.conn.clone();
        let mut keys: Vec<String> = Vec::new();
        let mut cursor = 0u64;
        loop {
            let (next, batch): (u64, Vec<String>) = redis::cmd("SCAN")
                .cursor_arg(cursor)
                .arg("MATCH")
                .arg(pattern)
                .arg("COUNT")
                .arg(1000)
                .query_async(&mut conn)
                .await?;
            keys.extend(batch);
            cursor = next;
            if cursor == 0 || keys.len() >= MAX_SCANNED {
                break;
            }
        }
        // SCAN may return a key twice.
        keys.sort_unstable();
        keys.dedup();
        if keys.is_empty() {
            return Ok(Vec::new());
        }
        let values: Vec<Option<String>> =
            redis::cmd("MGET").arg(&keys).query_async(&mut conn).await?;
        // A key that expired between SCAN and MGET is simply gone; a record
        // that does not parse (another version's) is skipped, not fatal.
        Ok(values
            .into_iter()
            .flatten()
            .filter_map(|v| serde_json::from_str(&v).ok())
            .collect())
    }

    /// Marks ticket `id` used; `false` when it already was. The mark lives
    /// as long as the ticket could still be shown.
    pub async fn redeem(&self, id: &str, ttl: Duration) -> redis::RedisResult<bool> {
        let set: Option<String> = redis::cmd("SET")
            .arg(ticket_key(id))
            .arg(1)
            .arg("NX")
            .arg("PX")
            .arg(ttl.as_millis().max(1) as u64)
            .query_async(&mut self.conn.clone())
            .await?;
        Ok(set.is_some())
    }

    /// Sends a message to every node's bus subscription.
    pub async fn publish(&self, message: &super::bus::BusMessage) -> redis::RedisResult<()> {
        redis::cmd("PUBLISH")
            .arg(BUS_CHANNEL)
            .arg(json(message))
            .query_async::<()>(&mut self.conn.clone())
            .await
    }

    /// Stores a migrating match's state for the node it moves to.
    pub async fn put_migration(
        &self,
        id: u64,
        state: &[u8],
        ttl: Duration,
    ) -> redis::RedisResult<()> {
        redis::cmd("SET")
            .arg(migration_key(id))
            .arg(state)
            .arg("PX")
            .arg(ttl.as_millis().max(1) as u64)
            .query_async::<()>(&mut self.conn.clone())
            .await
    }

    /// Takes (reads and deletes) a migrating match's state.
    pub async fn take_migration(&self, id: u64) -> redis::RedisResult<Option<Vec<u8>>> {
        redis::cmd("GETDEL")
            .arg(migration_key(id))
            .query_async(&mut self.conn.clone())
            .await
    }
}

fn json<T: serde::Serialize>(value: &T) -> String {
    serde_json::to_string(value).expect("directory records serialize")
}
