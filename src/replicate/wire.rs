//! The field codecs: how each declared field type is snapped to its wire grid
//! and written, in full and as a change against a prediction.
//!
//! The derive emits one `const` codec per field and calls these methods, so a
//! generated codec is a straight line of inlined bit writes (no dispatch, no
//! allocation). The generic decoder ([`super::generic`]) uses the same integer
//! primitives ([`int_full`], [`residual`], ...) on the schema's description,
//! which is what keeps the typed and the generic paths on one wire.
//!
//! Every value is carried on an integer grid: integers as themselves, fixed
//! reals as `q = round(v / quantum)`, angles as steps of a turn, quaternions as
//! smallest-three components. Changes are residuals on that grid in 32-bit
//! two's complement (`(v - predicted) mod 2^32`, zigzag, Elias gamma), so
//! prediction and residuals are exact in any language that has 32-bit ints.

use crate::snapshot::{BitReader, BitWriter, CodecError};
use glam::{IVec2, IVec3, Quat, Vec2, Vec3};
use std::f64::consts::TAU;

/// What a field codec fails with; the derive adds the field's name.
pub type FieldResult<T> = Result<T, &'static str>;

fn read_err(e: CodecError) -> &'static str {
    match e {
        CodecError::Truncated => "payload ends inside this field",
        _ => "malformed value",
    }
}

/// Bits needed for values `0..=span`.
pub const fn bits_for(span: u64) -> u32 {
    64 - span.leading_zeros()
}

/// Writes `v` in `min..=min + 2^bits - 1` as `bits` raw bits.
#[inline]
pub fn int_full(w: &mut BitWriter, v: i64, min: i64, bits: u32) {
    w.write_bits((v - min) as u32, bits);
}

/// Reads what [`int_full`] wrote and checks it is at most `max`.
#[inline]
pub fn read_int_full(r: &mut BitReader, min: i64, max: i64, bits: u32) -> FieldResult<i64> {
    let v = min + i64::from(r.read_bits(bits).map_err(read_err)?);
    if v > max {
        return Err("value above the declared maximum");
    }
    Ok(v)
}

/// Writes `v - predicted` as a 32-bit two's complement residual (zigzag gamma).
#[inline]
pub fn residual(w: &mut BitWriter, v: i64, predicted: i64) {
    w.write_signed(v.wrapping_sub(predicted) as i32);
}

/// Reads a residual and applies it to `predicted` modulo 2^32; `signed` says
/// whether the field's 32-bit domain is `i32` or `u32`.
#[inline]
pub fn read_residual(r: &mut BitReader, predicted: i64, signed: bool) -> FieldResult<i64> {
    let d = r.read_signed().map_err(read_err)?;
    let sum = (predicted as u32).wrapping_add(d as u32);
    Ok(if signed {
        i64::from(sum as i32)
    } else {
        i64::from(sum)
    })
}

/// Wraps an integer into the field's 32-bit domain, as [`read_residual`] does.
#[inline]
pub fn wrap32(v: i64, signed: bool) -> i64 {
    if signed {
        i64::from(v as i32)
    } else {
        i64::from(v as u32)
    }
}

/// One field codec for the Rust type `T`. Implemented for every (codec, type)
/// pair the derive accepts; a field whose type has no implementation is a
/// compile error naming the field's type.
#[diagnostic::on_unimplemented(
    message = "`{T}` cannot be replicated with this codec",
    label = "this field's type",
    note = "supported: bool; u8, u16, u32, i8, i16, i32 (bits = N, range = A..=B, varint); glam IVec2/IVec3 (range, varint); f32, Vec2, Vec3 with fixed(quantum = Q, min = A, max = B); f32 radians or unsigned steps with angle(bits = N); glam Quat with quat(bits = N); a fieldless enum deriving Replicate; String with max_len = N (bytes); Vec<T> of a struct T deriving Replicate with max_len = N (elements); or #[replicate(skip)]"
)]
pub trait FieldCodec<T> {
    /// Moves `v` onto the wire grid (clamping to the declared range).
    fn snap(&self, v: &mut T);
    fn write_full(&self, v: &T, w: &mut BitWriter);
    fn read_full(&self, r: &mut BitReader) -> FieldResult<T>;
    /// Writes `v` given that the reader holds `predicted` (they differ).
    fn write_change(&self, v: &T, predicted: &T, w: &mut BitWriter);
    fn read_change(&self, predicted: &T, r: &mut BitReader) -> FieldResult<T>;
    /// [`read_full`](Self::read_full) with its error naming `field`; a list
    /// names the element's field too (`results[2].score`).
    #[inline]
    fn read_full_named(&self, field: &'static str, r: &mut BitReader) -> Result<T, CodecError> {
        self.read_full(r).map_err(|e| super::field_error(field, e))
    }
    /// [`read_change`](Self::read_change) with its error naming `field`.
    #[inline]
    fn read_change_named(
        &self,
        field: &'static str,
        predicted: &T,
        r: &mut BitReader,
    ) -> Result<T, CodecError> {
        self.read_change(predicted, r)
            .map_err(|e| super::field_error(field, e))
    }
}

/// Linear prediction: `value + velocity * ticks` on the grid, in exact
/// arithmetic, clamped to the field's declared range (the type's range for
/// varints): a body predicted into a wall stops at it.
#[diagnostic::on_unimplemented(
    message = "`{T}` cannot be predicted linearly",
    note = "linear prediction works on integer, IVec2/IVec3, fixed f32/Vec2/Vec3 fields whose velocity field has the same type and codec family"
)]
pub trait Linear<T> {
    fn advance(&self, v: &T, velocity: &T, ticks: u32) -> T;
}

