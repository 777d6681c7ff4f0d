//! One layer of settings (the TOML file, or the flags and environment) and
//! how it is checked and applied over the layers below it.

use super::{Config, ConfigError, LogFormat};
use serde::Deserialize;
use std::path::Path;
use std::time::Duration;

/// One layer of settings: the TOML file, or the flags and environment. Every
/// field is optional; a layer overrides only what it sets.
#[derive(Debug, Clone, Default, Deserialize, clap::Args)]
#[serde(deny_unknown_fields)]
pub struct ConfigLayer {
    /// Address to listen on for HTTP and WebSocket [default: 127.0.0.1:7777].
    #[arg(long, env = "TICKWIRE_BIND")]
    pub bind: Option<String>,
    /// Simulation ticks (and snapshots) per second, 1..=240 [default: 30].
    #[arg(long, env = "TICKWIRE_TICK_RATE")]
    pub tick_rate: Option<u16>,
    /// Most players in one match, 1..=1024 [default: 16].
    #[arg(long, env = "TICKWIRE_PLAYERS_PER_MATCH")]
    pub players_per_match: Option<u16>,
    /// OS threads running match simulations [default: half the cores, at least 1].
    #[arg(long, env = "TICKWIRE_TICK_THREADS")]
    pub tick_threads: Option<usize>,
    /// Largest client message in bytes, 16..=65536 [default: 1024].
    #[arg(long, env = "TICKWIRE_MAX_MESSAGE_BYTES")]
    pub max_message_bytes: Option<usize>,
    /// Time to finish the HTTP upgrade and send Join, e.g. `5s` [default: 5s].
    #[arg(long, env = "TICKWIRE_HANDSHAKE_TIMEOUT")]
    pub handshake_timeout: Option<String>,
    /// How often the server pings a peer [default: 5s].
    #[arg(long, env = "TICKWIRE_HEARTBEAT_INTERVAL")]
    pub heartbeat_interval: Option<String>,
    /// Silence after which a peer is closed [default: 15s].
    #[arg(long, env = "TICKWIRE_HEARTBEAT_TIMEOUT")]
    pub heartbeat_timeout: Option<String>,
    /// Time without a new acknowledgement after which a player is closed [default: 10s].
    #[arg(long, env = "TICKWIRE_ACK_TIMEOUT")]
    pub ack_timeout: Option<String>,
    /// Snapshots queued per player before the oldest is dropped, 1..=64 [default: 4].
    #[arg(long, env = "TICKWIRE_OUTBOUND_QUEUE")]
    pub outbound_queue: Option<usize>,
    /// Inputs queued per player in a match's input queue, 1..=1024 [default: 8].
    #[arg(long, env = "TICKWIRE_INPUT_QUEUE_PER_PLAYER")]
    pub input_queue_per_player: Option<usize>,
    /// Inputs a player may send per second [default: 60].
    #[arg(long, env = "TICKWIRE_MAX_INPUTS_PER_SECOND")]
    pub max_inputs_per_second: Option<u32>,
    /// Open connections at most [default: 10000].
    #[arg(long, env = "TICKWIRE_MAX_CONNECTIONS")]
    pub max_connections: Option<usize>,
    /// Open connections from one address (an IPv6 /64 is one) at most [default: 64].
    #[arg(long, env = "TICKWIRE_MAX_CONNECTIONS_PER_IP")]
    pub max_connections_per_ip: Option<usize>,
    /// How long an empty match lives before it ends [default: 10s].
    #[arg(long, env = "TICKWIRE_EMPTY_MATCH_GRACE")]
    pub empty_match_grace: Option<String>,
    /// How long a disconnected player keeps its entity to resume [default: 10s].
    #[arg(long, env = "TICKWIRE_RECONNECT_GRACE")]
    pub reconnect_grace: Option<String>,
    /// Browser Origins allowed to connect, comma-separated [default: any].
    #[arg(long, env = "TICKWIRE_ALLOWED_ORIGINS", value_delimiter = ',')]
    pub allowed_origins: Option<Vec<String>>,
    /// HS256 secret for join tokens (JWT); without it anyone can join.
    #[arg(long, env = "TICKWIRE_AUTH_SECRET", hide_env_values = true)]
    pub auth_secret: Option<String>,
    /// Longest lifetime a join token may claim, e.g. `7d` [default: 7days].
    #[arg(long, env = "TICKWIRE_TOKEN_MAX_LIFETIME")]
    pub token_max_lifetime: Option<String>,
    /// Bearer token (at least 16 characters) for the routes that change state;
    /// without it those routes are off.
    #[arg(long, env = "TICKWIRE_ADMIN_TOKEN", hide_env_values = true)]
    pub admin_token: Option<String>,
    /// Serve /metrics and the read-only API on this (internal) address instead [default: on --bind].
    #[arg(long, env = "TICKWIRE_METRICS_BIND")]
    pub metrics_bind: Option<String>,
    /// Live matches at most [default: 512 per tick thread].
    #[arg(long, env = "TICKWIRE_MAX_MATCHES")]
    pub max_matches: Option<usize>,
    /// HTTP API requests per second from one address [default: 20].
    #[arg(long, env = "TICKWIRE_API_REQUESTS_PER_SECOND")]
    pub api_requests_per_second: Option<u32>,
    /// Time an HTTP request gets to arrive whole, headers and body [default: 10s].
    #[arg(long, env = "TICKWIRE_REQUEST_TIMEOUT")]
    pub request_timeout: Option<String>,
    /// Protocol pings a player may send per second [default: 10].
    #[arg(long, env = "TICKWIRE_MAX_PINGS_PER_SECOND")]
    pub max_pings_per_second: Option<u32>,
    /// Game messages a connection may send per second [default: 10].
    #[arg(long, env = "TICKWIRE_MAX_MESSAGES_PER_SECOND")]
    pub max_messages_per_second: Option<u32>,
    /// The largest game message frame in bytes [default: 512].
    #[arg(long, env = "TICKWIRE_MAX_GAME_MESSAGE_BYTES")]
    pub max_game_message_bytes: Option<usize>,
    /// Refused game messages before a connection is closed with 1008 [default: 10].
    #[arg(long, env = "TICKWIRE_MAX_MESSAGE_DENIALS")]
    pub max_message_denials: Option<u32>,
    /// Spectators and admins per match [default: 16].
    #[arg(long, env = "TICKWIRE_SPECTATORS_PER_MATCH")]
    pub spectators_per_match: Option<u16>,
    /// Events kept per session for a resuming client [default: 256].
    #[arg(long, env = "TICKWIRE_EVENT_LOG")]
    pub event_log: Option<usize>,
    /// How far ahead of the match's tick a timed input may be meant for [default: 500ms].
    #[arg(long, env = "TICKWIRE_MAX_INPUT_LEAD")]
    pub max_input_lead: Option<String>,
    /// Bytes per second each client may receive; under it, what is near is
    /// sent first and what is far less often (0: no budget) [default: 0].
    #[arg(long, env = "TICKWIRE_BANDWIDTH_BUDGET", value_name = "BYTES_PER_S")]
    pub bandwidth_budget: Option<u32>,
    /// How far back lag compensation may rewind a player's view [default: 200ms].
    #[arg(long, env = "TICKWIRE_MAX_REWIND")]
    pub max_rewind: Option<String>,
    /// How long the match API shows an ended match's result [default: 5m].
    #[arg(long, env = "TICKWIRE_ENDED_MATCH_TTL")]
    pub ended_match_ttl: Option<String>,
    /// A send to a client that does not complete within this closes it [default: 3s].
    #[arg(long, env = "TICKWIRE_SEND_TIMEOUT")]
    pub send_timeout: Option<String>,
    /// A tick running longer than this is reported while it runs [default: 1s].
    #[arg(long, env = "TICKWIRE_TICK_WATCHDOG")]
    pub tick_watchdog: Option<String>,
    /// Reverse proxies trusted for X-Forwarded-For / Forwarded, comma-separated CIDRs [default: none].
    #[arg(long, env = "TICKWIRE_TRUSTED_PROXIES", value_delimiter = ',')]
    pub trusted_proxies: Option<Vec<String>>,
    /// After SIGTERM, how long players keep playing before they are closed [default: 0s].
    #[arg(long, env = "TICKWIRE_DRAIN_PERIOD")]
    pub drain_period: Option<String>,
    /// PEM certificate chain: serve HTTPS and wss on --bind (with --tls-key) [default: plain].
    #[arg(long, env = "TICKWIRE_TLS_CERT")]
    pub tls_cert: Option<std::path::PathBuf>,
    /// PEM private key of --tls-cert.
    #[arg(long, env = "TICKWIRE_TLS_KEY")]
    pub tls_key: Option<std::path::PathBuf>,
    /// Log format [default: human].
    #[arg(long, env = "TICKWIRE_LOG_FORMAT", value_enum)]
    pub log_format: Option<LogFormat>,
    /// Log filter, RUST_LOG syntax [default: info; RUST_LOG is honoured too].
    #[arg(long, env = "TICKWIRE_LOG")]
    pub log_filter: Option<String>,
    /// Cluster mode: `redis://host:port` of the directory [default: a single node, no Redis].
    #[arg(long, env = "TICKWIRE_REDIS", hide_env_values = true)]
    pub redis: Option<String>,
    /// What clients dial to reach this node, `ws(s)://host:port` [default: ws://<bind>].
    #[arg(long, env = "TICKWIRE_PUBLIC_URL")]
    pub public_url: Option<String>,
    /// This node's id in the cluster, unique [default: generated].
    #[arg(long, env = "TICKWIRE_NODE_ID")]
    pub node_id: Option<String>,
    /// How long a node's directory keys outlive its last heartbeat [default: 10s].
    #[arg(long, env = "TICKWIRE_NODE_TTL")]
    pub node_ttl: Option<String>,
    /// Signs matchmaking tickets (at least 16 characters, the same on every node).
    #[arg(long, env = "TICKWIRE_CLUSTER_SECRET", hide_env_values = true)]
    pub cluster_secret: Option<String>,
    /// How long a matchmaking ticket is valid [default: 30s].
    #[arg(long, env = "TICKWIRE_TICKET_TTL")]
    pub ticket_ttl: Option<String>,
    /// After a drain order or SIGTERM in a cluster: how long matches that cannot move play on [default: 60s].
    #[arg(long, env = "TICKWIRE_DRAIN_TIMEOUT")]
    pub drain_timeout: Option<String>,
}

