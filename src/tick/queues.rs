//! The queues between network tasks and tick threads.

use super::Published;
use crate::game::Game;
use crate::protocol::{EntityId, PlayerId, Tick};
use crate::replicate::Role;
use bytes::Bytes;
use crossbeam::queue::{ArrayQueue, SegQueue};
use futures_util::task::AtomicWaker;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicU8, AtomicUsize, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use tokio::sync::oneshot;

/// One decoded input or game message on its way to the match, tagged with
/// its sender by the network task: the sender cannot claim to be anyone
/// else. Inputs and messages share the queue, so the game sees them in the
/// order the player sent them.
#[derive(Debug)]
pub struct PlayerInput<I, M> {
    pub player: PlayerId,
    pub what: Inbound<I, M>,
}

#[derive(Debug)]
pub enum Inbound<I, M> {
    Input {
        seq: u32,
        input: I,
        /// For a timed input: the tick it is meant for, and when it arrived.
        timing: Option<InputTime>,
    },
    /// Boxed: messages are rare and may be large (chat text); inputs are not.
    Message(Box<M>),
}

/// When a timed input is meant to apply, and when its frame arrived.
#[derive(Debug, Clone, Copy)]
pub struct InputTime {
    pub tick: Tick,
    pub arrived: std::time::Instant,
    /// How far behind `tick` the player's view was, in sixteenths of a
    /// tick (0: not stated).
    pub view_back: u16,
}

/// How early a player's timed inputs arrived over a report window, in tenths
/// of a millisecond (negative: after their tick had run), and how many were
/// late: `ServerMsg::InputTiming`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TimingReport {
    pub lead_min: i16,
    pub lead_max: i16,
    pub late: u16,
}

impl TimingReport {
    const PRESENT: u64 = 1 << 63;

    fn pack(self) -> u64 {
        Self::PRESENT
            | u64::from(self.lead_min as u16)
            | (u64::from(self.lead_max as u16) << 16)
            | (u64::from(self.late) << 32)
    }

    fn unpack(bits: u64) -> Option<Self> {
        (bits & Self::PRESENT != 0).then_some(TimingReport {
            lead_min: bits as u16 as i16,
            lead_max: (bits >> 16) as u16 as i16,
            late: (bits >> 32) as u16,
        })
    }
}

/// What a join is answered with, once the player has an entity.
#[derive(Debug, Clone, Copy)]
pub struct Joined {
    pub entity_id: EntityId,
    pub tick: Tick,
}

/// Membership changes, applied by the tick thread at the start of a tick.
pub enum MatchCommand<G: Game> {
    Join {
        player: PlayerId,
        role: Role,
        /// The newest event the client received in this session (0: none):
        /// a resuming client gets the ones after it.
        last_event: u32,
        slot: Arc<OutboundSlot<G::Entity>>,
        reply: oneshot::Sender<Joined>,
    },
    Leave {
        player: PlayerId,
    },
    /// Receives every snapshot without being a player (tests, spectators, tools).
    Observe {
        slot: Arc<OutboundSlot<G::Entity>>,
    },
    /// Moving the match to another node (a cluster drain): stop stepping
    /// and answer with the state (`None` when the game does not opt in to
    /// `Game::save`, and the match plays on).
    Export {
        reply: oneshot::Sender<Option<Exported>>,
    },
    /// The move failed: step again from where the match stopped.
    Thaw,
}

/// A match's state at a tick, as it leaves for another node.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Exported {
    /// The last tick stepped; the restored match steps `tick + 1` next.
    pub tick: Tick,
    /// `Game::save`'s bytes.
    pub game: Vec<u8>,
    pub players: Vec<MovedPlayer>,
}

/// A player's bookkeeping that travels with its match.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MovedPlayer {
    pub player: PlayerId,
    pub role: Role,
    pub entity: EntityId,
    /// The newest input seq applied: older ones stay refused after the move.
    pub last_seq: u32,
    /// The session's next event seq: numbering goes on without a gap.
    pub next_event: u32,
}

