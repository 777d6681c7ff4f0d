//! The network shell: HTTP routes, the WebSocket upgrade, and one reader and
//! one writer task per connection, on the tokio runtime.
//!
//! This is the only module that knows about sockets. It turns frames into
//! validated messages for `lobby` and `tick`, and turns each tick's shared
//! snapshot into one frame per player (encoded here, on the tokio workers, so
//! that encoding spreads over every core and never runs on a tick thread).

mod api;
mod auth;
mod connection;
mod http;
mod limits;

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
    pub shutdown: CancellationToken,
    pub stats: Arc<ServerStats>,
    pub limits: Arc<limits::ConnectionLimits>,
    /// Verifies join tokens; `None` runs open.
    pub auth: Option<auth::Authenticator>,
    /// Every upgraded connection, so shutdown can wait for their close frames.
    pub connections: TaskTracker,
}

/// A running server. Dropping the handle does not stop it; call `shutdown`.
pub struct ServerHandle<G: Game> {
    local_addr: SocketAddr,
    app: Arc<App<G>>,
    accept: JoinHandle<()>,
}

impl<G: Game> ServerHandle<G> {
    /// The address the server listens on (useful with port 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// `ws://` URL of the WebSocket route.
    pub fn ws_url(&self) -> String {
        format!("ws://{}/ws", self.local_addr)
    }

    pub fn lobby(&self) -> &Lobby<G> {
        &self.app.lobby
    }

    /// Resolves once shutdown has been requested.
    pub async fn stopping(&self) {
        self.app.shutdown.cancelled().await
    }

    /// Stops accepting, closes every connection with 1001 and waits (at most
    /// 5 s) for the close frames to go out.
    pub async fn shutdown(self) {
        self.app.shutdown.cancel();
        let _ = self.accept.await;
        self.app.connections.close();
        let _ = tokio::time::timeout(Duration::from_secs(5), self.app.connections.wait()).await;
    }
}

/// Binds `config.bind` and serves game `G` until `shutdown` is called.
pub async fn start<G: Game>(config: Config) -> std::io::Result<ServerHandle<G>> {
    let listener = TcpListener::bind(config.bind).await?;
    let local_addr = listener.local_addr()?;
    let pool = TickPool::new(config.tick_threads)?;
    let stats = Arc::new(ServerStats::default());
    let lobby = Lobby::new(
        LobbySettings {
            tick_rate: config.tick_rate,
            players_per_match: config.players_per_match,
            input_queue_per_player: config.input_queue_per_player,
            empty_match_grace: config.empty_match_grace,
            reconnect_grace: config.reconnect_grace,
        },
        pool,
        Some(stats.tick_observer()),
    );
    let limits =
        limits::ConnectionLimits::new(config.max_connections, config.max_connections_per_ip);
    if config.auth_secret.is_none() {
        tracing::warn!(
            "no auth secret configured: anyone can join (set --auth-secret or TICKWIRE_AUTH_SECRET)"
        );
    }
    let authenticator = config
        .auth_secret
        .as_deref()
        .map(|secret| auth::Authenticator::new(secret, config.token_max_lifetime));
    let app = Arc::new(App {
        config,
        lobby,
        shutdown: CancellationToken::new(),
        stats,
        limits,
        auth: authenticator,
        connections: TaskTracker::new(),
    });
    let accept = tokio::spawn(http::accept_loop(listener, app.clone()));
    tokio::spawn(metrics_upkeep(app.shutdown.clone()));
    tracing::info!(%local_addr, "tickwire listening");
    Ok(ServerHandle {
        local_addr,
        app,
        accept,
    })
}

/// Drains the Prometheus recorder's histogram samples into their buckets, so
/// that memory stays flat between scrapes.
async fn metrics_upkeep(shutdown: CancellationToken) {
    let handle = crate::metrics::prometheus();
    let mut every = tokio::time::interval(Duration::from_secs(5));
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = every.tick() => handle.run_upkeep(),
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
