//! The network shell: HTTP routes, the WebSocket upgrade, and one reader and
//! one writer task per connection, on the tokio runtime.
//!
//! This is the only module that knows about sockets. It turns frames into
//! validated messages for `lobby` and `tick`, and turns each tick's shared
//! snapshot into one frame per player (encoded here, on the tokio workers, so
//! that encoding spreads over every core and never runs on a tick thread).

mod api;
mod auth;
mod cluster_api;
mod connection;
mod demo;
mod drain;
mod http;
mod limits;
mod migrate;
mod tls;
mod upgrade;

use crate::config::Config;
use crate::game::Game;
use crate::lobby::{Lobby, LobbySettings};
use crate::metrics::ServerStats;
use crate::tick::TickPool;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

/// What every connection and route shares.
pub(crate) struct App<G: Game> {
    pub config: Config,
    pub lobby: Lobby<G>,
    /// Set first when the server stops: readiness fails and new joins are
    /// refused, while players keep playing for the drain period.
    pub draining: CancellationToken,
    /// Set after the drain period: connections close with 1001.
    pub shutdown: CancellationToken,
    pub stats: Arc<ServerStats>,
    pub limits: Arc<limits::ConnectionLimits>,
    /// The HTTP API's request rate per client address.
    pub api_rate: limits::ApiRateLimit,
    /// Verifies join tokens; `None` runs open.
    pub auth: Option<auth::Authenticator>,
    /// Every upgraded connection, so shutdown can wait for their close frames.
    pub connections: TaskTracker,
    /// The game's schema: served at `/v1/schema`, sent in `Welcome`.
    pub schema: crate::replicate::schema::GameSchema,
    /// HTTPS and wss on the public listener (`--tls-cert`, `--tls-key`).
    pub tls: Option<tokio_rustls::TlsAcceptor>,
    /// This node's membership of a cluster (`--redis`); `None` on a single node.
    pub cluster: Option<Arc<crate::cluster::Cluster>>,
    /// Every live connection: what broadcasts, kicks and moves reach.
    pub roster: Arc<connection::Roster>,
    /// Set when a cluster drain is done: the node may stop.
    pub drained: CancellationToken,
}

/// A running server. Dropping the handle does not stop it; call `shutdown`.
pub struct ServerHandle<G: Game> {
    local_addr: SocketAddr,
    internal_addr: Option<SocketAddr>,
    app: Arc<App<G>>,
    accept: JoinHandle<()>,
}

impl<G: Game> ServerHandle<G> {
    /// The address the server listens on (useful with port 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// The internal address of `/metrics` and the read-only API, when
    /// `metrics_bind` moved them there.
    pub fn internal_addr(&self) -> Option<SocketAddr> {
        self.internal_addr
    }

    /// `ws://` (or, with TLS, `wss://`) URL of the WebSocket route.
    pub fn ws_url(&self) -> String {
        let scheme = if self.app.tls.is_some() { "wss" } else { "ws" };
        format!("{scheme}://{}/ws", self.local_addr)
    }

    /// `http://` (or, with TLS, `https://`) URL of the public listener.
    pub fn http_url(&self) -> String {
        let scheme = if self.app.tls.is_some() {
            "https"
        } else {
            "http"
        };
        format!("{scheme}://{}", self.local_addr)
    }

    pub fn lobby(&self) -> &Lobby<G> {
        &self.app.lobby
    }

    /// Resolves once shutdown has been requested.
    pub async fn stopping(&self) {
        self.app.shutdown.cancelled().await
    }

    /// Resolves once a cluster drain (an operator's order) is done: every
    /// match moved or ended, or the drain timeout passed. Never on a single node.
    pub async fn drained(&self) {
        self.app.drained.cancelled().await
    }

    /// In a cluster, drains this node (as `POST /v1/admin/drain` does) and
    /// waits until that is done; on a single node, returns at once.
    pub async fn drain(&self) {
        if self.app.cluster.is_some() {
            drain::begin(self.app.clone());
            self.drained().await;
        }
    }

    /// Stops accepting players (readiness turns 503 at once), lets players
    /// play on for the configured drain period, then closes every connection
    /// with 1001 and waits (at most 5 s) for the close frames to go out.
    pub async fn shutdown(self) {
        self.app.draining.cancel();
        let drain = self.app.config.drain_period;
        if !drain.is_zero() {
            tracing::info!(drain = ?drain, "draining: new joins refused, players keep playing");
            tokio::time::sleep(drain).await;
        }
        self.app.shutdown.cancel();
        if let Some(cluster) = &self.app.cluster {
            cluster.leave(&cluster_api::local_view(&self.app)).await;
        }
        let _ = self.accept.await;
        self.app.connections.close();
        let _ = tokio::time::timeout(Duration::from_secs(5), self.app.connections.wait()).await;
    }
}

/// Binds `config.bind` and serves game `G` until `shutdown` is called.
pub async fn start<G: Game>(config: Config) -> std::io::Result<ServerHandle<G>> {
    start_as::<G>(config, "game").await
}

