//! Cross-node messages over Redis pub/sub: an operator's broadcast to every
//! player, a kick of a player wherever it plays, a drain order for a node.
//! One subscription per node on one channel; when the connection drops
//! (Redis restarted, a network cut) the subscription is made again, since
//! redis-rs does not restore it by itself, and counted.

use super::records::BUS_CHANNEL;
use futures_util::StreamExt;
use serde::{Deserialize, Serialize};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

/// Longest broadcast text: it travels in one notice frame to every player.
pub const MAX_NOTICE_BYTES: usize = 1024;

/// One message on the bus.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum BusMessage {
    /// A notice for every player on every node.
    Broadcast { text: String },
    /// Close this player's connection wherever it is, without a resume.
    Kick { player: u64, reason: String },
    /// Node `node` stops taking players and moves its matches away.
    Drain { node: String },
    /// Node `to` takes match `match_id` from node `from`: its state waits
    /// under the match's migration key.
    Adopt {
        match_id: u64,
        from: String,
        to: String,
    },
}

/// Keeps this node subscribed to the bus and hands each message to `deliver`.
/// `subscribed` is true while a subscription is in place. Returns when
/// `stop` is cancelled.
pub async fn listen(
    client: redis::Client,
    subscribed: Arc<AtomicBool>,
    deliver: Arc<dyn Fn(BusMessage) + Send + Sync>,
    stop: CancellationToken,
) {
    let mut backoff = Duration::from_millis(100);
    let mut first = true;
    loop {
        let attempt = async {
            let mut pubsub = client.get_async_pubsub().await?;
            pubsub.subscribe(BUS_CHANNEL).await?;
            redis::RedisResult::Ok(pubsub)
        };
        let pubsub = tokio::select! {
            _ = stop.cancelled() => return,
            r = tokio::time::timeout(Duration::from_secs(2), attempt) => r,
        };
        match pubsub {
            Ok(Ok(pubsub)) => {
                subscribed.store(true, Ordering::Release);
                if !first {
                    tracing::info!("cluster bus: subscribed again after a Redis disconnect");
                    metrics::counter!("tickwire_cluster_resubscribes_total").increment(1);
                }
                first = false;
                backoff = Duration::from_millis(100);
                let mut stream = pubsub.into_on_message();
                loop {
                    let next = tokio::select! {
                        _ = stop.cancelled() => return,
                        next = stream.next() => next,
                    };
                    let Some(msg) = next else { break };
                    match serde_json::from_slice::<BusMessage>(msg.get_payload_bytes()) {
                        Ok(message) => deliver(message),
                        Err(e) => {
                            tracing::warn!(error = %e, "cluster bus: a message this node does not understand");
                            metrics::counter!("tickwire_cluster_bus_undecodable_total")
                                .increment(1);
                        }
                    }
                }
                subscribed.store(false, Ordering::Release);
                tracing::warn!("cluster bus: lost the Redis subscription; subscribing again");
            }
            Ok(Err(e)) => {
                tracing::debug!(error = %e, "cluster bus: cannot subscribe yet");
            }
            Err(_) => tracing::debug!("cluster bus: subscribing timed out"),
        }
        tokio::select! {
            _ = stop.cancelled() => return,
            _ = tokio::time::sleep(backoff) => {}
        }
        backoff = (backoff * 2).min(Duration::from_secs(2));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bus_messages_are_tagged_json() {
        let m = BusMessage::Kick {
            player: 7,
            reason: "cheating".into(),
        };
        let text = serde_json::to_string(&m).unwrap();
        assert_eq!(text, r#"{"type":"kick","player":7,"reason":"cheating"}"#);
        assert_eq!(serde_json::from_str::<BusMessage>(&text).unwrap(), m);
    }
}
