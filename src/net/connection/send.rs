//! A connection's sends: each with a deadline (a socket that does not
//! drain ends the connection), and the match's notices (events, gaps, the
//! result, refusals, kicks) queued for the writer's next flush.

use super::{count_close, End, Shared};
use crate::protocol::{ErrorCode, ServerMsg};
use crate::tick::{Notice, OutboundSlot};
use futures_util::stream::SplitSink;
use futures_util::SinkExt;
use std::future::Future;
use std::task::Poll;
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::WebSocketStream;

/// Why a send did not complete.
pub(super) enum SendFailed {
    /// The peer is gone.
    Closed,
    /// The socket did not drain within the send timeout.
    Stuck,
}

pub(super) type Sink<S> = SplitSink<WebSocketStream<S>, Message>;

/// Runs a send (`sink.send(msg)`), a feed (`sink.feed(msg)`: queued in
/// tungstenite's write buffer for the next flush, so that a tick's events,
/// snapshot and timing report leave in one write, one system call and one
/// TCP segment) or a flush, giving a socket that does not drain at most
/// `limit`. The common case completes on its first poll, and arms no timer.
pub(super) async fn within<F>(send: F, limit: Duration) -> Result<(), SendFailed>
where
    F: Future<Output = Result<(), tokio_tungstenite::tungstenite::Error>>,
{
    let mut send = std::pin::pin!(send);
    let first = std::future::poll_fn(|cx| Poll::Ready(send.as_mut().poll(cx))).await;
    let result = match first {
        Poll::Ready(result) => result,
        Poll::Pending => match tokio::time::timeout(limit, send).await {
            Ok(result) => result,
            Err(_) => return Err(SendFailed::Stuck),
        },
    };
    result.map_err(|_| SendFailed::Closed)
}

/// How a failed send ends the connection (the peer may come back).
pub(super) fn send_failure(failed: SendFailed) -> End {
    match failed {
        SendFailed::Closed => End::gone("send failed"),
        SendFailed::Stuck => {
            count_close("send_timeout");
            End::gone("the client's socket did not drain within the send timeout")
        }
    }
}

/// Why sending notices ended the connection.
pub(super) enum NoticeEnd {
    Close(CloseCode, String, End),
    Failed(SendFailed),
}

/// Queues the events and refusals the match queued for this connection
/// (written out with the snapshot that follows them, or by the close).
pub(super) async fn send_notices<E, S>(
    sink: &mut Sink<S>,
    slot: &OutboundSlot<E>,
    shared: &Shared,
    config: &crate::config::Config,
    limit: Duration,
) -> Result<(), NoticeEnd>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    while let Some(notice) = slot.next_notice() {
        let msg = match notice {
            Notice::Event { seq, body } => ServerMsg::Event {
                seq,
                body: body.to_vec(),
            },
            Notice::Missed { first, last } => ServerMsg::EventsMissed { first, last },
            Notice::Ended { seq, result } => ServerMsg::Ended {
                seq,
                result: result.to_vec(),
            },
            Notice::Denied { message } => {
                metrics::counter!("tickwire_messages_denied_total", "by" => "game").increment(1);
                if shared.deny() > config.max_message_denials {
                    let reason = "too many refused messages";
                    return Err(NoticeEnd::Close(
                        CloseCode::Policy,
                        reason.into(),
                        End::left(reason),
                    ));
                }
                ServerMsg::Error {
                    code: ErrorCode::Denied,
                    message,
                }
            }
            Notice::Kicked { reason } => {
                let reason = format!("kicked: {reason}");
                let end = End::left(reason.clone());
                return Err(NoticeEnd::Close(CloseCode::Policy, reason, end));
            }
        };
        metrics::counter!("tickwire_events_sent_total").increment(1);
        let frame = super::encode(&msg);
        within(sink.feed(Message::Binary(frame)), limit)
            .await
            .map_err(NoticeEnd::Failed)?;
    }
    if slot.is_lagging() {
        // Some events did not fit the queue; they are in the match's log,
        // and a resume (which replays it) delivers them in order.
        let reason = "too many events queued for this connection; resume";
        return Err(NoticeEnd::Close(
            CloseCode::Again,
            reason.into(),
            End::gone(reason),
        ));
    }
    Ok(())
}
