//! One player's connection: the join handshake, then a reader task (frames in,
//! validated messages to the match) and a writer task (snapshots out).

use super::App;
use crate::game::Game;
use crate::lobby::Seat;
use crate::protocol::{
    decode_client, encode_server, ClientMsg, ErrorCode, ServerMsg, Tick, Welcome, PROTOCOL_VERSION,
};
use crate::tick::{OutboundSlot, Published, SlotClosed, FRAME_CACHE};
use bytes::Bytes;
use futures_util::stream::{SplitSink, SplitStream};
use futures_util::{SinkExt, StreamExt};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::tungstenite::{Error as WsError, Message};
use tokio_tungstenite::WebSocketStream;
use tokio_util::sync::CancellationToken;

/// Snapshots a writer remembers as possible baselines; one less than the frame
/// cache so that every delta it encodes can be shared.
const SENT_RING: usize = FRAME_CACHE - 1;

/// Metric handles resolved once per connection, so that the per-frame cost is
/// an atomic add rather than a registry lookup.
struct ConnMetrics {
    bytes_in: metrics::Counter,
    bytes_out: metrics::Counter,
    inputs: metrics::Counter,
    inputs_dropped: metrics::Counter,
    full: metrics::Counter,
    delta: metrics::Counter,
    stale: metrics::Counter,
    payload: metrics::Histogram,
}

impl ConnMetrics {
    fn new() -> Self {
        ConnMetrics {
            bytes_in: metrics::counter!("tickwire_bytes_in_total"),
            bytes_out: metrics::counter!("tickwire_bytes_out_total"),
            inputs: metrics::counter!("tickwire_inputs_received_total"),
            inputs_dropped: metrics::counter!("tickwire_inputs_dropped_total", "reason" => "queue_full"),
            full: metrics::counter!("tickwire_snapshots_sent_total", "kind" => "full"),
            delta: metrics::counter!("tickwire_snapshots_sent_total", "kind" => "delta"),
            stale: metrics::counter!("tickwire_snapshots_stale_total"),
            payload: metrics::histogram!("tickwire_snapshot_payload_bytes"),
        }
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

/// State the reader updates and the writer reads.
struct Shared {
    epoch: Instant,
    /// Newest tick the client acknowledged (0: none yet).
    acked: AtomicU32,
    /// Milliseconds since `epoch` when the peer was last heard from.
    last_heard_ms: AtomicU64,
}

impl Shared {
    fn heard(&self) {
        self.last_heard_ms
            .store(self.epoch.elapsed().as_millis() as u64, Ordering::Relaxed);
    }

    fn silent_for(&self) -> Duration {
        self.epoch.elapsed().saturating_sub(Duration::from_millis(
            self.last_heard_ms.load(Ordering::Relaxed),
        ))
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
    mut seat: Seat<G>,
    app: Arc<App<G>>,
    peer: Option<SocketAddr>,
) where
    G: Game,
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let config = &app.config;
    let player = seat.player();
    let match_id = seat.match_handle().id;

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
    match join {
        Ok(ClientMsg::Join { resume: None, .. }) => {}
        Ok(ClientMsg::Join {
            resume: Some(_), ..
        }) => {
            return refuse(
                &mut ws,
                CloseCode::Policy,
                ErrorCode::InvalidSession,
                "unknown or expired session token",
            )
            .await;
        }
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
    }

    // 2. Take an entity in the match, then welcome the player.
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
        session_token: crate::protocol::SessionToken::random(),
    });
    if ws.send(Message::Binary(encode(&welcome))).await.is_err() {
        return;
    }
    tracing::info!(player = player.0, match_id = %match_id, peer = ?peer, entity = joined.entity_id.0, "player joined");