/// Counter prediction: once nonzero, the value grows by one per tick (a
/// player's newest input sequence when it sends one input per tick), up to
/// the field's maximum (declared, or the 32-bit domain of a varint).
pub trait Counter<T> {
    fn advance_counter(&self, v: T, ticks: u32) -> T;
}

#[inline]
fn counter(v: i64, ticks: u32, max: i64) -> i64 {
    if v == 0 {
        0
    } else {
        v.saturating_add(i64::from(ticks)).min(max)
    }
}

impl<T: IntValue> Counter<T> for Int {
    #[inline]
    fn advance_counter(&self, v: T, ticks: u32) -> T {
        T::set(counter(v.get(), ticks, self.max))
    }
}

impl<T: IntValue> Counter<T> for Varint {
    #[inline]
    fn advance_counter(&self, v: T, ticks: u32) -> T {
        T::set(counter(v.get(), ticks, T::MAX))
    }
}

/// Integer types a field can hold.
pub trait IntValue: Copy + PartialEq {
    const MIN: i64;
    const MAX: i64;
    const SIGNED: bool;
    fn get(self) -> i64;
    /// From a value already checked to be in the type's range.
    fn set(v: i64) -> Self;
}

macro_rules! int_value {
    ($($t:ty),*) => {$(
        impl IntValue for $t {
            const MIN: i64 = <$t>::MIN as i64;
            const MAX: i64 = <$t>::MAX as i64;
            const SIGNED: bool = <$t>::MIN != 0;
            #[inline]
            fn get(self) -> i64 { self as i64 }
            #[inline]
            fn set(v: i64) -> Self { v as $t }
        }
    )*};
}
int_value!(u8, u16, u32, i8, i16, i32);

/// Integers in `min..=max`: `bits_for(max - min)` raw bits in full.
#[derive(Debug, Clone, Copy)]
pub struct Int {
    pub min: i64,
    pub max: i64,
    pub bits: u32,
    /// The 32-bit domain residuals wrap in: the Rust type's signedness.
    pub signed: bool,
}

impl Int {
    pub const fn new(min: i64, max: i64, signed: bool) -> Self {
        assert!(min <= max, "range is empty");
        Int {
            min,
            max,
            bits: bits_for((max - min) as u64),
            signed,
        }
    }

    #[inline]
    fn clamp(&self, v: i64) -> i64 {
        v.clamp(self.min, self.max)
    }

    #[inline]
    fn change_read(&self, p: i64, r: &mut BitReader) -> FieldResult<i64> {
        let v = read_residual(r, p, self.signed)?;
        if v < self.min || v > self.max {
            return Err("value outside the declared range");
        }
        Ok(v)
    }
}

impl<T: IntValue> FieldCodec<T> for Int {
    #[inline]
    fn snap(&self, v: &mut T) {
        *v = T::set(self.clamp(v.get()));
    }
    #[inline]
    fn write_full(&self, v: &T, w: &mut BitWriter) {
        int_full(w, self.clamp(v.get()), self.min, self.bits);
    }
    #[inline]
    fn read_full(&self, r: &mut BitReader) -> FieldResult<T> {
        read_int_full(r, self.min, self.max, self.bits).map(T::set)
    }
    #[inline]
    fn write_change(&self, v: &T, p: &T, w: &mut BitWriter) {
        residual(w, self.clamp(v.get()), p.get());
    }
    #[inline]
    fn read_change(&self, p: &T, r: &mut BitReader) -> FieldResult<T> {
        self.change_read(p.get(), r).map(T::set)
    }
}

/// `v + vel * ticks` clamped to `min..=max`, exactly.
#[inline]
pub fn linear(v: i64, vel: i64, ticks: u32, min: i64, max: i64) -> i64 {
    v.saturating_add(vel.saturating_mul(i64::from(ticks)))
        .clamp(min, max)
}

impl<T: IntValue> Linear<T> for Int {
    #[inline]
    fn advance(&self, v: &T, vel: &T, ticks: u32) -> T {
        T::set(linear(v.get(), vel.get(), ticks, self.min, self.max))
    }
}

/// 32-bit integers (i32, u32, IVec2/IVec3) whose usual values are small:
/// Elias gamma in full (zigzag first when signed). The derive allows it on
/// 32-bit types only, so the schema's 32-bit domain is the type's range.
#[derive(Debug, Clone, Copy)]
pub struct Varint {
    pub signed: bool,
}

/// Writes a varint in full.
#[inline]
pub fn varint_full(w: &mut BitWriter, v: i64, signed: bool) {
    if signed {
        w.write_signed(v as i32);
    } else {
        w.write_gamma(v as u32);
    }
}

/// Reads a varint written in full.
#[inline]
pub fn read_varint_full(r: &mut BitReader, signed: bool) -> FieldResult<i64> {
    if signed {
        r.read_signed().map(i64::from).map_err(read_err)
    } else {
        r.read_gamma().map(i64::from).map_err(read_err)
    }
}

impl Varint {
    #[inline]
    fn check<T: IntValue>(v: i64) -> FieldResult<T> {
        if v < T::MIN || v > T::MAX {
            return Err("value outside the field type's range");
        }
        Ok(T::set(v))
    }
}

