//! The queues between network tasks and tick threads.

use super::Published;
use crate::game::Game;
use crate::protocol::{EntityId, PlayerId, Tick};
use crossbeam::queue::ArrayQueue;
use std::sync::atomic::{AtomicU64, AtomicU8, Ordering};
use std::sync::Arc;
use tokio::sync::{oneshot, Notify};

/// One decoded input on its way to the match, tagged with its sender by the
/// network task: the sender cannot claim to be anyone else.
#[derive(Debug)]
pub struct PlayerInput<I> {
    pub player: PlayerId,
    pub seq: u32,
    pub input: I,
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

/// A player's outbound queue: the tick thread pushes each tick's snapshot, the
/// player's writer task takes the newest. Bounded and lock-free; when the writer
/// falls behind, the oldest snapshot is dropped (deltas are against acknowledged
/// baselines, so a dropped snapshot costs only a larger next delta).
#[derive(Debug)]
pub struct OutboundSlot<E> {
    queue: ArrayQueue<Arc<Published<E>>>,
    notify: Notify,
    closed: AtomicU8,
    stale_dropped: AtomicU64,
}

impl<E> OutboundSlot<E> {
    pub fn new(capacity: usize) -> Self {
        OutboundSlot {
            queue: ArrayQueue::new(capacity.max(1)),
            notify: Notify::new(),
            closed: AtomicU8::new(SlotClosed::Open as u8),
            stale_dropped: AtomicU64::new(0),
        }
    }

    /// Called by the tick thread; never blocks.
    pub fn push(&self, snapshot: Arc<Published<E>>) {
        if self.queue.force_push(snapshot).is_some() {
            self.stale_dropped.fetch_add(1, Ordering::Relaxed);
        }
        self.notify.notify_one();
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

    /// Waits until something was pushed or the slot was closed.
    pub async fn wait(&self) {
        self.notify.notified().await
    }

    pub fn close(&self, why: SlotClosed) {
        self.closed.store(why as u8, Ordering::Release);
        self.notify.notify_one();
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
