//! Any game's snapshots and inputs from its schema alone, with no generated
//! code: what tools, tests and non-Rust clients do (docs/PROTOCOL.md,
//! "Decoding from the schema", is this module in prose).
//!
//! Values stay on their integer grid while decoding (prediction and
//! residuals are exact there); [`GenericCodec::to_json`] presents them:
//! reals as f32 values, angles in radians, enums by name.

use super::schema::{Field, FieldType, Predict, Schema, SchemaError};
use super::wire::{self, bits_for, QuatCodec, QuatGrid};
use crate::protocol::{EntityId, Tick};
use crate::snapshot::{decode_with, BitReader, BitWriter, CodecError, EntityReader};
use serde_json::{json, Map, Value as Json};

/// One field's value on its grid.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Value {
    Bool(bool),
    /// Integers, fixed-point steps, angle steps or an enum index; `dims`
    /// of the three are used.
    Ints([i64; 3]),
    Quat(QuatGrid),
}

/// An entity decoded by schema.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GenericEntity {
    pub id: EntityId,
    pub kind: u32,
    pub fields: Vec<Value>,
}

/// A snapshot decoded by schema: entities sorted by id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GenericSnapshot {
    pub tick: Tick,
    pub entities: Vec<GenericEntity>,
}

/// A validated schema, ready to decode.
#[derive(Debug, Clone)]
pub struct GenericCodec {
    schema: Schema,
    kind_bits: u32,
    /// Per kind, per field: the index of its linear velocity field.
    velocity: Vec<Vec<Option<usize>>>,
    /// More than one kind: a kind number before each full entity and a
    /// kind-change bit before each change.
    enum_kinds: bool,
}

fn dims(ty: &FieldType) -> usize {
    match ty {
        FieldType::Int { dims, .. }
        | FieldType::Varint { dims, .. }
        | FieldType::Fixed { dims, .. } => usize::from(*dims),
        _ => 1,
    }
}

fn named(field: &Field, e: &'static str) -> CodecError {
    CodecError::Field {
        field: field.name.clone(),
        reason: e,
    }
}

fn read_full(f: &Field, r: &mut BitReader) -> Result<Value, CodecError> {
    let err = |e| named(f, e);
    let mut ints = [0i64; 3];
    match &f.ty {
        FieldType::Bool => {
            return Ok(Value::Bool(
                r.read_bit()
                    .map_err(|_| err("payload ends inside this field"))?,
            ))
        }
        FieldType::Int { dims, min, max, .. } => {
            let bits = bits_for((max - min) as u64);
            for v in ints.iter_mut().take(usize::from(*dims)) {
                *v = wire::read_int_full(r, *min, *max, bits).map_err(err)?;
            }
        }
        FieldType::Varint { dims, signed } => {
            for v in ints.iter_mut().take(usize::from(*dims)) {
                *v = wire::read_varint_full(r, *signed).map_err(err)?;
            }
        }
        FieldType::Fixed {
            dims, qmin, qmax, ..
        } => {
            let bits = bits_for((qmax - qmin) as u64);
            for v in ints.iter_mut().take(usize::from(*dims)) {
                *v = wire::read_int_full(r, *qmin, *qmax, bits).map_err(err)?;
            }
        }
        FieldType::Angle { bits, .. } => {
            ints[0] = i64::from(
                r.read_bits(*bits)
                    .map_err(|_| err("payload ends inside this field"))?,
            );
        }
        FieldType::Quat { bits } => {
            return QuatCodec { bits: *bits }
                .read_grid(r)
                .map(Value::Quat)
                .map_err(err)
        }
        FieldType::Enum { variants } => {
            let bits = bits_for(variants.len() as u64 - 1);
            let i = r
                .read_bits(bits)
                .map_err(|_| err("payload ends inside this field"))?;
            if i as usize >= variants.len() {
                return Err(err("no such variant"));
            }
            ints[0] = i64::from(i);
        }
    }
    Ok(Value::Ints(ints))
}

