//! The reader: frames in, validated messages out to the match. Never writes
//! to the socket itself: replies and closes go through the writer.

use super::{count_close, encode, ws_error_end, Control, End, Shared};
use crate::game::Game;
use crate::lobby::InputSender;
use crate::net::App;
use crate::protocol::{decode_client, ClientMsg, ErrorCode, ServerMsg};
use crate::replicate::MessageSet;
use crate::tick::InputTime;
use futures_util::stream::SplitStream;
use futures_util::StreamExt;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Instant;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::WebSocketStream;

/// Reads frames until the peer leaves or breaks a rule; returns why it ended.
pub(super) async fn read_loop<G, S>(
    stream: SplitStream<WebSocketStream<S>>,
    input: InputSender<G>,
    shared: Arc<Shared>,
    app: Arc<App<G>>,
) -> End
where
    G: Game,
    S: AsyncRead + AsyncWrite + Unpin,
{
    // A panic here must still tell the writer (which would otherwise wait
    // for the heartbeat timeout) and be counted like any other.
    let reading = std::panic::AssertUnwindSafe(read_frames(stream, input, &shared, &app));
    let why = match futures_util::FutureExt::catch_unwind(reading).await {
        Ok(why) => why,
        Err(_) => {
            tracing::error!("connection reader panicked; closed it");
            metrics::counter!("tickwire_panics_total", "where" => "connection").increment(1);
            shared.send_control(Control::Close(CloseCode::Error, "internal error".into()));
            End::left("the reader panicked")
        }
    };
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
    let max_game_message = app.config.max_game_message_bytes;
    let (input_budget, ping_budget) = super::budgets(&app.config);
    let message_budget = super::message_budget(&app.config);
    let role = input.role();
    let close = |code: CloseCode, reason: String| {
        // The writer owns the sink and sends the close frame.
        shared.send_control(Control::Close(code, reason.clone()));
        End::left(reason)
    };
    // An ack may name only a tick this client could have been sent: the
    // match stores its tick before publishing the snapshot.
    let ack_is_sent = |tick: u32| tick <= input.tick().0;
    // A refused game message: the sender is told, and too many refusals
    // close (over-rate ones are the flood rule's business, not counted here).
    let refuse = |message: String, by: &'static str| -> Option<End> {
        metrics::counter!("tickwire_messages_denied_total", "by" => by).increment(1);
        if by != "rate" && shared.deny() > app.config.max_message_denials {
            return Some(close(CloseCode::Policy, "too many refused messages".into()));
        }
        let error = ServerMsg::Error {
            code: ErrorCode::Denied,
            message,
        };
        shared.send_control(Control::Frame(encode(&error)));
        None
    };
    loop {
        let message = match stream.next().await {
            None => {
                count_close("disconnected");
                return End::gone("connection closed without a close frame");
            }
            Some(Err(e)) => {
                return match ws_error_end(&e) {
                    Ok((code, reason)) => close(code, reason),
                    Err(end) => end,
                }
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
            // tungstenite has queued its reply (the writer flushes it); it
            // turns a close code a client may not send into 1002.
            Message::Close(frame) => {
                // A browser closes with 1001 when its page reloads or its tab
                // closes (a page script cannot send 1001 itself): the player
                // may come back, so the seat is parked as for a lost
                // connection. A deliberate leave closes with 1000.
                if frame.as_ref().is_some_and(|f| f.code == CloseCode::Away) {
                    count_close("client_going_away");
                    return End::gone("client going away");
                }
                if frame.is_some_and(|f| f.code == CloseCode::Protocol) {
                    count_close("protocol_error");
                    return End::left(
                        "client closed with a protocol error or an invalid close code",
                    );
                }
                count_close("client_closed");
                return End::left("client closed");
            }
            // tungstenite answers pings itself; a pong only proves liveness.
            Message::Ping(_) | Message::Pong(_) | Message::Frame(_) => continue,
        };
        shared
            .bytes_in
            .fetch_add(bytes.len() as u64, Ordering::Relaxed);
        // A game message has its own, smaller size limit (index 4).
        if bytes.first() == Some(&4) && bytes.len() > max_game_message {
            return close(
                CloseCode::Size,
                format!(
                    "game message of {} bytes exceeds the limit of {max_game_message} bytes",
                    bytes.len()
                ),
            );
        }
        match decode_client::<G::Input, G::Message>(&bytes, max) {
            Ok(ClientMsg::Input {
                seq,
                ack,
                tick: meant_for,
                view,
                input: payload,
            }) => {
                if let Some(tick) = ack {
                    if !ack_is_sent(tick.0) {
                        return close(CloseCode::Policy, "ack for a tick not yet sent".into());
                    }
                    shared.acked.fetch_max(tick.0, Ordering::Relaxed);
                }
                shared.inputs.fetch_add(1, Ordering::Relaxed);
                if !role.plays() {
                    let text = format!("Input: a {role} has no entity to steer; send Ack instead");
                    match refuse(text, "role") {
                        Some(end) => return end,
                        None => continue,
                    }
                }
                // Over the rate: dropped here; the writer closes a sustained flood.
                if shared.window_inputs.fetch_add(1, Ordering::Relaxed) >= input_budget {
                    shared.inputs_over_rate.fetch_add(1, Ordering::Relaxed);
                    continue;
                }
                let queued = match meant_for {
                    None => input.send(seq, payload),
                    Some(low) => {
                        let timing = InputTime {
                            tick: input.tick().nearest_with_low_bits(low),
                            arrived: Instant::now(),
                            view_back: view,
                        };
                        input.send_timed(seq, payload, timing)
                    }
                };
                if !queued {
                    shared.inputs_dropped.fetch_add(1, Ordering::Relaxed);
                }
            }
            Ok(ClientMsg::Ack { tick }) => {
                if !ack_is_sent(tick.0) {
                    return close(CloseCode::Policy, "ack for a tick not yet sent".into());
                }
                shared.acked.fetch_max(tick.0, Ordering::Relaxed);
            }
            Ok(ClientMsg::Ping { client_time_us }) => {
                // Over the rate: unanswered; the writer closes a sustained flood.
                if shared.window_pings.fetch_add(1, Ordering::Relaxed) >= ping_budget {
                    shared.pings_dropped.fetch_add(1, Ordering::Relaxed);
                    continue;
                }
                let pong = encode(&ServerMsg::Pong {
                    client_time_us,
                    server_tick: input.tick(),
                });
                shared.send_control(Control::Frame(pong));
            }
            Ok(ClientMsg::Join { .. }) => {
                return close(CloseCode::Policy, "Join sent twice".into());
            }
            Ok(ClientMsg::Message(message)) => {
                let name = message.name();
                let refused =
                    if shared.window_messages.fetch_add(1, Ordering::Relaxed) >= message_budget {
                        // The writer closes a sustained flood.
                        let rate = app.config.max_messages_per_second;
                        refuse(
                            format!("{name}: over the rate of {rate} messages per second"),
                            "rate",
                        )
                    } else if !message.allows(role) {
                        refuse(format!("{name}: a {role} may not send it"), "role")
                    } else if !input.send_message(message) {
                        refuse(format!("{name}: the match is busy; send it again"), "busy")
                    } else {
                        None
                    };
                if let Some(end) = refused {
                    return end;
                }
            }
            Err(e) => return close(CloseCode::Invalid, format!("undecodable message: {e}")),
        }
    }
}
