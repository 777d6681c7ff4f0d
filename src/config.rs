//! Server configuration: every setting is a named value with a safe default,
//! set (from lowest to highest precedence) by the built-in defaults, a TOML
//! file (`--config`), environment variables (`TICKWIRE_*`) and CLI flags.

use serde::{Deserialize, Serialize};
use std::net::SocketAddr;
use std::path::Path;
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
    /// Log lines as `human` text or `json`.
    pub log_format: LogFormat,
    /// `RUST_LOG`-style filter, e.g. `info` or `tickwire=debug,warn`.
    pub log_filter: String,
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
            send_timeout: Duration::from_secs(3),
            tick_watchdog: Duration::from_secs(1),
            trusted_proxies: Vec::new(),
            drain_period: Duration::ZERO,
            log_format: LogFormat::Human,
            log_filter: "info".into(),
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
    /// Log format [default: human].
    #[arg(long, env = "TICKWIRE_LOG_FORMAT", value_enum)]
    pub log_format: Option<LogFormat>,
    /// Log filter, RUST_LOG syntax [default: info; RUST_LOG is honoured too].
    #[arg(long, env = "TICKWIRE_LOG")]
    pub log_filter: Option<String>,
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
        Ok(())
    }
}

impl Config {
    /// Defaults, then the file (if any), then `overrides` (flags and environment).
    pub fn load(file: Option<&Path>, overrides: &ConfigLayer) -> Result<Config, ConfigError> {
        let mut config = Config::default();
        let mut matches_set = overrides.max_matches.is_some();
        if let Some(path) = file {
            let layer = ConfigLayer::from_file(path)?;
            matches_set |= layer.max_matches.is_some();
            layer.apply(&mut config)?;
        }
        overrides.apply(&mut config)?;
        if !matches_set {
            // The default follows the tick threads actually configured.
            config.max_matches = default_max_matches(config.tick_threads);
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
        line("log_format", format!("{format:?}"));
        line("log_filter", format!("{:?}", self.log_filter));
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
