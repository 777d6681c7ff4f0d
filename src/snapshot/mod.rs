//! The replicated state model and the delta codec; pure, no I/O.
//!
//! A [`Snapshot`] is the frozen, quantized state of one match at one tick. The
//! codec writes a snapshot as a delta against a baseline snapshot the client
//! already holds (Quake 3 model): an entity that equals its baseline's
//! *prediction* costs nothing, a removed one costs its id, a changed one a field
//! mask and its residuals against the prediction, all bit-packed. The invariant,
//! checked by property tests and fuzzing:
//! `decode(encode(baseline, current), baseline) == current` for every state.

mod bits;
mod delta;

pub use bits::{BitReader, BitWriter};
pub use delta::{decode_delta, encode_delta, DeltaEncoder};

use crate::protocol::{EntityId, Tick};

/// Why a delta payload could not be decoded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CodecError {
    #[error("payload ends in the middle of an entity")]
    Truncated,
    #[error("invalid payload: {0}")]
    Invalid(&'static str),
    #[error("baseline tick {baseline} is not before snapshot tick {tick}")]
    BaselineNotBefore { baseline: u32, tick: u32 },
}

/// A replicated entity type: the codec's view of one game's entity.
///
/// Implementations write fields by hand with [`BitWriter`], so each game decides
/// its own quantization and what to predict. `Eq` must mean bit-identical: the
/// codec skips an entity exactly when it equals the prediction.
pub trait NetEntity: Clone + PartialEq + std::fmt::Debug + Send + Sync + 'static {
    fn id(&self) -> EntityId;

    /// What the client should assume this entity looks like `ticks` ticks after
    /// this state, absent news (e.g. position extrapolated by velocity). Must be
    /// a pure function of `self` and `ticks`, and total (no panic on any value).
    fn predict(&self, ticks: u32) -> Self {
        let _ = ticks;
        self.clone()
    }

    /// Writes every field but the id (the codec writes ids).
    fn write_full(&self, w: &mut BitWriter);

    /// Reads what `write_full` wrote.
    fn read_full(id: EntityId, r: &mut BitReader) -> Result<Self, CodecError>;

    /// Writes how `self` differs from `predicted` (which it does not equal).
    fn write_changes(&self, predicted: &Self, w: &mut BitWriter);

    /// Reads what `write_changes` wrote, applying it to `predicted`.
    fn read_changes(predicted: &Self, r: &mut BitReader) -> Result<Self, CodecError>;
}

/// The frozen state of one match at one tick: entities sorted by id, unique.
#[derive(Debug, Clone, PartialEq)]
pub struct Snapshot<E> {
    pub tick: Tick,
    pub entities: Vec<E>,
}

impl<E: NetEntity> Snapshot<E> {
    /// Builds a snapshot, sorting entities by id; duplicate ids keep the first.
    pub fn new(tick: Tick, mut entities: Vec<E>) -> Self {
        entities.sort_by_key(|e| e.id());
        entities.dedup_by_key(|e| e.id());
        Snapshot { tick, entities }
    }

    /// The entity with this id, by binary search.
    pub fn get(&self, id: EntityId) -> Option<&E> {
        self.entities
            .binary_search_by_key(&id, |e| e.id())
            .ok()
            .map(|i| &self.entities[i])
    }
}
