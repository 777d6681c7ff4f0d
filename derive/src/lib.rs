//! `#[derive(Replicate)]`: declares a type's wire form once.
//!
//! - A struct with named fields becomes `tickwire::replicate::Replicated` (an
//!   entity kind, a singleton state, or an input); with a field marked
//!   `#[replicate(id)]` it is also a one-kind `NetEntity`.
//! - An enum whose variants each wrap one such struct becomes a `NetEntity`
//!   with one kind per variant; `#[replicate(singleton)]` on a variant makes
//!   it the per-match state (entity id 0).
//! - An enum of unit variants becomes a small enum field type.
//! - An enum marked `#[replicate(messages)]` becomes a
//!   `tickwire::replicate::MessageSet`: one message type per variant, each a
//!   unit variant or a newtype around a struct deriving `Replicate`;
//!   `#[replicate(allow(player, spectator, admin))]` on a variant says which
//!   roles may send it (`player` alone by default).
//!
//! Field attributes (`#[replicate(...)]`): `id`, `skip`, `bits = N`,
//! `range = A..=B`, `varint`, `fixed(quantum = Q, min = A, max = B)`,
//! `angle(bits = N)`, `quat(bits = N)`, `max_len = N` (on `String` and
//! `Vec<T>`), `predict = linear(field)`, `predict = counter`. The generated
//! code calls one `const` codec per field (tickwire::replicate::wire): no
//! allocation beyond what a `String` or `Vec` field holds, no dynamic
//! dispatch.

use proc_macro::TokenStream;
use proc_macro2::{Span, TokenStream as Tokens};
use quote::{format_ident, quote, quote_spanned};
use syn::spanned::Spanned;
use syn::{parse_macro_input, Data, DeriveInput, Expr, Fields, Ident, Type};

#[proc_macro_derive(Replicate, attributes(replicate))]
pub fn derive_replicate(input: TokenStream) -> TokenStream {
    let input = parse_macro_input!(input as DeriveInput);
    match expand(&input) {
        Ok(tokens) => tokens.into(),
        Err(e) => e.to_compile_error().into(),
    }
}

const SUPPORTED: &str = "supported field types: bool; u8, u16, u32, i8, i16, i32 \
(default full width, or bits = N, range = A..=B, varint); glam IVec2/IVec3 (varint by default, \
or range = A..=B); f32, Vec2, Vec3 with fixed(quantum = Q, min = A, max = B); f32 radians or \
u8/u16/u32 steps with angle(bits = N); glam Quat with quat(bits = N); a fieldless enum deriving \
Replicate; String with max_len = N (bytes, 1..=65535); Vec<T> of a struct T deriving Replicate \
with max_len = N (elements, 1..=65535); anything else with #[replicate(skip)]";

/// The most bytes of a `String`, or elements of a `Vec`, `max_len` allows.
const MAX_LEN: i64 = 65535;

fn expand(input: &DeriveInput) -> syn::Result<Tokens> {
    if !input.generics.params.is_empty() {
        return Err(syn::Error::new_spanned(
            &input.generics,
            "#[derive(Replicate)] does not support generic types",
        ));
    }
    let top = parse_attrs(&input.attrs)?;
    if top.messages {
        return match &input.data {
            Data::Enum(e) => expand_messages(&input.ident, e),
            _ => Err(syn::Error::new_spanned(
                &input.ident,
                "#[replicate(messages)] goes on an enum with one variant per message type",
            )),
        };
    }
    match &input.data {
        Data::Struct(s) => match &s.fields {
            Fields::Named(named) => expand_struct(&input.ident, named.named.iter().collect()),
            _ => Err(syn::Error::new_spanned(
                &input.ident,
                "#[derive(Replicate)] needs a struct with named fields",
            )),
        },
        Data::Enum(e) => {
            if e.variants.iter().all(|v| matches!(v.fields, Fields::Unit)) {
                expand_small_enum(&input.ident, e)
            } else {
                expand_kinds(&input.ident, e)
            }
        }
        Data::Union(_) => Err(syn::Error::new_spanned(
            &input.ident,
            "#[derive(Replicate)] does not support unions",
        )),
    }
}

/// What a field's attributes and type resolve to.
enum Codec {
    Bool,
    Int {
        min: i64,
        max: i64,
        signed: bool,
    },
    Varint {
        signed: bool,
    },
    Fixed {
        quantum: f64,
        qmin: i64,
        qmax: i64,
    },
    Angle {
        bits: u32,
        steps: bool,
    },
    Quat {
        bits: u32,
    },
    Enum,
    /// A `String` of at most `max_len` bytes.
    Text {
        max_len: u32,
    },
    /// A `Vec<item>` of at most `max_len` elements.
    List {
        max_len: u32,
        item: Box<Type>,
    },
}

enum Predict {
    Hold,
    Linear(Ident),
    Counter,
}

struct FieldSpec {
    ident: Ident,
    ty: Type,
    codec: Codec,
    dims: u8,
    predict: Predict,
    span: Span,
}

#[derive(Default)]
struct Attrs {
    id: bool,
    skip: bool,
    bits: Option<u32>,
    range: Option<(i64, i64)>,
    varint: bool,
    fixed: Option<(f64, f64, f64)>,
    angle: Option<u32>,
    quat: Option<u32>,
    predict: Option<Predict>,
    singleton: bool,
    max_len: Option<i64>,
    messages: bool,
    /// The roles of `allow(...)`, as written.
    allow: Option<Vec<Ident>>,
}

/// The roles `allow(...)` takes, in `Role::ALL` order.
const ROLES: [(&str, &str); 3] = [
    ("player", "Player"),
    ("spectator", "Spectator"),
    ("admin", "Admin"),
];

