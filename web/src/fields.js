// @ts-check
/**
 * The field codecs (docs/PROTOCOL.md, "Field types", "Prediction",
 * "Quaternions", "Presentation", "Inputs"): how one field of a schema is
 * read in full and as a change, predicted, presented in game units, and
 * written from a presented value.
 *
 * Values stay on their integer grid while decoding, as on the Rust side:
 * integers as themselves, `fixed` as the grid index, `angle` as a step,
 * `enum` as an index, `quat` as a largest-component index and three
 * integers. Prediction and residuals are exact there; only presentation
 * turns grid values into reals, rounding to f32 with `Math.fround` exactly
 * where Rust casts to `f32`, so a decoded value is bit-identical to the
 * server's.
 * @module
 */

import { Malformed, Truncated } from './bits.js';
import { CodecError } from './errors.js';

/** @typedef {import('./bits.js').BitReader} BitReader */
/** @typedef {import('./bits.js').BitWriter} BitWriter */
/** @typedef {import('./schema.js').Field} Field */

/**
 * A quaternion on the smallest-three grid.
 * @typedef {{largest: number, small: [number, number, number]}} QuatGrid
 */

/**
 * One field's value on its grid: a boolean (`bool`), a step or an index
 * (`angle`, `enum`), the components (`int`, `varint`, `fixed`, always an
 * array of `dims` numbers), a {@link QuatGrid}, a string (`string`, at most
 * `max_len` UTF-8 bytes), or a list's elements, each its item's grid values
 * in field order (`GridValue[][]`; JSDoc cannot name a type inside itself).
 * @typedef {boolean | number | number[] | QuatGrid | string | unknown[][]} GridValue
 */

/**
 * A field's value in game units, as in the JSON presentation: a boolean, a
 * number, a variant name or a string, an array of numbers (components, or a
 * quaternion's `[x, y, z, w]`), or a list's elements as objects.
 * @typedef {boolean | number | string | number[] | FieldRecord[]} FieldValue
 */

/**
 * A record's fields by name, in game units: a list element, a message's or an event's fields.
 * @typedef {{[name: string]: FieldValue}} FieldRecord
 */

/**
 * Where a presented value is being encoded, for its errors: the owner
 * (`input`, ``message `Chat` ``), the field's path (`ranking[1].score`), and
 * the error to throw.
 * @typedef {{owner: string, path: string, error: (message: string, path: string) => Error}} ValueContext
 */

/** Strings travel as UTF-8; decoding keeps a leading BOM and refuses malformed bytes, as Rust's `String::from_utf8`. */
const UTF8_DECODER = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });
const UTF8_ENCODER = new TextEncoder();

const TAU = 2 * Math.PI;

/** The largest component of a quaternion grid, `m = 2^(bits-1) - 1`. @param {number} bits */
export function quatMaxStep(bits) {
  return 2 ** (bits - 1) - 1;
}

/**
 * Rust's `f64::round`: halves away from zero (`Math.round` rounds them up).
 * @param {number} x
 */
export function roundHalfAway(x) {
  return x < 0 ? -Math.round(-x) : Math.round(x);
}

/**
 * Runs a read of one field, naming the field in whatever it throws.
 * @template T
 * @param {Field} f
 * @param {() => T} read
 * @returns {T}
 */
function named(f, read) {
  try {
    return read();
  } catch (e) {
    if (e instanceof Truncated) throw new CodecError('payload ends inside this field', f.name);
    if (e instanceof Malformed) throw new CodecError('malformed value', f.name);
    throw e;
  }
}

/** @param {Field} f @param {string} reason */
function fieldError(f, reason) {
  return new CodecError(reason, f.name);
}

/**
 * `min + bits(width)`, checked against `max` (an `int` component, a `fixed` index).
 * @param {Field} f @param {BitReader} r @param {number} min @param {number} max @param {number} width
 */
function readRange(f, r, min, max, width) {
  const v = min + r.readBits(width);
  if (v > max) throw fieldError(f, 'value above the declared maximum');
  return v;
}

/**
 * A residual applied to `p` modulo 2^32, read in the field's 32-bit domain.
 * @param {BitReader} r @param {number} p @param {boolean} signed
 */