/// As [`start`], naming the game `label` (`arena-v1`): in a cluster, the
/// directory lists each node's game and matchmaking may ask for one.
pub async fn start_as<G: Game>(config: Config, label: &str) -> std::io::Result<ServerHandle<G>> {
    // Read first: a bad certificate fails start-up before anything binds.
    let tls = match (&config.tls_cert, &config.tls_key) {
        (Some(cert), Some(key)) => Some(tls::acceptor(cert, key)?),
        _ => None,
    };
    let listener = TcpListener::bind(config.bind).await?;
    let local_addr = listener.local_addr()?;
    let pool = TickPool::new(config.tick_threads, config.tick_watchdog)?;
    let stats = Arc::new(ServerStats::default());
    let lobby = Lobby::new(
        LobbySettings {
            tick_rate: config.tick_rate,
            players_per_match: config.players_per_match,
            input_queue_per_player: config.input_queue_per_player,
            empty_match_grace: config.empty_match_grace,
            reconnect_grace: config.reconnect_grace,
            max_matches: config.max_matches,
            // The longest an evicted connection takes to let go: a send in
            // flight, then its close frame, each under the send deadline.
            handover_wait: config.send_timeout * 2 + Duration::from_secs(1),
            spectators_per_match: config.spectators_per_match,
            event_log: config.event_log,
            max_input_lead: config.max_input_lead,
            max_rewind: config.max_rewind,
            ended_match_ttl: config.ended_match_ttl,
            first_id: config
                .cluster
                .as_ref()
                .map_or(1, |c| crate::cluster::records::match_id_base(&c.node_id)),
        },
        pool,
        Some(stats.tick_observer()),
    );
    // Bound first, so a taken port fails before anything starts.
    let internal = match config.metrics_bind {
        Some(addr) => Some(TcpListener::bind(addr).await?),
        None => None,
    };
    crate::metrics::register_series(&crate::metrics::SeriesLabels {
        close_reasons: connection::CLOSE_REASONS,
        handshake_refusals: upgrade::REFUSAL_REASONS,
        api_refusals: api::API_REFUSALS,
    });
    let limits =
        limits::ConnectionLimits::new(config.max_connections, config.max_connections_per_ip);
    if config.admin_token.is_none() {
        tracing::warn!(
            "no admin token configured: POST /v1/matches and POST /v1/stats/window are off \
             (set --admin-token or TICKWIRE_ADMIN_TOKEN to turn them on)"
        );
    }
    if config.auth_secret.is_none() {
        tracing::warn!(
            "no auth secret configured: anyone can join (set --auth-secret or TICKWIRE_AUTH_SECRET)"
        );
    }
    let authenticator = config
        .auth_secret
        .as_deref()
        .map(|secret| auth::Authenticator::new(secret, config.token_max_lifetime));
    let api_rate = limits::ApiRateLimit::new(config.api_requests_per_second);
    let schema = crate::replicate::schema::GameSchema::of::<G>();
    let cluster = match &config.cluster {
        Some(c) => Some(Arc::new(
            crate::cluster::Cluster::new(
                c,
                label,
                &crate::replicate::schema::hash_hex(schema.hash),
            )
            .map_err(|e| {
                std::io::Error::new(
                    std::io::ErrorKind::InvalidInput,
                    format!("invalid value for `redis`: {e}"),
                )
            })?,
        )),
        None => None,
    };
    let app = Arc::new(App {
        api_rate,
        config,
        lobby,
        draining: CancellationToken::new(),
        shutdown: CancellationToken::new(),
        stats,
        limits,
        auth: authenticator,
        connections: TaskTracker::new(),
        schema,
        tls,
        cluster,
        roster: Arc::default(),
        drained: CancellationToken::new(),
    });
    if let Some(cluster) = &app.cluster {
        cluster_api::join_cluster(cluster, &app);
    }
    let accept = tokio::spawn(http::accept_loop(
        listener,
        app.clone(),
        http::public_routes(app.clone()),
    ));
    let internal_addr = match internal {
        Some(listener) => {
            let addr = listener.local_addr()?;
            tokio::spawn(serve_internal(listener, app.clone()));
            tracing::info!(%addr, "metrics and the read-only API listening");
            Some(addr)
        }
        None => None,
    };
    tokio::spawn(upkeep(app.clone()));
    tracing::info!(%local_addr, tls = app.tls.is_some(), "tickwire listening");
    Ok(ServerHandle {
        local_addr,
        internal_addr,
        app,
        accept,
    })
}

/// The internal listener (`--metrics-bind`): no connection caps, since only
/// operators' tools reach it, and no WebSocket route.
async fn serve_internal<G: Game>(listener: TcpListener, app: Arc<App<G>>) {
    let router = http::internal_routes(app.clone());
    loop {
        let accepted = tokio::select! {
            _ = app.shutdown.cancelled() => return,
            accepted = listener.accept() => accepted,
        };
        match accepted {
            Ok((stream, peer)) => {
                tokio::spawn(http::serve_connection(
                    stream,
                    peer,
                    None,
                    router.clone(),
                    app.clone(),
                ));
            }
            Err(e) => {
                tracing::warn!(error = %e, "accept failed on the internal listener");
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
    }
}

/// Every few seconds: drains the Prometheus recorder's histogram samples into
/// their buckets (memory stays flat between scrapes), and forgets idle
/// addresses of the API rate limit.
async fn upkeep<G: Game>(app: Arc<App<G>>) {
    let handle = crate::metrics::prometheus();
    let mut every = tokio::time::interval(Duration::from_secs(5));
    loop {
        tokio::select! {
            _ = app.shutdown.cancelled() => return,
            _ = every.tick() => {
                handle.run_upkeep();
                app.api_rate.forget_idle();
            }
        }
    }
}

/// Raises this process's open-file limit to its hard maximum: every player
/// (and every bot) is a socket, and the usual soft limit of 1024 is too low.
pub fn raise_open_file_limit() {
    // SAFETY: getrlimit/setrlimit with a valid resource and a pointer to a local.
    unsafe {
        let mut lim = libc::rlimit {
            rlim_cur: 0,
            rlim_max: 0,
        };
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) == 0 && lim.rlim_cur < lim.rlim_max {
            lim.rlim_cur = lim.rlim_max;
            libc::setrlimit(libc::RLIMIT_NOFILE, &lim);
        }
    }
}
