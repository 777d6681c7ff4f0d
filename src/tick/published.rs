//! The immutable per-tick snapshot shared by every player of a match, with its
//! encoded frames cached so that players acknowledging the same baseline share
//! one encoding.

use super::viewer::ClientView;
use super::views::Views;
use crate::protocol::{Tick, MAX_BASELINE_AGE};
use crate::snapshot::{DeltaEncoder, NetEntity, Snapshot};
use bytes::Bytes;
use std::cell::RefCell;
use std::sync::atomic::AtomicU8;
use std::sync::{Mutex, OnceLock, Weak};

/// How many frames one snapshot caches: the full one, and deltas against each
/// of the `MAX_BASELINE_AGE` ticks before it (no baseline is older).
pub const FRAME_CACHE: usize = MAX_BASELINE_AGE as usize + 1;

thread_local! {
    // One encoder per worker thread: its buffer is reused for every frame.
    static ENCODER: RefCell<DeltaEncoder> = RefCell::new(DeltaEncoder::new());
}

/// One tick of one match, frozen.
#[derive(Debug)]
pub struct Published<E> {
    pub snapshot: Snapshot<E>,
    frames: [OnceLock<Bytes>; FRAME_CACHE],
    /// Each player's view, when the game manages interest.
    pub views: Option<Views>,
    /// Per-client frames (views, budgets) encoded this tick, for a client
    /// with the same baseline and the same view to reuse (see `viewer`).
    pub(crate) view_frames: Mutex<Vec<SharedFrame<E>>>,
    /// Per baseline age, per entity of `snapshot` (by index): whether the
    /// entity as the snapshot `age` ticks before held it predicts to what
    /// it is now (`FRESH`), or not (`CHANGED`), or nobody asked yet. The
    /// answer is the same for every client that holds that snapshot's
    /// entity, so the first viewer to work it out writes it for the rest;
    /// two that race write the same value.
    fresh: [OnceLock<Box<[AtomicU8]>>; FRAME_CACHE],
}

/// States of a `Published::fresh_since` entry.
pub(crate) const UNKNOWN: u8 = 0;
pub(crate) const FRESH: u8 = 1;
pub(crate) const CHANGED: u8 = 2;

/// One per-client frame, shared by the clients whose baseline is the same
/// `ClientView` and whose selection is the same.
///
/// It holds the views weakly: the viewers that made them hold them for as
/// long as they can be baselines, and a viewer that retires a view nobody
/// else holds takes its buffer back for the next one. (Held strongly here,
/// every view would live as long as the tick's `Published`, in the rewind
/// history, and be freed by the tick thread.) A `Weak` keeps the address
/// from being reused, so comparing addresses stays sound.
#[derive(Debug)]
pub(crate) struct SharedFrame<E> {
    pub baseline: Option<Weak<ClientView<E>>>,
    pub view: Weak<ClientView<E>>,
    /// The view's entity count and a hash of its ids, compared before the
    /// ids themselves (which live behind the view's pointer).
    pub count: u32,
    pub ids_hash: u64,
    /// Which visible entities the budget left stale (see `viewer`).
    pub stale: Vec<u64>,
    pub frame: Bytes,
}

impl<E: NetEntity> Published<E> {
    pub fn new(snapshot: Snapshot<E>) -> Self {
        Self::with_views(snapshot, None)
    }

    pub fn with_views(snapshot: Snapshot<E>, views: Option<Views>) -> Self {
        Published {
            snapshot,
            frames: std::array::from_fn(|_| OnceLock::new()),
            view_frames: Mutex::new(Vec::with_capacity(views.as_ref().map_or(0, Views::len))),
            views,
            fresh: std::array::from_fn(|_| OnceLock::new()),
        }
    }

    /// The shared freshness of each entity against the snapshot `age`
    /// ticks before this one (see the field); `None` beyond the baseline
    /// age limit.
    pub(crate) fn fresh_since(&self, age: u32) -> Option<&[AtomicU8]> {
        let cell = self.fresh.get(age as usize).filter(|_| age > 0)?;
        Some(cell.get_or_init(|| {
            (0..self.snapshot.entities.len())
                .map(|_| AtomicU8::new(UNKNOWN))
                .collect()
        }))
    }

    /// The complete `ServerMsg::Snapshot` frame for a client holding `baseline`
    /// (none: a full snapshot). `baseline` must be an earlier snapshot of the
    /// same match; the result is shared by every client that asks for it.
    pub fn frame(&self, baseline: Option<&Published<E>>) -> Bytes {
        let index = match baseline {
            None => 0,
            Some(b) => self.snapshot.tick.since(b.snapshot.tick) as usize,
        };
        if (index == 0 && baseline.is_some()) || index >= FRAME_CACHE {
            return self.encode(baseline);
        }
        self.frames[index]
            .get_or_init(|| self.encode(baseline))
            .clone()
    }

    /// Whether the frame for this baseline distance is already encoded.
    pub fn is_cached(&self, ticks_since_baseline: usize) -> bool {
        self.frames
            .get(ticks_since_baseline)
            .is_some_and(|f| f.get().is_some())
    }

    fn encode(&self, baseline: Option<&Published<E>>) -> Bytes {
        encode_frame(baseline.map(|b| &b.snapshot), &self.snapshot)
    }
}

/// The complete `ServerMsg::Snapshot` frame of `current` against `baseline`.
fn encode_frame<E: NetEntity>(baseline: Option<&Snapshot<E>>, current: &Snapshot<E>) -> Bytes {
    with_encoder(|encoder| {
        let payload = encoder.encode(baseline, current);
        snapshot_frame(current.tick, baseline.map(|b| b.tick), payload)
    })
}

/// Runs `f` with this thread's encoder (its buffer reused frame after frame).
pub(crate) fn with_encoder<R>(f: impl FnOnce(&mut DeltaEncoder) -> R) -> R {
    ENCODER.with_borrow_mut(f)
}

/// The `ServerMsg::Snapshot` frame around a delta payload, written in one
/// copy: the same bytes as `encode_server(&ServerMsg::Snapshot { .. })`
/// (bincode writes a variant as its index, then its fields, and a byte
/// slice as a `Vec<u8>`), without first copying the payload into a message.
pub(crate) fn snapshot_frame(tick: Tick, baseline: Option<Tick>, payload: &[u8]) -> Bytes {
    const SNAPSHOT_VARIANT: u32 = 1;
    let mut out = Vec::with_capacity(payload.len() + 16);
    bincode::encode_into_std_write(
        (SNAPSHOT_VARIANT, tick, baseline, payload),
        &mut out,
        bincode::config::standard(),
    )
    .expect("encoding into a Vec cannot fail");
    Bytes::from(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::{encode_server, ServerMsg};

    #[test]
    fn a_snapshot_frame_is_the_encoded_snapshot_message() {
        for (tick, baseline, len) in [
            (1, None, 0),
            (250, Some(249), 3),
            (70_000, Some(69_990), 300),
            (u32::MAX, Some(u32::MAX - 1), 70_000),
        ] {
            let payload: Vec<u8> = (0..len).map(|i| (i * 7) as u8).collect();
            let mut expected = Vec::new();
            encode_server(
                &ServerMsg::Snapshot {
                    tick: Tick(tick),
                    baseline: baseline.map(Tick),
                    payload: payload.clone(),
                },
                &mut expected,
            );
            let frame = snapshot_frame(Tick(tick), baseline.map(Tick), &payload);
            assert_eq!(&frame[..], &expected[..], "tick {tick}, {len} bytes");
        }
    }
}