/// Why the match closed a slot.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum SlotClosed {
    Open = 0,
    /// The match ended (it was empty, or the server is stopping).
    MatchEnded = 1,
    /// The game code of this match panicked; the match is gone.
    MatchFailed = 2,
}

/// What the match tells one connection besides snapshots, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Notice {
    /// A game event, its body bit-packed (shared by every recipient).
    Event { seq: u32, body: Bytes },
    /// Events `first..=last` are gone from the match's log.
    Missed { first: u32, last: u32 },
    /// The match's result; the match ends after it.
    Ended { seq: u32, result: Bytes },
    /// The game refused one of this player's messages.
    Denied { message: String },
    /// The game removed this player.
    Kicked { reason: String },
}

/// A player's outbound queues: the tick thread pushes each tick's snapshot, the
/// player's writer task takes the newest. Bounded and lock-free; when the writer
/// falls behind, the oldest snapshot is dropped (deltas are against acknowledged
/// baselines, so a dropped snapshot costs only a larger next delta). Notices
/// (events) are never dropped: when their queue is full the slot is marked
/// lagging, the writer closes the connection as resumable, and the client's
/// resume replays them from the match's event log.
#[derive(Debug)]
pub struct OutboundSlot<E> {
    queue: ArrayQueue<Arc<Published<E>>>,
    /// Unbounded in type, bounded by `notice_cap` through `notice_len`:
    /// a `SegQueue` allocates only when a notice arrives, where an
    /// `ArrayQueue` of the log's length would cost every connection ~13 KiB.
    notices: SegQueue<Notice>,
    notice_len: AtomicUsize,
    notice_cap: usize,
    lagging: AtomicBool,
    /// The writer task's waker: lock-free, unlike a `Notify`'s waiter list.
    waker: AtomicWaker,
    closed: AtomicU8,
    stale_dropped: AtomicU64,
    /// The newest input-timing report not yet sent (a packed
    /// `TimingReport`, 0 for none): a newer one replaces it, so it needs
    /// no queue.
    timing: AtomicU64,
}

impl<E> OutboundSlot<E> {
    /// A slot queueing at most `capacity` snapshots and `notices` notices.
    pub fn new(capacity: usize, notices: usize) -> Self {
        OutboundSlot {
            queue: ArrayQueue::new(capacity.max(1)),
            notices: SegQueue::new(),
            notice_len: AtomicUsize::new(0),
            notice_cap: notices.max(1),
            lagging: AtomicBool::new(false),
            waker: AtomicWaker::new(),
            closed: AtomicU8::new(SlotClosed::Open as u8),
            stale_dropped: AtomicU64::new(0),
            timing: AtomicU64::new(0),
        }
    }

    /// Called by the tick thread before it pushes the tick's snapshot, which
    /// wakes the writer.
    pub fn set_timing(&self, report: TimingReport) {
        self.timing.store(report.pack(), Ordering::Release);
    }

    /// The newest timing report not yet sent.
    pub fn take_timing(&self) -> Option<TimingReport> {
        if self.timing.load(Ordering::Relaxed) == 0 {
            return None;
        }
        TimingReport::unpack(self.timing.swap(0, Ordering::AcqRel))
    }

    /// Called by the tick thread; never blocks.
    pub fn push(&self, snapshot: Arc<Published<E>>) {
        if self.queue.force_push(snapshot).is_some() {
            self.stale_dropped.fetch_add(1, Ordering::Relaxed);
        }
        self.waker.wake();
    }

    /// Called by the tick thread; never blocks. A full queue marks the slot
    /// lagging instead of dropping the notice silently.
    pub fn notify(&self, notice: Notice) {
        if self.notice_len.fetch_add(1, Ordering::AcqRel) < self.notice_cap {
            self.notices.push(notice);
        } else {
            self.notice_len.fetch_sub(1, Ordering::AcqRel);
            self.lagging.store(true, Ordering::Release);
        }
        self.waker.wake();
    }

