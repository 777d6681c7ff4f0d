//! Any game's snapshots, inputs, messages and events from its schema alone,
//! with no generated code: what tools, tests and non-Rust clients do
//! (docs/PROTOCOL.md, "Decoding from the schema", is this module in prose).
//!
//! Values stay on their integer grid while decoding (prediction and
//! residuals are exact there); [`GenericCodec::to_json`] presents them:
//! reals as f32 values, angles in radians, enums by name.

use super::schema::{Field, FieldType, MessageType, Predict, Schema, SchemaError};
use super::wire::{self, bits_for, QuatCodec, QuatGrid};
use crate::protocol::{EntityId, Tick};
use crate::snapshot::{decode_with, BitReader, BitWriter, CodecError, EntityReader};
use serde_json::{json, Value as Json};

/// One field's value on its grid.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Value {
    Bool(bool),
    /// Integers, fixed-point steps, angle steps or an enum index; `dims`
    /// of the three are used.
    Ints([i64; 3]),
    Quat(QuatGrid),
    /// A string, checked against its `max_len` and for UTF-8.
    Str(String),
    /// A list's elements, each the values of its item record's fields.
    List(Vec<Vec<Value>>),
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
        FieldType::String { max_len } => {
            return wire::read_string_full(r, *max_len)
                .map(Value::Str)
                .map_err(err)
        }
        FieldType::List { max_len, item } => {
            let n = wire::read_list_len(r, *max_len).map_err(err)?;
            let mut out = Vec::with_capacity(n.min(16));
            for i in 0..n {
                out.push(
                    read_record(&item.fields, r)
                        .map_err(|e| super::element_error(&f.name, i, e))?,
                );
            }
            return Ok(Value::List(out));
        }
    }
    Ok(Value::Ints(ints))
}

/// Every field of a record, in full.
fn read_record(fields: &[Field], r: &mut BitReader) -> Result<Vec<Value>, CodecError> {
    fields.iter().map(|f| read_full(f, r)).collect()
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
        (
            FieldType::Angle { .. }
            | FieldType::Enum { .. }
            | FieldType::String { .. }
            | FieldType::List { .. },
            _,
        ) => read_full(f, r),
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
        (FieldType::String { max_len }, Value::Str(s)) => {
            wire::string_full(w, wire::truncate_str(s, *max_len as usize));
        }
        (FieldType::List { max_len, item }, Value::List(xs)) => {
            let xs = &xs[..xs.len().min(*max_len as usize)];
            wire::varint_full(w, xs.len() as i64, false);
            for x in xs {
                write_record(&item.fields, x, w);
            }
        }
        // Values come from `from_json` of the same field: the types match.
        _ => {}
    }
}

fn write_record(fields: &[Field], values: &[Value], w: &mut BitWriter) {
    for (f, v) in fields.iter().zip(values) {
        write_full(f, v, w);
    }
}

/// A record's values as a JSON object, one key per field.
fn record_json(fields: &[Field], values: &[Value]) -> Json {
    Json::Object(
        fields
            .iter()
            .zip(values)
            .map(|(f, v)| (f.name.clone(), present(f, v)))
            .collect(),
    )
}

/// The values of a record's fields from a JSON object (`owner` and `path`
/// name it in errors: "message `Chat` field `text`").
fn record_from_json(
    fields: &[Field],
    obj: &Json,
    owner: &str,
    path: &str,
) -> Result<Vec<Value>, SchemaError> {
    fields
        .iter()
        .map(|f| {
            let path = format!("{path}{}", f.name);
            let v = obj
                .get(&f.name)
                .ok_or_else(|| SchemaError(format!("{owner} field `{path}` is missing")))?;
            from_json(f, v, owner, &path)
        })
        .collect()
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

    /// An entity as JSON: `{"id", "kind" (its name), "fields": {name: value}}`
    /// (fields apart, so a field may be called `id` or `kind`).
    pub fn entity_json(&self, e: &GenericEntity) -> Json {
        let kind = &self.schema.kinds[e.kind as usize];
        let fields = record_json(&kind.fields, &e.fields);
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
        let fields = &self.schema.input.fields;
        let values = record_from_json(fields, input, "input", "")?;
        let mut w = BitWriter::new();
        write_record(fields, &values, &mut w);
        Ok(w.finish().to_vec())
    }

    /// Decodes an `Input` message's bytes into JSON.
    pub fn decode_input(&self, bytes: &[u8]) -> Result<Json, CodecError> {
        let mut r = BitReader::new(bytes);
        let values = read_record(&self.schema.input.fields, &mut r)?;
        r.expect_end()?;
        Ok(record_json(&self.schema.input.fields, &values))
    }

    /// Encodes a client message given as `{"type": "Chat", "fields": {...}}`
    /// (`fields` may be left out for a type without fields) into its bytes:
    /// the type's index, then its fields in full, zero-padded.
    pub fn encode_message(&self, message: &Json) -> Result<Vec<u8>, SchemaError> {
        encode_typed(&self.schema.messages, "message", message)
    }

    /// Decodes a client message's bytes into `{"type", "fields"}`.
    pub fn decode_message(&self, bytes: &[u8]) -> Result<Json, CodecError> {
        decode_typed(&self.schema.messages, "no such message type", bytes)
    }

    /// Encodes a server event, as [`encode_message`](Self::encode_message)
    /// does a message.
    pub fn encode_event(&self, event: &Json) -> Result<Vec<u8>, SchemaError> {
        encode_typed(&self.schema.events, "event", event)
    }

    /// Decodes a server event's bytes into `{"type", "fields"}`.
    pub fn decode_event(&self, bytes: &[u8]) -> Result<Json, CodecError> {
        decode_typed(&self.schema.events, "no such event type", bytes)
    }
}

