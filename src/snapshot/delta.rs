//! Delta encoding of one snapshot against a baseline.
//!
//! Payload layout (bit-packed, MSB first, zero-padded to a byte):
//! 1. removed entities: for each, a 1 bit then gamma(id gap); then a 0 bit.
//! 2. written entities: for each, a 1 bit, gamma(id gap), then the entity:
//!    `write_changes` against the baseline's prediction when the id is in the
//!    baseline, `write_full` otherwise; then a 0 bit.
//!
//! An id gap is `id - previous id - 1` within its list, with previous starting
//! at -1, so consecutive ids cost one bit. Baseline entities that are neither
//! removed nor written become their prediction.

use super::{BitReader, BitWriter, CodecError, NetEntity, Snapshot};
use crate::protocol::{EntityId, Tick};

/// Reusable encoder state: keeps its buffer between snapshots so steady-state
/// encoding allocates nothing.
#[derive(Debug, Default)]
pub struct DeltaEncoder {
    bits: BitWriter,
}

impl DeltaEncoder {
    pub fn new() -> Self {
        Self::default()
    }

    /// Encodes `current` against `baseline` (a full snapshot when `None`) and
    /// returns the payload, valid until the next call.
    pub fn encode<E: NetEntity>(
        &mut self,
        baseline: Option<&Snapshot<E>>,
        current: &Snapshot<E>,
    ) -> &[u8] {
        self.bits.clear();
        let w = &mut self.bits;
        let empty: &[E] = &[];
        let (base, ticks) = match baseline {
            Some(b) => (b.entities.as_slice(), current.tick.since(b.tick)),
            None => (empty, 0),
        };
        let cur = current.entities.as_slice();

        // Removed: in the baseline, not in the current snapshot.
        let mut prev: i64 = -1;
        let mut j = 0;
        for b in base {
            while j < cur.len() && cur[j].id() < b.id() {
                j += 1;
            }
            if j >= cur.len() || cur[j].id() != b.id() {
                write_id(w, &mut prev, b.id());
            }
        }
        w.write_bit(false);

        // Written: new, or different from the baseline's prediction.
        let mut prev: i64 = -1;
        let mut i = 0;
        for c in cur {
            while i < base.len() && base[i].id() < c.id() {
                i += 1;
            }
            if i < base.len() && base[i].id() == c.id() {
                let predicted = base[i].predict(ticks);
                if !c.same_on_wire(&predicted) {
                    write_id(w, &mut prev, c.id());
                    c.write_changes(&predicted, w);
                }
            } else {
                write_id(w, &mut prev, c.id());
                c.write_full(w);
            }
        }
        w.write_bit(false);
        w.finish()
    }
}

impl DeltaEncoder {
    /// Writes a payload from its parts, for a caller that already compared
    /// every entity with its baseline's prediction (the interest viewer):
    /// `removed` ids ascending, then `written` entities ascending by id,
    /// each with that prediction (`None`: not in the baseline, written in
    /// full). The layout is `encode`'s, so `decode_delta` reads it.
    pub fn encode_parts<'a, E: NetEntity + 'a>(
        &mut self,
        removed: impl IntoIterator<Item = EntityId>,
        written: impl IntoIterator<Item = (&'a E, Option<&'a E>)>,
    ) -> &[u8] {
        self.bits.clear();
        let w = &mut self.bits;
        let mut prev: i64 = -1;
        for id in removed {
            write_id(w, &mut prev, id);
        }
        w.write_bit(false);
        let mut prev: i64 = -1;
        for (entity, predicted) in written {
            write_id(w, &mut prev, entity.id());
            match predicted {
                Some(p) => entity.write_changes(p, w),
                None => entity.write_full(w),
            }
        }
        w.write_bit(false);
        w.finish()
    }
}

fn write_id(w: &mut BitWriter, prev: &mut i64, id: EntityId) {
    w.write_bit(true);
    w.write_gamma((i64::from(id.0) - *prev - 1) as u32);
    *prev = i64::from(id.0);
}

fn read_id(r: &mut BitReader, prev: &mut i64) -> Result<Option<EntityId>, CodecError> {
    if !r.read_bit()? {
        return Ok(None);
    }
    let id = *prev + 1 + i64::from(r.read_gamma()?);
    let id = u32::try_from(id).map_err(|_| CodecError::Invalid("entity id exceeds 32 bits"))?;
    *prev = i64::from(id);
    Ok(Some(EntityId(id)))
}