    /// The oldest notice not yet sent.
    pub fn next_notice(&self) -> Option<Notice> {
        let notice = self.notices.pop()?;
        self.notice_len.fetch_sub(1, Ordering::AcqRel);
        Some(notice)
    }

    /// Whether a notice could not be queued: the connection must end so the
    /// client resumes and gets the events from the match's log.
    pub fn is_lagging(&self) -> bool {
        self.lagging.load(Ordering::Acquire)
    }

    /// The newest snapshot, dropping older ones still queued.
    pub fn take_newest(&self) -> Option<Arc<Published<E>>> {
        let mut newest = self.queue.pop()?;
        while let Some(next) = self.queue.pop() {
            self.stale_dropped.fetch_add(1, Ordering::Relaxed);
            newest = next;
        }
        Some(newest)
    }

    /// The oldest queued snapshot (observers that want every tick use this).
    pub fn pop(&self) -> Option<Arc<Published<E>>> {
        self.queue.pop()
    }

    /// Ready when a snapshot is queued or the slot is closed. One task at a
    /// time may wait (the player's writer).
    pub fn poll_ready(&self, cx: &mut Context<'_>) -> Poll<()> {
        let ready = || {
            !self.queue.is_empty()
                || !self.notices.is_empty()
                || self.is_lagging()
                || self.closed().is_some()
        };
        if ready() {
            return Poll::Ready(());
        }
        self.waker.register(cx.waker());
        // Re-check: a push between the first check and the registration
        // woke the previous waker, not this one.
        if ready() {
            Poll::Ready(())
        } else {
            Poll::Pending
        }
    }

    /// Waits until a snapshot is queued or the slot is closed.
    pub async fn wait(&self) {
        std::future::poll_fn(|cx| self.poll_ready(cx)).await
    }

    pub fn close(&self, why: SlotClosed) {
        self.closed.store(why as u8, Ordering::Release);
        self.waker.wake();
    }

    pub fn closed(&self) -> Option<SlotClosed> {
        match self.closed.load(Ordering::Acquire) {
            0 => None,
            1 => Some(SlotClosed::MatchEnded),
            _ => Some(SlotClosed::MatchFailed),
        }
    }

    /// Snapshots skipped because a newer one arrived before the writer sent them.
    pub fn stale_dropped(&self) -> u64 {
        self.stale_dropped.load(Ordering::Relaxed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn notices_keep_their_order_and_a_full_queue_marks_the_slot_lagging() {
        let slot = OutboundSlot::<()>::new(1, 3);
        let denied = |n: u32| Notice::Denied {
            message: n.to_string(),
        };
        for n in 0..3 {
            slot.notify(denied(n));
        }
        assert!(!slot.is_lagging(), "three fit");
        slot.notify(denied(3));
        assert!(slot.is_lagging(), "the fourth does not");
        let sent: Vec<Notice> = std::iter::from_fn(|| slot.next_notice()).collect();
        assert_eq!(sent, [denied(0), denied(1), denied(2)]);
        // Drained, the queue takes notices again (the writer closes a
        // lagging connection anyway; the count must not drift).
        slot.notify(denied(4));
        assert_eq!(slot.next_notice(), Some(denied(4)));
        assert_eq!(slot.next_notice(), None);
    }

    #[test]
    fn the_newest_timing_report_replaces_an_unsent_one_and_is_taken_once() {
        let slot = OutboundSlot::<()>::new(1, 1);
        assert_eq!(slot.take_timing(), None);
        let first = TimingReport {
            lead_min: -300,
            lead_max: 12,
            late: 3,
        };
        let second = TimingReport {
            lead_min: i16::MIN,
            lead_max: i16::MAX,
            late: u16::MAX,
        };
        slot.set_timing(first);
        slot.set_timing(second);
        assert_eq!(slot.take_timing(), Some(second));
        assert_eq!(slot.take_timing(), None);
        slot.set_timing(first);
        assert_eq!(slot.take_timing(), Some(first));
    }
}