fn parse_attrs(attrs: &[syn::Attribute]) -> syn::Result<Attrs> {
    let mut out = Attrs::default();
    for attr in attrs.iter().filter(|a| a.path().is_ident("replicate")) {
        attr.parse_nested_meta(|meta| {
            let p = &meta.path;
            if p.is_ident("id") {
                out.id = true;
            } else if p.is_ident("skip") {
                out.skip = true;
            } else if p.is_ident("singleton") {
                out.singleton = true;
            } else if p.is_ident("varint") {
                out.varint = true;
            } else if p.is_ident("bits") {
                let e: Expr = meta.value()?.parse()?;
                out.bits = Some(eval_int(&e)? as u32);
            } else if p.is_ident("range") {
                let e: Expr = meta.value()?.parse()?;
                let Expr::Range(r) = &e else {
                    return Err(syn::Error::new_spanned(&e, "expected range = MIN..=MAX"));
                };
                let (Some(lo), Some(hi), syn::RangeLimits::Closed(_)) =
                    (&r.start, &r.end, &r.limits)
                else {
                    return Err(syn::Error::new_spanned(&e, "expected range = MIN..=MAX"));
                };
                out.range = Some((eval_int(lo)?, eval_int(hi)?));
            } else if p.is_ident("fixed") {
                let (mut q, mut lo, mut hi) = (None, None, None);
                meta.parse_nested_meta(|m| {
                    let e: Expr = m.value()?.parse()?;
                    let v = eval_float(&e)?;
                    if m.path.is_ident("quantum") {
                        q = Some(v);
                    } else if m.path.is_ident("min") {
                        lo = Some(v);
                    } else if m.path.is_ident("max") {
                        hi = Some(v);
                    } else {
                        return Err(m.error("fixed takes quantum, min and max"));
                    }
                    Ok(())
                })?;
                match (q, lo, hi) {
                    (Some(q), Some(lo), Some(hi)) => out.fixed = Some((q, lo, hi)),
                    _ => return Err(meta.error("fixed needs quantum = Q, min = A, max = B")),
                }
            } else if p.is_ident("angle") || p.is_ident("quat") {
                let mut bits = None;
                meta.parse_nested_meta(|m| {
                    if !m.path.is_ident("bits") {
                        return Err(m.error("expected bits = N"));
                    }
                    let e: Expr = m.value()?.parse()?;
                    bits = Some(eval_int(&e)? as u32);
                    Ok(())
                })?;
                let bits = bits.ok_or_else(|| meta.error("expected bits = N"))?;
                if p.is_ident("angle") {
                    out.angle = Some(bits);
                } else {
                    out.quat = Some(bits);
                }
            } else if p.is_ident("predict") {
                let e: Expr = meta.value()?.parse()?;
                out.predict = Some(parse_predict(&e)?);
            } else if p.is_ident("max_len") {
                let e: Expr = meta.value()?.parse()?;
                out.max_len = Some(eval_int(&e)?);
            } else if p.is_ident("messages") {
                out.messages = true;
            } else if p.is_ident("allow") {
                let content;
                syn::parenthesized!(content in meta.input);
                let roles: Vec<Ident> = content
                    .parse_terminated(<Ident as syn::parse::Parse>::parse, syn::Token![,])?
                    .into_iter()
                    .collect();
                if let Some(bad) = roles.iter().find(|r| !ROLES.iter().any(|(n, _)| *r == n)) {
                    return Err(syn::Error::new_spanned(
                        bad,
                        format!("`{bad}` is not a role; allow takes player, spectator, admin"),
                    ));
                }
                if roles.is_empty() {
                    return Err(
                        meta.error("allow needs at least one role: player, spectator, admin")
                    );
                }
                out.allow = Some(roles);
            } else {
                return Err(meta.error(
                    "unknown replicate attribute; expected id, skip, bits, range, varint, \
                     fixed(..), angle(..), quat(..), max_len, predict, singleton, messages \
                     or allow(..)",
                ));
            }
            Ok(())
        })?;
    }
    Ok(out)
}

fn parse_predict(e: &Expr) -> syn::Result<Predict> {
    match e {
        Expr::Path(p) if p.path.is_ident("hold") => Ok(Predict::Hold),
        Expr::Path(p) if p.path.is_ident("counter") => Ok(Predict::Counter),
        Expr::Call(c) => {
            let is_linear = matches!(&*c.func, Expr::Path(p) if p.path.is_ident("linear"));
            match (is_linear, c.args.first(), c.args.len()) {
                (true, Some(Expr::Path(v)), 1) if v.path.get_ident().is_some() => {
                    Ok(Predict::Linear(
                        v.path
                            .get_ident()
                            .cloned()
                            .unwrap_or_else(|| Ident::new("_", Span::call_site())),
                    ))
                }
                _ => Err(syn::Error::new_spanned(
                    e,
                    "expected linear(velocity_field)",
                )),
            }
        }
        _ => Err(syn::Error::new_spanned(
            e,
            "expected predict = hold, counter or linear(velocity_field)",
        )),
    }
}

fn eval_float(e: &Expr) -> syn::Result<f64> {
    Ok(match e {
        Expr::Lit(l) => match &l.lit {
            syn::Lit::Float(f) => f.base10_parse()?,
            syn::Lit::Int(i) => i.base10_parse::<i64>()? as f64,
            _ => return Err(syn::Error::new_spanned(e, "expected a number")),
        },
        Expr::Unary(u) if matches!(u.op, syn::UnOp::Neg(_)) => -eval_float(&u.expr)?,
        Expr::Paren(p) => eval_float(&p.expr)?,
        Expr::Group(g) => eval_float(&g.expr)?,
        Expr::Binary(b) => {
            let (l, r) = (eval_float(&b.left)?, eval_float(&b.right)?);
            match b.op {
                syn::BinOp::Div(_) => l / r,
                syn::BinOp::Mul(_) => l * r,
                syn::BinOp::Add(_) => l + r,
                syn::BinOp::Sub(_) => l - r,
                _ => return Err(syn::Error::new_spanned(e, "expected + - * / of numbers")),
            }
        }
        _ => {
            return Err(syn::Error::new_spanned(
                e,
                "expected a number literal (or + - * / of literals)",
            ))
        }
    })
}

fn eval_int(e: &Expr) -> syn::Result<i64> {
    let v = eval_float(e)?;
    if v.fract() != 0.0 || v.abs() > 1e15 {
        return Err(syn::Error::new_spanned(e, "expected an integer"));
    }
    Ok(v as i64)
}

fn type_name(ty: &Type) -> Option<String> {
    match ty {
        Type::Path(p) if p.qself.is_none() => p.path.segments.last().map(|s| s.ident.to_string()),
        _ => None,
    }
}

fn int_range(name: &str) -> Option<(i64, i64, bool, u32)> {
    Some(match name {
        "u8" => (0, u8::MAX as i64, false, 8),
        "u16" => (0, u16::MAX as i64, false, 16),
        "u32" => (0, u32::MAX as i64, false, 32),
        "i8" => (i8::MIN as i64, i8::MAX as i64, true, 8),
        "i16" => (i16::MIN as i64, i16::MAX as i64, true, 16),
        "i32" => (i32::MIN as i64, i32::MAX as i64, true, 32),
        _ => return None,
    })
}

