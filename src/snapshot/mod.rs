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
pub(crate) use delta::{decode_with, EntityReader};

pub use crate::replicate::NetEntity;

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
    /// A field's bits do not match its schema (out of range, unknown variant).
    #[error("field `{field}`: {reason}")]
    Field { field: String, reason: &'static str },
}

/// The frozen state of one match at one tick: entities sorted by id, unique.
#[derive(Debug, Clone, PartialEq)]
pub struct Snapshot<E> {
    pub tick: Tick,
    pub entities: Vec<E>,
}

impl<E: NetEntity> Snapshot<E> {
    /// Builds a snapshot: snaps every entity to its wire grid (so that what a
    /// client decodes is bit-identical), sorts by id; duplicate ids keep the first.
    pub fn new(tick: Tick, mut entities: Vec<E>) -> Self {
        for e in &mut entities {
            e.snap();
        }
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
