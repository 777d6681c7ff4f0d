//! One player's connection, from the upgraded socket to its end: the join
//! handshake (`join.rs`), then a reader task (`reader.rs`: frames in,
//! validated messages to the match) and the writer (`writer.rs`: snapshots
//! out, limits, every send under a deadline).

mod join;
mod reader;
mod roster;
mod send;
mod writer;

pub(crate) use roster::Roster;
pub(crate) use writer::TAKEN_OVER;

use super::App;
use crate::game::Game;
use crate::lobby::Seat;
use crate::protocol::{encode_server, ServerMsg, SessionToken};
use crate::tick::OutboundSlot;
use bytes::Bytes;
use crossbeam::queue::ArrayQueue;
use futures_util::task::AtomicWaker;
use futures_util::{SinkExt, StreamExt};
use std::net::IpAddr;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio_tungstenite::tungstenite::error::ProtocolError;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::tungstenite::{Error as WsError, Message};
use tokio_tungstenite::WebSocketStream;

/// Notices a connection's queue holds beyond the event log: a gap notice,
/// the result and refusals.
const NOTICE_HEADROOM: usize = 16;

/// The close reason every player gets when the server stops.
pub(crate) const SHUTDOWN_REASON: &str = "server shutting down; retry in 5s";

/// How a connection ended, and what becomes of its seat.
struct End {
    reason: String,
    kind: EndKind,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum EndKind {
    /// A goodbye or a violation: the player leaves.
    Left,
    /// A lost connection: the player may come back to the same entity.
    Gone,
    /// A newer connection of the same player takes the seat.
    TakenOver,
}

impl End {
    fn left(reason: impl Into<String>) -> Self {
        End {
            reason: reason.into(),
            kind: EndKind::Left,
        }
    }

    fn gone(reason: impl Into<String>) -> Self {
        End {
            reason: reason.into(),
            kind: EndKind::Gone,
        }
    }

    fn taken_over(reason: impl Into<String>) -> Self {
        End {
            reason: reason.into(),
            kind: EndKind::TakenOver,
        }
    }
}

/// How often a connection checks its timeouts, resets its rate budgets and
/// reports its counts: limits are checked at this granularity rather than
/// per frame, so the per-frame path reads no clock.
fn housekeeping_period(config: &crate::config::Config) -> Duration {
    [
        Duration::from_secs(1),
        config.heartbeat_interval / 2,
        config.heartbeat_timeout / 2,
        config.ack_timeout / 2,
    ]
    .into_iter()
    .min()
    .unwrap_or(Duration::from_secs(1))
    .max(Duration::from_millis(10))
}

/// Game messages allowed per housekeeping window.
fn message_budget(config: &crate::config::Config) -> u32 {
    let window = housekeeping_period(config).as_secs_f64();
    ((f64::from(config.max_messages_per_second) * window).ceil() as u32).max(1)
}

/// Inputs and pings allowed per housekeeping window.
fn budgets(config: &crate::config::Config) -> (u32, u32) {
    let window = housekeeping_period(config).as_secs_f64();
    let per_window = |per_second: u32| ((f64::from(per_second) * window).ceil() as u32).max(1);
    (
        per_window(config.max_inputs_per_second),
        per_window(config.max_pings_per_second),
    )
}

/// Counts a closed connection under a short, fixed reason label.
pub(crate) fn count_close(reason: &'static str) {
    debug_assert!(
        CLOSE_REASONS.contains(&reason),
        "list {reason} in CLOSE_REASONS"
    );
    metrics::counter!("tickwire_connection_closes_total", "reason" => reason).increment(1);
}

/// Every label `count_close` uses, so the series exist from the start.
pub(crate) const CLOSE_REASONS: &[&str] = &[
    "going_away",
    "protocol_error",
    "text_frame",
    "undecodable",
    "policy",
    "too_large",
    "server_error",
    "try_again",
    "taken_over",
    "other",
    "disconnected",
    "client_closed",
    "client_going_away",
    "connection_error",
    "send_timeout",
];

/// The metric label of a close code.
fn close_label(code: CloseCode) -> &'static str {
    match code {
        CloseCode::Away => "going_away",
        CloseCode::Protocol => "protocol_error",
        CloseCode::Unsupported => "text_frame",
        CloseCode::Invalid => "undecodable",
        CloseCode::Policy => "policy",
        CloseCode::Size => "too_large",
        CloseCode::Error => "server_error",
        CloseCode::Again => "try_again",
        CloseCode::Library(TAKEN_OVER) => "taken_over",
        _ => "other",
    }
}

