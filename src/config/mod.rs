//! Server configuration: every setting is a named value with a safe default,
//! set (from lowest to highest precedence) by the built-in defaults, a TOML
//! file (`--config`), environment variables (`TICKWIRE_*`) and CLI flags.

mod layer;

pub use layer::ConfigLayer;

use serde::{Deserialize, Serialize};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Everything a server runs with. `Config::default()` is a safe single-node setup.
#[derive(Debug, Clone, PartialEq)]
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
    /// How often the server pings a peer.
    pub heartbeat_interval: Duration,
    /// A peer silent (no frame, no pong) for this long is closed.
    pub heartbeat_timeout: Duration,
    /// A player whose acknowledged tick does not advance for this long is closed.
    pub ack_timeout: Duration,
    /// Snapshots queued per player before the oldest is dropped.
    pub outbound_queue: usize,
    /// Inputs queued per player slot in a match's input queue.
    pub input_queue_per_player: usize,
    /// Inputs a player may send per second (a burst of one second is allowed);
    /// the excess is dropped, and a sustained flood closes the connection.
    pub max_inputs_per_second: u32,
    /// Open connections (WebSocket or not yet upgraded) at most.
    pub max_connections: usize,
    /// Open connections from one address at most (an IPv6 /64 counts as one address).
    pub max_connections_per_ip: usize,
    /// How long an empty match lives before it ends.
    pub empty_match_grace: Duration,
    /// How long a disconnected player keeps its entity, waiting to resume
    /// with its session token (0 s: players leave as soon as they disconnect).
    pub reconnect_grace: Duration,
    /// Browser Origins allowed to open game connections; empty allows any.
    pub allowed_origins: Vec<String>,
    /// HS256 secret for join tokens (JWT); `None` lets anyone join.
    pub auth_secret: Option<String>,
    /// Longest lifetime a join token may claim (`exp` minus `iat`, or `exp`
    /// minus now): a leaked token cannot be valid for years.
    pub token_max_lifetime: Duration,
    /// Bearer token for the routes that change state (`POST /v1/...`, admin
    /// routes); `None` turns those routes off.
    pub admin_token: Option<String>,
    /// A separate (internal) address for `/metrics` and the read-only API;
    /// `None` serves them on `bind`.
    pub metrics_bind: Option<SocketAddr>,
    /// Live matches at most; creating one beyond it is refused with 503.
    pub max_matches: usize,
    /// HTTP API requests per second from one address (a burst of one second
    /// is allowed); beyond it, 429 with Retry-After.
    pub api_requests_per_second: u32,
    /// Time an HTTP request gets to arrive whole (headers and body).
    pub request_timeout: Duration,
    /// Protocol pings a player may send per second; the excess is dropped and
    /// a sustained flood closes the connection.
    pub max_pings_per_second: u32,
    /// Game messages (chat, "ready") a connection may send per second; the
    /// excess is refused with an Error frame, and a sustained flood closes.
    pub max_messages_per_second: u32,
    /// The largest game message frame, in bytes (inputs and acks are limited
    /// by `max_message_bytes`).
    pub max_game_message_bytes: usize,
    /// Refused game messages a connection may send before it is closed with 1008.
    pub max_message_denials: u32,
    /// Spectators and admins per match, at most.
    pub spectators_per_match: u16,
    /// Events kept per session for a resuming client; a client that missed
    /// more is told so, and gets a full snapshot.
    pub event_log: usize,
    /// How far ahead of a match's tick a timed input may be meant for: one
    /// meant for later is applied at the tick this far ahead. Early inputs
    /// wait in the match (at most `input_queue_per_player` per player).
    pub max_input_lead: Duration,
    /// How far back a match keeps its snapshots for lag compensation: a
    /// player's stated view older than this is judged at the oldest kept.
    pub max_rewind: Duration,
    /// Bytes per second each client may receive (0: no budget): the
    /// snapshot sends the highest-priority entities that fit
    /// (docs/ARCHITECTURE.md "Interest").
    pub bandwidth_budget: u32,
    /// How long `GET /v1/matches/{id}` shows a match's result after the game
    /// ended it.
    pub ended_match_ttl: Duration,
    /// A send to a client that does not complete within this closes it: its
    /// socket is not draining.
    pub send_timeout: Duration,
    /// A tick running longer than this is reported (log and metric) while it runs.
    pub tick_watchdog: Duration,
    /// Reverse proxies (CIDRs) whose X-Forwarded-For / Forwarded headers are
    /// believed; empty trusts nobody.
    pub trusted_proxies: Vec<ipnet::IpNet>,
    /// After SIGTERM: how long players keep playing (readiness already 503,
    /// new joins refused) before they are closed with 1001.
    pub drain_period: Duration,
    /// PEM certificate chain (leaf first) for HTTPS and wss on `bind`;
    /// set together with `tls_key`. `None` serves plain HTTP and ws (behind a
    /// TLS-terminating proxy, say).
    pub tls_cert: Option<PathBuf>,
    /// PEM private key of `tls_cert`.
    pub tls_key: Option<PathBuf>,
    /// Log lines as `human` text or `json`.
    pub log_format: LogFormat,
    /// `RUST_LOG`-style filter, e.g. `info` or `tickwire=debug,warn`.
    pub log_filter: String,
    /// Cluster mode: the Redis directory, tickets and pub/sub; `None` runs a
    /// single node with no external service.
    pub cluster: Option<ClusterConfig>,
}

