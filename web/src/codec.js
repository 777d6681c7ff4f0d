// @ts-check
/**
 * Snapshots and inputs from the schema alone (docs/PROTOCOL.md, "The
 * payload", "An entity in full", "An entity's changes", "Inputs"): the
 * counterpart of the Rust `GenericCodec`, bit for bit.
 *
 * A decoded snapshot ({@link GridSnapshot}) keeps values on their grid: it is
 * what later deltas are decoded against. {@link presentSnapshot} turns it
 * into the JSON-like form games read (`{tick, entities: [{id, kind, fields}]}`),
 * the same as the Rust decoder's JSON.
 * @module
 */

import { BitReader, BitWriter, Malformed, Truncated, bitsFor } from './bits.js';
import { CodecError, MessageError } from './errors.js';
import {
  fromPresented,
  predict,
  present,
  presentRecord,
  readChange,
  readFull,
  recordFromPresented,
  writeFull,
} from './fields.js';

/** @typedef {import('./schema.js').Schema} Schema */
/** @typedef {import('./fields.js').GridValue} GridValue */
/** @typedef {import('./fields.js').FieldValue} FieldValue */
/** @typedef {import('./fields.js').FieldRecord} FieldRecord */
/** @typedef {import('./schema.js').MessageType} MessageType */

/**
 * A game message or event as games read and write it (`GenericCodec`'s
 * JSON): its type's name and its fields in game units (`{}` for a type
 * without fields).
 * @typedef {{type: string, fields: FieldRecord}} GameMessage
 */

/**
 * An entity on the grid: its kind as the schema's index, its fields in schema order.
 * @typedef {{id: number, kind: number, fields: GridValue[]}} GridEntity
 */

/**
 * A decoded snapshot on the grid, entities sorted by id.
 * @typedef {{tick: number, entities: GridEntity[]}} GridSnapshot
 */

/**
 * An entity as games read it: its kind by name, its fields by name in game units.
 * @typedef {{id: number, kind: string, fields: Record<string, FieldValue>}} Entity
 */

/**
 * A snapshot as games read it, entities sorted by id.
 * @typedef {{tick: number, entities: Entity[]}} Snapshot
 */

const U32_MAX = 2 ** 32 - 1;

/**
 * An entity's prediction `ticks` ahead.
 * @param {Schema} schema
 * @param {GridEntity} e
 * @param {number} ticks
 * @returns {GridEntity}
 */
export function predictEntity(schema, e, ticks) {
  const fields = schema.kinds[e.kind].fields;
  const out = e.fields.slice();
  for (let i = 0; i < fields.length; i++) {
    const f = fields[i];
    if (f.predict !== 'hold') {
      out[i] = predict(f, e.fields[i], f.velocity >= 0 ? e.fields[f.velocity] : undefined, ticks);
    }
  }
  return { id: e.id, kind: e.kind, fields: out };
}

/**
 * @param {Schema} schema
 * @param {number} id
 * @param {BitReader} r
 * @returns {GridEntity}
 */
function readEntityFull(schema, id, r) {
  let kind = 0;
  if (schema.enumKinds) {
    kind = r.readBits(schema.kindBits);
    if (kind >= schema.kinds.length) throw new CodecError('no such entity kind');
  }
  const k = schema.kinds[kind];
  const fields = k.fields.map((f) => readFull(f, r));
  // A singleton's entity is id 0 whatever the list said; the caller checks the id.
  return { id: k.singleton ? 0 : id, kind, fields };
}

/**
 * @param {Schema} schema
 * @param {GridEntity} p the baseline entity's prediction
 * @param {BitReader} r
 * @returns {GridEntity}
 */
function readEntityChanges(schema, p, r) {
  if (schema.enumKinds && r.readBit()) return readEntityFull(schema, p.id, r);
  const fields = schema.kinds[p.kind].fields;
  const n = fields.length;
  const mask = r.readBits(n);
  if (mask === 0) throw new CodecError('changed entity with an empty field mask');
  const out = p.fields.slice();
  for (let i = 0; i < n; i++) {
    // The first field is the mask's most significant bit.
    if ((mask >>> (n - 1 - i)) & 1) out[i] = readChange(fields[i], p.fields[i], r);
  }
  return { id: p.id, kind: p.kind, fields: out };
}

/**
 * The next id of an ascending list, or null at its end.
 * @param {BitReader} r
 * @param {{prev: number}} list
 */
function readId(r, list) {
  if (!r.readBit()) return null;
  const id = list.prev + 1 + r.readGamma();
  if (id > U32_MAX) throw new CodecError('entity id exceeds 32 bits');
  list.prev = id;
  return id;
}