fn close_message(code: CloseCode, reason: &str) -> Message {
    Message::Close(Some(CloseFrame {
        code,
        reason: reason.into(),
    }))
}

/// A server message encoded once, for many connections (an operator's notice).
pub(crate) fn encode_notice(msg: &ServerMsg) -> Bytes {
    encode(msg)
}

fn encode(msg: &ServerMsg) -> Bytes {
    let mut out = Vec::with_capacity(32);
    encode_server(msg, &mut out);
    Bytes::from(out)
}

/// What a WebSocket error means for the connection, the same before and
/// after `Join`: `Ok` a close frame to send (the peer broke a rule),
/// `Err` an end without one (the peer is gone).
fn ws_error_end(e: &WsError) -> Result<(CloseCode, String), End> {
    match e {
        WsError::Capacity(e) => Ok((CloseCode::Size, format!("message too large: {e}"))),
        WsError::Utf8(_) => Ok((
            CloseCode::Invalid,
            "invalid UTF-8 in a text or close frame".into(),
        )),
        // A vanished peer (network drop, killed app): it may come back.
        WsError::Protocol(ProtocolError::ResetWithoutClosingHandshake) => {
            count_close("disconnected");
            Err(End::gone("connection reset without a close frame"))
        }
        WsError::Protocol(e) => Ok((
            CloseCode::Protocol,
            format!("WebSocket protocol error: {e}"),
        )),
        e => {
            count_close("connection_error");
            Err(End::gone(format!("connection error: {e}")))
        }
    }
}

/// What the reader (or the lobby) asks the writer, the sink's only owner, to send.
enum Control {
    Frame(Bytes),
    Close(CloseCode, String),
    /// A newer connection takes this seat over: close with 4001 and hand it on.
    Evict,
}

/// State the reader updates and the writer reads. Each counter has a single
/// writing task, so updating it never contends; the writer folds them into
/// the process-wide metrics once per housekeeping period, not once per frame.
struct Shared {
    /// Newest tick the client acknowledged (0: none yet).
    acked: AtomicU32,
    /// Set by the reader on every frame; taken by the writer's housekeeping.
    heard: AtomicBool,
    bytes_in: AtomicU64,
    inputs: AtomicU64,
    inputs_dropped: AtomicU64,
    inputs_over_rate: AtomicU64,
    pings_dropped: AtomicU64,
    /// Inputs received in the current housekeeping window (the rate limit).
    window_inputs: AtomicU32,
    /// Pings received in the current housekeeping window.
    window_pings: AtomicU32,
    /// Game messages received in the current housekeeping window.
    window_messages: AtomicU32,
    /// Game messages refused (by role, rate or the game) on this connection.
    denials: AtomicU32,
    /// Frames for the writer to send; small and bounded.
    control: ArrayQueue<Control>,
    reader_done: AtomicBool,
    writer: AtomicWaker,
}

impl Shared {
    fn new() -> Self {
        Shared {
            acked: AtomicU32::new(0),
            heard: AtomicBool::new(false),
            bytes_in: AtomicU64::new(0),
            inputs: AtomicU64::new(0),
            inputs_dropped: AtomicU64::new(0),
            inputs_over_rate: AtomicU64::new(0),
            pings_dropped: AtomicU64::new(0),
            window_inputs: AtomicU32::new(0),
            window_pings: AtomicU32::new(0),
            window_messages: AtomicU32::new(0),
            denials: AtomicU32::new(0),
            control: ArrayQueue::new(4),
            reader_done: AtomicBool::new(false),
            writer: AtomicWaker::new(),
        }
    }

    fn send_control(&self, control: Control) {
        match control {
            // A close must get through, even past queued pongs.
            Control::Close(..) | Control::Evict => {
                self.control.force_push(control);
            }
            Control::Frame(_) => {
                let _ = self.control.push(control);
            }
        }
        self.writer.wake();
    }

    /// Counts a refused message; returns the count so far.
    fn deny(&self) -> u32 {
        self.denials.fetch_add(1, Ordering::Relaxed) + 1
    }

    fn finish_reading(&self) {
        self.reader_done.store(true, Ordering::Release);
        self.writer.wake();
    }

