//! The writer: the only owner of a connection's sink. Sends each tick's
//! snapshot as a delta against the client's acknowledged one, the frames the
//! reader asks for, heartbeat pings, and the close frame; and keeps the
//! connection honest (silence, acks, floods), with a deadline on every send.

use super::send::{send_failure, send_notices, within, NoticeEnd, SendFailed, Sink};
use super::{close_label, close_message, count_close, Control, End, Shared};
use crate::game::Game;
use crate::net::App;
use crate::protocol::{EntityId, PlayerId};
use crate::protocol::{ServerMsg, Tick, MAX_BASELINE_AGE};
use crate::snapshot::NetEntity;
use crate::tick::{Budget, OutboundSlot, Published, SlotClosed, Viewer};
use bytes::Bytes;
use futures_util::SinkExt;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Instant;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::Message;

/// Snapshots a writer remembers as possible baselines: the protocol's
/// baseline age limit, so every delta it encodes can come from the frame cache.
const SENT_RING: usize = MAX_BASELINE_AGE as usize;

/// Consecutive housekeeping windows over a budget that count as a flood.
const FLOOD_WINDOWS: u32 = 3;

/// The close code of a connection taken over by a newer one of the same
/// player (or session); clients must not reconnect by themselves after it.
pub(crate) const TAKEN_OVER: u16 = crate::client::TAKEN_OVER;

/// The snapshots sent to one client that it may still acknowledge.
pub(super) struct SentRing<E> {
    slots: [Option<Arc<Published<E>>>; SENT_RING],
}

impl<E: NetEntity> SentRing<E> {
    pub(super) fn new() -> Self {
        SentRing {
            slots: std::array::from_fn(|_| None),
        }
    }

