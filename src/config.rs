//! Server configuration: every limit is a named value with a safe default.

use std::net::SocketAddr;
use std::time::Duration;

/// Everything a server runs with. `Config::default()` is a safe single-node setup.
#[derive(Debug, Clone)]
pub struct Config {
    /// Address the HTTP + WebSocket listener binds.
    pub bind: SocketAddr,
    /// Simulation ticks (and snapshots) per second.
    pub tick_rate: u16,
    /// Most players in one match.
    pub players_per_match: u16,
    /// OS threads that run match simulations.
    pub tick_threads: usize,
    /// Largest client message accepted, in bytes (client messages are tiny).
    pub max_message_bytes: usize,
    /// Time a socket gets to finish the HTTP upgrade and send `Join`.
    pub handshake_timeout: Duration,
    /// How often the server pings an idle peer.
    pub heartbeat_interval: Duration,
    /// A peer silent (no frame, no pong) for this long is closed.
    pub heartbeat_timeout: Duration,
    /// A player whose acknowledged tick does not advance for this long is closed.
    pub ack_timeout: Duration,
    /// Snapshots queued per player before the oldest is dropped.
    pub outbound_queue: usize,
    /// Inputs queued per player slot in a match's input queue.
    pub input_queue_per_player: usize,
    /// How long an empty match lives before it ends.
    pub empty_match_grace: Duration,
}

/// Tick threads by default: half the cores, since the network runtime needs the rest.
pub fn default_tick_threads() -> usize {
    std::thread::available_parallelism()
        .map(|n| (n.get() / 2).max(1))
        .unwrap_or(1)
}

impl Default for Config {
    fn default() -> Self {
        Config {
            bind: SocketAddr::from(([127, 0, 0, 1], 7777)),
            tick_rate: 30,
            players_per_match: 16,
            tick_threads: default_tick_threads(),
            max_message_bytes: 1024,
            handshake_timeout: Duration::from_secs(5),
            heartbeat_interval: Duration::from_secs(5),
            heartbeat_timeout: Duration::from_secs(15),
            ack_timeout: Duration::from_secs(10),
            outbound_queue: 4,
            input_queue_per_player: 8,
            empty_match_grace: Duration::from_secs(10),
        }
    }
}