    // 3. Reader here, writer in its own task; either ending ends both.
    let (sink, stream) = ws.split();
    let shared = Arc::new(Shared {
        epoch: Instant::now(),
        acked: AtomicU32::new(0),
        last_heard_ms: AtomicU64::new(0),
    });
    let metrics = Arc::new(ConnMetrics::new());
    let done = app.shutdown.child_token();
    let (control_tx, control_rx) = mpsc::channel(8);
    let writer = tokio::spawn(write_loop(
        sink,
        slot,
        shared.clone(),
        control_rx,
        done.clone(),
        app.clone(),
        metrics.clone(),
    ));
    let why = read_loop(stream, &seat, &shared, &control_tx, &done, &app, &metrics).await;
    drop(control_tx);
    let _ = writer.await;
    done.cancel();
    tracing::info!(player = player.0, match_id = %match_id, reason = %why, "player left");
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
    mut stream: SplitStream<WebSocketStream<S>>,
    seat: &Seat<G>,
    shared: &Shared,
    control: &mpsc::Sender<Control>,
    done: &CancellationToken,
    app: &App<G>,
    metrics: &ConnMetrics,
) -> String
where
    G: Game,
    S: AsyncRead + AsyncWrite + Unpin,
{
    let max = app.config.max_message_bytes;
    let server_tick = || Tick(seat.match_handle().stats.tick.load(Ordering::Relaxed));
    let close = |code: CloseCode, reason: String| {
        // The writer owns the sink; if its queue is full it is closing anyway.
        let _ = control.try_send(Control::Close(code, reason.clone()));
        reason
    };
    loop {
        let frame = tokio::select! {
            _ = done.cancelled() => return "closed by server".into(),
            frame = stream.next() => frame,
        };
        let message = match frame {
            None => {
                count_close("disconnected");
                return "connection closed".into();
            }
            Some(Err(WsError::Capacity(e))) => {
                return close(CloseCode::Size, format!("message too large: {e}"))
            }
            Some(Err(WsError::Protocol(e))) => {
                return close(
                    CloseCode::Protocol,
                    format!("WebSocket protocol error: {e}"),
                )
            }
            Some(Err(e)) => {
                count_close("connection_error");
                return format!("connection error: {e}");
            }
            Some(Ok(m)) => m,
        };
        shared.heard();
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
                return "client closed".into();
            }
            // tungstenite answers pings itself; a pong only proves liveness.
            Message::Ping(_) | Message::Pong(_) | Message::Frame(_) => continue,
        };
        metrics.bytes_in.increment(bytes.len() as u64);
        match decode_client::<G::Input>(&bytes, max) {
            Ok(ClientMsg::Input { seq, ack, input }) => {
                if let Some(tick) = ack {
                    shared.acked.fetch_max(tick.0, Ordering::Relaxed);
                }
                metrics.inputs.increment(1);
                if !seat.send_input(seq, input) {
                    metrics.inputs_dropped.increment(1);
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
                let _ = control.try_send(Control::Frame(pong));
            }
            Ok(ClientMsg::Join { .. }) => {
                return close(CloseCode::Policy, "Join sent twice".into());
            }
            Err(e) => return close(CloseCode::Invalid, format!("undecodable message: {e}")),
        }
    }
}

/// Sends each tick's snapshot as a delta against the client's acknowledged one.
async fn write_loop<G, S>(
    mut sink: SplitSink<WebSocketStream<S>, Message>,
    slot: Arc<OutboundSlot<G::Entity>>,
    shared: Arc<Shared>,
    mut control: mpsc::Receiver<Control>,
    done: CancellationToken,
    app: Arc<App<G>>,
    metrics: Arc<ConnMetrics>,
) where
    G: Game,
    S: AsyncRead + AsyncWrite + Unpin,
{
    let config = &app.config;
    let mut sent: [Option<Arc<Published<G::Entity>>>; SENT_RING] = std::array::from_fn(|_| None);
    let mut heartbeat = tokio::time::interval(config.heartbeat_interval);
    heartbeat.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    heartbeat.tick().await;
    let mut last_acked = 0u32;
    let mut stale_seen = 0u64;
    let mut ack_advanced = Instant::now();

    let (code, reason): (CloseCode, String) = loop {
        tokio::select! {
            _ = slot.wait() => {
                if let Some(published) = slot.take_newest() {
                    let stale = slot.stale_dropped();
                    if stale > stale_seen {
                        metrics.stale.increment(stale - stale_seen);
                        stale_seen = stale;
                    }
                    let acked = shared.acked.load(Ordering::Relaxed);
                    if acked != last_acked {
                        last_acked = acked;
                        ack_advanced = Instant::now();
                    } else if ack_advanced.elapsed() > config.ack_timeout {
                        break (CloseCode::Policy, "no acknowledgement within the ack timeout".into());
                    }
                    let tick = published.snapshot.tick;
                    let baseline = sent[acked as usize % SENT_RING]
                        .as_deref()
                        .filter(|b| acked != 0 && b.snapshot.tick.0 == acked && b.snapshot.tick < tick);
                    if baseline.is_some() { metrics.delta.increment(1) } else { metrics.full.increment(1) }
                    let frame = published.frame(baseline);
                    metrics.bytes_out.increment(frame.len() as u64);
                    metrics.payload.record(frame.len() as f64);
                    sent[tick.0 as usize % SENT_RING] = Some(published);
                    if sink.send(Message::Binary(frame)).await.is_err() {
                        return;
                    }
                } else if let Some(why) = slot.closed() {
                    break match why {
                        SlotClosed::MatchFailed => (CloseCode::Error, "the match failed".into()),
                        _ if app.shutdown.is_cancelled() => (CloseCode::Away, "server shutting down".into()),
                        _ => (CloseCode::Away, "the match ended".into()),
                    };
                }
            }
            control_msg = control.recv() => match control_msg {
                Some(Control::Frame(bytes)) => {
                    if sink.send(Message::Binary(bytes)).await.is_err() {
                        return;
                    }
                }
                Some(Control::Close(code, reason)) => break (code, reason),
                None => return,
            },
            _ = heartbeat.tick() => {
                if shared.silent_for() > config.heartbeat_timeout {
                    break (CloseCode::Away, "heartbeat timeout".into());
                }
                if sink.send(Message::Ping(Bytes::new())).await.is_err() {
                    return;
                }
            }
            _ = done.cancelled() => {
                let reason = if app.shutdown.is_cancelled() { "server shutting down" } else { "connection closed" };
                break (CloseCode::Away, reason.into());
            }
        }
    };
    count_close(close_label(code));
    let _ = sink.send(close_message(code, &reason)).await;
    done.cancel();
}