fn duration(key: &'static str, value: &str) -> Result<Duration, ConfigError> {
    let d = humantime::parse_duration(value).map_err(|e| ConfigError::Invalid {
        key,
        message: format!("{value:?} is not a duration like `5s` or `250ms` ({e})"),
    })?;
    if d.is_zero() {
        return Err(ConfigError::Invalid {
            key,
            message: "must be longer than zero".into(),
        });
    }
    Ok(d)
}

/// A duration where zero is meaningful (off, or at once).
fn zero_or_duration(key: &'static str, value: &str) -> Result<Duration, ConfigError> {
    if value.trim() == "0" || value.trim() == "0s" {
        Ok(Duration::ZERO)
    } else {
        duration(key, value)
    }
}

fn in_range<T: PartialOrd + std::fmt::Display + Copy>(
    key: &'static str,
    value: T,
    lo: T,
    hi: T,
) -> Result<T, ConfigError> {
    if value < lo || value > hi {
        return Err(ConfigError::Invalid {
            key,
            message: format!("{value} is outside {lo}..={hi}"),
        });
    }
    Ok(value)
}

impl ConfigLayer {
    /// Reads a TOML file; unknown keys and wrong types are refused with their name.
    pub fn from_file(path: &Path) -> Result<Self, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.display().to_string(),
            source,
        })?;
        toml::from_str(&text).map_err(|e| ConfigError::File {
            path: path.display().to_string(),
            message: e.to_string(),
        })
    }

    /// Applies this layer's settings over `config`, validating each.
    pub fn apply(&self, config: &mut Config) -> Result<(), ConfigError> {
        if let Some(v) = &self.bind {
            config.bind = v.parse().map_err(|e| ConfigError::Invalid {
                key: "bind",
                message: format!("{v:?} is not an address like 127.0.0.1:7777 ({e})"),
            })?;
        }
        if let Some(v) = self.tick_rate {
            config.tick_rate = in_range("tick_rate", v, 1, 240)?;
        }
        if let Some(v) = self.players_per_match {
            config.players_per_match = in_range("players_per_match", v, 1, 1024)?;
        }
        if let Some(v) = self.tick_threads {
            config.tick_threads = in_range("tick_threads", v, 1, 256)?;
        }
        if let Some(v) = self.max_message_bytes {
            config.max_message_bytes = in_range("max_message_bytes", v, 16, 65536)?;
        }
        if let Some(v) = &self.handshake_timeout {
            config.handshake_timeout = duration("handshake_timeout", v)?;
        }
        if let Some(v) = &self.heartbeat_interval {
            config.heartbeat_interval = duration("heartbeat_interval", v)?;
        }
        if let Some(v) = &self.heartbeat_timeout {
            config.heartbeat_timeout = duration("heartbeat_timeout", v)?;
        }
        if let Some(v) = &self.ack_timeout {
            config.ack_timeout = duration("ack_timeout", v)?;
        }
        if let Some(v) = self.outbound_queue {
            config.outbound_queue = in_range("outbound_queue", v, 1, 64)?;
        }
        if let Some(v) = self.input_queue_per_player {
            config.input_queue_per_player = in_range("input_queue_per_player", v, 1, 1024)?;
        }
        if let Some(v) = self.max_inputs_per_second {
            config.max_inputs_per_second = in_range("max_inputs_per_second", v, 1, 10_000)?;
        }
        if let Some(v) = self.max_connections {
            config.max_connections = in_range("max_connections", v, 1, 1_000_000)?;
        }
        if let Some(v) = self.max_connections_per_ip {
            config.max_connections_per_ip = in_range("max_connections_per_ip", v, 1, 1_000_000)?;
        }
        if let Some(v) = &self.empty_match_grace {
            config.empty_match_grace = duration("empty_match_grace", v)?;
        }
        if let Some(v) = &self.reconnect_grace {
            // Zero is allowed here: it turns resuming off.
            config.reconnect_grace = zero_or_duration("reconnect_grace", v)?;
        }
        if let Some(v) = &self.allowed_origins {
            config.allowed_origins = v
                .iter()
                .map(|o| o.trim().to_string())
                .filter(|o| !o.is_empty())
                .collect();
        }
        if let Some(v) = &self.auth_secret {
            if v.len() < 16 {
                return Err(ConfigError::Invalid {
                    key: "auth_secret",
                    message: "must be at least 16 characters".into(),
                });
            }
            config.auth_secret = Some(v.clone());
        }
        if let Some(v) = &self.token_max_lifetime {
            config.token_max_lifetime = duration("token_max_lifetime", v)?;
        }
        if let Some(v) = &self.admin_token {
            if v.len() < 16 {
                return Err(ConfigError::Invalid {
                    key: "admin_token",
                    message: "must be at least 16 characters".into(),
                });
            }
            config.admin_token = Some(v.clone());
        }
        if let Some(v) = &self.metrics_bind {
            config.metrics_bind = Some(v.parse().map_err(|e| ConfigError::Invalid {
                key: "metrics_bind",
                message: format!("{v:?} is not an address like 127.0.0.1:9090 ({e})"),
            })?);
        }
        if let Some(v) = self.max_matches {
            config.max_matches = in_range("max_matches", v, 1, 1_000_000)?;
        }
        if let Some(v) = self.api_requests_per_second {
            config.api_requests_per_second = in_range("api_requests_per_second", v, 1, 100_000)?;
        }
        if let Some(v) = &self.request_timeout {
            config.request_timeout = duration("request_timeout", v)?;
        }
        if let Some(v) = self.max_pings_per_second {
            config.max_pings_per_second = in_range("max_pings_per_second", v, 1, 1000)?;
        }
        if let Some(v) = self.max_messages_per_second {
            config.max_messages_per_second = in_range("max_messages_per_second", v, 1, 1000)?;
        }
        if let Some(v) = self.max_game_message_bytes {
            config.max_game_message_bytes = in_range("max_game_message_bytes", v, 16, 1 << 20)?;
        }
        if let Some(v) = self.max_message_denials {
            config.max_message_denials = in_range("max_message_denials", v, 1, 100_000)?;
        }
        if let Some(v) = self.spectators_per_match {
            config.spectators_per_match = in_range("spectators_per_match", v, 0, 10_000)?;
        }
        if let Some(v) = self.event_log {
            config.event_log = in_range("event_log", v, 1, 1 << 16)?;
        }
        if let Some(v) = self.bandwidth_budget {
            // Below a few hundred bytes a second the own entity alone is over it.
            if v != 0 && v < 256 {
                return Err(ConfigError::Invalid {
                    key: "bandwidth_budget",
                    message: "0 (off) or at least 256 bytes per second".into(),
                });
            }
            config.bandwidth_budget = v;
        }
        if let Some(v) = &self.max_rewind {
            config.max_rewind = duration("max_rewind", v)?;
            if config.max_rewind > Duration::from_secs(2) {
                return Err(ConfigError::Invalid {
                    key: "max_rewind",
                    message: "at most 2s".into(),
                });
            }
        }
        if let Some(v) = &self.max_input_lead {
            config.max_input_lead = duration("max_input_lead", v)?;
            if config.max_input_lead > Duration::from_secs(5) {
                return Err(ConfigError::Invalid {
                    key: "max_input_lead",
                    message: "at most 5s".into(),
                });
            }
        }
        if let Some(v) = &self.ended_match_ttl {
            config.ended_match_ttl = zero_or_duration("ended_match_ttl", v)?;
        }
        if let Some(v) = &self.send_timeout {
            config.send_timeout = duration("send_timeout", v)?;
        }
        if let Some(v) = &self.tick_watchdog {
            config.tick_watchdog = duration("tick_watchdog", v)?;
        }
        if let Some(v) = &self.trusted_proxies {
            config.trusted_proxies = v
                .iter()
                .map(|c| c.trim())
                .filter(|c| !c.is_empty())
                .map(|c| {
                    // A bare address trusts that one host.
                    c.parse::<ipnet::IpNet>()
                        .or_else(|_| c.parse::<std::net::IpAddr>().map(ipnet::IpNet::from))
                        .map_err(|_| ConfigError::Invalid {
                            key: "trusted_proxies",
                            message: format!("{c:?} is not a CIDR like 10.0.0.0/8 or an address"),
                        })
                })
                .collect::<Result<_, _>>()?;
        }
        if let Some(v) = &self.drain_period {
            config.drain_period = zero_or_duration("drain_period", v)?;
        }
        if let Some(v) = &self.tls_cert {
            config.tls_cert = Some(v.clone());
        }
        if let Some(v) = &self.tls_key {
            config.tls_key = Some(v.clone());
        }
        if let Some(v) = self.log_format {
            config.log_format = v;
        }
        if let Some(v) = &self.log_filter {
            tracing_subscriber::EnvFilter::try_new(v).map_err(|e| ConfigError::Invalid {
                key: "log_filter",
                message: e.to_string(),
            })?;
            config.log_filter = v.clone();
        }
        self.apply_cluster(config)
    }

    /// The cluster keys: any of them makes a cluster configuration, which
    /// `Config::load` completes and checks once every layer is applied.
    fn apply_cluster(&self, config: &mut Config) -> Result<(), ConfigError> {
        let any = self.redis.is_some()
            || self.public_url.is_some()
            || self.node_id.is_some()
            || self.node_ttl.is_some()
            || self.cluster_secret.is_some()
            || self.ticket_ttl.is_some()
            || self.drain_timeout.is_some();
        if !any {
            return Ok(());
        }
        let c = config
            .cluster
            .get_or_insert_with(super::ClusterConfig::unset);
        if let Some(v) = &self.redis {
            if !(v.starts_with("redis://") || v.starts_with("rediss://")) {
                return Err(ConfigError::Invalid {
                    key: "redis",
                    message: "must be a URL like redis://127.0.0.1:6379".into(),
                });
            }
            c.redis = v.clone();
        }
        if let Some(v) = &self.public_url {
            let rest = v
                .strip_prefix("ws://")
                .or_else(|| v.strip_prefix("wss://"))
                .filter(|rest| !rest.is_empty() && !rest.contains(['/', '?', '#', ' ']));
            if rest.is_none() {
                return Err(ConfigError::Invalid {
                    key: "public_url",
                    message: format!("{v:?} is not a URL like ws://10.0.0.5:7777 (no path)"),
                });
            }
            c.public_url = v.clone();
        }
        if let Some(v) = &self.node_id {
            let ok = !v.is_empty()
                && v.len() <= 64
                && v.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b));
            if !ok {
                return Err(ConfigError::Invalid {
                    key: "node_id",
                    message: "1 to 64 characters of letters, digits, `-`, `_` and `.`".into(),
                });
            }
            c.node_id = v.clone();
        }
        if let Some(v) = &self.node_ttl {
            c.node_ttl = duration("node_ttl", v)?;
            if c.node_ttl < Duration::from_secs(1) {
                return Err(ConfigError::Invalid {
                    key: "node_ttl",
                    message: "at least 1s (Redis expires keys by the second)".into(),
                });
            }
        }
        if let Some(v) = &self.cluster_secret {
            if v.len() < 16 {
                return Err(ConfigError::Invalid {
                    key: "cluster_secret",
                    message: "must be at least 16 characters".into(),
                });
            }
            c.secret = v.clone();
        }
        if let Some(v) = &self.ticket_ttl {
            c.ticket_ttl = duration("ticket_ttl", v)?;
            if c.ticket_ttl < Duration::from_secs(1) {
                return Err(ConfigError::Invalid {
                    key: "ticket_ttl",
                    message: "at least 1s".into(),
                });
            }
        }
        if let Some(v) = &self.drain_timeout {
            c.drain_timeout = zero_or_duration("drain_timeout", v)?;
        }
        Ok(())
    }
}