fn read_change(f: &Field, p: &Value, r: &mut BitReader) -> Result<Value, CodecError> {
    let err = |e| named(f, e);
    match (&f.ty, p) {
        (FieldType::Bool, Value::Bool(b)) => Ok(Value::Bool(!b)),
        (FieldType::Quat { bits }, Value::Quat(g)) => QuatCodec { bits: *bits }
            .read_grid_change(*g, r)
            .map(Value::Quat)
            .map_err(err),
        (
            FieldType::Int {
                dims,
                min,
                max,
                signed,
            },
            Value::Ints(p),
        ) => {
            let mut out = *p;
            for v in out.iter_mut().take(usize::from(*dims)) {
                *v = wire::read_residual(r, *v, *signed).map_err(err)?;
                if *v < *min || *v > *max {
                    return Err(err("value outside the declared range"));
                }
            }
            Ok(Value::Ints(out))
        }
        (FieldType::Varint { dims, signed }, Value::Ints(p)) => {
            let mut out = *p;
            for v in out.iter_mut().take(usize::from(*dims)) {
                *v = wire::read_residual(r, *v, *signed).map_err(err)?;
            }
            Ok(Value::Ints(out))
        }
        (
            FieldType::Fixed {
                dims, qmin, qmax, ..
            },
            Value::Ints(p),
        ) => {
            let mut out = *p;
            for v in out.iter_mut().take(usize::from(*dims)) {
                *v = wire::read_residual(r, *v, true).map_err(err)?;
                if *v < *qmin || *v > *qmax {
                    return Err(err("value outside the declared range"));
                }
            }
            Ok(Value::Ints(out))
        }
        (FieldType::Angle { .. } | FieldType::Enum { .. }, _) => read_full(f, r),
        _ => Err(err("value does not match the field type")),
    }
}

/// The range linear prediction clamps to: declared, or the 32-bit domain.
fn clamp_range(ty: &FieldType) -> (i64, i64) {
    match ty {
        FieldType::Int { min, max, .. } => (*min, *max),
        FieldType::Fixed { qmin, qmax, .. } => (*qmin, *qmax),
        FieldType::Varint { signed: true, .. } => (i64::from(i32::MIN), i64::from(i32::MAX)),
        _ => (0, i64::from(u32::MAX)),
    }
}

fn write_full(f: &Field, v: &Value, w: &mut BitWriter) {
    match (&f.ty, v) {
        (FieldType::Bool, Value::Bool(b)) => w.write_bit(*b),
        (FieldType::Int { dims, min, max, .. }, Value::Ints(x)) => {
            for c in x.iter().take(usize::from(*dims)) {
                wire::int_full(
                    w,
                    (*c).clamp(*min, *max),
                    *min,
                    bits_for((max - min) as u64),
                );
            }
        }
        (FieldType::Varint { dims, signed }, Value::Ints(x)) => {
            let (min, max) = clamp_range(&f.ty);
            for c in x.iter().take(usize::from(*dims)) {
                wire::varint_full(w, (*c).clamp(min, max), *signed);
            }
        }
        (
            FieldType::Fixed {
                dims, qmin, qmax, ..
            },
            Value::Ints(x),
        ) => {
            for c in x.iter().take(usize::from(*dims)) {
                wire::int_full(
                    w,
                    (*c).clamp(*qmin, *qmax),
                    *qmin,
                    bits_for((qmax - qmin) as u64),
                );
            }
        }
        (FieldType::Angle { bits, .. }, Value::Ints(x)) => w.write_bits(x[0] as u32, *bits),
        (FieldType::Enum { variants }, Value::Ints(x)) => {
            w.write_bits(x[0] as u32, bits_for(variants.len() as u64 - 1));
        }
        (FieldType::Quat { bits }, Value::Quat(g)) => {
            w.write_bits(g.largest, 2);
            let m = QuatCodec { bits: *bits }.max_step();
            for c in g.small {
                wire::int_full(w, c, -m, *bits);
            }
        }
        // Values come from `from_json` of the same field: the types match.
        _ => {}
    }
}

impl GenericCodec {
    pub fn new(schema: Schema) -> Result<Self, SchemaError> {
        schema.validate()?;
        let velocity = schema
            .kinds
            .iter()
            .map(|k| {
                k.fields
                    .iter()
                    .map(|f| match &f.predict {
                        Predict::Linear(v) => k.fields.iter().position(|g| &g.name == v),
                        _ => None,
                    })
                    .collect()
            })
            .collect();
        let enum_kinds = schema.kinds.len() > 1;
        Ok(GenericCodec {
            kind_bits: bits_for(schema.kinds.len() as u64 - 1),
            velocity,
            enum_kinds,
            schema,
        })
    }

    /// Parses and validates a schema's JSON text.
    pub fn from_json(text: &str) -> Result<Self, SchemaError> {
        Self::new(Schema::from_json(text)?)
    }

