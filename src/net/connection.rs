//! One player's connection: the join handshake, then a reader task (frames in,
//! validated messages to the match) and a writer task (snapshots out).

use super::App;
use crate::game::Game;
use crate::lobby::{InputSender, Seat};
use crate::protocol::{
    decode_client, encode_server, ClientMsg, ErrorCode, ServerMsg, Tick, Welcome, MAX_BASELINE_AGE,
    PROTOCOL_VERSION,
};
use crate::snapshot::NetEntity;
use crate::tick::{OutboundSlot, Published, SlotClosed};
use bytes::Bytes;
use crossbeam::queue::ArrayQueue;
use futures_util::stream::{SplitSink, SplitStream};
use futures_util::task::AtomicWaker;
use futures_util::{SinkExt, StreamExt};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio_tungstenite::tungstenite::error::ProtocolError;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::tungstenite::{Error as WsError, Message};
use tokio_tungstenite::WebSocketStream;

/// Snapshots a writer remembers as possible baselines: the protocol's
/// baseline age limit, so every delta it encodes can come from the frame cache.
const SENT_RING: usize = MAX_BASELINE_AGE as usize;

/// How a connection ended, and whether its player may come back to the same
/// entity (a lost connection) or has left for good (a goodbye, a violation).
struct End {
    reason: String,
    resumable: bool,
}

impl End {
    fn left(reason: impl Into<String>) -> Self {
        End {
            reason: reason.into(),
            resumable: false,
        }
    }

    fn gone(reason: impl Into<String>) -> Self {
        End {
            reason: reason.into(),
            resumable: true,
        }
    }
}

/// How often a connection checks its timeouts, resets its input budget and
/// reports its counts: timeouts are checked at this granularity rather than
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

/// Inputs allowed per housekeeping window.
fn input_budget(config: &crate::config::Config) -> u32 {
    let per_window =
        f64::from(config.max_inputs_per_second) * housekeeping_period(config).as_secs_f64();
    (per_window.ceil() as u32).max(1)
}

/// Consecutive windows over the input budget that count as a flood.
const FLOOD_WINDOWS: u32 = 3;

/// The snapshots sent to one client that it may still acknowledge.
struct SentRing<E> {
    slots: [Option<Arc<Published<E>>>; SENT_RING],
}

impl<E: NetEntity> SentRing<E> {
    fn new() -> Self {
        SentRing {
            slots: std::array::from_fn(|_| None),
        }
    }

    /// The baseline for the snapshot of tick `now` to a client that
    /// acknowledged `acked` (0: nothing yet). Releases every snapshot that can
    /// never be a baseline again (acks only move forward, and a baseline is at
    /// most `MAX_BASELINE_AGE` ticks old): holding them would keep whole
    /// snapshots of the match alive for nothing.
    fn baseline(&mut self, acked: u32, now: Tick) -> Option<&Published<E>> {
        let oldest_usable = acked.max(now.0.saturating_sub(MAX_BASELINE_AGE));
        for slot in &mut self.slots {
            if slot
                .as_ref()
                .is_some_and(|p| p.snapshot.tick.0 < oldest_usable)
            {
                *slot = None;
            }
        }
        if acked == 0 || acked < oldest_usable || acked >= now.0 {
            return None;
        }
        self.slots[acked as usize % SENT_RING]
            .as_deref()
            .filter(|p| p.snapshot.tick.0 == acked)
    }

    fn remember(&mut self, published: Arc<Published<E>>) {
        let index = published.snapshot.tick.0 as usize % SENT_RING;
        self.slots[index] = Some(published);
    }
}

/// Counts a closed connection under a short, fixed reason label.
pub(crate) fn count_close(reason: &'static str) {
    metrics::counter!("tickwire_connection_closes_total", "reason" => reason).increment(1);
}

