//! The schema as data: every replicated type of a game, its fields in wire
//! order, their codecs and predictions, with a stable hash.
//!
//! The JSON form (docs/PROTOCOL.md, "Schema") is what `GET /v1/schema` serves
//! and what `Welcome` carries, so a client in any language decodes any game
//! without generated code. The hash is FNV-1a 64 of [`Schema::to_json`]'s
//! compact text: two games with the same hash have the same wire (names
//! count too, as generic clients show them).

use serde::{Deserialize, Serialize};

/// The version of the schema format itself.
pub const SCHEMA_FORMAT: u32 = 2;

/// Everything a generic client needs to decode snapshots and encode inputs.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Schema {
    pub format: u32,
    /// Entity kinds; a kind's index is its wire number.
    pub kinds: Vec<Kind>,
    pub input: Record,
    /// Client messages; a type's index is its wire number.
    pub messages: Vec<MessageType>,
    /// Server events; a type's index is its wire number.
    pub events: Vec<MessageType>,
}

/// One entity kind.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Kind {
    pub name: String,
    /// The one entity of this kind has id 0: per-match state.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub singleton: bool,
    pub fields: Vec<Field>,
}

/// A struct of fields (an input, or the fields of a kind).
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Record {
    pub name: String,
    pub fields: Vec<Field>,
}

/// One message type: a client message or a server event.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct MessageType {
    pub name: String,
    /// The roles that may send it (client messages only; events are sent by
    /// the server).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub allow: Vec<super::message::Role>,
    pub fields: Vec<Field>,
}

/// One replicated field.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct Field {
    pub name: String,
    #[serde(flatten)]
    pub ty: FieldType,
    #[serde(default, skip_serializing_if = "Predict::is_hold")]
    pub predict: Predict,
}

/// A field's codec; see `replicate::wire` for the bits of each.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum FieldType {
    Bool,
    /// `dims` integers in `min..=max`; residuals wrap in the signed or
    /// unsigned 32-bit domain.
    Int {
        dims: u8,
        min: i64,
        max: i64,
        signed: bool,
    },
    /// `dims` gamma-coded integers.
    Varint {
        dims: u8,
        signed: bool,
    },
    /// `dims` reals on the grid `q * quantum`, `q` in `qmin..=qmax`.
    Fixed {
        dims: u8,
        quantum: f64,
        qmin: i64,
        qmax: i64,
    },
    /// A turn in `2^bits` steps; `steps` says the Rust field holds the step
    /// count rather than radians (the wire is the same).
    Angle {
        bits: u32,
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        steps: bool,
    },
    /// Smallest-three with `bits` per component.
    Quat {
        bits: u32,
    },
    /// A variant index of `bits_for(len - 1)` bits.
    Enum {
        variants: Vec<String>,
    },
    /// UTF-8 text of at most `max_len` bytes: its length, then its bytes.
    String {
        max_len: u32,
    },
    /// At most `max_len` records `item`: their count, then each in full.
    List {
        max_len: u32,
        item: Record,
    },
}

/// The largest `max_len` of a string or list.
pub const MAX_LEN: u32 = 65535;

/// How a client extrapolates a field absent news.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Eq, Default)]
#[serde(rename_all = "snake_case")]
pub enum Predict {
    /// Unchanged.
    #[default]
    Hold,
    /// Plus the named field (same type and quantum) per tick, clamped to range.
    Linear(String),
    /// Once nonzero, plus one per tick.
    Counter,
}

impl Predict {
    pub fn is_hold(&self) -> bool {
        *self == Predict::Hold
    }
}

impl Field {
    /// A field description, as the derive builds it.
    pub fn new(name: &str, ty: FieldType, predict: Predict) -> Self {
        Field {
            name: name.to_string(),
            ty,
            predict,
        }
    }
}

/// A game's schema with its canonical text and hash, computed once.
#[derive(Debug, Clone)]
pub struct GameSchema {
    pub schema: Schema,
    /// The canonical JSON text the hash covers.
    pub json: String,
    pub hash: u64,
}

