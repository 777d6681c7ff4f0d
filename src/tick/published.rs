//! The immutable per-tick snapshot shared by every player of a match, with its
//! encoded frames cached so that players acknowledging the same baseline share
//! one encoding.

use super::viewer::ClientView;
use super::views::Views;
use crate::protocol::{encode_server, ServerMsg, Tick, MAX_BASELINE_AGE};
use crate::snapshot::{DeltaEncoder, NetEntity, Snapshot};
use bytes::Bytes;
use std::cell::RefCell;
use std::sync::{Arc, Mutex, OnceLock};

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
}

/// One per-client frame, shared by the clients whose baseline is the same
/// `ClientView` and whose selection is the same.
#[derive(Debug)]
pub(crate) struct SharedFrame<E> {
    pub baseline: Option<Arc<ClientView<E>>>,
    pub view: Arc<ClientView<E>>,
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
            views,
            view_frames: Mutex::new(Vec::new()),
        }
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

/// The `ServerMsg::Snapshot` frame around a delta payload.
pub(crate) fn snapshot_frame(tick: Tick, baseline: Option<Tick>, payload: &[u8]) -> Bytes {
    let msg = ServerMsg::Snapshot {
        tick,
        baseline,
        payload: payload.to_vec(),
    };
    let mut out = Vec::with_capacity(payload.len() + 16);
    encode_server(&msg, &mut out);
    Bytes::from(out)
}