fn resolve(field: &syn::Field, a: &Attrs) -> syn::Result<(Codec, u8)> {
    let ident = field
        .ident
        .as_ref()
        .map(|i| i.to_string())
        .unwrap_or_default();
    let err = |msg: String| syn::Error::new_spanned(&field.ty, format!("field `{ident}`: {msg}"));
    let name = type_name(&field.ty).unwrap_or_default();
    let only = |allowed: &[&str]| -> syn::Result<()> {
        let given: Vec<&str> = [
            (a.bits.is_some(), "bits"),
            (a.range.is_some(), "range"),
            (a.varint, "varint"),
            (a.fixed.is_some(), "fixed"),
            (a.angle.is_some(), "angle"),
            (a.quat.is_some(), "quat"),
            (a.max_len.is_some(), "max_len"),
        ]
        .iter()
        .filter(|(on, n)| *on && !allowed.contains(n))
        .map(|(_, n)| *n)
        .collect();
        if let Some(bad) = given.first() {
            return Err(err(format!(
                "`{bad}` does not apply to `{name}`; {SUPPORTED}"
            )));
        }
        let count = [
            a.bits.is_some(),
            a.range.is_some(),
            a.varint,
            a.angle.is_some(),
        ]
        .iter()
        .filter(|x| **x)
        .count();
        if count > 1 {
            return Err(err("give one of bits, range, varint or angle".into()));
        }
        Ok(())
    };
    let int_codec =
        |lo: i64, hi: i64, signed: bool, width: u32, dims: u8| -> syn::Result<(Codec, u8)> {
            if let Some(bits) = a.bits {
                if bits == 0 || bits > width {
                    return Err(err(format!("bits must be 1..={width}")));
                }
                let (min, max) = if signed {
                    (-(1i64 << (bits - 1)), (1i64 << (bits - 1)) - 1)
                } else {
                    (0, (1i64 << bits) - 1)
                };
                return Ok((Codec::Int { min, max, signed }, dims));
            }
            if let Some((min, max)) = a.range {
                if min > max || min < lo || max > hi {
                    return Err(err(format!(
                        "range must be within {lo}..={hi} and not empty"
                    )));
                }
                return Ok((Codec::Int { min, max, signed }, dims));
            }
            if a.varint || dims > 1 {
                if width != 32 {
                    return Err(err(
                        "varint needs a 32-bit integer (i32, u32, IVec2, IVec3); \
                         use range or bits for a narrower one"
                            .into(),
                    ));
                }
                return Ok((Codec::Varint { signed }, dims));
            }
            Ok((
                Codec::Int {
                    min: lo,
                    max: hi,
                    signed,
                },
                dims,
            ))
        };
    match name.as_str() {
        "bool" => {
            only(&[])?;
            Ok((Codec::Bool, 1))
        }
        "u8" | "u16" | "u32" | "i8" | "i16" | "i32" => {
            let (lo, hi, signed, width) = int_range(&name).unwrap_or((0, 0, false, 0));
            if let Some(bits) = a.angle {
                only(&["angle"])?;
                if signed || bits == 0 || bits > width {
                    return Err(err(format!(
                        "angle steps need an unsigned type at least {bits} bits wide"
                    )));
                }
                return Ok((Codec::Angle { bits, steps: true }, 1));
            }
            only(&["bits", "range", "varint"])?;
            int_codec(lo, hi, signed, width, 1)
        }
        "IVec2" | "IVec3" => {
            only(&["bits", "range", "varint"])?;
            let dims = if name == "IVec2" { 2 } else { 3 };
            int_codec(i32::MIN as i64, i32::MAX as i64, true, 32, dims)
        }
        "f32" | "Vec2" | "Vec3" => {
            let dims = match name.as_str() {
                "f32" => 1,
                "Vec2" => 2,
                _ => 3,
            };
            if let (Some(bits), 1) = (a.angle, dims) {
                only(&["angle"])?;
                if bits == 0 || bits > 32 {
                    return Err(err("angle bits must be 1..=32".into()));
                }
                return Ok((Codec::Angle { bits, steps: false }, 1));
            }
            only(&["fixed"])?;
            let Some((quantum, min, max)) = a.fixed else {
                return Err(err(format!(
                    "`{name}` needs #[replicate(fixed(quantum = Q, min = A, max = B))]{}",
                    if dims == 1 { " or angle(bits = N)" } else { "" }
                )));
            };
            let ordered = min.partial_cmp(&max).is_some_and(|o| o.is_le());
            if !(quantum.is_finite() && quantum > 0.0 && ordered) {
                return Err(err("fixed needs a positive quantum and min <= max".into()));
            }
            let (qmin, qmax) = ((min / quantum).round(), (max / quantum).round());
            let limit = (1u64 << 23) as f64;
            if qmin < -limit || qmax > limit {
                return Err(err(format!(
                    "fixed range {min}..{max} in steps of {quantum} exceeds f32's exact grid \
                     (2^23 steps from zero); use a coarser quantum or a smaller range"
                )));
            }
            Ok((
                Codec::Fixed {
                    quantum,
                    qmin: qmin as i64,
                    qmax: qmax as i64,
                },
                dims,
            ))
        }
        "Quat" => {
            only(&["quat"])?;
            match a.quat {
                Some(bits) if (2..=24).contains(&bits) => Ok((Codec::Quat { bits }, 1)),
                Some(_) => Err(err("quat bits must be 2..=24".into())),
                None => Err(err("`Quat` needs #[replicate(quat(bits = N))]".into())),
            }
        }
        "String" | "Vec" => {
            only(&["max_len"])?;
            let what = if name == "String" {
                "bytes"
            } else {
                "elements"
            };
            let max_len = match a.max_len {
                None => {
                    return Err(err(format!(
                        "`{name}` needs #[replicate(max_len = N)], its most {what} (1..={MAX_LEN})"
                    )))
                }
                Some(n) if !(1..=MAX_LEN).contains(&n) => {
                    return Err(err(format!("max_len must be 1..={MAX_LEN}")))
                }
                Some(n) => n as u32,
            };
            if name == "String" {
                return Ok((Codec::Text { max_len }, 1));
            }
            let item = vec_item(&field.ty)
                .ok_or_else(|| err("`Vec<T>` needs T to be a struct deriving Replicate".into()))?;
            Ok((
                Codec::List {
                    max_len,
                    item: Box::new(item),
                },
                1,
            ))
        }
        "u64" | "i64" | "u128" | "i128" | "usize" | "isize" | "f64" | "Option" | "char"
        | "DVec2" | "DVec3" | "DQuat" | "UVec2" | "UVec3" | "EntityId" => {
            Err(err(format!("`{name}` is not replicable; {SUPPORTED}")))
        }
        _ => {
            only(&[])?;
            Ok((Codec::Enum, 1))
        }
    }
}

/// The `T` of `Vec<T>`, when it can be a struct (not a number, a string or a
/// vector of its own).
fn vec_item(ty: &Type) -> Option<Type> {
    let Type::Path(p) = ty else { return None };
    let syn::PathArguments::AngleBracketed(args) = &p.path.segments.last()?.arguments else {
        return None;
    };
    let [syn::GenericArgument::Type(item)] = args.args.iter().collect::<Vec<_>>()[..] else {
        return None;
    };
    let name = type_name(item)?;
    let not_a_struct = int_range(&name).is_some()
        || matches!(
            name.as_str(),
            "bool" | "f32" | "f64" | "u64" | "i64" | "usize" | "isize" | "String" | "Vec" | "char"
        );
    (!not_a_struct).then(|| item.clone())
}