/// Encodes `current` against `baseline` into a new vector (see [`DeltaEncoder`]
/// to reuse the buffer).
pub fn encode_delta<E: NetEntity>(
    baseline: Option<&Snapshot<E>>,
    current: &Snapshot<E>,
) -> Vec<u8> {
    DeltaEncoder::new().encode(baseline, current).to_vec()
}

/// Decodes the snapshot at `tick` from `payload`, against `baseline`.
pub fn decode_delta<E: NetEntity>(
    baseline: Option<&Snapshot<E>>,
    tick: Tick,
    payload: &[u8],
) -> Result<Snapshot<E>, CodecError> {
    let base = baseline.map(|b| (b.tick, b.entities.as_slice()));
    let entities = decode_with(&Typed::<E>(std::marker::PhantomData), base, tick, payload)?;
    Ok(Snapshot { tick, entities })
}

/// How the payload layout reads one entity type: generated code for a
/// `NetEntity`, or a schema for the generic decoder.
pub(crate) trait EntityReader {
    type Entity;
    fn id(&self, e: &Self::Entity) -> EntityId;
    fn predict(&self, e: &Self::Entity, ticks: u32) -> Self::Entity;
    fn read_full(&self, id: EntityId, r: &mut BitReader) -> Result<Self::Entity, CodecError>;
    fn read_changes(
        &self,
        predicted: &Self::Entity,
        r: &mut BitReader,
    ) -> Result<Self::Entity, CodecError>;
}

struct Typed<E>(std::marker::PhantomData<E>);

impl<E: NetEntity> EntityReader for Typed<E> {
    type Entity = E;
    fn id(&self, e: &E) -> EntityId {
        e.id()
    }
    fn predict(&self, e: &E, ticks: u32) -> E {
        e.predict(ticks)
    }
    fn read_full(&self, id: EntityId, r: &mut BitReader) -> Result<E, CodecError> {
        E::read_full(id, r)
    }
    fn read_changes(&self, predicted: &E, r: &mut BitReader) -> Result<E, CodecError> {
        E::read_changes(predicted, r)
    }
}

/// The payload layout's decoder: the entities at `tick`, sorted by id.
pub(crate) fn decode_with<C: EntityReader>(
    codec: &C,
    baseline: Option<(Tick, &[C::Entity])>,
    tick: Tick,
    payload: &[u8],
) -> Result<Vec<C::Entity>, CodecError> {
    let mut r = BitReader::new(payload);
    let (base, ticks): (&[C::Entity], u32) = match baseline {
        Some((b, entities)) if b < tick => (entities, tick.since(b)),
        Some((b, _)) => {
            return Err(CodecError::BaselineNotBefore {
                baseline: b.0,
                tick: tick.0,
            })
        }
        None => (&[], 0),
    };

    // Removed ids, ascending; each must exist in the baseline.
    let mut removed: Vec<EntityId> = Vec::new();
    let mut prev = -1;
    while let Some(id) = read_id(&mut r, &mut prev)? {
        if base.binary_search_by_key(&id, |e| codec.id(e)).is_err() {
            return Err(CodecError::Invalid("removed entity is not in the baseline"));
        }
        removed.push(id);
    }

    // Merge the baseline (minus removed) with written entities, both ascending.
    let mut out: Vec<C::Entity> = Vec::with_capacity(base.len());
    let mut bi = 0;
    let mut ri = 0;
    let carry =
        |out: &mut Vec<C::Entity>, upto: Option<EntityId>, bi: &mut usize, ri: &mut usize| {
            while *bi < base.len() && upto.is_none_or(|u| codec.id(&base[*bi]) < u) {
                let b = &base[*bi];
                if *ri < removed.len() && removed[*ri] == codec.id(b) {
                    *ri += 1;
                } else {
                    out.push(codec.predict(b, ticks));
                }
                *bi += 1;
            }
        };
    let mut prev = -1;
    while let Some(id) = read_id(&mut r, &mut prev)? {
        carry(&mut out, Some(id), &mut bi, &mut ri);
        let entity = if bi < base.len() && codec.id(&base[bi]) == id {
            if ri < removed.len() && removed[ri] == id {
                return Err(CodecError::Invalid("entity is both removed and changed"));
            }
            let e = codec.read_changes(&codec.predict(&base[bi], ticks), &mut r)?;
            bi += 1;
            e
        } else {
            codec.read_full(id, &mut r)?
        };
        if codec.id(&entity) != id {
            return Err(CodecError::Invalid("entity decoded with another id"));
        }
        out.push(entity);
    }
    carry(&mut out, None, &mut bi, &mut ri);
    r.expect_end()?;
    Ok(out)
}