    pub fn schema(&self) -> &Schema {
        &self.schema
    }

    /// Decodes a snapshot payload at `tick` against `baseline`.
    pub fn decode(
        &self,
        baseline: Option<&GenericSnapshot>,
        tick: Tick,
        payload: &[u8],
    ) -> Result<GenericSnapshot, CodecError> {
        let base = baseline.map(|b| (b.tick, b.entities.as_slice()));
        let entities = decode_with(self, base, tick, payload)?;
        Ok(GenericSnapshot { tick, entities })
    }

    fn read_fields(&self, kind: u32, r: &mut BitReader) -> Result<Vec<Value>, CodecError> {
        self.schema.kinds[kind as usize]
            .fields
            .iter()
            .map(|f| read_full(f, r))
            .collect()
    }

    /// An entity as JSON: `{"id", "kind" (its name), "fields": {name: value}}`
    /// (fields apart, so a field may be called `id` or `kind`).
    pub fn entity_json(&self, e: &GenericEntity) -> Json {
        let kind = &self.schema.kinds[e.kind as usize];
        let mut fields = Map::new();
        for (f, v) in kind.fields.iter().zip(&e.fields) {
            fields.insert(f.name.clone(), present(f, v));
        }
        json!({ "id": e.id.0, "kind": kind.name, "fields": fields })
    }

    /// A snapshot as JSON: `{"tick": N, "entities": [...]}`.
    pub fn to_json(&self, s: &GenericSnapshot) -> Json {
        json!({
            "tick": s.tick.0,
            "entities": s.entities.iter().map(|e| self.entity_json(e)).collect::<Vec<_>>(),
        })
    }

    /// Encodes an input given as a JSON object of field values (in the
    /// presented units: reals as numbers, angles in radians, enums by name)
    /// into the bytes an `Input` message carries.
    pub fn encode_input(&self, input: &Json) -> Result<Vec<u8>, SchemaError> {
        let mut w = BitWriter::new();
        for f in &self.schema.input.fields {
            let v = input
                .get(&f.name)
                .ok_or_else(|| SchemaError(format!("input field `{}` is missing", f.name)))?;
            write_full(f, &from_json(f, v)?, &mut w);
        }
        Ok(w.finish().to_vec())
    }

    /// Decodes an `Input` message's bytes into JSON.
    pub fn decode_input(&self, bytes: &[u8]) -> Result<Json, CodecError> {
        let mut r = BitReader::new(bytes);
        let mut obj = Map::new();
        for f in &self.schema.input.fields {
            let v = read_full(f, &mut r)?;
            obj.insert(f.name.clone(), present(f, &v));
        }
        r.expect_end()?;
        Ok(Json::Object(obj))
    }
}

impl EntityReader for GenericCodec {
    type Entity = GenericEntity;

    fn id(&self, e: &GenericEntity) -> EntityId {
        e.id
    }

    fn predict(&self, e: &GenericEntity, ticks: u32) -> GenericEntity {
        let kind = &self.schema.kinds[e.kind as usize];
        let mut out = e.clone();
        for (i, f) in kind.fields.iter().enumerate() {
            match (&f.predict, &e.fields[i]) {
                (Predict::Counter, Value::Ints(v)) if v[0] != 0 => {
                    let (_, max) = clamp_range(&f.ty);
                    out.fields[i] =
                        Value::Ints([v[0].saturating_add(i64::from(ticks)).min(max), 0, 0]);
                }
                (Predict::Linear(_), Value::Ints(v)) => {
                    let Some(Value::Ints(vel)) =
                        self.velocity[e.kind as usize][i].map(|j| e.fields[j])
                    else {
                        continue;
                    };
                    let (min, max) = clamp_range(&f.ty);
                    let mut p = *v;
                    for (c, d) in p.iter_mut().zip(vel).take(dims(&f.ty)) {
                        *c = wire::linear(*c, d, ticks, min, max);
                    }
                    out.fields[i] = Value::Ints(p);
                }
                _ => {}
            }
        }
        out
    }

    fn read_full(&self, id: EntityId, r: &mut BitReader) -> Result<GenericEntity, CodecError> {
        let kind = if self.enum_kinds {
            let k = r.read_bits(self.kind_bits)?;
            if k as usize >= self.schema.kinds.len() {
                return Err(CodecError::Invalid("no such entity kind"));
            }
            k
        } else {
            0
        };
        let fields = self.read_fields(kind, r)?;
        let id = if self.schema.kinds[kind as usize].singleton {
            super::SINGLETON_ID
        } else {
            id
        };
        Ok(GenericEntity { id, kind, fields })
    }