impl ClusterConfig {
    /// Before any cluster key is read: the defaults, and nothing where there is none.
    fn unset() -> Self {
        ClusterConfig {
            redis: String::new(),
            public_url: String::new(),
            node_id: String::new(),
            node_ttl: Duration::from_secs(10),
            secret: String::new(),
            ticket_ttl: Duration::from_secs(30),
            drain_timeout: Duration::from_secs(60),
        }
    }

    /// Completes a cluster configuration after every layer: `redis` and the
    /// secret are required, the public URL follows a dialable bind address,
    /// and a node without an id gets a random one.
    fn complete(&mut self, bind: SocketAddr) -> Result<(), ConfigError> {
        if self.redis.is_empty() {
            return Err(ConfigError::Invalid {
                key: "redis",
                message: "cluster keys are set: set the Redis URL too".into(),
            });
        }
        if self.secret.is_empty() {
            return Err(ConfigError::Invalid {
                key: "cluster_secret",
                message: "cluster mode signs tickets: set a secret shared by every node".into(),
            });
        }
        if self.public_url.is_empty() {
            if bind.ip().is_unspecified() {
                return Err(ConfigError::Invalid {
                    key: "public_url",
                    message: format!(
                        "bind {bind} is not an address clients can dial: set the public URL"
                    ),
                });
            }
            self.public_url = format!("ws://{bind}");
        }
        if self.node_id.is_empty() {
            let mut bytes = [0u8; 6];
            getrandom::fill(&mut bytes).expect("operating system random source is unavailable");
            self.node_id = bytes.iter().map(|b| format!("{b:02x}")).collect();
        }
        Ok(())
    }
}

/// A Redis URL with its password (if any) replaced: secrets are never printed.
fn redact_password(url: &str) -> String {
    match (url.split_once("://"), url.rfind('@')) {
        (Some((scheme, rest)), Some(_)) => {
            let host = rest.rsplit_once('@').map_or(rest, |(_, h)| h);
            format!("{scheme}://(credentials not shown)@{host}")
        }
        _ => url.to_string(),
    }
}