impl<T: IntValue> FieldCodec<T> for Varint {
    #[inline]
    fn snap(&self, _: &mut T) {}
    #[inline]
    fn write_full(&self, v: &T, w: &mut BitWriter) {
        varint_full(w, v.get(), self.signed);
    }
    #[inline]
    fn read_full(&self, r: &mut BitReader) -> FieldResult<T> {
        read_varint_full(r, self.signed).and_then(Self::check)
    }
    #[inline]
    fn write_change(&self, v: &T, p: &T, w: &mut BitWriter) {
        residual(w, v.get(), p.get());
    }
    #[inline]
    fn read_change(&self, p: &T, r: &mut BitReader) -> FieldResult<T> {
        read_residual(r, p.get(), self.signed).and_then(Self::check)
    }
}

impl<T: IntValue> Linear<T> for Varint {
    #[inline]
    fn advance(&self, v: &T, vel: &T, ticks: u32) -> T {
        T::set(linear(v.get(), vel.get(), ticks, T::MIN, T::MAX))
    }
}

/// Per-component codecs for glam's integer vectors.
macro_rules! ivec_codec {
    ($codec:ty, $vec:ty, $($c:ident),+) => {
        impl FieldCodec<$vec> for $codec {
            #[inline]
            fn snap(&self, v: &mut $vec) {
                $( FieldCodec::<i32>::snap(self, &mut v.$c); )+
            }
            #[inline]
            fn write_full(&self, v: &$vec, w: &mut BitWriter) {
                $( FieldCodec::<i32>::write_full(self, &v.$c, w); )+
            }
            #[inline]
            fn read_full(&self, r: &mut BitReader) -> FieldResult<$vec> {
                Ok(<$vec>::new($( FieldCodec::<i32>::read_full(self, r).map(|x| { let _ = stringify!($c); x })? ),+))
            }
            #[inline]
            fn write_change(&self, v: &$vec, p: &$vec, w: &mut BitWriter) {
                $( FieldCodec::<i32>::write_change(self, &v.$c, &p.$c, w); )+
            }
            #[inline]
            fn read_change(&self, p: &$vec, r: &mut BitReader) -> FieldResult<$vec> {
                Ok(<$vec>::new($( FieldCodec::<i32>::read_change(self, &p.$c, r)? ),+))
            }
        }
        impl Linear<$vec> for $codec {
            #[inline]
            fn advance(&self, v: &$vec, vel: &$vec, ticks: u32) -> $vec {
                <$vec>::new($( Linear::<i32>::advance(self, &v.$c, &vel.$c, ticks) ),+)
            }
        }
    };
}
ivec_codec!(Int, IVec2, x, y);
ivec_codec!(Int, IVec3, x, y, z);
ivec_codec!(Varint, IVec2, x, y);
ivec_codec!(Varint, IVec3, x, y, z);

/// Fixed-point reals: `q = round(v / quantum)` clamped to `qmin..=qmax`, the
/// value on the grid being `q * quantum` (computed in f64, stored as f32).
/// The derive checks at compile time that the grid fits f32's mantissa, so
/// `q -> value -> q` is exact.
#[derive(Debug, Clone, Copy)]
pub struct Fixed {
    pub quantum: f64,
    pub qmin: i64,
    pub qmax: i64,
    pub bits: u32,
}

impl Fixed {
    /// The derive computes the grid bounds; this only packs them.
    pub const fn new(quantum: f64, qmin: i64, qmax: i64) -> Self {
        assert!(qmin <= qmax, "range is empty");
        Fixed {
            quantum,
            qmin,
            qmax,
            bits: bits_for((qmax - qmin) as u64),
        }
    }

    /// The grid index of `v`, clamped; NaN counts as 0.
    #[inline]
    pub fn quantize(&self, v: f32) -> i64 {
        let q = (f64::from(v) / self.quantum).round();
        if q.is_nan() {
            0i64.clamp(self.qmin, self.qmax)
        } else {
            (q as i64).clamp(self.qmin, self.qmax)
        }
    }

    /// The grid index of a value that may lie outside the range (a prediction).
    #[inline]
    fn index(&self, v: f32) -> i64 {
        let q = (f64::from(v) / self.quantum).round();
        if q.is_nan() {
            0
        } else {
            q as i64
        }
    }

    #[inline]
    pub fn value(&self, q: i64) -> f32 {
        (q as f64 * self.quantum) as f32
    }
}

impl FieldCodec<f32> for Fixed {
    #[inline]
    fn snap(&self, v: &mut f32) {
        *v = self.value(self.quantize(*v));
    }
    #[inline]
    fn write_full(&self, v: &f32, w: &mut BitWriter) {
        int_full(w, self.quantize(*v), self.qmin, self.bits);
    }
    #[inline]
    fn read_full(&self, r: &mut BitReader) -> FieldResult<f32> {
        read_int_full(r, self.qmin, self.qmax, self.bits).map(|q| self.value(q))
    }
    #[inline]
    fn write_change(&self, v: &f32, p: &f32, w: &mut BitWriter) {
        residual(w, self.quantize(*v), self.index(*p));
    }
    #[inline]
    fn read_change(&self, p: &f32, r: &mut BitReader) -> FieldResult<f32> {
        let q = read_residual(r, self.index(*p), true)?;
        if q < self.qmin || q > self.qmax {
            return Err("value outside the declared range");
        }
        Ok(self.value(q))
    }
}