    /// The baseline for the snapshot of tick `now` to a client that
    /// acknowledged `acked` (0: nothing yet). Releases every snapshot that can
    /// never be a baseline again (acks only move forward, and a baseline is at
    /// most `MAX_BASELINE_AGE` ticks old): holding them would keep whole
    /// snapshots of the match alive for nothing.
    pub(super) fn baseline(&mut self, acked: u32, now: Tick) -> Option<&Published<E>> {
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

    pub(super) fn remember(&mut self, published: Arc<Published<E>>) {
        let index = published.snapshot.tick.0 as usize % SENT_RING;
        self.slots[index] = Some(published);
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
    reported_in: [u64; 5],
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
        let now_in = [
            shared.bytes_in.load(Ordering::Relaxed),
            shared.inputs.load(Ordering::Relaxed),
            shared.inputs_dropped.load(Ordering::Relaxed),
            shared.inputs_over_rate.load(Ordering::Relaxed),
            shared.pings_dropped.load(Ordering::Relaxed),
        ];
        let [b, i, d, r, p] = self.reported_in;
        metrics::counter!("tickwire_bytes_in_total").increment(now_in[0] - b);
        metrics::counter!("tickwire_inputs_received_total").increment(now_in[1] - i);
        metrics::counter!("tickwire_inputs_dropped_total", "reason" => "queue_full")
            .increment(now_in[2] - d);
        metrics::counter!("tickwire_inputs_dropped_total", "reason" => "rate_limit")
            .increment(now_in[3] - r);
        metrics::counter!("tickwire_pings_dropped_total").increment(now_in[4] - p);
        self.reported_in = now_in;
    }
}

/// What woke the writer.
enum Event {
    Snapshot,
    Control(Option<Control>),
    Housekeeping,
    Cancelled,
}

/// Drives one connection's sends until it ends; returns how it ended
/// (`None`: the reader knows, it ended first).
pub(super) async fn write_loop<G, S>(
    mut sink: Sink<S>,
    (player, own): (PlayerId, Option<EntityId>),
    slot: Arc<OutboundSlot<G::Entity>>,
    shared: Arc<Shared>,
    app: Arc<App<G>>,
) -> Option<End>
where
    G: Game,
    S: AsyncRead + AsyncWrite + Unpin,
{
    let config = &app.config;
    let limit = config.send_timeout;
    let mut sent = SentRing::<G::Entity>::new();
    // Interest management or a budget: this client's own views (made on
    // first use; a game without either never pays for one).
    let budget = (config.bandwidth_budget > 0)
        .then(|| Budget::new(config.bandwidth_budget, config.tick_rate));
    let mut viewer: Option<Box<Viewer<G::Entity>>> = None;
    let mut housekeeping = tokio::time::interval(super::housekeeping_period(config));
    let (input_budget, ping_budget) = super::budgets(config);
    let message_budget = super::message_budget(config);
    let (mut input_floods, mut ping_floods, mut message_floods) = (0u32, 0u32, 0u32);
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
    let shutting_down = || {
        let reason = super::SHUTDOWN_REASON;
        (
            Some((CloseCode::Away, reason.into())),
            Some(End::left(reason)),
        )
    };

    // What to send the peer (nothing when it is gone or stuck), and how the
    // connection ended.
    let mut stuck = false;
    let mut failed = |failure: SendFailed| {
        stuck |= matches!(failure, SendFailed::Stuck);
        send_failure(failure)
    };
    // Snapshots win the select when ready (the hot path polls nothing
    // else). A writer they keep busy gets, every `busy_limit` frames, one
    // round with the reader's requests and housekeeping first, so closes and
    // limits hold even when it is never idle.
    let busy_limit =
        (f64::from(config.tick_rate) * super::housekeeping_period(config).as_secs_f64() * 2.0)
            .ceil()
            .max(8.0) as u32;
    let mut busy = 0u32;
    let (close, end): (Option<(CloseCode, String)>, Option<End>) = loop {
        let event = if busy < busy_limit {
            tokio::select! {
                biased;
                _ = slot.wait() => Event::Snapshot,
                control = std::future::poll_fn(|cx| shared.poll_control(cx)) => Event::Control(control),
                _ = housekeeping.tick() => Event::Housekeeping,
                _ = &mut cancelled => Event::Cancelled,
            }
        } else {
            busy = 0;
            tokio::select! {
                biased;
                control = std::future::poll_fn(|cx| shared.poll_control(cx)) => Event::Control(control),
                _ = housekeeping.tick() => Event::Housekeeping,
                _ = &mut cancelled => Event::Cancelled,
                _ = slot.wait() => Event::Snapshot,
            }
        };
        match event {
            Event::Housekeeping => {
                let now = Instant::now();
                counts.stale += slot.stale_dropped() - stale_seen;
                stale_seen = slot.stale_dropped();
                counts.flush(&shared);
                if let Some(v) = viewer.as_mut() {
                    app.stats.interest.add(v.take_counts());
                }
                if app.shutdown.is_cancelled() {
                    break shutting_down();
                }
                let over =
                    |window: &std::sync::atomic::AtomicU32, budget: u32, floods: &mut u32| {
                        if window.swap(0, Ordering::Relaxed) > budget {
                            *floods += 1;
                        } else {
                            *floods = 0;
                        }
                        *floods >= FLOOD_WINDOWS
                    };
                if over(&shared.window_inputs, input_budget, &mut input_floods) {
                    let reason = "input flood: too many inputs per second";
                    break (
                        Some((CloseCode::Policy, reason.into())),
                        Some(End::left(reason)),
                    );
                }
                if over(&shared.window_pings, ping_budget, &mut ping_floods) {
                    let reason = "ping flood: too many pings per second";
                    break (
                        Some((CloseCode::Policy, reason.into())),
                        Some(End::left(reason)),
                    );
                }
                if over(&shared.window_messages, message_budget, &mut message_floods) {
                    let reason = "message flood: too many game messages per second";
                    break (
                        Some((CloseCode::Policy, reason.into())),
                        Some(End::left(reason)),
                    );
                }
                if shared.heard.swap(false, Ordering::Relaxed) {
                    last_heard = now;
                } else if now.duration_since(last_heard) > config.heartbeat_timeout {
                    break (
                        Some((CloseCode::Away, "heartbeat timeout".into())),
                        Some(End::gone("heartbeat timeout")),
                    );
                }
                let acked = shared.acked.load(Ordering::Relaxed);
                if acked != ack_seen {
                    ack_seen = acked;
                    ack_advanced = now;
                } else if now.duration_since(ack_advanced) > config.ack_timeout {
                    let reason = "no acknowledgement within the ack timeout";
                    break (
                        Some((CloseCode::Policy, reason.into())),
                        Some(End::gone(reason)),
                    );
                }
                if now.duration_since(last_ping) >= config.heartbeat_interval {
                    last_ping = now;
                    if let Err(failure) =
                        within(sink.send(Message::Ping(Bytes::new())), limit).await
                    {
                        break (None, Some(failed(failure)));
                    }
                }
            }
            Event::Control(control_msg) => match control_msg {
                Some(Control::Frame(bytes)) => {
                    if let Err(failure) = within(sink.send(Message::Binary(bytes)), limit).await {
                        break (None, Some(failed(failure)));
                    }
                }
                Some(Control::Close(code, reason)) => break (Some((code, reason)), None),
                Some(Control::Evict) => {
                    let reason = "taken over by a newer connection";
                    break (
                        Some((CloseCode::from(TAKEN_OVER), reason.into())),
                        Some(End::taken_over(reason)),
                    );
                }
                None => break (None, None),
            },
            Event::Snapshot => {
                busy += 1;
                // Events first, in order: a snapshot may show their effects.
                match send_notices(&mut sink, &slot, &shared, config, limit).await {
                    Ok(()) => {}
                    Err(NoticeEnd::Close(code, reason, end)) => {
                        break (Some((code, reason)), Some(end))
                    }
                    Err(NoticeEnd::Failed(failure)) => break (None, Some(failed(failure))),
                }
                let Some(published) = slot.take_newest() else {
                    if let Some(why) = slot.closed() {
                        if app.shutdown.is_cancelled() {
                            break shutting_down();
                        }
                        let (code, reason) = match why {
                            SlotClosed::MatchFailed => (CloseCode::Error, "the match failed"),
                            _ => (CloseCode::Away, "the match ended"),
                        };
                        break (Some((code, reason.into())), Some(End::left(reason)));
                    }
                    // Woken for notices alone: they leave now.
                    if let Err(failure) = within(sink.flush(), limit).await {
                        break (None, Some(failed(failure)));
                    }
                    continue;
                };
                let acked = shared.acked.load(Ordering::Relaxed);
                let view = published.views.as_ref().and_then(|v| v.of(player));
                let frame = if view.is_some() || budget.is_some() {
                    let v = viewer.get_or_insert_with(|| Box::new(Viewer::new(budget)));
                    let out = v.frame(&published, view, acked, own);
                    if out.full {
                        counts.full += 1
                    } else {
                        counts.delta += 1
                    }
                    out.frame
                } else {
                    let baseline = sent.baseline(acked, published.snapshot.tick);
                    if baseline.is_some() {
                        counts.delta += 1
                    } else {
                        counts.full += 1
                    }
                    let frame = published.frame(baseline);
                    sent.remember(published);
                    frame
                };
                counts.bytes_out += frame.len() as u64;
                counts.payload_sizes.push(frame.len() as f64);
                if let Err(failure) = within(sink.feed(Message::Binary(frame)), limit).await {
                    break (None, Some(failed(failure)));
                }
                // After the snapshot (it is what the client is waiting for),
                // in the same write.
                if let Some(report) = slot.take_timing() {
                    let timing = super::encode(&ServerMsg::InputTiming {
                        lead_min: report.lead_min,
                        lead_max: report.lead_max,
                        late: report.late,
                    });
                    counts.bytes_out += timing.len() as u64;
                    if let Some(v) = viewer.as_mut() {
                        v.charge(timing.len());
                    }
                    if let Err(failure) = within(sink.feed(Message::Binary(timing)), limit).await {
                        break (None, Some(failed(failure)));
                    }
                }
                if let Err(failure) = within(sink.flush(), limit).await {
                    break (None, Some(failed(failure)));
                }
            }
            Event::Cancelled => break shutting_down(),
        }
    };
    counts.stale += slot.stale_dropped() - stale_seen;
    counts.flush(&shared);
    if let Some(v) = viewer.as_mut() {
        app.stats.interest.add(v.take_counts());
    }
    match close {
        Some((code, reason)) => {
            count_close(close_label(code));
            let _ = within(sink.send(close_message(code, &reason)), limit).await;
        }
        // A socket that did not drain gets no more time.
        None if stuck => {}
        // The peer closed (or broke the protocol): flush the reply tungstenite
        // queued for its close frame, so its close is clean (RFC 6455 5.5.1),
        // then the TCP connection closes as the socket drops.
        None => {
            let _ = tokio::time::timeout(limit, sink.close()).await;
        }
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
