//! The Rust client library: connect, join, send inputs, decode every snapshot
//! against its baseline, acknowledge, and measure round-trip time.
//!
//! A [`Client`] is driven by its owner: `recv` reads and decodes the next
//! message, so a bot or a game loop selects between `recv` and its own timer
//! without extra tasks or channels.

use crate::game::ClientGame;
use crate::protocol::{
    decode_server, encode_client, ClientMsg, ErrorCode, ProtocolError, ServerMsg, SessionToken,
    Tick, Welcome, MAX_BASELINE_AGE, PROTOCOL_VERSION,
};
use crate::replicate::schema::hash_hex;
use crate::replicate::{MessageSet, NoMessages, Role};
use crate::snapshot::{decode_delta, BitReader, CodecError, Snapshot};
use futures_util::{SinkExt, StreamExt};
use std::collections::VecDeque;
use std::time::{Duration, Instant};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::tungstenite::{Error as WsError, Message};
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

mod cluster;
pub mod generic;
mod predict;
mod timing;
mod tls;

pub use timing::{InputClock, InputDue};
pub use tls::{TlsConfig, TlsError};

/// Largest server message a client accepts: full snapshots of big worlds.
const MAX_SERVER_MESSAGE: usize = 4 << 20;

/// The close code of a connection taken over by a newer one of the same player.
pub const TAKEN_OVER: u16 = 4001;

/// The close code of a match that moved to another node (a cluster drain):
/// the close reason is the WebSocket URL to resume the session at.
pub const MOVED: u16 = 4002;

/// When the client acknowledges snapshots.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AckMode {
    /// A separate `Ack` right after each decoded snapshot: smallest deltas.
    Immediate,
    /// Only inside the next `Input`: one frame per tick instead of two, for
    /// clients that send an input every tick.
    WithInputs,
    /// Only when the owner calls [`Client::ack`].
    Manual,
}

#[derive(Debug, Clone)]
pub struct ClientOptions {
    pub ack: AckMode,
    /// How long to wait for the HTTP upgrade and `Welcome`.
    pub connect_timeout: Duration,
    /// Reconnect and resume by itself when the connection is lost (`recv`
    /// then returns `ClientEvent::Resumed`); `None` returns the error instead.
    pub reconnect: Option<ReconnectPolicy>,
    /// Whom to trust over `wss://`; `None` trusts the Web PKI's roots.
    pub tls: Option<TlsConfig>,
}

/// How a client retries after losing its connection.
#[derive(Debug, Clone, Copy)]
pub struct ReconnectPolicy {
    pub attempts: u32,
    pub initial_backoff: Duration,
    pub max_backoff: Duration,
    /// When the session is gone (the grace ran out, the server restarted),
    /// join again as a new player: in the same match if it still exists,
    /// else by quick-join (`recv` then returns `ClientEvent::Rejoined`).
    /// Off: the reconnect fails with the server's refusal.
    pub rejoin: bool,
}

impl Default for ReconnectPolicy {
    fn default() -> Self {
        ReconnectPolicy {
            attempts: 5,
            initial_backoff: Duration::from_millis(100),
            max_backoff: Duration::from_secs(2),
            rejoin: false,
        }
    }
}