impl Linear<f32> for Fixed {
    #[inline]
    fn advance(&self, v: &f32, vel: &f32, ticks: u32) -> f32 {
        self.value(linear(
            self.index(*v),
            self.index(*vel),
            ticks,
            self.qmin,
            self.qmax,
        ))
    }
}

macro_rules! fvec_codec {
    ($vec:ty, $($c:ident),+) => {
        impl FieldCodec<$vec> for Fixed {
            #[inline]
            fn snap(&self, v: &mut $vec) {
                $( FieldCodec::<f32>::snap(self, &mut v.$c); )+
            }
            #[inline]
            fn write_full(&self, v: &$vec, w: &mut BitWriter) {
                $( FieldCodec::<f32>::write_full(self, &v.$c, w); )+
            }
            #[inline]
            fn read_full(&self, r: &mut BitReader) -> FieldResult<$vec> {
                Ok(<$vec>::new($( { let _ = stringify!($c); FieldCodec::<f32>::read_full(self, r)? } ),+))
            }
            #[inline]
            fn write_change(&self, v: &$vec, p: &$vec, w: &mut BitWriter) {
                $( FieldCodec::<f32>::write_change(self, &v.$c, &p.$c, w); )+
            }
            #[inline]
            fn read_change(&self, p: &$vec, r: &mut BitReader) -> FieldResult<$vec> {
                Ok(<$vec>::new($( FieldCodec::<f32>::read_change(self, &p.$c, r)? ),+))
            }
        }
        impl Linear<$vec> for Fixed {
            #[inline]
            fn advance(&self, v: &$vec, vel: &$vec, ticks: u32) -> $vec {
                <$vec>::new($( Linear::<f32>::advance(self, &v.$c, &vel.$c, ticks) ),+)
            }
        }
    };
}
fvec_codec!(Vec2, x, y);
fvec_codec!(Vec3, x, y, z);

/// Angles: `bits` raw bits of a turn, in full and on change. On `f32` the
/// value is radians in `[0, 2π)`; on an unsigned integer it is the step count.
#[derive(Debug, Clone, Copy)]
pub struct Angle {
    pub bits: u32,
}

impl Angle {
    #[inline]
    fn mask(&self) -> u64 {
        (1u64 << self.bits) - 1
    }

    /// The step of `radians` (NaN and infinities give step 0).
    #[inline]
    pub fn steps(&self, radians: f32) -> u32 {
        if !radians.is_finite() {
            return 0;
        }
        let turns = f64::from(radians).rem_euclid(TAU) / TAU;
        ((turns * (1u64 << self.bits) as f64).round() as u64 & self.mask()) as u32
    }

    #[inline]
    pub fn radians(&self, steps: u32) -> f32 {
        (f64::from(steps) * TAU / (1u64 << self.bits) as f64) as f32
    }
}

impl FieldCodec<f32> for Angle {
    #[inline]
    fn snap(&self, v: &mut f32) {
        *v = self.radians(self.steps(*v));
    }
    #[inline]
    fn write_full(&self, v: &f32, w: &mut BitWriter) {
        w.write_bits(self.steps(*v), self.bits);
    }
    #[inline]
    fn read_full(&self, r: &mut BitReader) -> FieldResult<f32> {
        Ok(self.radians(r.read_bits(self.bits).map_err(read_err)?))
    }
    #[inline]
    fn write_change(&self, v: &f32, _: &f32, w: &mut BitWriter) {
        FieldCodec::<f32>::write_full(self, v, w);
    }
    #[inline]
    fn read_change(&self, _: &f32, r: &mut BitReader) -> FieldResult<f32> {
        FieldCodec::<f32>::read_full(self, r)
    }
}

macro_rules! angle_steps {
    ($($t:ty),*) => {$(
        impl FieldCodec<$t> for Angle {
            #[inline]
            fn snap(&self, v: &mut $t) {
                *v = (u64::from(*v) & self.mask()) as $t;
            }
            #[inline]
            fn write_full(&self, v: &$t, w: &mut BitWriter) {
                w.write_bits((u64::from(*v) & self.mask()) as u32, self.bits);
            }
            #[inline]
            fn read_full(&self, r: &mut BitReader) -> FieldResult<$t> {
                <$t>::try_from(r.read_bits(self.bits).map_err(read_err)?)
                    .map_err(|_| "angle steps exceed the field type")
            }
            #[inline]
            fn write_change(&self, v: &$t, _: &$t, w: &mut BitWriter) {
                FieldCodec::<$t>::write_full(self, v, w);
            }
            #[inline]
            fn read_change(&self, _: &$t, r: &mut BitReader) -> FieldResult<$t> {
                FieldCodec::<$t>::read_full(self, r)
            }
        }
    )*};
}
angle_steps!(u8, u16, u32);

/// Rotations as smallest-three: the index of the largest component (2 bits)
/// and the other three, each in `[-1/√2, 1/√2]`, as signed integers of
/// `bits` bits (`-m..=m`, `m = 2^(bits-1) - 1`, written as `q + m`). The
/// largest is rebuilt as `sqrt(1 - a² - b² - c²)` in f64, and is positive.
/// On change: one bit; 1 = same largest index, then three residuals; 0 =
/// the full form follows.
#[derive(Debug, Clone, Copy)]
pub struct QuatCodec {
    pub bits: u32,
}

/// A quaternion on the smallest-three grid: the largest component's index
/// and the other three in x, y, z, w order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QuatGrid {
    pub largest: u32,
    pub small: [i64; 3],
}