function readResidual(r, p, signed) {
  // p + d is exact in a Number; the 32-bit wrap is the conversion.
  const sum = p + r.readSigned();
  return signed ? sum | 0 : sum >>> 0;
}

/**
 * @param {Field} f @param {BitReader} r
 * @returns {QuatGrid}
 */
function readQuatFull(f, r) {
  const largest = r.readBits(2);
  const m = quatMaxStep(f.bits);
  /** @type {[number, number, number]} */
  const small = [0, 0, 0];
  for (let i = 0; i < 3; i++) small[i] = readRange(f, r, -m, m, f.bits);
  return { largest, small };
}

/**
 * A field in full.
 * @param {Field} f
 * @param {BitReader} r
 * @returns {GridValue}
 */
export function readFull(f, r) {
  return named(f, () => {
    switch (f.type) {
      case 'bool':
        return r.readBit();
      case 'int':
      case 'fixed': {
        const out = new Array(f.dims);
        for (let i = 0; i < f.dims; i++) out[i] = readRange(f, r, f.min, f.max, f.bits);
        return out;
      }
      case 'varint': {
        const out = new Array(f.dims);
        for (let i = 0; i < f.dims; i++) out[i] = f.signed ? r.readSigned() : r.readGamma();
        return out;
      }
      case 'angle':
        return r.readBits(f.bits);
      case 'enum': {
        const i = r.readBits(f.bits);
        if (i >= f.variants.length) throw fieldError(f, 'no such variant');
        return i;
      }
      case 'quat':
        return readQuatFull(f, r);
      case 'string':
        return readString(f, r);
      case 'list':
        return readList(f, r);
    }
  });
}

/**
 * A string in full: its length in bytes as `gamma()`, then each byte in 8 bits.
 * @param {Field} f @param {BitReader} r
 * @returns {string}
 */
function readString(f, r) {
  const len = r.readGamma();
  if (len > f.maxLen) throw fieldError(f, 'string longer than its max_len');
  // Checked before allocating: a length alone cannot make us reserve memory.
  if (r.remainingBits < len * 8) throw fieldError(f, 'payload ends inside this field');
  const bytes = new Uint8Array(len);
  for (let i = 0; i < len; i++) bytes[i] = r.readBits(8);
  try {
    return UTF8_DECODER.decode(bytes);
  } catch {
    throw fieldError(f, 'string is not UTF-8');
  }
}

/**
 * A list in full: its count as `gamma()`, then each element's fields in full.
 * An error inside an element names the list, the index and the field:
 * `ranking[1].score`.
 * @param {Field} f @param {BitReader} r
 * @returns {GridValue[][]}
 */
function readList(f, r) {
  const n = r.readGamma();
  if (n > f.maxLen) throw fieldError(f, 'list longer than its max_len');
  const fields = /** @type {import('./schema.js').InputRecord} */ (f.item).fields;
  /** @type {GridValue[][]} */
  const out = [];
  for (let i = 0; i < n; i++) {
    try {
      out.push(fields.map((g) => readFull(g, r)));
    } catch (e) {
      if (e instanceof CodecError) {
        throw new CodecError(e.reason, e.field === null ? f.name : `${f.name}[${i}].${e.field}`);
      }
      throw e;
    }
  }
  return out;
}

/**
 * A field's change against its predicted value `p`.
 * @param {Field} f
 * @param {GridValue} p
 * @param {BitReader} r
 * @returns {GridValue}
 */
export function readChange(f, p, r) {
  return named(f, () => {
    switch (f.type) {
      case 'bool':
        // The set mask bit is the whole news: the value flipped.
        return !p;
      case 'int':
      case 'fixed':
      case 'varint': {
        const prev = /** @type {number[]} */ (p);
        const out = new Array(f.dims);
        for (let i = 0; i < f.dims; i++) {
          const v = readResidual(r, prev[i], f.signed);
          // A varint's range is its whole 32-bit domain: the wrap keeps it there.
          if (v < f.min || v > f.max) throw fieldError(f, 'value outside the declared range');
          out[i] = v;
        }
        return out;
      }
      case 'angle':
      case 'enum':
      case 'string':
      case 'list':
        // Sent as the new value, not a difference.
        return readFull(f, r);
      case 'quat': {
        if (!r.readBit()) return readQuatFull(f, r);
        const prev = /** @type {QuatGrid} */ (p);
        const m = quatMaxStep(f.bits);
        /** @type {[number, number, number]} */
        const small = [0, 0, 0];
        for (let i = 0; i < 3; i++) {
          const v = readResidual(r, prev.small[i], true);
          if (v < -m || v > m) throw fieldError(f, 'component outside the quaternion grid');
          small[i] = v;
        }
        return { largest: prev.largest, small };
      }
    }
  });
}