/**
 * Decodes the snapshot at `tick` from its payload, against the snapshot it is
 * a delta of (`null` for a full snapshot).
 * @param {Schema} schema
 * @param {GridSnapshot | null} baseline
 * @param {number} tick
 * @param {Uint8Array} payload
 * @returns {GridSnapshot}
 * @throws {CodecError} when the payload breaks the schema; nothing of it is kept
 */
export function decodeSnapshot(schema, baseline, tick, payload) {
  if (baseline && baseline.tick >= tick) {
    throw new CodecError(`baseline tick ${baseline.tick} is not before snapshot tick ${tick}`);
  }
  const base = baseline ? baseline.entities : [];
  const ticks = baseline ? tick - baseline.tick : 0;
  const r = new BitReader(payload);
  try {
    // 1. Removed ids, ascending; each must be in the baseline.
    /** @type {Set<number>} */
    const removed = new Set();
    const removedList = { prev: -1 };
    let bi = 0;
    for (let id = readId(r, removedList); id !== null; id = readId(r, removedList)) {
      while (bi < base.length && base[bi].id < id) bi++;
      if (bi >= base.length || base[bi].id !== id) {
        throw new CodecError('removed entity is not in the baseline');
      }
      removed.add(id);
    }

    // 2. Written ids merged with the baseline: both lists ascend, so one pass
    // carries every untouched baseline entity forward as its prediction.
    /** @type {GridEntity[]} */
    const out = [];
    bi = 0;
    const carryUpTo = (/** @type {number} */ limit) => {
      for (; bi < base.length && base[bi].id < limit; bi++) {
        if (!removed.has(base[bi].id)) out.push(predictEntity(schema, base[bi], ticks));
      }
    };
    const writtenList = { prev: -1 };
    for (let id = readId(r, writtenList); id !== null; id = readId(r, writtenList)) {
      carryUpTo(id);
      let entity;
      if (bi < base.length && base[bi].id === id) {
        if (removed.has(id)) throw new CodecError('entity is both removed and changed');
        entity = readEntityChanges(schema, predictEntity(schema, base[bi], ticks), r);
        bi++;
      } else {
        entity = readEntityFull(schema, id, r);
      }
      if (entity.id !== id) throw new CodecError('entity decoded with another id');
      out.push(entity);
    }
    carryUpTo(Infinity);
    r.expectEnd();
    return { tick, entities: out };
  } catch (e) {
    if (e instanceof Truncated) throw new CodecError('the payload ends in the middle of an entity');
    if (e instanceof Malformed) throw new CodecError(e.message);
    throw e;
  }
}

/**
 * An entity in game units.
 * @param {Schema} schema
 * @param {GridEntity} e
 * @returns {Entity}
 */
export function presentEntity(schema, e) {
  const kind = schema.kinds[e.kind];
  /** @type {Record<string, FieldValue>} */
  const fields = {};
  kind.fields.forEach((f, i) => {
    fields[f.name] = present(f, e.fields[i]);
  });
  return { id: e.id, kind: kind.name, fields };
}

/**
 * A decoded snapshot in game units: `{tick, entities: [{id, kind, fields}]}`,
 * the Rust decoder's JSON.
 * @param {Schema} schema
 * @param {GridSnapshot} s
 * @returns {Snapshot}
 */
export function presentSnapshot(schema, s) {
  return { tick: s.tick, entities: s.entities.map((e) => presentEntity(schema, e)) };
}

/**
 * The bytes of an input given as an object of field values in game units
 * (reals as numbers, angles in radians, enums by name, vectors as arrays).
 * Out-of-range numbers are clamped, as the Rust encoder does.
 * @param {Schema} schema
 * @param {Readonly<Record<string, unknown>>} input
 * @returns {Uint8Array}
 * @throws {TypeError} when a field is missing or a value does not fit its type
 */
export function encodeInput(schema, input) {
  const w = new BitWriter();
  for (const f of schema.input.fields) {
    if (!Object.hasOwn(input, f.name)) {
      throw new TypeError(`input field \`${f.name}\` is missing (${schema.input.name})`);
    }
    writeFull(f, fromPresented(f, input[f.name]), w);
  }
  return w.finish();
}

/**
 * An input's bytes in game units: what the server reads from them.
 * @param {Schema} schema
 * @param {Uint8Array} bytes
 * @returns {Record<string, FieldValue>}
 * @throws {CodecError}
 */
export function decodeInput(schema, bytes) {
  const r = new BitReader(bytes);
  /** @type {Record<string, FieldValue>} */
  const out = {};
  for (const f of schema.input.fields) out[f.name] = present(f, readFull(f, r));
  try {
    r.expectEnd();
  } catch {
    throw new CodecError('trailing data after the input');
  }
  return out;
}