impl QuatCodec {
    #[inline]
    pub fn max_step(&self) -> i64 {
        (1i64 << (self.bits - 1)) - 1
    }

    fn grid_of(&self, q: Quat) -> QuatGrid {
        let mut c = q.to_array().map(f64::from);
        let len = c.iter().map(|x| x * x).sum::<f64>().sqrt();
        if !(len.is_finite() && len > 1e-12) {
            c = [0.0, 0.0, 0.0, 1.0];
        } else {
            c = c.map(|x| x / len);
        }
        let mut largest = 0;
        for i in 1..4 {
            if c[i].abs() > c[largest].abs() {
                largest = i;
            }
        }
        let sign = if c[largest] < 0.0 { -1.0 } else { 1.0 };
        let m = self.max_step() as f64;
        let mut small = [0i64; 3];
        let mut k = 0;
        for (i, x) in c.iter().enumerate() {
            if i != largest {
                let v = (x * sign * std::f64::consts::SQRT_2 * m).round() as i64;
                small[k] = v.clamp(-self.max_step(), self.max_step());
                k += 1;
            }
        }
        QuatGrid {
            largest: largest as u32,
            small,
        }
    }

    /// The grid of a quaternion already on the grid (the snapped value of
    /// any quaternion maps back to the grid it came from: see `snap`).
    #[inline]
    pub fn grid(&self, q: Quat) -> QuatGrid {
        self.grid_of(q)
    }

    /// The quaternion of a grid point.
    pub fn quat(&self, g: QuatGrid) -> Quat {
        let m = self.max_step() as f64;
        let s = g
            .small
            .map(|v| v as f64 / m * std::f64::consts::FRAC_1_SQRT_2);
        let big = (1.0 - s[0] * s[0] - s[1] * s[1] - s[2] * s[2])
            .max(0.0)
            .sqrt();
        let mut out = [0f32; 4];
        let mut k = 0;
        for (i, slot) in out.iter_mut().enumerate() {
            if i as u32 == g.largest {
                *slot = big as f32;
            } else {
                *slot = s[k] as f32;
                k += 1;
            }
        }
        Quat::from_array(out)
    }

    fn write_grid(&self, g: QuatGrid, w: &mut BitWriter) {
        w.write_bits(g.largest, 2);
        for v in g.small {
            int_full(w, v, -self.max_step(), self.bits);
        }
    }

    /// Reads a grid point written in full.
    pub fn read_grid(&self, r: &mut BitReader) -> FieldResult<QuatGrid> {
        let largest = r.read_bits(2).map_err(read_err)?;
        let m = self.max_step();
        let mut small = [0i64; 3];
        for v in &mut small {
            *v = read_int_full(r, -m, m, self.bits)?;
        }
        Ok(QuatGrid { largest, small })
    }

    /// Reads a change against the grid point `p`.
    pub fn read_grid_change(&self, p: QuatGrid, r: &mut BitReader) -> FieldResult<QuatGrid> {
        if !r.read_bit().map_err(read_err)? {
            return self.read_grid(r);
        }
        let m = self.max_step();
        let mut small = p.small;
        for v in &mut small {
            *v = read_residual(r, *v, true)?;
            if *v < -m || *v > m {
                return Err("component outside the quaternion grid");
            }
        }
        Ok(QuatGrid {
            largest: p.largest,
            small,
        })
    }

    /// Writes the change from grid point `p` to `g`.
    pub fn write_grid_change(&self, g: QuatGrid, p: QuatGrid, w: &mut BitWriter) {
        if g.largest == p.largest {
            w.write_bit(true);
            for (v, pv) in g.small.iter().zip(p.small) {
                residual(w, *v, pv);
            }
        } else {
            w.write_bit(false);
            self.write_grid(g, w);
        }
    }
}

impl FieldCodec<Quat> for QuatCodec {
    fn snap(&self, v: &mut Quat) {
        // When two components are nearly equal, the rebuilt largest one can
        // come out smaller than a quantized one, and the grid of the snapped
        // value would differ from the grid it came from. Shrinking the
        // component that overtook it, one step at a time, ends in a grid that
        // maps back to itself, so the snapped value is exactly what a decoder
        // rebuilds (checked by a property test). Bounded: 3 * max_step steps.
        let mut g = self.grid_of(*v);
        for _ in 0..3 * self.max_step() {
            let q = self.quat(g);
            if self.grid_of(q) == g {
                *v = q;
                return;
            }
            let k = (0..3).max_by_key(|&k| g.small[k].abs()).unwrap_or(0);
            g.small[k] -= g.small[k].signum();
        }
        *v = self.quat(g);
    }
    #[inline]
    fn write_full(&self, v: &Quat, w: &mut BitWriter) {
        self.write_grid(self.grid(*v), w);
    }
    #[inline]
    fn read_full(&self, r: &mut BitReader) -> FieldResult<Quat> {
        self.read_grid(r).map(|g| self.quat(g))
    }
    #[inline]
    fn write_change(&self, v: &Quat, p: &Quat, w: &mut BitWriter) {
        self.write_grid_change(self.grid(*v), self.grid(*p), w);
    }
    #[inline]
    fn read_change(&self, p: &Quat, r: &mut BitReader) -> FieldResult<Quat> {
        self.read_grid_change(self.grid(*p), r)
            .map(|g| self.quat(g))
    }
}

