//! A client in a cluster (docs/CLUSTER.md): following a node's redirect
//! (HTTP 307 with a ticket) to a seat on another node, and following a
//! match that moved to another node (close 4002 with the new URL) by
//! resuming there, same entity.

use super::{open, with_query, Client, ClientError, ClientEvent, ClientOptions, InputClock, Ws};
use crate::game::ClientGame;
use crate::protocol::Welcome;
use std::time::Duration;

/// Redirects (HTTP 307 from a node with no room) a connect follows at most.
const MAX_REDIRECTS: u32 = 3;

/// The attempts to resume at a match's new node.
pub(super) type Moving = tokio::task::JoinHandle<Result<(Ws, Welcome, u32), ClientError>>;

impl<G: ClientGame> Client<G> {
    /// The URL this client (re)connects to: the node its match is on.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// Redirects followed while connecting (a node with no room sent it on).
    pub fn redirects(&self) -> u32 {
        self.redirects
    }

    /// Times its match moved to another node and the client followed.
    pub fn migrations(&self) -> u32 {
        self.migrations
    }

    /// Follows a match that moved: resumes the session at `to` (the close
    /// reason of a `MOVED` close), retrying within the reconnect policy,
    /// since the new node may take a moment to restore the match. The
    /// attempts run in a task of their own, so a `recv` dropped meanwhile
    /// (a `select!` taking another branch) loses nothing: the next `recv`
    /// waits for the same attempts.
    pub(super) async fn follow_move(
        &mut self,
        to: Option<&str>,
    ) -> Result<ClientEvent<G::Event>, ClientError> {
        if self.moving.is_none() {
            let url = carry_token(&self.url, to.unwrap_or(&self.url));
            let options = self.options.clone();
            let token = self.welcome.session_token;
            let last_event = self.last_event;
            let target = url.clone();
            let attempts = tokio::spawn(async move {
                let policy = options.reconnect.unwrap_or_default();
                let mut backoff = policy.initial_backoff;
                let mut last = ClientError::Timeout;
                // A match restores within a second or so; at least ~5 s of tries.
                for attempt in 1..=policy.attempts.max(10) {
                    let hash = Some(G::schema_hash());
                    match open(&target, &options, Some(token), last_event, hash).await {
                        Ok((ws, welcome)) => return Ok((ws, welcome, attempt)),
                        Err(e) => last = e,
                    }
                    tokio::time::sleep(backoff).await;
                    backoff = (backoff * 2).min(policy.max_backoff.max(Duration::from_millis(500)));
                }
                Err(last)
            });
            self.moving = Some((url, attempts));
        }
        let Some((_, attempts)) = self.moving.as_mut() else {
            unreachable!("set above");
        };
        let outcome = attempts.await;
        let Some((url, _)) = self.moving.take() else {
            unreachable!("taken only here");
        };
        let (ws, welcome, attempts) = match outcome {
            Ok(Ok(opened)) => opened,
            Ok(Err(e)) => return Err(e),
            Err(_) => return Err(ClientError::Unexpected("the task following a move failed")),
        };
        self.ws = ws;
        self.url = url.clone();
        self.clock = InputClock::new(welcome.tick_rate);
        self.prediction.reset();
        self.welcome = welcome;
        self.history.clear();
        self.unacked = None;
        self.migrations += 1;
        Ok(ClientEvent::Moved { url, attempts })
    }
}

/// `to` (another node's URL) with the join token of `from`, if it had one:
/// the token is the player's identity on every node.
pub(super) fn carry_token(from: &str, to: &str) -> String {
    let token = from
        .split_once('?')
        .map(|(_, q)| q)
        .unwrap_or("")
        .split('&')
        .find_map(|p| p.strip_prefix("token="));
    match token {
        Some(t) => with_query(to, "token", Some(t)),
        None => to.to_string(),
    }
}

/// A connection opened after following redirects.
pub(super) struct Opened {
    pub(super) ws: Ws,
    pub(super) welcome: Welcome,
    /// Where it connected, without its ticket: where to reconnect.
    pub(super) url: String,
    pub(super) redirects: u32,
}

/// Opens a new player's connection at `url`, following the redirects of
/// nodes with no room (at most `MAX_REDIRECTS`).
pub(super) async fn open_following(
    url: &str,
    options: &ClientOptions,
    schema: Option<u64>,
) -> Result<Opened, ClientError> {
    let mut at = url.to_string();
    let mut redirects = 0;
    loop {
        match open(&at, options, None, 0, schema).await {
            Ok((ws, welcome)) => {
                return Ok(Opened {
                    ws,
                    welcome,
                    url: with_query(&at, "ticket", None),
                    redirects,
                })
            }
            Err(ClientError::Redirected { location }) if redirects < MAX_REDIRECTS => {
                redirects += 1;
                at = carry_token(url, &location);
            }
            Err(e) => return Err(e),
        }
    }
}