    /// The next control frame, or `None` once the reader is done and nothing is left.
    fn poll_control(&self, cx: &mut Context<'_>) -> Poll<Option<Control>> {
        let next = || {
            if let Some(c) = self.control.pop() {
                Some(Some(c))
            } else if self.reader_done.load(Ordering::Acquire) {
                Some(None)
            } else {
                None
            }
        };
        if let Some(n) = next() {
            return Poll::Ready(n);
        }
        self.writer.register(cx.waker());
        next().map_or(Poll::Pending, Poll::Ready)
    }
}

/// Runs a connection to its end. `resumed` is the session token the
/// connection was opened with (`/ws?resume=`), if any. However it ends, the
/// seat is released: handed over, parked, or dropped (the player leaves).
pub(crate) async fn run<G, S>(
    mut ws: WebSocketStream<S>,
    mut seat: Seat<G>,
    app: Arc<App<G>>,
    peer: Option<IpAddr>,
    resumed: Option<SessionToken>,
    send_schema: bool,
) where
    G: Game,
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    // Room for a resume's whole replay (the log, plus its gap notice) and a
    // few refusals besides.
    let slot = Arc::new(OutboundSlot::new(
        app.config.outbound_queue,
        app.config.event_log + NOTICE_HEADROOM,
    ));
    // A newer connection of this player may take the seat over even while
    // this one is still in its handshake.
    let evicted = Arc::new(tokio::sync::Notify::new());
    let notify = evicted.clone();
    app.lobby
        .on_evict(&seat, Arc::new(move || notify.notify_one()));
    let handshake = join::handshake(&mut ws, &mut seat, &slot, &app, resumed, peer, send_schema);
    let outcome = tokio::select! {
        outcome = handshake => outcome,
        _ = evicted.notified() => Err(join::Refused::TakenOver),
    };
    let own = match outcome {
        Ok(own) => own,
        Err(join::Refused::TakenOver) => {
            count_close("taken_over");
            let close = close_message(
                CloseCode::from(TAKEN_OVER),
                "taken over by a newer connection",
            );
            let _ = tokio::time::timeout(app.config.send_timeout, ws.send(close)).await;
            app.lobby.release(seat, true);
            return;
        }
        Err(join::Refused::Other) => {
            app.lobby.abandon(seat, resumed);
            return;
        }
    };
    let player = seat.player();
    let match_id = seat.match_handle().id;

    // A reader task and the writer (here). The writer ends when the reader
    // says it is done; the reader is aborted when the writer ends, so neither
    // polls a cancellation future on its per-frame path.
    let (sink, stream) = ws.split();
    let shared = Arc::new(Shared::new());
    let evicted = Arc::downgrade(&shared);
    app.lobby.on_evict(
        &seat,
        Arc::new(move || {
            if let Some(shared) = evicted.upgrade() {
                shared.send_control(Control::Evict);
            }
        }),
    );
    let on_roster = app.roster.enter(player, match_id, &shared);
    let reader = tokio::spawn(reader::read_loop::<G, S>(
        stream,
        seat.input_sender(),
        shared.clone(),
        app.clone(),
    ));
    let writer_end = writer::write_loop(sink, (player, own), slot, shared, app.clone()).await;
    drop(on_roster);
    reader.abort();
    // A goodbye the reader saw (a close frame, a violation) outranks the
    // writer's view: once the peer's close arrives, the writer's sends fail.
    let end = match (writer_end, reader.await) {
        (Some(end), _) if end.kind == EndKind::TakenOver => end,
        (_, Ok(end)) if end.kind == EndKind::Left => end,
        (Some(end), _) => end,
        (None, Ok(end)) => end,
        (None, Err(_)) => End::gone("reader stopped"),
    };
    // Peer-influenced text is logged escaped (`?`), never raw.
    match end.kind {
        EndKind::Gone => {
            tracing::info!(player = player.0, match_id = %match_id, reason = ?end.reason, "player disconnected; may resume")
        }
        EndKind::Left => {
            tracing::info!(player = player.0, match_id = %match_id, reason = ?end.reason, peer = ?peer, "player left")
        }
        EndKind::TakenOver => {
            tracing::info!(player = player.0, match_id = %match_id, "connection taken over by a newer one")
        }
    }
    app.lobby.release(seat, end.kind != EndKind::Left);
}