/// Booleans: one bit in full; a change is the flip the field mask already
/// announced, so it costs nothing more.
#[derive(Debug, Clone, Copy)]
pub struct Bool;

impl FieldCodec<bool> for Bool {
    #[inline]
    fn snap(&self, _: &mut bool) {}
    #[inline]
    fn write_full(&self, v: &bool, w: &mut BitWriter) {
        w.write_bit(*v);
    }
    #[inline]
    fn read_full(&self, r: &mut BitReader) -> FieldResult<bool> {
        r.read_bit().map_err(read_err)
    }
    #[inline]
    fn write_change(&self, _: &bool, _: &bool, _: &mut BitWriter) {}
    #[inline]
    fn read_change(&self, p: &bool, _: &mut BitReader) -> FieldResult<bool> {
        Ok(!p)
    }
}

/// A fieldless enum deriving `Replicate`: its variant index.
pub trait ReplicatedEnum: Copy + PartialEq + 'static {
    /// Variant names, in declaration order (their wire index).
    const VARIANTS: &'static [&'static str];
    fn index(self) -> u32;
    fn from_index(index: u32) -> Option<Self>;
}

/// Small enums: `bits_for(variants - 1)` raw bits, in full and on change.
#[derive(Debug, Clone, Copy)]
pub struct EnumCodec {
    pub bits: u32,
}

impl EnumCodec {
    pub const fn of<E: ReplicatedEnum>() -> Self {
        EnumCodec {
            bits: bits_for(E::VARIANTS.len().saturating_sub(1) as u64),
        }
    }
}

impl<E: ReplicatedEnum> FieldCodec<E> for EnumCodec {
    #[inline]
    fn snap(&self, _: &mut E) {}
    #[inline]
    fn write_full(&self, v: &E, w: &mut BitWriter) {
        w.write_bits(v.index(), self.bits);
    }
    #[inline]
    fn read_full(&self, r: &mut BitReader) -> FieldResult<E> {
        E::from_index(r.read_bits(self.bits).map_err(read_err)?).ok_or("no such variant")
    }
    #[inline]
    fn write_change(&self, v: &E, _: &E, w: &mut BitWriter) {
        FieldCodec::<E>::write_full(self, v, w);
    }
    #[inline]
    fn read_change(&self, _: &E, r: &mut BitReader) -> FieldResult<E> {
        FieldCodec::<E>::read_full(self, r)
    }
}

/// The longest prefix of `s` of at most `max_len` bytes that ends on a char
/// boundary: what a string snaps to.
#[inline]
pub fn truncate_str(s: &str, max_len: usize) -> &str {
    let mut n = s.len().min(max_len);
    while !s.is_char_boundary(n) {
        n -= 1;
    }
    &s[..n]
}

/// Writes a string in full: its length in bytes as a `gamma()`, then each
/// byte in 8 bits. The caller truncates it to `max_len` first.
#[inline]
pub fn string_full(w: &mut BitWriter, s: &str) {
    varint_full(w, s.len() as i64, false);
    for b in s.bytes() {
        w.write_bits(u32::from(b), 8);
    }
}

/// Reads what [`string_full`] wrote: at most `max_len` bytes of UTF-8.
pub fn read_string_full(r: &mut BitReader, max_len: u32) -> FieldResult<String> {
    let len = read_varint_full(r, false)?;
    if len > i64::from(max_len) {
        return Err("string longer than its max_len");
    }
    let len = len as usize;
    // Checked before allocating: a length alone cannot make us reserve memory.
    if r.remaining_bits() < len * 8 {
        return Err("payload ends inside this field");
    }
    let mut bytes = Vec::with_capacity(len);
    for _ in 0..len {
        bytes.push(r.read_bits(8).map_err(read_err)? as u8);
    }
    String::from_utf8(bytes).map_err(|_| "string is not UTF-8")
}

/// Strings of at most `max_len` bytes: the length, then the bytes. A change
/// sends the whole string again (its field-mask bit says it changed).
#[derive(Debug, Clone, Copy)]
pub struct Text {
    pub max_len: u32,
}

impl FieldCodec<String> for Text {
    #[inline]
    fn snap(&self, v: &mut String) {
        let n = truncate_str(v, self.max_len as usize).len();
        v.truncate(n);
    }
    #[inline]
    fn write_full(&self, v: &String, w: &mut BitWriter) {
        string_full(w, truncate_str(v, self.max_len as usize));
    }
    #[inline]
    fn read_full(&self, r: &mut BitReader) -> FieldResult<String> {
        read_string_full(r, self.max_len)
    }
    #[inline]
    fn write_change(&self, v: &String, _: &String, w: &mut BitWriter) {
        FieldCodec::<String>::write_full(self, v, w);
    }
    #[inline]
    fn read_change(&self, _: &String, r: &mut BitReader) -> FieldResult<String> {
        FieldCodec::<String>::read_full(self, r)
    }
}

/// Reads a list's element count (a `gamma()`), checking it against
/// `max_len`. Readers reserve at most a few elements ahead of decoding them,
/// so a count alone cannot make them allocate much.
pub fn read_list_len(r: &mut BitReader, max_len: u32) -> FieldResult<usize> {
    let n = read_varint_full(r, false)?;
    if n > i64::from(max_len) {
        return Err("list longer than its max_len");
    }
    Ok(n as usize)
}

/// Lists of at most `max_len` elements, each a struct deriving `Replicate`:
/// the count, then each element in full. A change sends the whole list again.
#[derive(Debug, Clone, Copy)]
pub struct List {
    pub max_len: u32,
}