/**
 * A field's value `ticks` ahead (docs/PROTOCOL.md, "Prediction").
 * `velocity` is the baseline's value of the field `linear` names, not its prediction.
 * @param {Field} f
 * @param {GridValue} v
 * @param {GridValue | undefined} velocity
 * @param {number} ticks
 * @returns {GridValue}
 */
export function predict(f, v, velocity, ticks) {
  if (f.predict === 'counter') {
    const c = /** @type {number[]} */ (v)[0];
    return c === 0 ? v : [Math.min(c + ticks, f.top)];
  }
  if (f.predict === 'linear') {
    const c = /** @type {number[]} */ (v);
    const d = /** @type {number[]} */ (velocity);
    const out = new Array(f.dims);
    for (let i = 0; i < f.dims; i++) {
      // Exact for every value that can land in range; a product too large to
      // be exact is far outside it and clamps the same way as Rust's i64.
      out[i] = Math.min(Math.max(c[i] + d[i] * ticks, f.min), f.max);
    }
    return out;
  }
  return v;
}

/**
 * The quaternion `[x, y, z, w]` of a grid point, each component rounded to f32.
 * @param {number} bits
 * @param {QuatGrid} g
 * @returns {number[]}
 */
export function quatOfGrid(bits, g) {
  const m = quatMaxStep(bits);
  const s0 = (g.small[0] / m) * Math.SQRT1_2;
  const s1 = (g.small[1] / m) * Math.SQRT1_2;
  const s2 = (g.small[2] / m) * Math.SQRT1_2;
  const big = Math.sqrt(Math.max(0, 1 - s0 * s0 - s1 * s1 - s2 * s2));
  const small = [s0, s1, s2];
  const out = [0, 0, 0, 0];
  for (let i = 0, k = 0; i < 4; i++) {
    out[i] = Math.fround(i === g.largest ? big : small[k++]);
  }
  return out;
}

/**
 * The radians of an angle step, rounded to f32.
 * @param {number} bits @param {number} step
 */
export function radiansOfStep(bits, step) {
  return Math.fround((step * TAU) / 2 ** bits);
}

/**
 * A grid value in game units (docs/PROTOCOL.md, "Presentation").
 * @param {Field} f
 * @param {GridValue} v
 * @returns {FieldValue}
 */
export function present(f, v) {
  switch (f.type) {
    case 'bool':
      return /** @type {boolean} */ (v);
    case 'int':
    case 'varint': {
      const c = /** @type {number[]} */ (v);
      return f.dims === 1 ? c[0] : c.slice();
    }
    case 'fixed': {
      const c = /** @type {number[]} */ (v).map((q) => Math.fround(q * f.quantum));
      return f.dims === 1 ? c[0] : c;
    }
    case 'angle':
      return radiansOfStep(f.bits, /** @type {number} */ (v));
    case 'enum':
      return f.variants[/** @type {number} */ (v)];
    case 'quat':
      return quatOfGrid(f.bits, /** @type {QuatGrid} */ (v));
    case 'string':
      return /** @type {string} */ (v);
    case 'list': {
      const fields = /** @type {import('./schema.js').InputRecord} */ (f.item).fields;
      return /** @type {GridValue[][]} */ (v).map((values) => presentRecord(fields, values));
    }
  }
}

/**
 * A record's grid values in game units, one key per field.
 * @param {readonly Field[]} fields
 * @param {readonly GridValue[]} values
 * @returns {FieldRecord}
 */
export function presentRecord(fields, values) {
  /** @type {FieldRecord} */
  const out = {};
  fields.forEach((f, i) => {
    out[f.name] = present(f, values[i]);
  });
  return out;
}