/// What a node of a cluster runs with (`--redis` and the keys after it).
#[derive(Debug, Clone, PartialEq)]
pub struct ClusterConfig {
    /// `redis://host:port[/db]` of the directory.
    pub redis: String,
    /// What clients should dial to reach this node, `ws(s)://host:port`.
    pub public_url: String,
    /// This node's name in the directory; unique in the cluster.
    pub node_id: String,
    /// How long this node's keys outlive its last heartbeat: a dead node is
    /// gone from the directory within this.
    pub node_ttl: Duration,
    /// Signs matchmaking tickets; the same on every node.
    pub secret: String,
    /// How long a matchmaking ticket may wait before it is redeemed.
    pub ticket_ttl: Duration,
    /// After a drain order (or SIGTERM): how long matches that cannot move
    /// may play on before the node exits.
    pub drain_timeout: Duration,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    Human,
    Json,
}

/// Tick threads by default: half the cores, since the network runtime needs the rest.
pub fn default_tick_threads() -> usize {
    std::thread::available_parallelism()
        .map(|n| (n.get() / 2).max(1))
        .unwrap_or(1)
}

/// Matches per tick thread by default: an arena match steps in about a
/// microsecond, so this bounds memory and the encoding work of the writers
/// rather than the tick threads' time.
const MATCHES_PER_TICK_THREAD: usize = 512;

/// The default `max_matches` for a given number of tick threads.
pub fn default_max_matches(tick_threads: usize) -> usize {
    tick_threads.max(1) * MATCHES_PER_TICK_THREAD
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
            max_inputs_per_second: 60,
            max_connections: 10_000,
            max_connections_per_ip: 64,
            empty_match_grace: Duration::from_secs(10),
            reconnect_grace: Duration::from_secs(10),
            allowed_origins: Vec::new(),
            auth_secret: None,
            token_max_lifetime: Duration::from_secs(7 * 24 * 3600),
            admin_token: None,
            metrics_bind: None,
            max_matches: default_max_matches(default_tick_threads()),
            api_requests_per_second: 20,
            request_timeout: Duration::from_secs(10),
            max_pings_per_second: 10,
            max_messages_per_second: 10,
            max_game_message_bytes: 512,
            max_message_denials: 10,
            spectators_per_match: 16,
            event_log: 256,
            max_input_lead: Duration::from_millis(500),
            max_rewind: Duration::from_millis(200),
            bandwidth_budget: 0,
            ended_match_ttl: Duration::from_secs(300),
            send_timeout: Duration::from_secs(3),
            tick_watchdog: Duration::from_secs(1),
            trusted_proxies: Vec::new(),
            drain_period: Duration::ZERO,
            tls_cert: None,
            tls_key: None,
            log_format: LogFormat::Human,
            log_filter: "info".into(),
            cluster: None,
        }
    }
}

/// A configuration value that was refused, naming its key.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read config file {path}: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error("config file {path}: {message}")]
    File { path: String, message: String },
    #[error(
        "invalid value for `{key}` (flag --{flag}, environment variable TICKWIRE_{env}): {message}",
        flag = key.replace('_', "-"),
        env = key.to_uppercase()
    )]
    Invalid { key: &'static str, message: String },
}

impl Config {
    /// Defaults, then the file (if any), then `overrides` (flags and environment).
    pub fn load(file: Option<&Path>, overrides: &ConfigLayer) -> Result<Config, ConfigError> {
        Self::load_over(Config::default(), file, overrides)
    }

    /// As [`load`](Self::load), from a game's own defaults (arena-v2's
    /// matches hold 64 players) rather than the built-in ones.
    pub fn load_over(
        defaults: Config,
        file: Option<&Path>,
        overrides: &ConfigLayer,
    ) -> Result<Config, ConfigError> {
        let mut config = defaults;
        let mut matches_set = overrides.max_matches.is_some();
        if let Some(path) = file {
            let layer = ConfigLayer::from_file(path)?;
            matches_set |= layer.max_matches.is_some();
            layer.apply(&mut config)?;
        }
        overrides.apply(&mut config)?;
        match (&config.tls_cert, &config.tls_key) {
            (Some(_), None) => {
                return Err(ConfigError::Invalid {
                    key: "tls_key",
                    message: "tls_cert is set: set its private key too".into(),
                })
            }
            (None, Some(_)) => {
                return Err(ConfigError::Invalid {
                    key: "tls_cert",
                    message: "tls_key is set: set the certificate chain too".into(),
                })
            }
            _ => {}
        }
        if !matches_set {
            // The default follows the tick threads actually configured.
            config.max_matches = default_max_matches(config.tick_threads);
        }
        if let Some(cluster) = &mut config.cluster {
            cluster.complete(config.bind)?;
        }
        Ok(config)
    }