/// What the reader asks the writer (the sink's only owner) to send.
enum Control {
    Frame(Bytes),
    Close(CloseCode, String),
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
    /// Inputs received in the current housekeeping window (the rate limit).
    window_inputs: AtomicU32,
    /// Frames the reader asks the writer to send; small and bounded, so a
    /// ping flood only loses its excess pongs.
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
            window_inputs: AtomicU32::new(0),
            control: ArrayQueue::new(4),
            reader_done: AtomicBool::new(false),
            writer: AtomicWaker::new(),
        }
    }

    fn send_control(&self, control: Control) {
        match control {
            // A close must get through, even past queued pongs.
            Control::Close(..) => {
                self.control.force_push(control);
            }
            Control::Frame(_) => {
                let _ = self.control.push(control);
            }
        }
        self.writer.wake();
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

/// The writer's own counts since its last metrics flush.
#[derive(Default)]
struct WriterCounts {
    bytes_out: u64,
    full: u64,
    delta: u64,
    stale: u64,
    payload_sizes: Vec<f64>,
    reported_in: (u64, u64, u64, u64),
}

impl WriterCounts {
    fn flush(&mut self, shared: &Shared) {
        metrics::counter!("tickwire_bytes_out_total")
            .increment(std::mem::take(&mut self.bytes_out));
        metrics::counter!("tickwire_snapshots_sent_total", "kind" => "full")
            .increment(std::mem::take(&mut self.full));
        metrics::counter!("tickwire_snapshots_sent_total", "kind" => "delta")
            .increment(std::mem::take(&mut self.delta));
        metrics::counter!("tickwire_snapshots_stale_total")
            .increment(std::mem::take(&mut self.stale));
        let payload = metrics::histogram!("tickwire_snapshot_payload_bytes");
        for size in self.payload_sizes.drain(..) {
            payload.record(size);
        }
        let now_in = (
            shared.bytes_in.load(Ordering::Relaxed),
            shared.inputs.load(Ordering::Relaxed),
            shared.inputs_dropped.load(Ordering::Relaxed),
            shared.inputs_over_rate.load(Ordering::Relaxed),
        );
        let (b, i, d, r) = self.reported_in;
        metrics::counter!("tickwire_bytes_in_total").increment(now_in.0 - b);
        metrics::counter!("tickwire_inputs_received_total").increment(now_in.1 - i);
        metrics::counter!("tickwire_inputs_dropped_total", "reason" => "queue_full")
            .increment(now_in.2 - d);
        metrics::counter!("tickwire_inputs_dropped_total", "reason" => "rate_limit")
            .increment(now_in.3 - r);
        self.reported_in = now_in;
    }
}

fn encode(msg: &ServerMsg) -> Bytes {
    let mut out = Vec::with_capacity(32);
    encode_server(msg, &mut out);
    Bytes::from(out)
}

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
        _ => "other",
    }
}

fn close_message(code: CloseCode, reason: &str) -> Message {
    Message::Close(Some(CloseFrame {
        code,
        reason: reason.into(),
    }))
}

/// Sends an error message and a close frame, ignoring a peer that is already gone.
async fn refuse<S>(ws: &mut WebSocketStream<S>, code: CloseCode, error: ErrorCode, reason: &str)
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    count_close(close_label(code));
    tracing::info!(
        code = u16::from(code),
        reason,
        "connection refused after the upgrade"
    );
    let msg = encode(&ServerMsg::Error {
        code: error,
        message: reason.to_string(),
    });
    let _ = ws.send(Message::Binary(msg)).await;
    let _ = ws.send(close_message(code, reason)).await;
}