impl Default for ClientOptions {
    fn default() -> Self {
        ClientOptions {
            ack: AckMode::Immediate,
            connect_timeout: Duration::from_secs(10),
            reconnect: None,
            tls: None,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error("WebSocket error: {0}")]
    WebSocket(#[from] WsError),
    #[error("the server refused the connection with HTTP {status}: {body}")]
    Refused { status: u16, body: String },
    #[error("the server closed the connection ({code}): {reason}")]
    Closed { code: u16, reason: String },
    #[error("the server sent an error ({code:?}): {message}")]
    Server { code: ErrorCode, message: String },
    #[error("undecodable server message: {0}")]
    Protocol(#[from] ProtocolError),
    #[error("undecodable snapshot: {0}")]
    Snapshot(#[from] CodecError),
    #[error("undecodable event: {0}")]
    Event(CodecError),
    #[error("snapshot {tick:?} is a delta against {baseline:?}, which this client no longer has")]
    MissingBaseline { tick: Tick, baseline: Tick },
    #[error("TLS: {0}")]
    Tls(rustls::Error),
    #[error("timed out waiting for the server")]
    Timeout,
    #[error("unexpected message from the server: {0}")]
    Unexpected(&'static str),
    #[error("this client decodes schema {client} but the server's game has schema {server}")]
    SchemaMismatch { client: String, server: String },
    #[error("the server's schema is unusable: {0}")]
    Schema(#[from] crate::replicate::schema::SchemaError),
    #[error("the server sent this client to {location}")]
    Redirected { location: String },
}

impl ClientError {
    /// Whether the connection was lost (worth reconnecting), rather than
    /// refused or broken by a protocol error that would happen again.
    pub fn is_connection_loss(&self) -> bool {
        match self {
            // A bad server name or TLS set-up does not heal by retrying.
            ClientError::WebSocket(WsError::Tls(_)) => false,
            ClientError::WebSocket(_) | ClientError::Timeout => true,
            // 1002, 1003, 1007, 1009: this client broke the protocol; 4001: a
            // newer connection of this player took the seat (reconnecting
            // would take it back, and so on).
            ClientError::Closed { code, .. } => {
                !matches!(*code, 1002 | 1003 | 1007 | 1009 | TAKEN_OVER | MOVED)
            }
            _ => false,
        }
    }

    /// Whether the server no longer knows this session: resuming cannot work,
    /// only joining again.
    pub fn is_session_gone(&self) -> bool {
        match self {
            ClientError::Refused { status, body } => {
                *status == 401 && body.contains("\"invalid_session\"")
            }
            ClientError::Server { code, .. } => *code == ErrorCode::InvalidSession,
            _ => false,
        }
    }
}

/// What `recv` got. `V` is the game's event set (`ClientGame::Event`).
#[derive(Debug, Clone, PartialEq)]
pub enum ClientEvent<V = NoMessages> {
    /// A snapshot was decoded; `Client::world` now returns it.
    Snapshot {
        tick: Tick,
        baseline: Option<Tick>,
        /// Size of the WebSocket message payload.
        bytes: usize,
    },
    /// A `Pong` arrived; `rtt` is the round trip of its `Ping`.
    Pong { rtt: Duration, server_tick: Tick },
    /// The connection was lost and the client resumed its player (after
    /// `attempts` tries); the next snapshot is a full one.
    Resumed { attempts: u32 },
    /// The connection was lost and the session was gone, so the client joined
    /// again as a new player (`ReconnectPolicy::rejoin`): a new entity, maybe
    /// in another match (see `Client::welcome`); the next snapshot is full.
    Rejoined { attempts: u32, same_match: bool },
    /// A game event. `seq` counts this session's events from 1; after a
    /// resume, the ones sent while the client was away come first.
    Event { seq: u32, event: V },
    /// Events `first..=last` were lost while the client was away (more than
    /// the server keeps); the full snapshot after the resume has the state.
    EventsMissed { first: u32, last: u32 },
    /// The match is over, with the game's result; the server closes next.
    Ended { seq: u32, result: V },
    /// The server refused one of this client's messages; the reason names
    /// its type. The connection stays open (until too many refusals).
    Denied { message: String },
    /// How early this client's timed inputs reached the server over the
    /// last report window, in seconds (negative: late), and how many were
    /// late; the client's [`InputClock`] has already taken it into account.
    InputTiming {
        lead_min: f64,
        lead_max: f64,
        late: u16,
        /// Size of the WebSocket message payload.
        bytes: usize,
    },
    /// A notice from the server's operators (a cluster-wide broadcast).
    Notice { text: String },
    /// The match moved to another node (a cluster drain) and the client
    /// resumed its player there, same entity; the next snapshot is full.
    Moved { url: String, attempts: u32 },
}

type Ws = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// A decoded snapshot, typed or generic: what [`Baselines`] keeps.
trait Ticked {
    fn tick(&self) -> Tick;
}

impl<E> Ticked for Snapshot<E> {
    fn tick(&self) -> Tick {
        self.tick
    }
}

impl Ticked for crate::replicate::generic::GenericSnapshot {
    fn tick(&self) -> Tick {
        self.tick
    }
}

/// Decoded snapshots still usable as baselines, oldest first.
struct Baselines<S> {
    kept: VecDeque<S>,
}

impl<S: Ticked> Baselines<S> {
    fn new() -> Self {
        Baselines {
            kept: VecDeque::with_capacity(4),
        }
    }

    /// The baseline a snapshot at `tick` is a delta against.
    fn find(&self, tick: Tick, baseline: Option<Tick>) -> Result<Option<&S>, ClientError> {
        match baseline {
            None => Ok(None),
            Some(b) => self
                .kept
                .iter()
                .find(|s| s.tick() == b)
                .map(Some)
                .ok_or(ClientError::MissingBaseline { tick, baseline: b }),
        }
    }

    /// Keeps a newly decoded snapshot and drops what no later one can use:
    /// the server's baselines only move forward, and none is older than
    /// `MAX_BASELINE_AGE` ticks.
    fn keep(&mut self, baseline: Option<Tick>, snapshot: S) {
        let oldest = snapshot.tick().0.saturating_sub(MAX_BASELINE_AGE);
        let floor = baseline.map_or(oldest, |b| b.0.max(oldest));
        while self.kept.front().is_some_and(|s| s.tick().0 < floor) {
            self.kept.pop_front();
        }
        self.kept.push_back(snapshot);
    }

    fn newest(&self) -> Option<&S> {
        self.kept.back()
    }

    fn clear(&mut self) {
        self.kept.clear();
    }
}

/// A connected player of game `G`.
pub struct Client<G: ClientGame> {
    ws: Ws,
    url: String,
    welcome: Welcome,
    options: ClientOptions,
    /// Decoded snapshots still usable as baselines, oldest first.
    history: Baselines<Snapshot<G::Entity>>,
    next_seq: u32,
    /// The newest event `seq` received in this session (0: none): a resume
    /// states it, so the server sends only what came after.
    last_event: u32,
    /// Newest decoded tick not yet acknowledged to the server.
    unacked: Option<Tick>,
    epoch: Instant,
    rtt: Option<Duration>,
    buf: Vec<u8>,
    /// Fits the server's tick grid, for timed inputs.
    clock: InputClock,
    /// Inputs sent and not known to be superseded, for prediction.
    sent_inputs: VecDeque<predict::SentInput<G::Input>>,
    prediction: predict::PredictionState<G::Entity>,
    /// What the player sees now, in ticks (`set_view`).
    view: Option<f64>,
    /// Redirects followed to get a seat (a node with no room sent it on).
    redirects: u32,
    /// Moves to another node followed (cluster drains).
    migrations: u32,
    /// A move being followed: the new URL and the attempts' task.
    moving: Option<(String, Moving)>,
}

use cluster::{open_following, Moving};

impl<G: ClientGame> Client<G> {
    /// Connects to `url` (e.g. `ws://127.0.0.1:7777/ws?match=1`) and joins.
    /// A node of a cluster with no room answers with a redirect (HTTP 307
    /// to another node, with a ticket), which this follows; later
    /// reconnects go to the node it ended up on.
    pub async fn connect(url: &str, options: ClientOptions) -> Result<Self, ClientError> {
        let opened = open_following(url, &options, Some(G::schema_hash())).await?;
        let mut client = Self::joined(opened.ws, &opened.url, opened.welcome, options);
        client.redirects = opened.redirects;
        Ok(client)
    }

    /// Connects and resumes the player of session `token` (from an earlier
    /// `Welcome`), with its entity, within the server's reconnect grace.
    pub async fn resume(
        url: &str,
        token: SessionToken,
        options: ClientOptions,
    ) -> Result<Self, ClientError> {
        let (ws, welcome) = open(url, &options, Some(token), 0, Some(G::schema_hash())).await?;
        Ok(Self::joined(ws, url, welcome, options))
    }

    /// As [`resume`](Self::resume), for a client that received this
    /// session's events up to `last_event` (a count it kept, e.g. across a
    /// restart of the app): the server sends only the ones after it.
    pub async fn resume_from(
        url: &str,
        token: SessionToken,
        last_event: u32,
        options: ClientOptions,
    ) -> Result<Self, ClientError> {
        let hash = Some(G::schema_hash());
        let (ws, welcome) = open(url, &options, Some(token), last_event, hash).await?;
        let mut client = Self::joined(ws, url, welcome, options);
        client.last_event = last_event;
        Ok(client)
    }

    fn joined(ws: Ws, url: &str, welcome: Welcome, options: ClientOptions) -> Self {
        let welcome_rate = welcome.tick_rate;
        Client {
            ws,
            url: url.to_string(),
            welcome,
            options,
            history: Baselines::new(),
            next_seq: 1,
            last_event: 0,
            unacked: None,
            epoch: Instant::now(),
            rtt: None,
            buf: Vec::with_capacity(64),
            clock: InputClock::new(welcome_rate),
            sent_inputs: VecDeque::new(),
            prediction: predict::PredictionState::default(),
            view: None,
            redirects: 0,
            migrations: 0,
            moving: None,
        }
    }

    /// Reconnects to the same server and resumes this player, retrying with
    /// exponential backoff per `ClientOptions::reconnect`. The next snapshot
    /// is a full one; input sequence numbers continue where they were.
    pub async fn reconnect(&mut self) -> Result<u32, ClientError> {
        match self.reconnect_or_rejoin().await? {
            ClientEvent::Resumed { attempts } | ClientEvent::Rejoined { attempts, .. } => {
                Ok(attempts)
            }
            _ => unreachable!("reconnect_or_rejoin returns Resumed or Rejoined"),
        }
    }

    async fn reconnect_or_rejoin(&mut self) -> Result<ClientEvent<G::Event>, ClientError> {
        let policy = self.options.reconnect.unwrap_or_default();
        let mut backoff = policy.initial_backoff;
        let mut last = ClientError::Timeout;
        let mut session_gone = false;
        for attempt in 1..=policy.attempts.max(1) {
            let opened = if session_gone {
                self.rejoin().await
            } else {
                open(
                    &self.url,
                    &self.options,
                    Some(self.welcome.session_token),
                    self.last_event,
                    Some(G::schema_hash()),
                )
                .await
                .map(|o| (o, true))
            };
            match opened {
                Ok(((ws, welcome), same_match)) => {
                    self.ws = ws;
                    // Another match, or the same one after a pause: its tick
                    // grid is fitted again from the coming snapshots.
                    self.clock = InputClock::new(welcome.tick_rate);
                    self.prediction.reset();
                    if session_gone {
                        // A new entity: the old one's inputs mean nothing to it.
                        self.sent_inputs.clear();
                    }
                    self.welcome = welcome;
                    self.history.clear();
                    self.unacked = None;
                    if session_gone {
                        self.last_event = 0;
                    }
                    return Ok(if session_gone {
                        ClientEvent::Rejoined {
                            attempts: attempt,
                            same_match,
                        }
                    } else {
                        ClientEvent::Resumed { attempts: attempt }
                    });
                }
                // The session is gone: resuming cannot help; joining again may.
                Err(e) if e.is_session_gone() && !session_gone => {
                    if !policy.rejoin {
                        return Err(e);
                    }
                    session_gone = true;
                    last = e;
                    continue;
                }
                Err(e) => last = e,
            }
            tokio::time::sleep(backoff).await;
            backoff = (backoff * 2).min(policy.max_backoff);
        }
        Err(last)
    }

    /// Joins as a new player: the old match if it still exists, else quick-join.
    async fn rejoin(&mut self) -> Result<((Ws, Welcome), bool), ClientError> {
        let same = with_query(
            &self.url,
            "match",
            Some(&self.welcome.match_id.0.to_string()),
        );
        match open(&same, &self.options, None, 0, Some(G::schema_hash())).await {
            Ok(opened) => Ok((opened, true)),
            Err(ClientError::Refused {
                status: 404 | 409 | 410,
                ..
            }) => {
                let quick = with_query(&self.url, "match", None);
                let opened = open_following(&quick, &self.options, Some(G::schema_hash())).await?;
                self.url = opened.url;
                self.redirects += opened.redirects;
                Ok(((opened.ws, opened.welcome), false))
            }
            Err(e) => Err(e),
        }
    }

    pub fn welcome(&self) -> &Welcome {
        &self.welcome
    }

    /// The newest decoded snapshot.
    pub fn world(&self) -> Option<&Snapshot<G::Entity>> {
        self.history.newest()
    }

    /// What this connection may do: a player steers an entity, a spectator
    /// or an admin watches (`?spectate=1`, or the token's role).
    pub fn role(&self) -> Role {
        Role::from_wire(self.welcome.role).unwrap_or_default()
    }

    /// The newest event `seq` received in this session (0: none).
    pub fn last_event(&self) -> u32 {
        self.last_event
    }

    /// The newest round-trip time measured by `ping`.
    pub fn rtt(&self) -> Option<Duration> {
        self.rtt
    }

    async fn send(&mut self, msg: &ClientMsg<G::Input, G::Message>) -> Result<(), ClientError> {
        self.buf.clear();
        encode_client(msg, &mut self.buf);
        self.ws
            .send(Message::Binary(self.buf.clone().into()))
            .await?;
        Ok(())
    }

    /// Sends an input and returns its sequence number.
    pub async fn send_input(&mut self, input: G::Input) -> Result<u32, ClientError> {
        let seq = self.next_seq;
        self.next_seq += 1;
        let ack = if self.options.ack == AckMode::WithInputs {
            self.unacked.take()
        } else {
            None
        };
        self.remember(seq, None, &input);
        self.send(&ClientMsg::Input {
            seq,
            ack,
            tick: None,
            view: 0,
            input,
        })
        .await?;
        Ok(seq)
    }

    fn remember(&mut self, seq: u32, tick: Option<Tick>, input: &G::Input) {
        if self.sent_inputs.len() >= predict::KEPT_INPUTS {
            self.sent_inputs.pop_front();
        }
        self.sent_inputs.push_back((seq, tick, input.clone()));
    }

    /// When to sample and send the next timed input, and the server tick it
    /// is for (docs/PROTOCOL.md, "Input timing"): sleep until `at`, sample
    /// the player's controls, and pass both to
    /// [`send_timed_input`](Self::send_timed_input). `None` until the first
    /// snapshot; meanwhile inputs go untimed (`send_input`).
    pub fn input_due(&self) -> Option<InputDue> {
        self.clock.due(Instant::now())
    }

    /// Sends an input meant for server tick `tick` (from
    /// [`input_due`](Self::input_due)); it arrives just before that tick, so
    /// it waits for no tick boundary. Returns its sequence number.
    pub async fn send_timed_input(
        &mut self,
        tick: Tick,
        input: G::Input,
    ) -> Result<u32, ClientError> {
        let seq = self.next_seq;
        self.next_seq += 1;
        let ack = if self.options.ack == AckMode::WithInputs {
            self.unacked.take()
        } else {
            None
        };
        self.remember(seq, Some(tick), &input);
        self.send(&ClientMsg::Input {
            seq,
            ack,
            tick: Some(tick.low_bits()),
            view: self.view_back(tick),
            input,
        })
        .await?;
        self.clock.sent(tick);
        Ok(seq)
    }

    /// The tick (a fraction of one, when interpolating) of the world the
    /// player sees now; timed inputs state it (`view`), so the game can
    /// judge them against that world (lag compensation). `None` states nothing.
    pub fn set_view(&mut self, tick: Option<f64>) {
        self.view = tick;
    }

    /// The view as the wire carries it: sixteenths of a tick behind `tick`.
    fn view_back(&self, tick: Tick) -> u16 {
        match self.view {
            Some(view) if view < f64::from(tick.0) => ((f64::from(tick.0) - view) * 16.0)
                .round()
                .clamp(1.0, f64::from(u16::MAX))
                as u16,
            _ => 0,
        }
    }

    /// The input clock: how far ahead inputs are sent, and the margin kept.
    pub fn input_clock(&self) -> &InputClock {
        &self.clock
    }

    /// Sends a game message (chat, "ready"). The server checks that this
    /// connection's role may send its type, then the game handles it in
    /// order with this client's inputs; a refusal comes back through `recv`
    /// as `ClientEvent::Denied`.
    pub async fn send_message(&mut self, message: G::Message) -> Result<(), ClientError> {
        self.send(&ClientMsg::Message(message)).await
    }

    /// Acknowledges `tick` (with `AckMode::Manual`; the other modes do it themselves).
    pub async fn ack(&mut self, tick: Tick) -> Result<(), ClientError> {
        self.send(&ClientMsg::Ack { tick }).await
    }

    /// Sends a `Ping`; its `Pong` comes back through `recv`.
    pub async fn ping(&mut self) -> Result<(), ClientError> {
        let client_time_us = self.epoch.elapsed().as_micros() as u64;
        self.send(&ClientMsg::Ping { client_time_us }).await
    }

    /// Sends a normal close frame.
    pub async fn close(mut self) -> Result<(), ClientError> {
        self.ws.close(None).await?;
        Ok(())
    }

    /// Waits for the next snapshot or pong, decodes it and (per `AckMode`)
    /// acknowledges it. Cancel-safe while waiting for a frame.
    pub async fn recv(&mut self) -> Result<ClientEvent<G::Event>, ClientError> {
        if self.moving.is_some() {
            // A move under way when an earlier `recv` was dropped.
            return self.follow_move(None).await;
        }
        let (msg, bytes) = match next_server_msg(&mut self.ws).await {
            Ok(m) => m,
            Err(ClientError::Closed {
                code: MOVED,
                reason,
            }) => {
                return self.follow_move(Some(&reason)).await;
            }
            Err(e) if self.options.reconnect.is_some() && e.is_connection_loss() => {
                return self.reconnect_or_rejoin().await;
            }
            Err(e) => return Err(e),
        };
        match msg {
            ServerMsg::Snapshot {
                tick,
                baseline,
                payload,
            } => {
                self.clock.on_snapshot(tick, Instant::now());
                let base = self.history.find(tick, baseline)?;
                let snapshot = decode_delta(base, tick, &payload)?;
                self.history.keep(baseline, snapshot);
                self.unacked = Some(tick);
                if self.options.ack == AckMode::Immediate {
                    self.unacked = None;
                    // Best effort: a socket the server has just closed fails
                    // the write, and the next `recv` reads why (the close
                    // frame) instead of losing it to a broken pipe.
                    let _ = self.ack(tick).await;
                }
                Ok(ClientEvent::Snapshot {
                    tick,
                    baseline,
                    bytes,
                })
            }
            ServerMsg::Pong {
                client_time_us,
                server_tick,
            } => {
                let now = self.epoch.elapsed().as_micros() as u64;
                let rtt = Duration::from_micros(now.saturating_sub(client_time_us));
                self.rtt = Some(rtt);
                self.clock.seed_rtt(rtt);
                Ok(ClientEvent::Pong { rtt, server_tick })
            }
            ServerMsg::Event { seq, body } => {
                self.last_event = seq;
                let event = read_event(&body)?;
                Ok(ClientEvent::Event { seq, event })
            }
            ServerMsg::EventsMissed { first, last } => {
                self.last_event = self.last_event.max(last);
                Ok(ClientEvent::EventsMissed { first, last })
            }
            ServerMsg::InputTiming {
                lead_min,
                lead_max,
                late,
            } => {
                let (lead_min, lead_max) = (
                    f64::from(lead_min) / 10_000.0,
                    f64::from(lead_max) / 10_000.0,
                );
                self.clock.on_report(lead_min, lead_max, late);
                Ok(ClientEvent::InputTiming {
                    lead_min,
                    lead_max,
                    late,
                    bytes,
                })
            }
            ServerMsg::Ended { seq, result } => {
                self.last_event = seq;
                let result = read_event(&result)?;
                Ok(ClientEvent::Ended { seq, result })
            }
            ServerMsg::Error {
                code: ErrorCode::Denied,
                message,
            } => Ok(ClientEvent::Denied { message }),
            ServerMsg::Notice { text } => Ok(ClientEvent::Notice { text }),
            ServerMsg::Welcome(_) => Err(ClientError::Unexpected("second Welcome")),
            ServerMsg::Error { .. } => unreachable!("next_server_msg turns errors into Err"),
        }
    }
}

impl<G> Client<G>
where
    G: crate::game::Predict,
    G::Entity: PartialEq,
    G::Input: Default,
{
    /// The player's own entity as predicted: the newest snapshot's state,
    /// then every input sent since that the server had not yet applied in it,
    /// each at the tick it was meant for (timed inputs; an untimed one
    /// counts as the next tick's), stepped by the game's own
    /// [`Predict`](crate::game::Predict) code. Call it when drawing; after
    /// each new snapshot it starts again from the server's state (the
    /// reconciliation). `None` before the entity is in a snapshot.
    pub fn predict(&mut self) -> Option<G::Entity> {
        let snapshot = self.history.newest()?;
        predict::run::<G>(
            &mut self.prediction,
            &mut self.sent_inputs,
            snapshot,
            self.welcome.entity_id,
            self.welcome.tick_rate,
        )
    }

    /// How many new snapshots changed what had been predicted for a tick
    /// (a misprediction corrected): 0 while the prediction holds.
    pub fn corrections(&self) -> u64 {
        self.prediction.corrections()
    }
}

/// An event's bits, read by the game's event set.
fn read_event<V: MessageSet>(body: &[u8]) -> Result<V, ClientError> {
    let mut r = BitReader::new(body);
    let event = V::read(&mut r).map_err(ClientError::Event)?;
    r.expect_end().map_err(ClientError::Event)?;
    Ok(event)
}

/// The next protocol message, skipping WebSocket control frames.
async fn next_server_msg(ws: &mut Ws) -> Result<(ServerMsg, usize), ClientError> {
    loop {
        let message = match ws.next().await {
            None => {
                return Err(ClientError::Closed {
                    code: 1006,
                    reason: "connection closed without a close frame".into(),
                })
            }
            Some(m) => m?,
        };
        match message {
            Message::Binary(bytes) => {
                let msg = decode_server(&bytes, MAX_SERVER_MESSAGE)?;
                // A refused message is news, not the end of the connection.
                if let ServerMsg::Error { code, message } = msg {
                    if code != ErrorCode::Denied {
                        return Err(ClientError::Server { code, message });
                    }
                    return Ok((ServerMsg::Error { code, message }, bytes.len()));
                }
                return Ok((msg, bytes.len()));
            }
            Message::Close(frame) => {
                let (code, reason) = frame
                    .map(|f| (u16::from(f.code), f.reason.to_string()))
                    .unwrap_or((1005, String::new()));
                return Err(ClientError::Closed { code, reason });
            }
            Message::Text(_) => return Err(ClientError::Unexpected("text frame")),
            Message::Ping(_) | Message::Pong(_) | Message::Frame(_) => continue,
        }
    }
}

/// `url` with every `key=` query parameter removed, and `key=value` added
/// when given.
fn with_query(url: &str, key: &str, value: Option<&str>) -> String {
    let (base, query) = url.split_once('?').unwrap_or((url, ""));
    let mut params: Vec<String> = query
        .split('&')
        .filter(|p| !p.is_empty() && p.split('=').next() != Some(key))
        .map(str::to_string)
        .collect();
    if let Some(value) = value {
        params.push(format!("{key}={value}"));
    }
    if params.is_empty() {
        base.to_string()
    } else {
        format!("{base}?{}", params.join("&"))
    }
}

/// rustls reports a failed handshake (an untrusted certificate, say) as an
/// I/O error: it is a `Tls` error, which a reconnect would only repeat.
fn tls_error(e: WsError) -> ClientError {
    match e {
        WsError::Io(io) if io.get_ref().is_some() => {
            let kind = io.kind();
            match io
                .into_inner()
                .map(|inner| inner.downcast::<rustls::Error>())
            {
                Some(Ok(tls)) => ClientError::Tls(*tls),
                Some(Err(other)) => WsError::Io(std::io::Error::new(kind, other)).into(),
                None => WsError::Io(kind.into()).into(),
            }
        }
        e => e.into(),
    }
}

/// Opens a WebSocket to `url`, sends `Join` and waits for `Welcome`. A
/// resumed session is named in the URL (`resume=`), so the server hands the
/// seat over before the upgrade.
/// A typed client states its schema hash (`schema=`): the server refuses
/// another game's client before the upgrade, and leaves the schema text out
/// of `Welcome`. Without it (`None`), `Welcome` carries the schema.
async fn open(
    url: &str,
    options: &ClientOptions,
    resume: Option<SessionToken>,
    last_event: u32,
    schema: Option<u64>,
) -> Result<(Ws, Welcome), ClientError> {
    let mut url = match resume {
        Some(token) => with_query(url, "resume", Some(&token.to_hex())),
        None => url.to_string(),
    };
    if let Some(hash) = schema {
        url = with_query(&url, "schema", Some(&hash_hex(hash)));
    }
    let config = WebSocketConfig::default()
        .read_buffer_size(8 * 1024)
        .write_buffer_size(0)
        .max_message_size(Some(MAX_SERVER_MESSAGE))
        .max_frame_size(Some(MAX_SERVER_MESSAGE));
    let timeout = options.connect_timeout;
    let connector = options
        .tls
        .as_ref()
        .map(|tls| tokio_tungstenite::Connector::Rustls(tls.0.clone()));
    let connect =
        tokio_tungstenite::connect_async_tls_with_config(url, Some(config), true, connector);
    let (mut ws, _) = match tokio::time::timeout(timeout, connect).await {
        Err(_) => return Err(ClientError::Timeout),
        Ok(Err(WsError::Http(response))) => {
            let status = response.status().as_u16();
            let location = response
                .headers()
                .get("location")
                .and_then(|v| v.to_str().ok());
            if let (307 | 308, Some(location)) = (status, location) {
                return Err(ClientError::Redirected {
                    location: location.to_string(),
                });
            }
            let body = response
                .body()
                .as_ref()
                .map(|b| String::from_utf8_lossy(b).into_owned())
                .unwrap_or_default();
            return Err(ClientError::Refused { status, body });
        }
        Ok(Err(e)) => return Err(tls_error(e)),
        Ok(Ok(c)) => c,
    };
    let mut join = Vec::with_capacity(24);
    encode_client::<(), NoMessages>(
        &ClientMsg::Join {
            version: PROTOCOL_VERSION,
            resume,
            last_event,
        },
        &mut join,
    );
    ws.send(Message::Binary(join.into())).await?;
    let (msg, _) = tokio::time::timeout(timeout, next_server_msg(&mut ws))
        .await
        .map_err(|_| ClientError::Timeout)??;
    match msg {
        ServerMsg::Welcome(w) => match schema {
            Some(hash) if w.schema_hash != hash => Err(ClientError::SchemaMismatch {
                client: hash_hex(hash),
                server: hash_hex(w.schema_hash),
            }),
            _ => Ok((ws, w)),
        },
        _ => Err(ClientError::Unexpected("expected Welcome")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_parameters_are_replaced_added_and_removed() {
        let url = "ws://h:1/ws?match=3&token=abc";
        assert_eq!(with_query(url, "match", None), "ws://h:1/ws?token=abc");
        assert_eq!(
            with_query(url, "match", Some("9")),
            "ws://h:1/ws?token=abc&match=9"
        );
        assert_eq!(
            with_query("ws://h:1/ws", "resume", Some("ff")),
            "ws://h:1/ws?resume=ff"
        );
        assert_eq!(
            with_query("ws://h:1/ws?match=3", "match", None),
            "ws://h:1/ws"
        );
    }
}