/**
 * Writes a grid value in full (inputs; values come from {@link fromPresented}).
 * @param {Field} f
 * @param {GridValue} v
 * @param {BitWriter} w
 */
export function writeFull(f, v, w) {
  switch (f.type) {
    case 'bool':
      w.writeBit(/** @type {boolean} */ (v));
      return;
    case 'int':
    case 'fixed':
      for (const c of /** @type {number[]} */ (v)) w.writeBits(c - f.min, f.bits);
      return;
    case 'varint':
      for (const c of /** @type {number[]} */ (v)) {
        if (f.signed) w.writeSigned(c);
        else w.writeGamma(c);
      }
      return;
    case 'angle':
    case 'enum':
      w.writeBits(/** @type {number} */ (v), f.bits);
      return;
    case 'quat': {
      const g = /** @type {QuatGrid} */ (v);
      const m = quatMaxStep(f.bits);
      w.writeBits(g.largest, 2);
      for (const c of g.small) w.writeBits(c + m, f.bits);
      return;
    }
    case 'string': {
      const bytes = utf8Prefix(/** @type {string} */ (v), f.maxLen);
      w.writeGamma(bytes.length);
      for (const b of bytes) w.writeBits(b, 8);
      return;
    }
    case 'list': {
      const fields = /** @type {import('./schema.js').InputRecord} */ (f.item).fields;
      const items = /** @type {GridValue[][]} */ (v).slice(0, f.maxLen);
      w.writeGamma(items.length);
      for (const values of items) fields.forEach((g, i) => writeFull(g, values[i], w));
    }
  }
}

/**
 * The UTF-8 bytes of the longest prefix of `s` of at most `maxLen` bytes
 * that ends on a character boundary (Rust's `truncate_str`).
 * @param {string} s @param {number} maxLen
 * @returns {Uint8Array}
 */
function utf8Prefix(s, maxLen) {
  const bytes = UTF8_ENCODER.encode(s);
  if (bytes.length <= maxLen) return bytes;
  let n = maxLen;
  // A continuation byte (10xxxxxx) is inside a character: back up to its start.
  while (n > 0 && (bytes[n] & 0xc0) === 0x80) n--;
  return bytes.subarray(0, n);
}

/**
 * The grid point of a quaternion `[x, y, z, w]` (its components taken as f32).
 * @param {number} bits
 * @param {readonly number[]} q
 * @returns {QuatGrid}
 */
export function quatGrid(bits, q) {
  let c = q.map((x) => Math.fround(x));
  const len = Math.sqrt(c[0] * c[0] + c[1] * c[1] + c[2] * c[2] + c[3] * c[3]);
  c = Number.isFinite(len) && len > 1e-12 ? c.map((x) => x / len) : [0, 0, 0, 1];
  let largest = 0;
  for (let i = 1; i < 4; i++) if (Math.abs(c[i]) > Math.abs(c[largest])) largest = i;
  const sign = c[largest] < 0 ? -1 : 1;
  const m = quatMaxStep(bits);
  /** @type {[number, number, number]} */
  const small = [0, 0, 0];
  for (let i = 0, k = 0; i < 4; i++) {
    if (i === largest) continue;
    // Left to right, as Rust evaluates `x * sign * SQRT_2 * m`.
    small[k++] = Math.min(Math.max(roundHalfAway(c[i] * sign * Math.SQRT2 * m), -m), m);
  }
  return { largest, small };
}

/**
 * The step of an angle in radians (taken as f32); not finite: step 0.
 * @param {number} bits @param {number} radians
 */
export function stepOfRadians(bits, radians) {
  const x = Math.fround(radians);
  if (!Number.isFinite(x)) return 0;
  // Rust's `rem_euclid`: the remainder, moved into [0, 2π) when negative.
  let rem = x % TAU;
  if (rem < 0) rem += TAU;
  return roundHalfAway((rem / TAU) * 2 ** bits) % 2 ** bits;
}

/** @param {unknown} x */
function shown(x) {
  try {
    return JSON.stringify(x) ?? String(x);
  } catch {
    return String(x);
  }
}

/**
 * How inputs name a field in errors (``input field `aim` ``), and throw a TypeError.
 * @param {Field} f
 * @returns {ValueContext}
 */
export function inputContext(f) {
  return { owner: 'input', path: f.name, error: (message) => new TypeError(message) };
}