/// Runs a connection to its end. The seat is dropped (the player leaves) when
/// this returns, however it ends.
pub(crate) async fn run<G, S>(
    mut ws: WebSocketStream<S>,
    seat: Seat<G>,
    app: Arc<App<G>>,
    peer: Option<SocketAddr>,
) where
    G: Game,
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let config = &app.config;

    // 1. The first message must be Join, within the handshake timeout.
    let first = tokio::time::timeout(config.handshake_timeout, ws.next()).await;
    let join = match first {
        Ok(Some(Ok(Message::Binary(bytes)))) => {
            decode_client::<G::Input>(&bytes, config.max_message_bytes)
        }
        Ok(Some(Ok(Message::Text(_)))) => {
            return refuse(
                &mut ws,
                CloseCode::Unsupported,
                ErrorCode::ExpectedJoin,
                "text frames are not accepted; send binary frames",
            )
            .await;
        }
        Ok(Some(Ok(_))) => {
            return refuse(
                &mut ws,
                CloseCode::Policy,
                ErrorCode::ExpectedJoin,
                "the first message must be Join",
            )
            .await;
        }
        Ok(Some(Err(e))) => {
            return refuse_ws_error(&mut ws, &e).await;
        }
        Ok(None) => return,
        Err(_) => {
            return refuse(
                &mut ws,
                CloseCode::Policy,
                ErrorCode::ExpectedJoin,
                "no Join within the handshake timeout",
            )
            .await;
        }
    };
    let mut seat = match join {
        Ok(ClientMsg::Join { resume: None, .. }) => seat,
        // Resuming: the parked seat replaces the one reserved for this socket.
        Ok(ClientMsg::Join {
            resume: Some(token),
            ..
        }) => match app.lobby.resume(token) {
            Ok(parked) => parked,
            Err(_) => {
                return refuse(
                    &mut ws,
                    CloseCode::Policy,
                    ErrorCode::InvalidSession,
                    "unknown or expired session token",
                )
                .await;
            }
        },
        Ok(_) => {
            return refuse(
                &mut ws,
                CloseCode::Policy,
                ErrorCode::ExpectedJoin,
                "the first message must be Join",
            )
            .await;
        }
        Err(crate::protocol::ProtocolError::UnsupportedVersion { got, supported }) => {
            let reason =
                format!("protocol version {got} is not supported (this server speaks {supported})");
            return refuse(
                &mut ws,
                CloseCode::Protocol,
                ErrorCode::UnsupportedVersion,
                &reason,
            )
            .await;
        }
        Err(e) => {
            return refuse(
                &mut ws,
                CloseCode::Invalid,
                ErrorCode::ExpectedJoin,
                &e.to_string(),
            )
            .await;
        }
    };
    let player = seat.player();
    let match_id = seat.match_handle().id;

    // 2. Take an entity in the match (its old one, when resuming), then welcome the player.
    let slot = Arc::new(OutboundSlot::new(config.outbound_queue));
    let Some(joined) = seat.join(slot.clone()).await else {
        return refuse(
            &mut ws,
            CloseCode::Again,
            ErrorCode::MatchUnavailable,
            "the match ended",
        )
        .await;
    };
    let welcome = ServerMsg::Welcome(Welcome {
        version: PROTOCOL_VERSION,
        match_id,
        player_id: player,
        entity_id: joined.entity_id,
        tick_rate: config.tick_rate,
        tick: joined.tick,
        session_token: seat.token(),
    });
    if ws.send(Message::Binary(encode(&welcome))).await.is_err() {
        return;
    }
    tracing::info!(player = player.0, match_id = %match_id, peer = ?peer, entity = joined.entity_id.0, "player joined");

    // 3. A reader task and the writer (here). The writer ends when the reader
    // says it is done; the reader is aborted when the writer ends, so neither
    // polls a cancellation future on its per-frame path.
    let (sink, stream) = ws.split();
    let shared = Arc::new(Shared::new());
    let input = seat.input_sender();
    let reader = tokio::spawn(read_loop::<G, S>(
        stream,
        input,
        shared.clone(),
        app.clone(),
    ));
    let writer_end = write_loop(sink, slot, shared, app.clone()).await;
    reader.abort();
    // A goodbye the reader saw (a close frame, a violation) outranks the
    // writer's view: once the peer's close arrives, the writer's sends fail.
    let end = match (writer_end, reader.await) {
        (_, Ok(end)) if !end.resumable => end,
        (Some(end), _) => end,
        (None, Ok(end)) => end,
        (None, Err(_)) => End::gone("reader stopped"),
    };
    if end.resumable {
        tracing::info!(player = player.0, match_id = %match_id, reason = %end.reason, "player disconnected; may resume");
        app.lobby.park(seat);
    } else {
        tracing::info!(player = player.0, match_id = %match_id, reason = %end.reason, "player left");
    }
}

async fn refuse_ws_error<S>(ws: &mut WebSocketStream<S>, e: &WsError)
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    if let WsError::Capacity(_) = e {
        let _ = ws
            .send(close_message(CloseCode::Size, "message too large"))
            .await;
    }
}

/// Reads frames until the peer leaves or breaks a rule; returns why it ended.
async fn read_loop<G, S>(
    stream: SplitStream<WebSocketStream<S>>,
    input: InputSender<G>,
    shared: Arc<Shared>,
    app: Arc<App<G>>,
) -> End
where
    G: Game,
    S: AsyncRead + AsyncWrite + Unpin,
{
    let why = read_frames(stream, input, &shared, &app).await;
    shared.finish_reading();
    why
}