    /// The effective configuration as TOML, every key present; the auth
    /// secret is never printed, only whether it is set.
    pub fn to_toml(&self) -> String {
        let d = |d: Duration| {
            if d.is_zero() {
                "0s".to_string()
            } else {
                humantime::format_duration(d).to_string()
            }
        };
        let format = match self.log_format {
            LogFormat::Human => "human",
            LogFormat::Json => "json",
        };
        let mut out = String::new();
        let mut line = |key: &str, value: String| {
            out.push_str(key);
            out.push_str(" = ");
            out.push_str(&value);
            out.push('\n');
        };
        line("bind", format!("{:?}", self.bind.to_string()));
        line("tick_rate", self.tick_rate.to_string());
        line("players_per_match", self.players_per_match.to_string());
        line("tick_threads", self.tick_threads.to_string());
        line("max_message_bytes", self.max_message_bytes.to_string());
        line(
            "handshake_timeout",
            format!("{:?}", d(self.handshake_timeout)),
        );
        line(
            "heartbeat_interval",
            format!("{:?}", d(self.heartbeat_interval)),
        );
        line(
            "heartbeat_timeout",
            format!("{:?}", d(self.heartbeat_timeout)),
        );
        line("ack_timeout", format!("{:?}", d(self.ack_timeout)));
        line("send_timeout", format!("{:?}", d(self.send_timeout)));
        line("outbound_queue", self.outbound_queue.to_string());
        line(
            "input_queue_per_player",
            self.input_queue_per_player.to_string(),
        );
        line(
            "max_inputs_per_second",
            self.max_inputs_per_second.to_string(),
        );
        line(
            "max_pings_per_second",
            self.max_pings_per_second.to_string(),
        );
        line(
            "max_messages_per_second",
            self.max_messages_per_second.to_string(),
        );
        line(
            "max_game_message_bytes",
            self.max_game_message_bytes.to_string(),
        );
        line("max_message_denials", self.max_message_denials.to_string());
        line(
            "spectators_per_match",
            self.spectators_per_match.to_string(),
        );
        line("event_log", self.event_log.to_string());
        line("max_input_lead", format!("{:?}", d(self.max_input_lead)));
        line("max_rewind", format!("{:?}", d(self.max_rewind)));
        line("bandwidth_budget", self.bandwidth_budget.to_string());
        line("ended_match_ttl", format!("{:?}", d(self.ended_match_ttl)));
        line("max_connections", self.max_connections.to_string());
        line(
            "max_connections_per_ip",
            self.max_connections_per_ip.to_string(),
        );
        line("max_matches", self.max_matches.to_string());
        line(
            "api_requests_per_second",
            self.api_requests_per_second.to_string(),
        );
        line("request_timeout", format!("{:?}", d(self.request_timeout)));
        line(
            "empty_match_grace",
            format!("{:?}", d(self.empty_match_grace)),
        );
        line("reconnect_grace", format!("{:?}", d(self.reconnect_grace)));
        line("drain_period", format!("{:?}", d(self.drain_period)));
        line("tick_watchdog", format!("{:?}", d(self.tick_watchdog)));
        line("allowed_origins", format!("{:?}", self.allowed_origins));
        let proxies: Vec<String> = self.trusted_proxies.iter().map(|p| p.to_string()).collect();
        line("trusted_proxies", format!("{proxies:?}"));
        line(
            "token_max_lifetime",
            format!("{:?}", d(self.token_max_lifetime)),
        );
        if let Some(m) = self.metrics_bind {
            line("metrics_bind", format!("{:?}", m.to_string()));
        }
        if let (Some(cert), Some(key)) = (&self.tls_cert, &self.tls_key) {
            line("tls_cert", format!("{:?}", cert.display().to_string()));
            line("tls_key", format!("{:?}", key.display().to_string()));
        }
        line("log_format", format!("{format:?}"));
        line("log_filter", format!("{:?}", self.log_filter));
        if let Some(c) = &self.cluster {
            line("redis", format!("{:?}", redact_password(&c.redis)));
            line("public_url", format!("{:?}", c.public_url));
            line("node_id", format!("{:?}", c.node_id));
            line("node_ttl", format!("{:?}", d(c.node_ttl)));
            line("ticket_ttl", format!("{:?}", d(c.ticket_ttl)));
            line("drain_timeout", format!("{:?}", d(c.drain_timeout)));
        }
        // Secrets are never printed, only whether they are set.
        out.push_str(if self.auth_secret.is_some() {
            "# auth_secret is set (not shown)\n"
        } else {
            "# auth_secret is not set: anyone can join\n"
        });
        out.push_str(if self.admin_token.is_some() {
            "# admin_token is set (not shown)\n"
        } else {
            "# admin_token is not set: POST /v1/... routes are off\n"
        });
        if self.cluster.is_some() {
            out.push_str("# cluster_secret is set (not shown)\n");
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_printed_configuration_reads_back_as_the_same_configuration() {
        let config = Config {
            tick_rate: 60,
            ack_timeout: Duration::from_millis(1500),
            log_format: LogFormat::Json,
            allowed_origins: vec!["https://game.example".into()],
            ..Config::default()
        };
        let layer: ConfigLayer = toml::from_str(&config.to_toml()).unwrap();
        let mut read_back = Config::default();
        layer.apply(&mut read_back).unwrap();
        assert_eq!(read_back, config);
    }

    #[test]
    fn a_redis_password_is_never_printed() {
        assert_eq!(
            redact_password("redis://:hunter2@10.0.0.2:6379/1"),
            "redis://(credentials not shown)@10.0.0.2:6379/1"
        );
        assert_eq!(
            redact_password("redis://10.0.0.2:6379"),
            "redis://10.0.0.2:6379"
        );
    }

    #[test]
    fn flags_override_the_file_which_overrides_defaults() {
        let dir = std::env::temp_dir().join(format!("tickwire-config-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("t.toml");
        std::fs::write(&path, "tick_rate = 20\nplayers_per_match = 8\n").unwrap();
        let flags = ConfigLayer {
            tick_rate: Some(45),
            ..ConfigLayer::default()
        };
        let config = Config::load(Some(&path), &flags).unwrap();
        assert_eq!(config.tick_rate, 45, "the flag wins");
        assert_eq!(
            config.players_per_match, 8,
            "the file wins over the default"
        );
        assert_eq!(config.outbound_queue, Config::default().outbound_queue);
    }

    #[test]
    fn invalid_values_name_their_key() {
        let bad = |layer: ConfigLayer| Config::load(None, &layer).unwrap_err().to_string();
        assert!(bad(ConfigLayer {
            tick_rate: Some(0),
            ..Default::default()
        })
        .contains("`tick_rate`"));
        assert!(bad(ConfigLayer {
            ack_timeout: Some("soon".into()),
            ..Default::default()
        })
        .contains("`ack_timeout`"));
        assert!(bad(ConfigLayer {
            bind: Some("nowhere".into()),
            ..Default::default()
        })
        .contains("`bind`"));
        let unknown: Result<ConfigLayer, _> = toml::from_str("tick_rat = 3");
        assert!(unknown.unwrap_err().to_string().contains("tick_rat"));
        let wrong_type: Result<ConfigLayer, _> = toml::from_str("tick_rate = \"fast\"");
        assert!(wrong_type.unwrap_err().to_string().contains("tick_rate"));
    }
}