/// One message or event: the type's index in `bits_for(types - 1)` bits,
/// then its fields in full.
fn encode_typed(types: &[MessageType], what: &str, json: &Json) -> Result<Vec<u8>, SchemaError> {
    let name = json
        .get("type")
        .and_then(Json::as_str)
        .ok_or_else(|| SchemaError(format!("a {what} needs \"type\": the name of its type")))?;
    let index = types
        .iter()
        .position(|t| t.name == name)
        .ok_or_else(|| SchemaError(format!("unknown {what} type `{name}`")))?;
    let t = &types[index];
    let owner = format!("{what} `{name}`");
    let fields = match json.get("fields") {
        None | Some(Json::Null) => &Json::Null,
        Some(obj @ Json::Object(_)) => obj,
        Some(other) => {
            return Err(SchemaError(format!(
                "{owner}: \"fields\" must be an object, not {other}"
            )))
        }
    };
    let values = record_from_json(&t.fields, fields, &owner, "")?;
    let mut w = BitWriter::new();
    w.write_bits(index as u32, bits_for(types.len() as u64 - 1));
    write_record(&t.fields, &values, &mut w);
    Ok(w.finish().to_vec())
}

fn decode_typed(
    types: &[MessageType],
    unknown: &'static str,
    bytes: &[u8],
) -> Result<Json, CodecError> {
    let mut r = BitReader::new(bytes);
    let bits = bits_for((types.len() as u64).saturating_sub(1));
    let t = types
        .get(r.read_bits(bits)? as usize)
        .ok_or(CodecError::Invalid(unknown))?;
    let values = read_record(&t.fields, &mut r)?;
    r.expect_end()?;
    Ok(json!({ "type": t.name, "fields": record_json(&t.fields, &values) }))
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
                        self.velocity[e.kind as usize][i].map(|j| &e.fields[j])
                    else {
                        continue;
                    };
                    let (min, max) = clamp_range(&f.ty);
                    let mut p = *v;
                    for (c, d) in p.iter_mut().zip(vel).take(dims(&f.ty)) {
                        *c = wire::linear(*c, *d, ticks, min, max);
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
        let fields = read_record(&self.schema.kinds[kind as usize].fields, r)?;
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
        (FieldType::String { .. }, Value::Str(s)) => json!(s),
        (FieldType::List { item, .. }, Value::List(xs)) => Json::Array(
            xs.iter()
                .map(|values| record_json(&item.fields, values))
                .collect(),
        ),
        _ => Json::Null,
    }
}

/// The grid value of a presented JSON value; out-of-range values are
/// clamped, strings and lists truncated to their `max_len`. `owner` and
/// `path` name the field in errors.
fn from_json(f: &Field, v: &Json, owner: &str, path: &str) -> Result<Value, SchemaError> {
    let bad = || {
        SchemaError(format!(
            "{owner} field `{path}`: value {v} does not fit its type"
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
        FieldType::String { max_len } => {
            let s = v.as_str().ok_or_else(bad)?;
            return Ok(Value::Str(
                wire::truncate_str(s, *max_len as usize).to_string(),
            ));
        }
        FieldType::List { max_len, item } => {
            let xs = v.as_array().ok_or_else(bad)?;
            let mut out = Vec::with_capacity(xs.len().min(*max_len as usize));
            for (i, x) in xs.iter().take(*max_len as usize).enumerate() {
                let at = format!("{path}[{i}].");
                if !x.is_object() {
                    return Err(SchemaError(format!(
                        "{owner} field `{path}[{i}]`: value {x} is not an object"
                    )));
                }
                out.push(record_from_json(&item.fields, x, owner, &at)?);
            }
            return Ok(Value::List(out));
        }
    }
    Ok(Value::Ints(ints))
}