async fn read_frames<G, S>(
    mut stream: SplitStream<WebSocketStream<S>>,
    input: InputSender<G>,
    shared: &Shared,
    app: &App<G>,
) -> End
where
    G: Game,
    S: AsyncRead + AsyncWrite + Unpin,
{
    let max = app.config.max_message_bytes;
    let budget = input_budget(&app.config);
    let server_tick = || input.tick();
    let close = |code: CloseCode, reason: String| {
        // The writer owns the sink and sends the close frame.
        shared.send_control(Control::Close(code, reason.clone()));
        End::left(reason)
    };
    loop {
        let frame = stream.next().await;
        let message = match frame {
            None => {
                count_close("disconnected");
                return End::gone("connection closed without a close frame");
            }
            Some(Err(WsError::Capacity(e))) => {
                return close(CloseCode::Size, format!("message too large: {e}"))
            }
            // A vanished peer (network drop, killed app): it may come back.
            Some(Err(WsError::Protocol(ProtocolError::ResetWithoutClosingHandshake))) => {
                count_close("disconnected");
                return End::gone("connection reset without a close frame");
            }
            Some(Err(WsError::Protocol(e))) => {
                return close(
                    CloseCode::Protocol,
                    format!("WebSocket protocol error: {e}"),
                )
            }
            Some(Err(e)) => {
                count_close("connection_error");
                return End::gone(format!("connection error: {e}"));
            }
            Some(Ok(m)) => m,
        };
        shared.heard.store(true, Ordering::Relaxed);
        let bytes = match message {
            Message::Binary(bytes) => bytes,
            Message::Text(_) => {
                return close(
                    CloseCode::Unsupported,
                    "text frames are not accepted; send binary frames".into(),
                )
            }
            Message::Close(_) => {
                count_close("client_closed");
                return End::left("client closed");
            }
            // tungstenite answers pings itself; a pong only proves liveness.
            Message::Ping(_) | Message::Pong(_) | Message::Frame(_) => continue,
        };
        shared
            .bytes_in
            .fetch_add(bytes.len() as u64, Ordering::Relaxed);
        match decode_client::<G::Input>(&bytes, max) {
            Ok(ClientMsg::Input {
                seq,
                ack,
                input: payload,
            }) => {
                if let Some(tick) = ack {
                    shared.acked.fetch_max(tick.0, Ordering::Relaxed);
                }
                shared.inputs.fetch_add(1, Ordering::Relaxed);
                // Over the rate: dropped here; the writer closes a sustained flood.
                if shared.window_inputs.fetch_add(1, Ordering::Relaxed) >= budget {
                    shared.inputs_over_rate.fetch_add(1, Ordering::Relaxed);
                    continue;
                }
                if !input.send(seq, payload) {
                    shared.inputs_dropped.fetch_add(1, Ordering::Relaxed);
                }
            }
            Ok(ClientMsg::Ack { tick }) => {
                shared.acked.fetch_max(tick.0, Ordering::Relaxed);
            }
            Ok(ClientMsg::Ping { client_time_us }) => {
                let pong = encode(&ServerMsg::Pong {
                    client_time_us,
                    server_tick: server_tick(),
                });
                // A ping flood fills the queue and its excess goes unanswered.
                shared.send_control(Control::Frame(pong));
            }
            Ok(ClientMsg::Join { .. }) => {
                return close(CloseCode::Policy, "Join sent twice".into());
            }
            Err(e) => return close(CloseCode::Invalid, format!("undecodable message: {e}")),
        }
    }
}