/**
 * One message or event: the type's index in `bits_for(types - 1)` bits,
 * then its fields in full, zero-padded.
 * @param {readonly MessageType[]} types
 * @param {'message' | 'event'} what
 * @param {{type: string, fields?: Readonly<Record<string, unknown>> | null}} msg
 * @returns {Uint8Array}
 */
function encodeTyped(types, what, msg) {
  const name = typeof msg === 'object' && msg !== null ? msg.type : undefined;
  if (typeof name !== 'string') throw new MessageError(`a ${what} needs "type": the name of its type`);
  const index = types.findIndex((t) => t.name === name);
  if (index < 0) {
    const known = types.length === 0 ? `the schema has no ${what} types` : `the schema's are ${types.map((t) => t.name).join(', ')}`;
    throw new MessageError(`unknown ${what} type \`${name}\` (${known})`, name);
  }
  const owner = `${what} \`${name}\``;
  const given = msg.fields ?? {};
  if (typeof given !== 'object' || Array.isArray(given)) {
    throw new MessageError(`${owner}: "fields" must be an object, not ${JSON.stringify(given)}`, name);
  }
  const t = types[index];
  const values = recordFromPresented(t.fields, given, {
    owner,
    path: '',
    error: (message, path) => new MessageError(message, name, path),
  });
  const w = new BitWriter();
  w.writeBits(index, bitsFor(types.length - 1));
  t.fields.forEach((f, i) => writeFull(f, values[i], w));
  return w.finish();
}

/**
 * @param {readonly MessageType[]} types
 * @param {'message' | 'event'} what
 * @param {Uint8Array} bytes
 * @returns {GameMessage}
 */
function decodeTyped(types, what, bytes) {
  const r = new BitReader(bytes);
  /** @type {MessageType | undefined} */
  let t;
  try {
    t = types[r.readBits(bitsFor(Math.max(types.length - 1, 0)))];
    if (t === undefined) throw new CodecError(`no such ${what} type`);
    const values = t.fields.map((f) => readFull(f, r));
    r.expectEnd();
    return { type: t.name, fields: presentRecord(t.fields, values) };
  } catch (e) {
    const where = t === undefined ? null : `${what} \`${t.name}\``;
    if (e instanceof CodecError) throw new CodecError(e.reason, e.field, where);
    if (e instanceof Truncated) throw new CodecError(`the ${what} ends early`, null, where);
    if (e instanceof Malformed) throw new CodecError(`trailing data after the ${what}`, null, where);
    throw e;
  }
}

/**
 * The bytes of a game message (what `Message` carries), from
 * `{type, fields}` in game units (`fields` may be left out for a type without
 * fields). Values are rounded and clamped, strings and lists cut to their
 * `max_len`, as the Rust encoder does.
 * @param {Schema} schema
 * @param {{type: string, fields?: Readonly<Record<string, unknown>> | null}} message
 * @returns {Uint8Array}
 * @throws {MessageError} for a type the schema does not have, a missing field or a value that does not fit
 */
export function encodeMessage(schema, message) {
  return encodeTyped(schema.messages, 'message', message);
}

/**
 * A game message's bytes as `{type, fields}`: what the server reads from them.
 * @param {Schema} schema
 * @param {Uint8Array} bytes
 * @returns {GameMessage}
 * @throws {CodecError} naming the type and the field
 */
export function decodeMessage(schema, bytes) {
  return decodeTyped(schema.messages, 'message', bytes);
}

/**
 * The bytes of a game event (what `Event` and `Ended` carry), as
 * {@link encodeMessage} makes a message's: for tests and tools.
 * @param {Schema} schema
 * @param {{type: string, fields?: Readonly<Record<string, unknown>> | null}} event
 * @returns {Uint8Array}
 * @throws {MessageError}
 */
export function encodeEvent(schema, event) {
  return encodeTyped(schema.events, 'event', event);
}

/**
 * A game event's bytes (an `Event`'s body, an `Ended`'s result) as
 * `{type, fields}`, the JSON of the Rust `GenericCodec::decode_event`.
 * @param {Schema} schema
 * @param {Uint8Array} bytes
 * @returns {GameMessage}
 * @throws {CodecError} naming the type and the field
 */
export function decodeEvent(schema, bytes) {
  return decodeTyped(schema.events, 'event', bytes);
}

/**
 * The entity with this id, by binary search (entities are sorted by id).
 * @template {{id: number}} E
 * @param {{entities: readonly E[]}} snapshot
 * @param {number} id
 * @returns {E | undefined}
 */
export function findEntity(snapshot, id) {
  const list = snapshot.entities;
  let lo = 0;
  let hi = list.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (list[mid].id < id) lo = mid + 1;
    else hi = mid;
  }
  return lo < list.length && list[lo].id === id ? list[lo] : undefined;
}