impl List {
    /// Whether two lists are equal on the wire (element by element, skipped
    /// fields ignored).
    #[inline]
    pub fn same<T: super::Replicated>(a: &[T], b: &[T]) -> bool {
        a.len() == b.len() && a.iter().zip(b).all(|(x, y)| x.same_on_wire(y))
    }

    fn read<T: super::Replicated>(
        &self,
        field: &'static str,
        r: &mut BitReader,
    ) -> Result<Vec<T>, CodecError> {
        let n = read_list_len(r, self.max_len).map_err(|e| super::field_error(field, e))?;
        let mut out = Vec::with_capacity(n.min(16));
        for i in 0..n {
            out.push(T::read_full(r).map_err(|e| super::element_error(field, i, e))?);
        }
        Ok(out)
    }
}

impl<T: super::Replicated> FieldCodec<Vec<T>> for List {
    #[inline]
    fn snap(&self, v: &mut Vec<T>) {
        v.truncate(self.max_len as usize);
        v.iter_mut().for_each(T::snap);
    }
    #[inline]
    fn write_full(&self, v: &Vec<T>, w: &mut BitWriter) {
        let v = &v[..v.len().min(self.max_len as usize)];
        varint_full(w, v.len() as i64, false);
        for x in v {
            x.write_full(w);
        }
    }
    fn read_full(&self, r: &mut BitReader) -> FieldResult<Vec<T>> {
        self.read("", r).map_err(|e| match e {
            CodecError::Field { reason, .. } => reason,
            _ => "malformed value",
        })
    }
    #[inline]
    fn write_change(&self, v: &Vec<T>, _: &Vec<T>, w: &mut BitWriter) {
        FieldCodec::<Vec<T>>::write_full(self, v, w);
    }
    fn read_change(&self, _: &Vec<T>, r: &mut BitReader) -> FieldResult<Vec<T>> {
        FieldCodec::<Vec<T>>::read_full(self, r)
    }
    fn read_full_named(
        &self,
        field: &'static str,
        r: &mut BitReader,
    ) -> Result<Vec<T>, CodecError> {
        self.read(field, r)
    }
    fn read_change_named(
        &self,
        field: &'static str,
        _: &Vec<T>,
        r: &mut BitReader,
    ) -> Result<Vec<T>, CodecError> {
        self.read(field, r)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::replicate::Replicated;
    use proptest::prelude::*;

    fn round_trip<T: PartialEq + std::fmt::Debug + Copy>(
        codec: &impl FieldCodec<T>,
        mut v: T,
        mut p: T,
    ) -> Result<(), TestCaseError> {
        codec.snap(&mut v);
        codec.snap(&mut p);
        let mut w = BitWriter::new();
        codec.write_full(&v, &mut w);
        codec.write_change(&v, &p, &mut w);
        let bytes = w.finish().to_vec();
        let mut r = BitReader::new(&bytes);
        prop_assert_eq!(codec.read_full(&mut r).unwrap(), v);
        if v != p {
            prop_assert_eq!(codec.read_change(&p, &mut r).unwrap(), v);
        }
        Ok(())
    }

    proptest! {
        #[test]
        fn snapped_values_round_trip_in_full_and_as_changes(
            a in any::<i32>(), b in any::<i32>(),
            x in -2000f32..2000.0, y in -2000f32..2000.0,
            q in any::<[i8; 4]>(), pq in any::<[i8; 4]>(),
        ) {
            round_trip(&Int::new(-100, 64000, true), a, b)?;
            round_trip(&Int::new(0, u32::MAX as i64, false), a as u32, b as u32)?;
            round_trip(&Varint { signed: true }, a, b)?;
            round_trip(&Varint { signed: false }, a as u32, b as u32)?;
            round_trip(&Fixed::new(1.0 / 64.0, -64000, 64000), x, y)?;
            round_trip(&Fixed::new(0.01, -100_000, 100_000), Vec3::new(x, y, x - y), Vec3::new(y, x, 0.5))?;
            round_trip(&Angle { bits: 12 }, x, y)?;
            round_trip(&Angle { bits: 16 }, a as u16, b as u16)?;
            let quat = |c: [i8; 4]| Quat::from_array(c.map(f32::from));
            round_trip(&QuatCodec { bits: 12 }, quat(q), quat(pq))?;
            round_trip(&Bool, a & 1 == 0, b & 1 == 0)?;
        }

        #[test]
        fn a_snapped_quaternion_maps_back_to_its_grid(c in any::<[i16; 4]>(), bits in 4u32..16) {
            let codec = QuatCodec { bits };
            let mut q = Quat::from_array(c.map(f32::from));
            codec.snap(&mut q);
            prop_assert_eq!(codec.quat(codec.grid(q)), q);
            prop_assert!((q.length() - 1.0).abs() < 1e-2, "{:?}", q);
        }
    }

    /// A ranked result: what a list of a match's results holds.
    #[derive(Debug, Clone, PartialEq, crate::Replicate)]
    struct Rank {
        #[replicate(varint)]
        entity: u32,
        #[replicate(range = -1000..=1000)]
        score: i32,
    }

    #[derive(Debug, Clone, PartialEq, crate::Replicate)]
    struct Board {
        #[replicate(max_len = 5)]
        title: String,
        #[replicate(max_len = 3)]
        ranks: Vec<Rank>,
        done: bool,
    }

    fn board() -> impl Strategy<Value = Board> {
        let rank = (any::<u32>(), any::<i32>()).prop_map(|(entity, score)| Rank { entity, score });
        (
            "\\PC{0,8}",
            proptest::collection::vec(rank, 0..6),
            any::<bool>(),
        )
            .prop_map(|(title, ranks, done)| Board { title, ranks, done })
    }

    fn bytes_of(f: impl FnOnce(&mut BitWriter)) -> Vec<u8> {
        let mut w = BitWriter::new();
        f(&mut w);
        w.finish().to_vec()
    }

    proptest! {
        #[test]
        fn strings_and_lists_snap_to_a_fixpoint_within_max_len(b in board()) {
            let mut once = b.clone();
            once.snap();
            let mut twice = once.clone();
            twice.snap();
            prop_assert_eq!(&once, &twice);
            prop_assert!(once.title.len() <= 5 && b.title.starts_with(&once.title));
            prop_assert!(once.ranks.len() <= 3);
            prop_assert_eq!(once.ranks.len(), b.ranks.len().min(3));
            // What travels is the snapped value, snapped or not beforehand.
            prop_assert_eq!(bytes_of(|w| b.write_full(w)), bytes_of(|w| once.write_full(w)));
        }

        #[test]
        fn strings_and_lists_round_trip_in_full_and_as_changes(a in board(), p in board()) {
            let (mut a, mut p) = (a, p);
            a.snap();
            p.snap();
            let bytes = bytes_of(|w| a.write_full(w));
            let mut r = BitReader::new(&bytes);
            prop_assert_eq!(Board::read_full(&mut r).unwrap(), a.clone());
            r.expect_end().unwrap();
            if !a.same_on_wire(&p) {
                let bytes = bytes_of(|w| a.write_changes(&p, w));
                let mut r = BitReader::new(&bytes);
                prop_assert_eq!(Board::read_changes(&p, &mut r).unwrap(), a);
            }
        }

        #[test]
        fn truncated_strings_and_lists_name_the_field(b in board()) {
            let mut b = b;
            b.snap();
            let bytes = bytes_of(|w| b.write_full(w));
            for cut in 0..bytes.len() {
                match Board::read_full(&mut BitReader::new(&bytes[..cut])) {
                    Err(CodecError::Field { field, reason }) => {
                        prop_assert!(
                            field == "title" || field.starts_with("ranks") || field == "done",
                            "{} {}", field, reason
                        );
                        prop_assert_eq!(reason, "payload ends inside this field");
                    }
                    other => prop_assert!(false, "cut at {}: {:?}", cut, other),
                }
            }
        }
    }

    #[test]
    fn a_string_is_its_length_then_its_bytes_and_must_be_utf8() {
        let b = Board {
            title: "hé€".into(), // 6 bytes: snaps to "hé" (3), not into the €
            ranks: vec![],
            done: true,
        };
        let mut snapped = b.clone();
        snapped.snap();
        assert_eq!(snapped.title, "hé");
        // gamma(3) = 00100, then 68 c3 a9, gamma(0) = 1 (no ranks), done = 1.
        let bytes = bytes_of(|w| b.write_full(w));
        assert_eq!(bytes, [0x23, 0x46, 0x1d, 0x4e]);
        let mut bad = bytes.clone();
        bad[2] ^= 0x04; // é's second byte 0xa9 becomes 0x29: not UTF-8
        let err = Board::read_full(&mut BitReader::new(&bad)).unwrap_err();
        assert_eq!(err.to_string(), "field `title`: string is not UTF-8");
        // A length of 6 > max_len 5.
        let long = bytes_of(|w| string_full(w, "abcdef"));
        let err = Board::read_full(&mut BitReader::new(&long)).unwrap_err();
        assert_eq!(
            err.to_string(),
            "field `title`: string longer than its max_len"
        );
    }

    #[test]
    fn an_error_inside_a_list_element_names_its_index_and_field() {
        let bytes = bytes_of(|w| {
            string_full(w, "");
            w.write_gamma(2); // two ranks
            w.write_gamma(7);
            w.write_bits(0, 11); // score -1000
            w.write_gamma(8);
            w.write_bits(2047, 11); // score above 1000
        });
        let err = Board::read_full(&mut BitReader::new(&bytes)).unwrap_err();
        assert_eq!(
            err.to_string(),
            "field `ranks[1].score`: value above the declared maximum"
        );
        let four = bytes_of(|w| {
            string_full(w, "");
            w.write_gamma(4);
        });
        let err = Board::read_full(&mut BitReader::new(&four)).unwrap_err();
        assert_eq!(
            err.to_string(),
            "field `ranks`: list longer than its max_len"
        );
    }

    #[test]
    fn out_of_range_values_are_clamped_and_checked_on_read() {
        let codec = Int::new(0, 100, false);
        let mut v: u16 = 500;
        codec.snap(&mut v);
        assert_eq!(v, 100);
        let mut w = BitWriter::new();
        w.write_bits(127, 7);
        let bytes = w.finish().to_vec();
        assert_eq!(
            FieldCodec::<u16>::read_full(&codec, &mut BitReader::new(&bytes)),
            Err("value above the declared maximum")
        );
        let mut nan = f32::NAN;
        FieldCodec::<f32>::snap(&Fixed::new(0.5, 2, 10), &mut nan);
        assert_eq!(nan, 1.0, "NaN snaps to the nearest grid point to 0");
    }
}