/**
 * @param {ValueContext} at
 * @param {unknown} x
 * @param {string} why
 */
function badValue(at, x, why) {
  return at.error(`${at.owner} field \`${at.path}\`: value ${shown(x)} does not fit its type (${why})`, at.path);
}

/**
 * `n` numbers from a presented value: an array of `n`, or a plain number when `n` is 1.
 * @param {ValueContext} at @param {unknown} x @param {number} n
 * @returns {number[]}
 */
function numbers(at, x, n) {
  const xs = Array.isArray(x) ? x : [x];
  if (xs.length !== n || !xs.every((c) => typeof c === 'number')) {
    throw badValue(at, x, n === 1 ? 'a number' : `an array of ${n} numbers`);
  }
  return xs;
}

/** A lone surrogate: a string JSON (and Rust) cannot carry as UTF-8. */
const LONE_SURROGATE = /\p{Surrogate}/u;

/**
 * The grid values of a record's fields from an object of presented values.
 * @param {readonly Field[]} fields
 * @param {Readonly<Record<string, unknown>>} obj
 * @param {ValueContext} at `path` is the record's prefix (`ranking[1].`, or empty)
 * @returns {GridValue[]}
 */
export function recordFromPresented(fields, obj, at) {
  return fields.map((f) => {
    const path = `${at.path}${f.name}`;
    if (!Object.hasOwn(obj, f.name)) throw at.error(`${at.owner} field \`${path}\` is missing`, path);
    return fromPresented(f, obj[f.name], { ...at, path });
  });
}

/**
 * The grid value of a presented value, for an input, a message or an event
 * (docs/PROTOCOL.md, "Inputs"): rounded and clamped to the field's range,
 * strings and lists cut to their `max_len`, as the Rust encoder does.
 * @param {Field} f
 * @param {unknown} x
 * @param {ValueContext} [at] how errors name the field (an input's by default)
 * @returns {GridValue}
 */
export function fromPresented(f, x, at = inputContext(f)) {
  switch (f.type) {
    case 'bool':
      if (typeof x !== 'boolean') throw badValue(at, x, 'true or false');
      return x;
    case 'int':
    case 'varint':
      // Out of range clamps (for a varint, to its 32-bit domain), like the Rust encoder.
      return numbers(at, x, f.dims).map((c) =>
        Number.isNaN(c) ? Math.min(Math.max(0, f.min), f.max) : Math.min(Math.max(roundHalfAway(c), f.min), f.max),
      );
    case 'fixed':
      return numbers(at, x, f.dims).map((c) => {
        const q = roundHalfAway(Math.fround(c) / f.quantum);
        return Math.min(Math.max(Number.isNaN(q) ? 0 : q, f.min), f.max);
      });
    case 'angle':
      return stepOfRadians(f.bits, numbers(at, x, 1)[0]);
    case 'enum': {
      const i = typeof x === 'string' ? f.variants.indexOf(x) : -1;
      if (i < 0) throw badValue(at, x, `one of ${f.variants.join(', ')}`);
      return i;
    }
    case 'quat':
      return quatGrid(f.bits, numbers(at, x, 4));
    case 'string': {
      if (typeof x !== 'string') throw badValue(at, x, 'a string');
      if (LONE_SURROGATE.test(x)) throw badValue(at, x, 'a string without lone surrogates, which UTF-8 cannot carry');
      // What travels: the longest prefix of at most max_len bytes on a character boundary.
      return UTF8_DECODER.decode(utf8Prefix(x, f.maxLen));
    }
    case 'list': {
      if (!Array.isArray(x)) throw badValue(at, x, 'an array of objects');
      const fields = /** @type {import('./schema.js').InputRecord} */ (f.item).fields;
      // Elements beyond max_len are dropped unread, as the Rust encoder does.
      return x.slice(0, f.maxLen).map((el, i) => {
        const path = `${at.path}[${i}]`;
        if (typeof el !== 'object' || el === null || Array.isArray(el)) {
          throw at.error(`${at.owner} field \`${path}\`: value ${shown(el)} is not an object`, path);
        }
        return recordFromPresented(fields, el, { ...at, path: `${path}.` });
      });
    }
  }
}