fn codec_expr(f: &FieldSpec) -> Tokens {
    let w = quote!(::tickwire::replicate::wire);
    match &f.codec {
        Codec::Bool => quote!(#w::Bool),
        Codec::Int { min, max, signed } => quote!(#w::Int::new(#min, #max, #signed)),
        Codec::Varint { signed } => quote!(#w::Varint { signed: #signed }),
        Codec::Fixed {
            quantum,
            qmin,
            qmax,
        } => quote!(#w::Fixed::new(#quantum, #qmin, #qmax)),
        Codec::Angle { bits, .. } => quote!(#w::Angle { bits: #bits }),
        Codec::Quat { bits } => quote!(#w::QuatCodec { bits: #bits }),
        Codec::Enum => {
            let ty = &f.ty;
            quote!(#w::EnumCodec::of::<#ty>())
        }
        Codec::Text { max_len } => quote!(#w::Text { max_len: #max_len }),
        Codec::List { max_len, .. } => quote!(#w::List { max_len: #max_len }),
    }
}

fn codec_type(f: &FieldSpec) -> Tokens {
    let w = quote!(::tickwire::replicate::wire);
    match &f.codec {
        Codec::Bool => quote!(#w::Bool),
        Codec::Int { .. } => quote!(#w::Int),
        Codec::Varint { .. } => quote!(#w::Varint),
        Codec::Fixed { .. } => quote!(#w::Fixed),
        Codec::Angle { .. } => quote!(#w::Angle),
        Codec::Quat { .. } => quote!(#w::QuatCodec),
        Codec::Enum => quote!(#w::EnumCodec),
        Codec::Text { .. } => quote!(#w::Text),
        Codec::List { .. } => quote!(#w::List),
    }
}

fn schema_type(f: &FieldSpec) -> Tokens {
    let s = quote!(::tickwire::replicate::schema::FieldType);
    let dims = f.dims;
    match &f.codec {
        Codec::Bool => quote!(#s::Bool),
        Codec::Int { min, max, signed } => {
            quote!(#s::Int { dims: #dims, min: #min, max: #max, signed: #signed })
        }
        Codec::Varint { signed } => quote!(#s::Varint { dims: #dims, signed: #signed }),
        Codec::Fixed {
            quantum,
            qmin,
            qmax,
        } => quote!(#s::Fixed { dims: #dims, quantum: #quantum, qmin: #qmin, qmax: #qmax }),
        Codec::Angle { bits, steps } => quote!(#s::Angle { bits: #bits, steps: #steps }),
        Codec::Quat { bits } => quote!(#s::Quat { bits: #bits }),
        Codec::Enum => {
            let ty = &f.ty;
            quote!(#s::Enum {
                variants: <#ty as ::tickwire::replicate::wire::ReplicatedEnum>::VARIANTS
                    .iter().map(|v| v.to_string()).collect()
            })
        }
        Codec::Text { max_len } => quote!(#s::String { max_len: #max_len }),
        Codec::List { max_len, item } => quote!(#s::List {
            max_len: #max_len,
            item: <#item as ::tickwire::replicate::Replicated>::record(),
        }),
    }
}

/// Whether `a` and `b` (expressions of `f`'s type) are equal on the wire: a
/// list compares its elements' replicated fields only.
fn same_expr(f: &FieldSpec, a: Tokens, b: Tokens) -> Tokens {
    match &f.codec {
        Codec::List { .. } => quote!(::tickwire::replicate::wire::List::same(&#a, &#b)),
        _ => quote!(#a == #b),
    }
}

/// A compile-time check that `ty` has no id field: list elements and
/// messages travel without ids, so one would be lost on the way.
fn no_id_check(ty: &Type, what: &str) -> Tokens {
    let msg = format!(
        "{what} travel without entity ids: a struct with an #[replicate(id)] field cannot be one"
    );
    quote_spanned!(ty.span()=>
        const _: () = ::core::assert!(!<#ty as ::tickwire::replicate::Replicated>::HAS_ID, #msg);
    )
}

fn expand_struct(name: &Ident, fields: Vec<&syn::Field>) -> syn::Result<Tokens> {
    let mut specs = Vec::new();
    let mut id_field: Option<Ident> = None;
    let mut others = Vec::new();
    for field in &fields {
        let a = parse_attrs(&field.attrs)?;
        let ident = field.ident.clone().expect("named field");
        if a.singleton {
            return Err(syn::Error::new_spanned(
                field,
                "`singleton` goes on an enum variant, not a field",
            ));
        }
        if a.messages || a.allow.is_some() {
            return Err(syn::Error::new_spanned(
                field,
                "`messages` goes on an enum and `allow` on its variants, not on a field",
            ));
        }
        if a.id {
            if id_field.is_some() {
                return Err(syn::Error::new_spanned(
                    field,
                    "only one field can be the id",
                ));
            }
            if type_name(&field.ty).as_deref() != Some("EntityId") {
                return Err(syn::Error::new_spanned(
                    &field.ty,
                    format!("field `{ident}`: the id field must be a tickwire EntityId"),
                ));
            }
            id_field = Some(ident);
            continue;
        }
        if a.skip {
            others.push(ident);
            continue;
        }
        let (codec, dims) = resolve(field, &a)?;
        specs.push(FieldSpec {
            ident,
            ty: field.ty.clone(),
            codec,
            dims,
            predict: a.predict.unwrap_or(Predict::Hold),
            span: field.ty.span(),
        });
    }
    if specs.len() > 32 {
        return Err(syn::Error::new_spanned(
            name,
            "at most 32 replicated fields (the field mask is 32 bits)",
        ));
    }
    // Check predictions against the fields they name.
    for f in &specs {
        let held = matches!(f.codec, Codec::Text { .. } | Codec::List { .. });
        match &f.predict {
            Predict::Hold => {}
            _ if held => {
                return Err(syn::Error::new(
                    f.span,
                    format!(
                        "field `{}`: strings and lists are only ever held (no predict)",
                        f.ident
                    ),
                ));
            }
            Predict::Counter => {
                if !matches!(f.codec, Codec::Int { .. } | Codec::Varint { .. }) || f.dims != 1 {
                    return Err(syn::Error::new(
                        f.span,
                        format!(
                            "field `{}`: counter prediction needs an integer field",
                            f.ident
                        ),
                    ));
                }
            }
            Predict::Linear(v) => {
                let vel = specs.iter().find(|g| &g.ident == v).ok_or_else(|| {
                    syn::Error::new(
                        v.span(),
                        format!("linear({v}): no replicated field `{v}` in `{name}`"),
                    )
                })?;
                let ok = match (&f.codec, &vel.codec) {
                    (
                        Codec::Int { .. } | Codec::Varint { .. },
                        Codec::Int { .. } | Codec::Varint { .. },
                    ) => type_name(&f.ty) == type_name(&vel.ty),
                    (Codec::Fixed { quantum: a, .. }, Codec::Fixed { quantum: b, .. }) => {
                        a == b && type_name(&f.ty) == type_name(&vel.ty)
                    }
                    _ => false,
                };
                if !ok {
                    return Err(syn::Error::new(
                        v.span(),
                        format!(
                            "field `{}`: linear({v}) needs `{v}` to have the same type and, \
                             for fixed fields, the same quantum (a velocity in grid steps per tick)",
                            f.ident
                        ),
                    ));
                }
            }
        }
    }

    let rp = quote!(::tickwire::replicate);
    let consts: Vec<Ident> = specs
        .iter()
        .map(|f| format_ident!("__TW_{}_{}", name, f.ident))
        .collect();
    let const_defs = specs.iter().zip(&consts).map(|(f, c)| {
        let t = codec_type(f);
        let e = codec_expr(f);
        quote_spanned!(f.span=> #[allow(non_upper_case_globals)] const #c: #t = #e;)
    });
    let names: Vec<String> = specs.iter().map(|f| f.ident.to_string()).collect();
    let idents: Vec<&Ident> = specs.iter().map(|f| &f.ident).collect();
    let tys: Vec<&Type> = specs.iter().map(|f| &f.ty).collect();
    let n = specs.len() as u32;

    let record_fields = specs.iter().zip(&names).map(|(f, n)| {
        let t = schema_type(f);
        let p = match &f.predict {
            Predict::Hold => quote!(#rp::schema::Predict::Hold),
            Predict::Counter => quote!(#rp::schema::Predict::Counter),
            Predict::Linear(v) => {
                let v = v.to_string();
                quote!(#rp::schema::Predict::Linear(#v.to_string()))
            }
        };
        quote!(#rp::schema::Field::new(#n, #t, #p))
    });
    let snap = specs.iter().zip(&consts).map(|(f, c)| {
        let (i, t) = (&f.ident, &f.ty);
        quote_spanned!(f.span=> #rp::wire::FieldCodec::<#t>::snap(&#c, &mut self.#i);)
    });
    let predict: Vec<Tokens> = specs
        .iter()
        .zip(&consts)
        .filter_map(|(f, c)| {
            let (i, t) = (&f.ident, &f.ty);
            match &f.predict {
                Predict::Hold => None,
                Predict::Counter => Some(quote_spanned!(f.span=>
                    p.#i = #rp::wire::Counter::<#t>::advance_counter(&#c, self.#i, ticks);
                )),
                Predict::Linear(v) => Some(quote_spanned!(f.span=>
                    p.#i = #rp::wire::Linear::<#t>::advance(&#c, &self.#i, &self.#v, ticks);
                )),
            }
        })
        .collect();
    let predict_body = if predict.is_empty() {
        quote!(let _ = ticks; ::core::clone::Clone::clone(self))
    } else {
        quote!(let mut p = ::core::clone::Clone::clone(self); #(#predict)* p)
    };
    let same_fields: Vec<Tokens> = specs
        .iter()
        .map(|f| {
            let i = &f.ident;
            same_expr(f, quote!(self.#i), quote!(other.#i))
        })
        .collect();
    let same = if specs.is_empty() {
        quote!(true)
    } else {
        quote!(#(#same_fields)&&*)
    };
    let changed: Vec<Tokens> = specs
        .iter()
        .map(|f| {
            let i = &f.ident;
            let same = same_expr(f, quote!(self.#i), quote!(predicted.#i));
            quote!(!(#same))
        })
        .collect();
    let item_checks = specs.iter().filter_map(|f| match &f.codec {
        Codec::List { item, .. } => Some(no_id_check(item, "list elements")),
        _ => None,
    });
    let bits: Vec<u32> = (0..n).map(|k| 1u32 << (n - 1 - k)).collect();
    let defaults = others.iter().chain(id_field.iter());
    let read_full = quote!(
        ::core::result::Result::Ok(#name {
            #( #idents: #rp::wire::FieldCodec::<#tys>::read_full_named(&#consts, #names, r)?, )*
            #( #defaults: ::core::default::Default::default(), )*
        })
    );
    let id_methods = id_field.as_ref().map(|id| {
        quote!(
            const HAS_ID: bool = true;
            fn id_field(&self) -> ::tickwire::protocol::EntityId { self.#id }
            fn set_id_field(&mut self, id: ::tickwire::protocol::EntityId) { self.#id = id; }
        )
    });
    let name_str = name.to_string();
    let entity_impl = id_field.as_ref().map(|id| {
        quote!(
            impl #rp::NetEntity for #name {
                #[inline]
                fn id(&self) -> ::tickwire::protocol::EntityId { self.#id }
                fn kinds() -> ::std::vec::Vec<#rp::schema::Kind> {
                    ::std::vec![#rp::schema::Kind {
                        name: #name_str.to_string(),
                        singleton: false,
                        fields: <Self as #rp::Replicated>::record().fields,
                    }]
                }
                #[inline]
                fn snap(&mut self) { #rp::Replicated::snap(self) }
                #[inline]
                fn predict(&self, ticks: u32) -> Self { #rp::Replicated::predict(self, ticks) }
                #[inline]
                fn same_on_wire(&self, other: &Self) -> bool { #rp::Replicated::same_on_wire(self, other) }
                #[inline]
                fn write_full(&self, w: &mut ::tickwire::snapshot::BitWriter) { #rp::Replicated::write_full(self, w) }
                #[inline]
                fn read_full(id: ::tickwire::protocol::EntityId, r: &mut ::tickwire::snapshot::BitReader<'_>)
                    -> ::core::result::Result<Self, ::tickwire::snapshot::CodecError> {
                    let mut e = <Self as #rp::Replicated>::read_full(r)?;
                    e.#id = id;
                    ::core::result::Result::Ok(e)
                }
                #[inline]
                fn write_changes(&self, predicted: &Self, w: &mut ::tickwire::snapshot::BitWriter) {
                    #rp::Replicated::write_changes(self, predicted, w)
                }
                #[inline]
                fn read_changes(predicted: &Self, r: &mut ::tickwire::snapshot::BitReader<'_>)
                    -> ::core::result::Result<Self, ::tickwire::snapshot::CodecError> {
                    #rp::Replicated::read_changes(predicted, r)
                }
            }
        )
    });

    Ok(quote!(
        const _: () = {
            #(#const_defs)*
            #(#item_checks)*

            impl #rp::Replicated for #name {
                fn record() -> #rp::schema::Record {
                    #rp::schema::Record {
                        name: #name_str.to_string(),
                        fields: ::std::vec![#(#record_fields),*],
                    }
                }
                #[inline]
                fn snap(&mut self) { #(#snap)* }
                #[inline]
                fn predict(&self, ticks: u32) -> Self { #predict_body }
                #[inline]
                fn same_on_wire(&self, other: &Self) -> bool { #same }
                #[inline]
                fn write_full(&self, w: &mut ::tickwire::snapshot::BitWriter) {
                    #( #rp::wire::FieldCodec::<#tys>::write_full(&#consts, &self.#idents, w); )*
                }
                fn read_full(r: &mut ::tickwire::snapshot::BitReader<'_>)
                    -> ::core::result::Result<Self, ::tickwire::snapshot::CodecError> {
                    #read_full
                }
                #[inline]
                fn write_changes(&self, predicted: &Self, w: &mut ::tickwire::snapshot::BitWriter) {
                    let mut mask = 0u32;
                    #( if #changed { mask |= #bits; } )*
                    w.write_bits(mask, #n);
                    #( if mask & #bits != 0 {
                        #rp::wire::FieldCodec::<#tys>::write_change(&#consts, &self.#idents, &predicted.#idents, w);
                    } )*
                }
                fn read_changes(predicted: &Self, r: &mut ::tickwire::snapshot::BitReader<'_>)
                    -> ::core::result::Result<Self, ::tickwire::snapshot::CodecError> {
                    let mask = r.read_bits(#n)?;
                    if mask == 0 {
                        return ::core::result::Result::Err(::tickwire::snapshot::CodecError::Invalid(
                            "changed entity with an empty field mask",
                        ));
                    }
                    let mut e = ::core::clone::Clone::clone(predicted);
                    #( if mask & #bits != 0 {
                        e.#idents = #rp::wire::FieldCodec::<#tys>::read_change_named(
                            &#consts, #names, &predicted.#idents, r,
                        )?;
                    } )*
                    ::core::result::Result::Ok(e)
                }
                #id_methods
            }

            #entity_impl
        };
    ))
}

fn expand_small_enum(name: &Ident, e: &syn::DataEnum) -> syn::Result<Tokens> {
    if e.variants.is_empty() {
        return Err(syn::Error::new_spanned(
            name,
            "an enum needs at least one variant",
        ));
    }
    let variants: Vec<&Ident> = e.variants.iter().map(|v| &v.ident).collect();
    let names: Vec<String> = variants.iter().map(|v| v.to_string()).collect();
    let idx: Vec<u32> = (0..variants.len() as u32).collect();
    let rp = quote!(::tickwire::replicate);
    Ok(quote!(
        impl #rp::wire::ReplicatedEnum for #name {
            const VARIANTS: &'static [&'static str] = &[#(#names),*];
            #[inline]
            fn index(self) -> u32 {
                match self { #( #name::#variants => #idx, )* }
            }
            #[inline]
            fn from_index(index: u32) -> ::core::option::Option<Self> {
                match index {
                    #( #idx => ::core::option::Option::Some(#name::#variants), )*
                    _ => ::core::option::Option::None,
                }
            }
        }
    ))
}

fn expand_kinds(name: &Ident, e: &syn::DataEnum) -> syn::Result<Tokens> {
    let mut variants = Vec::new();
    let mut inner = Vec::new();
    let mut singleton = None;
    for v in &e.variants {
        let Fields::Unnamed(u) = &v.fields else {
            return Err(syn::Error::new_spanned(
                v,
                "an enum of entity kinds needs each variant to wrap one struct deriving \
                 Replicate, e.g. `Ship(Ship)` (or every variant a unit, for a small enum field)",
            ));
        };
        if u.unnamed.len() != 1 {
            return Err(syn::Error::new_spanned(
                v,
                "each kind variant wraps exactly one struct",
            ));
        }
        let a = parse_attrs(&v.attrs)?;
        if a.allow.is_some() {
            return Err(syn::Error::new_spanned(
                v,
                "`allow` goes on a variant of an enum marked #[replicate(messages)]",
            ));
        }
        if a.singleton {
            if singleton.is_some() {
                return Err(syn::Error::new_spanned(v, "at most one singleton kind"));
            }
            singleton = Some(v.ident.clone());
        }
        variants.push(v.ident.clone());
        inner.push(u.unnamed[0].ty.clone());
    }
    if variants.len() > 1 << 16 {
        return Err(syn::Error::new_spanned(name, "too many kinds"));
    }
    let rp = quote!(::tickwire::replicate);
    let kind_bits = 64 - ((variants.len() as u64).saturating_sub(1)).leading_zeros();
    // One kind cannot change kind: it encodes exactly like a struct entity.
    let many = variants.len() > 1;
    let idx: Vec<u32> = (0..variants.len() as u32).collect();
    let names: Vec<String> = variants.iter().map(|v| v.to_string()).collect();
    let single: Vec<bool> = variants
        .iter()
        .map(|v| Some(v) == singleton.as_ref())
        .collect();
    let ids = variants.iter().zip(&single).map(|(v, s)| {
        if *s {
            quote!(#name::#v(_) => #rp::SINGLETON_ID)
        } else {
            quote!(#name::#v(x) => #rp::Replicated::id_field(x))
        }
    });
    Ok(quote!(
        impl #rp::NetEntity for #name {
            #[inline]
            fn id(&self) -> ::tickwire::protocol::EntityId {
                match self { #(#ids,)* }
            }
            fn kinds() -> ::std::vec::Vec<#rp::schema::Kind> {
                ::std::vec![#( #rp::schema::Kind {
                    name: #names.to_string(),
                    singleton: #single,
                    fields: <#inner as #rp::Replicated>::record().fields,
                } ),*]
            }
            #[inline]
            fn snap(&mut self) {
                match self { #( #name::#variants(x) => #rp::Replicated::snap(x), )* }
            }
            #[inline]
            fn predict(&self, ticks: u32) -> Self {
                match self { #( #name::#variants(x) => #name::#variants(#rp::Replicated::predict(x, ticks)), )* }
            }
            #[inline]
            fn same_on_wire(&self, other: &Self) -> bool {
                match (self, other) {
                    #( (#name::#variants(a), #name::#variants(b)) => #rp::Replicated::same_on_wire(a, b), )*
                    #[allow(unreachable_patterns)]
                    _ => false,
                }
            }
            #[inline]
            fn write_full(&self, w: &mut ::tickwire::snapshot::BitWriter) {
                match self { #( #name::#variants(x) => {
                    w.write_bits(#idx, #kind_bits);
                    #rp::Replicated::write_full(x, w);
                } )* }
            }
            fn read_full(id: ::tickwire::protocol::EntityId, r: &mut ::tickwire::snapshot::BitReader<'_>)
                -> ::core::result::Result<Self, ::tickwire::snapshot::CodecError> {
                match r.read_bits(#kind_bits)? {
                    #( #idx => {
                        let mut x = <#inner as #rp::Replicated>::read_full(r)?;
                        #rp::Replicated::set_id_field(&mut x, id);
                        ::core::result::Result::Ok(#name::#variants(x))
                    } )*
                    _ => ::core::result::Result::Err(::tickwire::snapshot::CodecError::Invalid("no such entity kind")),
                }
            }
            #[inline]
            fn write_changes(&self, predicted: &Self, w: &mut ::tickwire::snapshot::BitWriter) {
                match (self, predicted) {
                    #( (#name::#variants(a), #name::#variants(b)) => {
                        if #many { w.write_bit(false); }
                        #rp::Replicated::write_changes(a, b, w);
                    } )*
                    #[allow(unreachable_patterns)]
                    _ => {
                        w.write_bit(true);
                        #rp::NetEntity::write_full(self, w);
                    }
                }
            }
            fn read_changes(predicted: &Self, r: &mut ::tickwire::snapshot::BitReader<'_>)
                -> ::core::result::Result<Self, ::tickwire::snapshot::CodecError> {
                if #many && r.read_bit()? {
                    return <Self as #rp::NetEntity>::read_full(#rp::NetEntity::id(predicted), r);
                }
                match predicted {
                    #( #name::#variants(b) => ::core::result::Result::Ok(
                        #name::#variants(<#inner as #rp::Replicated>::read_changes(b, r)?)
                    ), )*
                }
            }
        }
    ))
}

/// An enum marked `#[replicate(messages)]`: a `MessageSet`, one message type
/// per variant, in declaration order.
fn expand_messages(name: &Ident, e: &syn::DataEnum) -> syn::Result<Tokens> {
    if e.variants.is_empty() {
        return Err(syn::Error::new_spanned(
            name,
            "a message set needs at least one variant; a game without messages uses \
             `tickwire::replicate::NoMessages`",
        ));
    }
    if e.variants.len() > 1 << 16 {
        return Err(syn::Error::new_spanned(name, "too many message types"));
    }
    let rp = quote!(::tickwire::replicate);
    let mut patterns = Vec::new(); // `Name::Chat(x)` or `Name::Ready`
    let mut records = Vec::new();
    let mut allows = Vec::new();
    let mut snaps = Vec::new();
    let mut writes = Vec::new();
    let mut reads = Vec::new();
    let mut checks = Vec::new();
    let bits = 64 - ((e.variants.len() as u64) - 1).leading_zeros();
    for (idx, v) in e.variants.iter().enumerate() {
        let a = parse_attrs(&v.attrs)?;
        let only_allow = !(a.id
            || a.skip
            || a.singleton
            || a.messages
            || a.varint
            || a.bits.is_some()
            || a.range.is_some()
            || a.fixed.is_some()
            || a.angle.is_some()
            || a.quat.is_some()
            || a.max_len.is_some()
            || a.predict.is_some());
        if !only_allow {
            return Err(syn::Error::new_spanned(
                v,
                "a message variant takes only allow(player, spectator, admin); field \
                 attributes go on the fields of the struct it wraps",
            ));
        }
        let allowed: Vec<&str> = a
            .allow
            .as_ref()
            .map(|roles| roles.iter().map(|r| r.to_string()).collect::<Vec<_>>())
            .map_or(vec!["Player"], |given| {
                ROLES
                    .iter()
                    .filter(|(r, _)| given.iter().any(|g| g == r))
                    .map(|(_, variant)| *variant)
                    .collect()
            });
        let roles: Vec<Ident> = allowed
            .iter()
            .map(|r| Ident::new(r, Span::call_site()))
            .collect();
        let ident = &v.ident;
        let type_name = ident.to_string();
        let idx = idx as u32;
        let item = match &v.fields {
            Fields::Unit => None,
            Fields::Unnamed(u) if u.unnamed.len() == 1 => Some(u.unnamed[0].ty.clone()),
            _ => {
                return Err(syn::Error::new_spanned(
                    v,
                    format!(
                        "message variant `{type_name}`: a message type is a unit variant \
                         (`{type_name}`) or a newtype around a struct deriving Replicate \
                         (`{type_name}({type_name})`); named fields and tuples of several \
                         fields are not supported"
                    ),
                ))
            }
        };
        allows.push(quote!(#name::#ident { .. } => ::core::matches!(role, #(#rp::Role::#roles)|*)));
        match item {
            None => {
                patterns.push(quote!(#name::#ident));
                records.push(quote!(#rp::schema::MessageType {
                    name: #type_name.to_string(),
                    allow: ::std::vec![#(#rp::Role::#roles),*],
                    fields: ::std::vec::Vec::new(),
                }));
                snaps.push(quote!(#name::#ident => {}));
                writes.push(quote!(#name::#ident => w.write_bits(#idx, #bits),));
                reads.push(quote!(#idx => ::core::result::Result::Ok(#name::#ident),));
            }
            Some(ty) => {
                checks.push(no_id_check(&ty, "messages and events"));
                patterns.push(quote!(#name::#ident(_)));
                records.push(quote!(#rp::schema::MessageType {
                    name: #type_name.to_string(),
                    allow: ::std::vec![#(#rp::Role::#roles),*],
                    fields: <#ty as #rp::Replicated>::record().fields,
                }));
                snaps.push(quote!(#name::#ident(x) => #rp::Replicated::snap(x),));
                writes.push(quote!(#name::#ident(x) => {
                    w.write_bits(#idx, #bits);
                    #rp::Replicated::write_full(x, w);
                }));
                reads.push(quote!(#idx => ::core::result::Result::Ok(
                    #name::#ident(<#ty as #rp::Replicated>::read_full(r)?)
                ),));
            }
        }
    }
    let names = e.variants.iter().map(|v| v.ident.to_string());
    Ok(quote!(
        const _: () = {
            #(#checks)*

            impl #rp::MessageSet for #name {
                fn types() -> ::std::vec::Vec<#rp::schema::MessageType> {
                    ::std::vec![#(#records),*]
                }
                #[inline]
                fn name(&self) -> &'static str {
                    match self { #( #patterns => #names, )* }
                }
                #[inline]
                fn allows(&self, role: #rp::Role) -> bool {
                    match self { #(#allows,)* }
                }
                #[inline]
                fn snap(&mut self) {
                    match self { #(#snaps)* }
                }
                #[inline]
                fn write(&self, w: &mut ::tickwire::snapshot::BitWriter) {
                    match self { #(#writes)* }
                }
                fn read(r: &mut ::tickwire::snapshot::BitReader<'_>)
                    -> ::core::result::Result<Self, ::tickwire::snapshot::CodecError> {
                    match r.read_bits(#bits)? {
                        #(#reads)*
                        _ => ::core::result::Result::Err(::tickwire::snapshot::CodecError::Invalid(
                            "no such message type",
                        )),
                    }
                }
            }
        };
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use syn::parse_quote;

    fn error_of(input: DeriveInput) -> String {
        match expand(&input) {
            Ok(_) => panic!("expected a compile error"),
            Err(e) => e.to_string(),
        }
    }

    #[test]
    fn an_unsupported_type_names_the_field_and_the_supported_types() {
        let e = error_of(parse_quote! {
            struct S { ok: u8, big: u64 }
        });
        assert!(
            e.contains("field `big`") && e.contains("`u64` is not replicable"),
            "{e}"
        );
        assert!(e.contains("supported field types: bool"), "{e}");
    }

    #[test]
    fn a_real_without_a_grid_says_how_to_declare_one() {
        let e = error_of(parse_quote! {
            struct S { pos: Vec3 }
        });
        assert!(
            e.contains("field `pos`") && e.contains("fixed(quantum"),
            "{e}"
        );
        let e = error_of(parse_quote! {
            struct S { #[replicate(fixed(quantum = 0.0001, min = -10000, max = 10000))] x: f32 }
        });
        assert!(e.contains("exceeds f32's exact grid"), "{e}");
    }

    #[test]
    fn a_linear_prediction_needs_a_matching_velocity() {
        let e = error_of(parse_quote! {
            struct S {
                #[replicate(fixed(quantum = 0.5, min = -1, max = 1), predict = linear(vel))]
                pos: f32,
                #[replicate(fixed(quantum = 0.25, min = -1, max = 1))]
                vel: f32,
            }
        });
        assert!(e.contains("same quantum"), "{e}");
        let e = error_of(parse_quote! {
            struct S { #[replicate(predict = linear(nope))] x: i32 }
        });
        assert!(e.contains("no replicated field `nope`"), "{e}");
    }

    #[test]
    fn attributes_that_do_not_fit_the_type_are_refused() {
        let e = error_of(parse_quote! {
            struct S { #[replicate(quat(bits = 10))] hp: u8 }
        });
        assert!(e.contains("`quat` does not apply to `u8`"), "{e}");
        let e = error_of(parse_quote! {
            struct S { #[replicate(range = 0..=300)] hp: u8 }
        });
        assert!(e.contains("range must be within 0..=255"), "{e}");
    }

    #[test]
    fn strings_and_lists_need_a_max_len() {
        let e = error_of(parse_quote! {
            struct S { name: String }
        });
        assert!(
            e.contains("field `name`") && e.contains("max_len = N") && e.contains("bytes"),
            "{e}"
        );
        let e = error_of(parse_quote! {
            struct S { results: Vec<Rank> }
        });
        assert!(
            e.contains("field `results`") && e.contains("max_len = N") && e.contains("elements"),
            "{e}"
        );
        let e = error_of(parse_quote! {
            struct S { #[replicate(max_len = 0)] name: String }
        });
        assert!(e.contains("max_len must be 1..=65535"), "{e}");
        let e = error_of(parse_quote! {
            struct S { #[replicate(max_len = 65536)] results: Vec<Rank> }
        });
        assert!(e.contains("max_len must be 1..=65535"), "{e}");
        let e = error_of(parse_quote! {
            struct S { #[replicate(max_len = 4)] hp: u8 }
        });
        assert!(e.contains("`max_len` does not apply to `u8`"), "{e}");
        let e = error_of(parse_quote! {
            struct S { #[replicate(max_len = 4)] bytes: Vec<u8> }
        });
        assert!(
            e.contains("needs T to be a struct deriving Replicate"),
            "{e}"
        );
        let e = error_of(parse_quote! {
            struct S { #[replicate(max_len = 4, predict = counter)] name: String }
        });
        assert!(e.contains("only ever held"), "{e}");
    }

    #[test]
    fn a_message_set_needs_a_variant_and_says_to_use_no_messages() {
        let e = error_of(parse_quote! {
            #[replicate(messages)]
            enum M {}
        });
        assert!(e.contains("NoMessages"), "{e}");
        let e = error_of(parse_quote! {
            #[replicate(messages)]
            struct M { x: u8 }
        });
        assert!(e.contains("goes on an enum"), "{e}");
    }

    #[test]
    fn a_message_variant_with_fields_of_its_own_names_the_variant() {
        let e = error_of(parse_quote! {
            #[replicate(messages)]
            enum M { Ready, Kick { player: u32 } }
        });
        assert!(
            e.contains("message variant `Kick`")
                && e.contains("unit variant")
                && e.contains("newtype around a struct deriving Replicate"),
            "{e}"
        );
        let e = error_of(parse_quote! {
            #[replicate(messages)]
            enum M { Pair(A, B) }
        });
        assert!(e.contains("message variant `Pair`"), "{e}");
    }

    #[test]
    fn allow_takes_known_roles_and_only_on_message_variants() {
        let e = error_of(parse_quote! {
            #[replicate(messages)]
            enum M { #[replicate(allow())] Ready }
        });
        assert!(e.contains("at least one role"), "{e}");
        let e = error_of(parse_quote! {
            #[replicate(messages)]
            enum M { #[replicate(allow(player, moderator))] Ready }
        });
        assert!(e.contains("player, spectator, admin"), "{e}");
        let e = error_of(parse_quote! {
            #[replicate(messages)]
            enum M { #[replicate(singleton)] Ready }
        });
        assert!(e.contains("takes only allow"), "{e}");
        let e = error_of(parse_quote! {
            enum Kinds { #[replicate(allow(admin))] Ship(Ship) }
        });
        assert!(e.contains("#[replicate(messages)]"), "{e}");
        let e = error_of(parse_quote! {
            struct S { #[replicate(allow(admin))] x: u8 }
        });
        assert!(e.contains("not on a field"), "{e}");
    }

    #[test]
    fn a_message_set_expands_with_its_roles_in_order() {
        let input: DeriveInput = parse_quote! {
            #[replicate(messages)]
            enum M {
                Chat(Chat),
                Ready,
                #[replicate(allow(admin, player))]
                Kick(Kick),
            }
        };
        let out = expand(&input).unwrap().to_string();
        assert!(
            out.contains("impl :: tickwire :: replicate :: MessageSet for M"),
            "{out}"
        );
        // Three types: a 2-bit index; roles in Role::ALL order.
        assert!(out.contains("w . write_bits (1u32 , 2u32)"), "{out}");
        assert!(
            out.contains("Role :: Player | :: tickwire :: replicate :: Role :: Admin"),
            "{out}"
        );
    }

    #[test]
    fn a_valid_struct_expands() {
        let input: DeriveInput = parse_quote! {
            struct S {
                #[replicate(id)] id: EntityId,
                #[replicate(range = 0..=64000, predict = linear(vel))] pos: IVec2,
                #[replicate(varint)] vel: IVec2,
                #[replicate(skip)] secret: String,
            }
        };
        let out = expand(&input).unwrap().to_string();
        assert!(
            out.contains("impl :: tickwire :: replicate :: NetEntity for S"),
            "{out}"
        );
    }
}
