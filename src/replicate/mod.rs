//! State declared once: the traits `#[derive(Replicate)]` implements, the
//! field codecs it calls ([`wire`]), the schema as data ([`schema`]) and the
//! decoder that needs nothing but a schema ([`generic`]).
//!
//! A game declares its entities, its input and (as an entity kind marked
//! `singleton`) its per-match state with the derive; the snapshot codec and
//! the protocol take it from there, and every client, typed or generic,
//! decodes the same bits. See the README's "Writing your own game".

pub mod generic;
pub mod message;
pub mod schema;
pub mod wire;

pub use message::{MessageSet, NoMessages, Role};
pub use tickwire_derive::Replicate;

use crate::protocol::EntityId;
use crate::snapshot::{BitReader, BitWriter, CodecError};

/// A struct of replicated fields: an entity kind, a singleton state or an
/// input. Implemented by `#[derive(Replicate)]`.
///
/// Every method works on the wire grid: `snap` moves each field onto it
/// (the tick loop snaps every frozen entity), after which equality, prediction
/// and the bits written are exact, so a client's decoded copy is
/// bit-identical to the server's.
pub trait Replicated: Sized + Clone + std::fmt::Debug + Send + Sync + 'static {
    /// The type's name and fields, in wire order.
    fn record() -> schema::Record;
    /// Moves every replicated field onto its wire grid.
    fn snap(&mut self);
    /// What a client assumes `ticks` ticks later absent news.
    fn predict(&self, ticks: u32) -> Self;
    /// Whether every replicated field is equal (skipped fields are ignored).
    fn same_on_wire(&self, other: &Self) -> bool;
    fn write_full(&self, w: &mut BitWriter);
    /// Reads what `write_full` wrote; skipped fields and the id are default.
    fn read_full(r: &mut BitReader) -> Result<Self, CodecError>;
    /// Writes a field mask and the changed fields against `predicted`.
    fn write_changes(&self, predicted: &Self, w: &mut BitWriter);
    fn read_changes(predicted: &Self, r: &mut BitReader) -> Result<Self, CodecError>;
    /// Whether a field is marked `#[replicate(id)]`: such a type cannot be
    /// a list element or a message, which travel without ids.
    #[doc(hidden)]
    const HAS_ID: bool = false;
    /// The field marked `#[replicate(id)]`, if any.
    #[doc(hidden)]
    fn id_field(&self) -> EntityId {
        EntityId(0)
    }
    #[doc(hidden)]
    fn set_id_field(&mut self, id: EntityId) {
        let _ = id;
    }
}

/// A replicated entity type: a struct with an `#[replicate(id)]` field, or an
/// enum of entity kinds (one variant per kind, each wrapping a struct).
/// Implemented by `#[derive(Replicate)]`.
pub trait NetEntity: Clone + std::fmt::Debug + Send + Sync + 'static {
    fn id(&self) -> EntityId;
    /// The entity kinds in wire order.
    fn kinds() -> Vec<schema::Kind>;
    fn snap(&mut self);
    /// What a client should assume this entity looks like `ticks` ticks after
    /// this state, absent news. Pure and total.
    fn predict(&self, ticks: u32) -> Self;
    /// Equal on every replicated field: the codec skips an entity exactly
    /// when it is `same_on_wire` as the prediction.
    fn same_on_wire(&self, other: &Self) -> bool;
    /// Writes every field but the id (the codec writes ids).
    fn write_full(&self, w: &mut BitWriter);
    fn read_full(id: EntityId, r: &mut BitReader) -> Result<Self, CodecError>;
    /// Writes how `self` differs from `predicted` (which it is not
    /// `same_on_wire` as).
    fn write_changes(&self, predicted: &Self, w: &mut BitWriter);
    fn read_changes(predicted: &Self, r: &mut BitReader) -> Result<Self, CodecError>;
}

/// The reserved id of a singleton kind's one entity.
pub const SINGLETON_ID: EntityId = EntityId(0);

/// A field-named decode error, as the derive reports it.
#[doc(hidden)]
pub fn field_error(field: &'static str, reason: &'static str) -> CodecError {
    CodecError::Field {
        field: field.to_string(),
        reason,
    }
}

/// An error inside element `index` of the list field `list`, named as a
/// path (`results[2].score`), as the derive and the generic decoder report it.
#[doc(hidden)]
pub fn element_error(list: &str, index: usize, e: CodecError) -> CodecError {
    match e {
        CodecError::Field { field, reason } => CodecError::Field {
            field: format!("{list}[{index}].{field}"),
            reason,
        },
        CodecError::Invalid(reason) => CodecError::Field {
            field: list.to_string(),
            reason,
        },
        _ => CodecError::Field {
            field: list.to_string(),
            reason: "payload ends inside this field",
        },
    }
}

/// The empty input: a game whose players only watch.
impl Replicated for () {
    fn record() -> schema::Record {
        schema::Record {
            name: "()".into(),
            fields: Vec::new(),
        }
    }
    fn snap(&mut self) {}
    fn predict(&self, _: u32) -> Self {}
    fn same_on_wire(&self, _: &Self) -> bool {
        true
    }
    fn write_full(&self, _: &mut BitWriter) {}
    fn read_full(_: &mut BitReader) -> Result<Self, CodecError> {
        Ok(())
    }
    fn write_changes(&self, _: &Self, _: &mut BitWriter) {}
    fn read_changes(_: &Self, _: &mut BitReader) -> Result<Self, CodecError> {
        Ok(())
    }
}