impl GameSchema {
    pub fn of<G: crate::game::ClientGame + ?Sized>() -> Self {
        let schema = Schema::of::<G::Entity, G::Input, G::Message, G::Event>();
        let json = schema.to_json();
        let hash = fnv1a(json.as_bytes());
        GameSchema { schema, json, hash }
    }
}

impl Schema {
    /// The schema of a game's entity, input, message and event types.
    pub fn of<E, I, M, V>() -> Self
    where
        E: super::NetEntity,
        I: super::Replicated,
        M: super::MessageSet,
        V: super::MessageSet,
    {
        Schema {
            format: SCHEMA_FORMAT,
            kinds: E::kinds(),
            input: I::record(),
            messages: M::types(),
            // The server sends events: no role needs leave to.
            events: V::types()
                .into_iter()
                .map(|t| MessageType {
                    allow: Vec::new(),
                    ..t
                })
                .collect(),
        }
    }

    /// The canonical compact JSON text, the one the hash covers.
    pub fn to_json(&self) -> String {
        // Serializing plain structs of strings and numbers cannot fail.
        serde_json::to_string(self).expect("a schema serializes")
    }

    /// Parses a schema's JSON text, checking it is one this library decodes.
    pub fn from_json(text: &str) -> Result<Self, SchemaError> {
        let schema: Schema =
            serde_json::from_str(text).map_err(|e| SchemaError(format!("not a schema: {e}")))?;
        schema.validate()?;
        Ok(schema)
    }

    /// FNV-1a 64 of the canonical JSON.
    pub fn hash(&self) -> u64 {
        fnv1a(self.to_json().as_bytes())
    }

    /// Checks what the generic decoder relies on: bit widths, ranges, and
    /// that each linear prediction names a field of the same codec.
    pub fn validate(&self) -> Result<(), SchemaError> {
        if self.format != SCHEMA_FORMAT {
            return Err(SchemaError(format!(
                "schema format {} is not {SCHEMA_FORMAT}",
                self.format
            )));
        }
        if self.kinds.is_empty() {
            return Err(SchemaError("a schema needs at least one kind".into()));
        }
        if self.kinds.iter().filter(|k| k.singleton).count() > 1 {
            return Err(SchemaError("at most one kind can be a singleton".into()));
        }
        for kind in &self.kinds {
            check_fields(&kind.name, &kind.fields)?;
        }
        check_fields(&self.input.name, &self.input.fields)?;
        for (what, types) in [("message", &self.messages), ("event", &self.events)] {
            for (i, t) in types.iter().enumerate() {
                if types[..i].iter().any(|u| u.name == t.name) {
                    return Err(SchemaError(format!("two {what} types named {}", t.name)));
                }
                let roles_ok = if what == "message" {
                    !t.allow.is_empty()
                        && t.allow.windows(2).all(|w| w[0].to_wire() < w[1].to_wire())
                } else {
                    t.allow.is_empty()
                };
                if !roles_ok {
                    return Err(SchemaError(format!(
                        "{what} {}: a message type allows one or more roles, in the order \
                         player, spectator, admin, each once; an event allows none",
                        t.name
                    )));
                }
                check_fields(&t.name, &t.fields)?;
            }
        }
        Ok(())
    }
}