    fn read_changes(
        &self,
        p: &GenericEntity,
        r: &mut BitReader,
    ) -> Result<GenericEntity, CodecError> {
        if self.enum_kinds && r.read_bit()? {
            return self.read_full(p.id, r);
        }
        let fields = &self.schema.kinds[p.kind as usize].fields;
        let n = fields.len() as u32;
        let mask = r.read_bits(n)?;
        if mask == 0 {
            return Err(CodecError::Invalid(
                "changed entity with an empty field mask",
            ));
        }
        let mut out = p.clone();
        for (k, f) in fields.iter().enumerate() {
            if mask & (1 << (n - 1 - k as u32)) != 0 {
                out.fields[k] = read_change(f, &p.fields[k], r)?;
            }
        }
        Ok(out)
    }
}

/// A value in the units a game uses: reals as f32, angles in radians.
fn present(f: &Field, v: &Value) -> Json {
    let many = |xs: Vec<Json>| {
        if xs.len() == 1 {
            xs.into_iter().next().unwrap_or(Json::Null)
        } else {
            Json::Array(xs)
        }
    };
    match (&f.ty, v) {
        (FieldType::Bool, Value::Bool(b)) => json!(b),
        (FieldType::Int { dims, .. } | FieldType::Varint { dims, .. }, Value::Ints(x)) => {
            many(x[..usize::from(*dims)].iter().map(|c| json!(c)).collect())
        }
        (FieldType::Fixed { dims, quantum, .. }, Value::Ints(x)) => many(
            x[..usize::from(*dims)]
                .iter()
                .map(|q| json!(f64::from((*q as f64 * quantum) as f32)))
                .collect(),
        ),
        (FieldType::Angle { bits, .. }, Value::Ints(x)) => {
            json!(f64::from(wire::Angle { bits: *bits }.radians(x[0] as u32)))
        }
        (FieldType::Enum { variants }, Value::Ints(x)) => json!(variants[x[0] as usize]),
        (FieldType::Quat { bits }, Value::Quat(g)) => {
            json!(QuatCodec { bits: *bits }.quat(*g).to_array().map(f64::from))
        }
        _ => Json::Null,
    }
}

/// The grid value of a presented JSON value; out-of-range values are clamped.
fn from_json(f: &Field, v: &Json) -> Result<Value, SchemaError> {
    let bad = || {
        SchemaError(format!(
            "input field `{}`: value {v} does not fit its type",
            f.name
        ))
    };
    let nums = |n: usize| -> Result<Vec<f64>, SchemaError> {
        let xs: Vec<f64> = match v {
            Json::Array(a) => a
                .iter()
                .map(|x| x.as_f64().ok_or_else(bad))
                .collect::<Result<_, _>>()?,
            x => vec![x.as_f64().ok_or_else(bad)?],
        };
        if xs.len() != n {
            return Err(bad());
        }
        Ok(xs)
    };
    let mut ints = [0i64; 3];
    match &f.ty {
        FieldType::Bool => return v.as_bool().map(Value::Bool).ok_or_else(bad),
        FieldType::Int { dims, .. } | FieldType::Varint { dims, .. } => {
            for (c, x) in ints.iter_mut().zip(nums(usize::from(*dims))?) {
                *c = x.round() as i64;
            }
        }
        FieldType::Fixed { dims, quantum, .. } => {
            let codec = wire::Fixed::new(*quantum, i64::MIN / 2, i64::MAX / 2);
            for (c, x) in ints.iter_mut().zip(nums(usize::from(*dims))?) {
                *c = codec.quantize(x as f32);
            }
        }
        FieldType::Angle { bits, .. } => {
            ints[0] = i64::from(wire::Angle { bits: *bits }.steps(nums(1)?[0] as f32));
        }
        FieldType::Enum { variants } => {
            let name = v.as_str().ok_or_else(bad)?;
            ints[0] = variants.iter().position(|x| x == name).ok_or_else(bad)? as i64;
        }
        FieldType::Quat { bits } => {
            let c = nums(4)?;
            let q = glam::Quat::from_xyzw(c[0] as f32, c[1] as f32, c[2] as f32, c[3] as f32);
            return Ok(Value::Quat(QuatCodec { bits: *bits }.grid(q)));
        }
    }
    Ok(Value::Ints(ints))
}