/// Sends each tick's snapshot as a delta against the client's acknowledged one,
/// and keeps the connection honest: heartbeat pings, silence and ack timeouts.
async fn write_loop<G, S>(
    mut sink: SplitSink<WebSocketStream<S>, Message>,
    slot: Arc<OutboundSlot<G::Entity>>,
    shared: Arc<Shared>,
    app: Arc<App<G>>,
) -> Option<End>
where
    G: Game,
    S: AsyncRead + AsyncWrite + Unpin,
{
    let config = &app.config;
    let mut sent = SentRing::<G::Entity>::new();
    let mut housekeeping = tokio::time::interval(housekeeping_period(config));
    let budget = input_budget(config);
    let mut flood_windows = 0u32;
    housekeeping.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    housekeeping.tick().await;
    let (mut last_heard, mut last_ping, mut ack_advanced) =
        (Instant::now(), Instant::now(), Instant::now());
    let mut ack_seen = 0u32;
    let mut stale_seen = 0u64;
    let mut counts = WriterCounts::default();
    let shutdown = app.shutdown.clone();
    let cancelled = shutdown.cancelled();
    tokio::pin!(cancelled);

    // What to send the peer (nothing when it is gone), and how the connection
    // ended (`None`: the reader knows, it ended first).
    let (close, end): (Option<(CloseCode, String)>, Option<End>) = loop {
        tokio::select! {
            // Snapshots first: they are the hot path, and polling the other
            // branches when one is ready would be wasted work.
            biased;
            _ = slot.wait() => {
                let Some(published) = slot.take_newest() else {
                    if let Some(why) = slot.closed() {
                        let (code, reason) = match why {
                            SlotClosed::MatchFailed => (CloseCode::Error, "the match failed"),
                            _ if app.shutdown.is_cancelled() => (CloseCode::Away, "server shutting down"),
                            _ => (CloseCode::Away, "the match ended"),
                        };
                        break (Some((code, reason.into())), Some(End::left(reason)));
                    }
                    continue;
                };
                let baseline = sent.baseline(shared.acked.load(Ordering::Relaxed), published.snapshot.tick);
                if baseline.is_some() { counts.delta += 1 } else { counts.full += 1 }
                let frame = published.frame(baseline);
                counts.bytes_out += frame.len() as u64;
                counts.payload_sizes.push(frame.len() as f64);
                sent.remember(published);
                if sink.send(Message::Binary(frame)).await.is_err() {
                    break (None, Some(End::gone("send failed")));
                }
            }
            control_msg = std::future::poll_fn(|cx| shared.poll_control(cx)) => match control_msg {
                Some(Control::Frame(bytes)) => {
                    if sink.send(Message::Binary(bytes)).await.is_err() {
                        break (None, Some(End::gone("send failed")));
                    }
                }
                Some(Control::Close(code, reason)) => break (Some((code, reason)), None),
                None => break (None, None),
            },
            _ = housekeeping.tick() => {
                let now = Instant::now();
                counts.stale += slot.stale_dropped() - stale_seen;
                stale_seen = slot.stale_dropped();
                counts.flush(&shared);
                if shared.window_inputs.swap(0, Ordering::Relaxed) > budget {
                    flood_windows += 1;
                    if flood_windows >= FLOOD_WINDOWS {
                        let reason = "input flood: too many inputs per second";
                        break (Some((CloseCode::Policy, reason.into())), Some(End::left(reason)));
                    }
                } else {
                    flood_windows = 0;
                }
                if shared.heard.swap(false, Ordering::Relaxed) {
                    last_heard = now;
                } else if now.duration_since(last_heard) > config.heartbeat_timeout {
                    break (Some((CloseCode::Away, "heartbeat timeout".into())), Some(End::gone("heartbeat timeout")));
                }
                let acked = shared.acked.load(Ordering::Relaxed);
                if acked != ack_seen {
                    ack_seen = acked;
                    ack_advanced = now;
                } else if now.duration_since(ack_advanced) > config.ack_timeout {
                    let reason = "no acknowledgement within the ack timeout";
                    break (Some((CloseCode::Policy, reason.into())), Some(End::gone(reason)));
                }
                if now.duration_since(last_ping) >= config.heartbeat_interval {
                    last_ping = now;
                    if sink.send(Message::Ping(Bytes::new())).await.is_err() {
                        break (None, Some(End::gone("send failed")));
                    }
                }
            }
            _ = &mut cancelled => {
                let reason = "server shutting down";
                break (Some((CloseCode::Away, reason.into())), Some(End::left(reason)));
            }
        }
    };
    counts.stale += slot.stale_dropped() - stale_seen;
    counts.flush(&shared);
    if let Some((code, reason)) = close {
        count_close(close_label(code));
        let _ = sink.send(close_message(code, &reason)).await;
    }
    end
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::game::arena::ArenaEntity;
    use crate::snapshot::Snapshot;

    fn published(tick: u32) -> Arc<Published<ArenaEntity>> {
        Arc::new(Published::new(Snapshot::new(Tick(tick), Vec::new())))
    }

    #[test]
    fn a_baseline_is_the_acked_snapshot_and_never_older_than_the_age_limit() {
        let mut ring = SentRing::<ArenaEntity>::new();
        // Sent every fourth tick, as to a slow client: tick 2 keeps its slot.
        for tick in (2..=200).step_by(4) {
            ring.remember(published(tick));
        }
        assert!(ring.baseline(0, Tick(201)).is_none(), "nothing acked: full");
        assert!(ring
            .baseline(198, Tick(201))
            .is_some_and(|p| p.snapshot.tick == Tick(198)));
        // Acked long ago: still in a slot, but too old to be a baseline.
        let mut ring = SentRing::<ArenaEntity>::new();
        for tick in (2..=200).step_by(4) {
            ring.remember(published(tick));
        }
        assert!(ring.baseline(2, Tick(201)).is_none());
        assert!(ring
            .slots
            .iter()
            .flatten()
            .all(|p| p.snapshot.tick.0 >= 201 - MAX_BASELINE_AGE));
        // Never sent, or acked ahead of what was sent: full.
        assert!(ring.baseline(199, Tick(201)).is_none());
        assert!(ring.baseline(500, Tick(201)).is_none());
    }
}