fn check_fields(owner: &str, fields: &[Field]) -> Result<(), SchemaError> {
    if fields.len() > 32 {
        return Err(SchemaError(format!("{owner}: more than 32 fields")));
    }
    for f in fields {
        let bad = |why: &str| SchemaError(format!("{owner}.{}: {why}", f.name));
        match &f.ty {
            FieldType::Int { dims, min, max, .. } => {
                if !(1..=3).contains(dims) || min > max || (max - min) > u32::MAX as i64 {
                    return Err(bad("int needs dims 1..=3 and a span of at most 2^32 - 1"));
                }
                if *min < i64::from(i32::MIN) || *max > i64::from(u32::MAX) {
                    return Err(bad("int range exceeds 32 bits"));
                }
            }
            FieldType::Varint { dims, .. } | FieldType::Fixed { dims, .. }
                if !(1..=3).contains(dims) =>
            {
                return Err(bad("dims must be 1..=3"));
            }
            FieldType::Fixed {
                quantum,
                qmin,
                qmax,
                ..
            } if !(quantum.is_finite() && *quantum > 0.0)
                || qmin > qmax
                || *qmin < -(1 << 23)
                || *qmax > 1 << 23 =>
            {
                return Err(bad("fixed needs a positive quantum and |q| <= 2^23"));
            }
            FieldType::Angle { bits, .. } if !(1..=32).contains(bits) => {
                return Err(bad("angle bits must be 1..=32"));
            }
            FieldType::Quat { bits } if !(2..=24).contains(bits) => {
                return Err(bad("quat bits must be 2..=24"));
            }
            FieldType::Enum { variants } if variants.is_empty() => {
                return Err(bad("an enum needs a variant"));
            }
            FieldType::String { max_len } | FieldType::List { max_len, .. }
                if !(1..=MAX_LEN).contains(max_len) =>
            {
                return Err(bad("max_len must be 1..=65535"));
            }
            FieldType::List { item, .. } => {
                check_fields(&format!("{owner}.{}", f.name), &item.fields)?;
            }
            _ => {}
        }
        if matches!(f.ty, FieldType::String { .. } | FieldType::List { .. }) && !f.predict.is_hold()
        {
            return Err(bad("strings and lists are only ever held"));
        }
        match &f.predict {
            Predict::Hold => {}
            Predict::Counter => {
                if !matches!(
                    f.ty,
                    FieldType::Int { dims: 1, .. } | FieldType::Varint { dims: 1, .. }
                ) {
                    return Err(bad("counter prediction needs a one-dimensional integer"));
                }
            }
            Predict::Linear(v) => {
                let vel = fields
                    .iter()
                    .find(|g| &g.name == v)
                    .ok_or_else(|| bad("linear prediction names no field of this type"))?;
                let same = match (&f.ty, &vel.ty) {
                    (FieldType::Int { dims: a, .. }, FieldType::Int { dims: b, .. })
                    | (FieldType::Int { dims: a, .. }, FieldType::Varint { dims: b, .. })
                    | (FieldType::Varint { dims: a, .. }, FieldType::Int { dims: b, .. })
                    | (FieldType::Varint { dims: a, .. }, FieldType::Varint { dims: b, .. }) => {
                        a == b
                    }
                    (
                        FieldType::Fixed {
                            dims: a,
                            quantum: qa,
                            ..
                        },
                        FieldType::Fixed {
                            dims: b,
                            quantum: qb,
                            ..
                        },
                    ) => a == b && qa == qb,
                    _ => false,
                };
                if !same {
                    return Err(bad(
                        "linear prediction needs a velocity of the same dims (and quantum)",
                    ));
                }
            }
        }
    }
    Ok(())
}

/// A schema this library cannot use.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid schema: {0}")]
pub struct SchemaError(pub String);

/// FNV-1a, 64 bits: tiny, and the same in every language.
pub fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
        (h ^ u64::from(*b)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

/// A hash as it travels in URLs and JSON: 16 lowercase hex digits.
pub fn hash_hex(hash: u64) -> String {
    format!("{hash:016x}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::replicate::Role;

    #[test]
    fn fnv1a_matches_its_reference_values() {
        assert_eq!(fnv1a(b""), 0xcbf29ce484222325);
        assert_eq!(fnv1a(b"a"), 0xaf63dc4c8601ec8c);
        assert_eq!(fnv1a(b"foobar"), 0x85944171f73967e8);
    }

    #[test]
    fn a_linear_prediction_must_name_a_matching_velocity() {
        let fixed = |q| FieldType::Fixed {
            dims: 3,
            quantum: q,
            qmin: -100,
            qmax: 100,
        };
        let schema = |vel_quantum| Schema {
            format: SCHEMA_FORMAT,
            kinds: vec![Kind {
                name: "Ship".into(),
                singleton: false,
                fields: vec![
                    Field::new("pos", fixed(0.5), Predict::Linear("vel".into())),
                    Field::new("vel", fixed(vel_quantum), Predict::Hold),
                ],
            }],
            input: Record {
                name: "()".into(),
                fields: vec![],
            },
            messages: vec![],
            events: vec![],
        };
        assert!(schema(0.5).validate().is_ok());
        let err = schema(0.25).validate().unwrap_err();
        assert!(err.0.contains("Ship.pos"), "{err}");
        let json = schema(0.5).to_json();
        assert_eq!(Schema::from_json(&json).unwrap(), schema(0.5));
        assert!(Schema::from_json("{\"format\":1}").is_err());
    }

    fn with_messages(messages: Vec<MessageType>, events: Vec<MessageType>) -> Schema {
        Schema {
            format: SCHEMA_FORMAT,
            kinds: vec![Kind {
                name: "K".into(),
                singleton: false,
                fields: vec![],
            }],
            input: Record {
                name: "()".into(),
                fields: vec![],
            },
            messages,
            events,
        }
    }

    fn message(name: &str, allow: Vec<Role>, fields: Vec<Field>) -> MessageType {
        MessageType {
            name: name.into(),
            allow,
            fields,
        }
    }

    #[test]
    fn strings_and_lists_need_a_max_len_in_bounds_and_valid_items() {
        let string = |max_len| Field::new("text", FieldType::String { max_len }, Predict::Hold);
        let list = |max_len, item_fields| {
            Field::new(
                "ranks",
                FieldType::List {
                    max_len,
                    item: Record {
                        name: "Rank".into(),
                        fields: item_fields,
                    },
                },
                Predict::Hold,
            )
        };
        let int = |min, max| {
            let ty = FieldType::Int {
                dims: 1,
                min,
                max,
                signed: true,
            };
            Field::new("score", ty, Predict::Hold)
        };
        let check = |f: Field| {
            let m = message("Chat", vec![Role::Player], vec![f]);
            with_messages(vec![m], vec![]).validate()
        };
        assert!(check(string(1)).is_ok());
        assert!(check(string(65535)).is_ok());
        assert!(check(list(8, vec![int(0, 10)])).is_ok());
        for bad in [string(0), string(65536), list(0, vec![])] {
            let err = check(bad).unwrap_err();
            assert!(err.0.contains("max_len must be 1..=65535"), "{err}");
        }
        let err = check(list(8, vec![int(10, 0)])).unwrap_err();
        assert!(err.0.contains("Chat.ranks.score"), "{err}");
        let mut held = string(4);
        held.predict = Predict::Counter;
        assert!(check(held).unwrap_err().0.contains("only ever held"));
        // Round trip through the JSON form.
        let s = with_messages(
            vec![message("Chat", vec![Role::Player], vec![string(4)])],
            vec![message("Over", vec![], vec![list(8, vec![int(0, 10)])])],
        );
        assert_eq!(Schema::from_json(&s.to_json()).unwrap(), s);
        assert!(s
            .to_json()
            .contains(r#"{"name":"text","type":"string","max_len":4}"#));
        assert!(s.to_json().contains(
            r#"{"name":"ranks","type":"list","max_len":8,"item":{"name":"Rank","fields":[{"#
        ));
    }

    #[test]
    fn messages_allow_roles_in_order_and_events_none() {
        let ok = with_messages(
            vec![message("Kick", vec![Role::Player, Role::Admin], vec![])],
            vec![message("Over", vec![], vec![])],
        );
        assert!(ok.validate().is_ok());
        for (messages, events) in [
            (vec![message("Kick", vec![], vec![])], vec![]),
            (
                vec![message("Kick", vec![Role::Admin, Role::Player], vec![])],
                vec![],
            ),
            (
                vec![message("Kick", vec![Role::Admin, Role::Admin], vec![])],
                vec![],
            ),
            (vec![], vec![message("Over", vec![Role::Player], vec![])]),
        ] {
            let err = with_messages(messages, events).validate().unwrap_err();
            assert!(err.0.contains("Kick") || err.0.contains("Over"), "{err}");
        }
    }
}
