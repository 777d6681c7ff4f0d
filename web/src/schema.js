// @ts-check
/**
 * A game's schema (docs/PROTOCOL.md, "Schema"): parsed from the JSON text the
 * server sends, validated by the rules `Schema::validate` applies on the Rust
 * side, and hashed (FNV-1a 64 of the text exactly as received: a client never
 * rebuilds the canonical text, it hashes what it got).
 *
 * Validation happens once, here, so the decoder can trust every field it is
 * given: widths, ranges and velocity links are computed ahead of decoding.
 * @module
 */

import { bitsFor } from './bits.js';
import { SchemaError } from './errors.js';

/** The version of the schema format this client reads. */
export const SCHEMA_FORMAT = 2;

/** The roles a connection can have, in their wire order (`Welcome.role`, a message type's `allow`). */
export const ROLES = Object.freeze(/** @type {const} */ (['player', 'spectator', 'admin']));

/** The largest `max_len` of a string or list. */
export const MAX_LEN = 65535;

const I32_MIN = -(2 ** 31);
const I32_MAX = 2 ** 31 - 1;
const U32_MAX = 2 ** 32 - 1;
const FIXED_LIMIT = 2 ** 23;

/**
 * @typedef {'hold' | 'counter' | {linear: string}} Predict
 *
 * @typedef {object} Field One field, as the schema describes it, plus what
 *   decoding needs precomputed.
 * @property {string} name
 * @property {'bool' | 'int' | 'varint' | 'fixed' | 'angle' | 'quat' | 'enum' | 'string' | 'list'} type
 * @property {number} dims components (1 for every type but int, varint, fixed)
 * @property {number} min `int`: the declared minimum; `fixed`: qmin; `varint`: the 32-bit domain's
 * @property {number} max `int`: the declared maximum; `fixed`: qmax; `varint`: the 32-bit domain's
 * @property {boolean} signed the 32-bit domain residuals wrap in (always true for fixed and quat)
 * @property {number} quantum `fixed`: the grid step
 * @property {number} bits `int`/`fixed`: bits per component in full; `angle`/`quat`: the declared bits; `enum`: index bits
 * @property {boolean} steps `angle`: the Rust field holds steps (the wire and JSON are the same)
 * @property {readonly string[]} variants `enum`: the names
 * @property {'hold' | 'counter' | 'linear'} predict
 * @property {number} velocity `linear`: the index of the velocity field in the same record, else -1
 * @property {number} top `counter`: the largest value the counter reaches
 * @property {number} maxLen `string`: the most bytes; `list`: the most elements (0 for other types)
 * @property {InputRecord | null} item `list`: the record each element is
 *
 * @typedef {object} Kind
 * @property {string} name
 * @property {boolean} singleton its one entity has id 0
 * @property {readonly Field[]} fields in wire order
 *
 * @typedef {object} InputRecord A record of fields: the input, or a list's item.
 * @property {string} name
 * @property {readonly Field[]} fields
 *
 * @typedef {'player' | 'spectator' | 'admin'} Role
 *
 * @typedef {object} MessageType A client message type or a server event type.
 * @property {string} name
 * @property {readonly Role[]} allow the roles that may send it (messages: at least one; events: none)
 * @property {readonly Field[]} fields in wire order
 */

/**
 * FNV-1a 64 of a string's UTF-8 bytes, as 16 lowercase hex digits.
 * @param {string} text
 * @returns {string}
 */
export function fnv1a64(text) {
  // Two 32-bit halves: BigInt would do, but this runs on every Welcome.
  let hi = 0xcbf29ce4;
  let lo = 0x84222325;
  for (const byte of new TextEncoder().encode(text)) {
    lo ^= byte;
    // h * 0x100000001b3 mod 2^64 = h * 0x1b3 + (h << 40), in 16-bit pieces.
    const l0 = lo & 0xffff;
    const l1 = lo >>> 16;
    const h0 = hi & 0xffff;
    const h1 = hi >>> 16;
    const p0 = l0 * 0x1b3;
    const p1 = l1 * 0x1b3 + (p0 >>> 16);
    const p2 = h0 * 0x1b3 + (p1 >>> 16) + (l0 << 8); // lo << 40 lands in the high word at bit 8
    const p3 = h1 * 0x1b3 + (p2 >>> 16) + (l1 << 8);
    lo = ((p1 & 0xffff) << 16) | (p0 & 0xffff);
    hi = ((p3 & 0xffff) << 16) | (p2 & 0xffff);
  }
  return (hi >>> 0).toString(16).padStart(8, '0') + (lo >>> 0).toString(16).padStart(8, '0');
}

/** @param {unknown} v @returns {v is Record<string, unknown>} */
function isObject(v) {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/**
 * @param {Record<string, unknown>} obj
 * @param {readonly string[]} allowed
 * @param {string} where
 */
function denyUnknown(obj, allowed, where) {
  for (const key of Object.keys(obj)) {
    if (!allowed.includes(key)) throw new SchemaError(`${where}: unknown key \`${key}\``);
  }
}

/**
 * @param {Record<string, unknown>} raw
 * @param {string} key
 * @param {string} where
 * @param {number} lo
 * @param {number} hi
 */
function integer(raw, key, where, lo, hi) {
  const v = raw[key];
  if (typeof v !== 'number' || !Number.isInteger(v) || v < lo || v > hi) {
    throw new SchemaError(`${where}: \`${key}\` must be an integer in ${lo}..=${hi}`);
  }
  return v;
}

/** @param {Record<string, unknown>} raw @param {string} key @param {string} where @param {boolean} [fallback] */
function boolean(raw, key, where, fallback) {
  const v = raw[key] ?? fallback;
  if (typeof v !== 'boolean') throw new SchemaError(`${where}: \`${key}\` must be true or false`);
  return v;
}

/**
 * One field, checked and precomputed, and the name of its `linear` velocity
 * (null for other predictions), which {@link linkFields} resolves.
 * @param {unknown} raw
 * @param {string} owner
 * @returns {[Field, string | null]}
 */
function parseField(raw, owner) {
  if (!isObject(raw) || typeof raw.name !== 'string') {
    throw new SchemaError(`${owner}: a field must be an object with a \`name\``);
  }
  const where = `${owner}.${raw.name}`;
  /** @type {Field} */
  const f = {
    name: raw.name,
    type: 'bool',
    dims: 1,
    min: 0,
    max: 0,
    signed: false,
    quantum: 0,
    bits: 0,
    steps: false,
    variants: [],
    predict: 'hold',
    velocity: -1,
    top: 0,
    maxLen: 0,
    item: null,
  };
  switch (raw.type) {
    case 'bool':
      f.type = 'bool';
      break;
    case 'int': {
      f.type = 'int';
      f.dims = integer(raw, 'dims', where, 1, 3);
      f.min = integer(raw, 'min', where, I32_MIN, U32_MAX);
      f.max = integer(raw, 'max', where, I32_MIN, U32_MAX);
      f.signed = boolean(raw, 'signed', where);
      if (f.min > f.max || f.max - f.min > U32_MAX) {
        throw new SchemaError(`${where}: int needs min <= max and a span of at most 2^32 - 1`);
      }
      f.bits = bitsFor(f.max - f.min);
      break;
    }
    case 'varint':
      f.type = 'varint';
      f.dims = integer(raw, 'dims', where, 1, 3);
      f.signed = boolean(raw, 'signed', where);
      [f.min, f.max] = f.signed ? [I32_MIN, I32_MAX] : [0, U32_MAX];
      break;
    case 'fixed': {
      f.type = 'fixed';
      f.dims = integer(raw, 'dims', where, 1, 3);
      const q = raw.quantum;
      if (typeof q !== 'number' || !Number.isFinite(q) || q <= 0) {
        throw new SchemaError(`${where}: fixed needs a finite positive \`quantum\``);
      }
      f.quantum = q;
      f.min = integer(raw, 'qmin', where, -FIXED_LIMIT, FIXED_LIMIT);
      f.max = integer(raw, 'qmax', where, -FIXED_LIMIT, FIXED_LIMIT);
      if (f.min > f.max) throw new SchemaError(`${where}: fixed needs qmin <= qmax`);
      f.signed = true;
      f.bits = bitsFor(f.max - f.min);
      break;
    }
    case 'angle':
      f.type = 'angle';
      f.bits = integer(raw, 'bits', where, 1, 32);
      f.steps = boolean(raw, 'steps', where, false);
      break;
    case 'quat':
      f.type = 'quat';
      f.bits = integer(raw, 'bits', where, 2, 24);
      f.signed = true;
      break;
    case 'enum': {
      f.type = 'enum';
      const v = raw.variants;
      if (!Array.isArray(v) || v.length === 0 || !v.every((x) => typeof x === 'string')) {
        throw new SchemaError(`${where}: an enum needs at least one variant name`);
      }
      f.variants = Object.freeze([...v]);
      f.bits = bitsFor(v.length - 1);
      break;
    }
    case 'string':
      f.type = 'string';
      f.maxLen = integer(raw, 'max_len', where, 1, MAX_LEN);
      break;
    case 'list':
      f.type = 'list';
      f.maxLen = integer(raw, 'max_len', where, 1, MAX_LEN);
      // Its item's fields are named under the list: `Chat.ranks.score`.
      f.item = parseRecord(raw.item, where, where);
      break;
    default:
      throw new SchemaError(`${where}: unknown field type ${JSON.stringify(raw.type)}`);
  }
  const predict = raw.predict ?? 'hold';
  if ((f.type === 'string' || f.type === 'list') && predict !== 'hold') {
    throw new SchemaError(`${where}: strings and lists are only ever held`);
  }
  if (predict === 'hold') {
    f.predict = 'hold';
  } else if (predict === 'counter') {
    if ((f.type !== 'int' && f.type !== 'varint') || f.dims !== 1) {
      throw new SchemaError(`${where}: counter prediction needs a one-dimensional integer`);
    }
    f.predict = 'counter';
    f.top = f.max;
  } else if (isObject(predict) && typeof predict.linear === 'string') {
    denyUnknown(predict, ['linear'], `${where}.predict`);
    f.predict = 'linear';
    return [f, predict.linear];
  } else {
    throw new SchemaError(`${where}: unknown prediction ${JSON.stringify(predict)}`);
  }
  return [f, null];
}

/**
 * Resolves `linear` velocities within one record and checks they match.
 * @param {Field[]} fields
 * @param {(string | null)[]} velocities the velocity name of each field
 * @param {string} owner
 */
function linkFields(fields, velocities, owner) {
  if (fields.length > 32) throw new SchemaError(`${owner}: more than 32 fields`);
  for (const [i, f] of fields.entries()) {
    const name = velocities[i];
    if (name === null) continue;
    const where = `${owner}.${f.name}`;
    const index = fields.findIndex((g) => g.name === name);
    if (index < 0) throw new SchemaError(`${where}: linear prediction names no field of this type`);
    const vel = fields[index];
    const integers = (/** @type {Field} */ x) => x.type === 'int' || x.type === 'varint';
    const same =
      (integers(f) && integers(vel) && f.dims === vel.dims) ||
      (f.type === 'fixed' && vel.type === 'fixed' && f.dims === vel.dims && f.quantum === vel.quantum);
    if (!same) {
      throw new SchemaError(`${where}: linear prediction needs a velocity of the same dims (and quantum)`);
    }
    f.velocity = index;
  }
}

/**
 * @param {unknown} raw
 * @param {string} where
 * @returns {Field[]}
 */
function parseFields(raw, where) {
  if (!Array.isArray(raw)) throw new SchemaError(`${where}: \`fields\` must be an array`);
  const parsed = raw.map((f) => parseField(f, where));
  const fields = parsed.map(([f]) => f);
  linkFields(
    fields,
    parsed.map(([, velocity]) => velocity),
    where,
  );
  return fields.map((f) => Object.freeze(f));
}

/**
 * A record (`{"name", "fields"}`: the input, a list's item).
 * @param {unknown} raw
 * @param {string} what how errors name it when it has no name
 * @param {string | null} owner how errors name its fields' owner; null: the record's own name
 * @returns {InputRecord}
 */
function parseRecord(raw, what, owner) {
  if (!isObject(raw) || typeof raw.name !== 'string') {
    throw new SchemaError(`${what}: a record must be an object with a \`name\` and \`fields\``);
  }
  denyUnknown(raw, ['name', 'fields'], what);
  return Object.freeze({ name: raw.name, fields: Object.freeze(parseFields(raw.fields, owner ?? raw.name)) });
}

/**
 * The message (or event) types: unique names, each message type allowing
 * one or more roles in wire order, each event type none.
 * @param {unknown} raw
 * @param {'message' | 'event'} what
 * @returns {readonly MessageType[]}
 */
function parseTypes(raw, what) {
  const key = `${what}s`;
  if (!Array.isArray(raw)) throw new SchemaError(`\`${key}\` must be an array`);
  /** @type {MessageType[]} */
  const types = [];
  for (const [i, t] of raw.entries()) {
    if (!isObject(t) || typeof t.name !== 'string') {
      throw new SchemaError(`${what} ${i}: must be an object with a \`name\``);
    }
    denyUnknown(t, ['name', 'allow', 'fields'], `${what} ${t.name}`);
    if (types.some((u) => u.name === t.name)) throw new SchemaError(`two ${what} types named ${t.name}`);
    const allow = t.allow ?? [];
    if (!Array.isArray(allow) || !allow.every((r) => typeof r === 'string' && ROLES.includes(/** @type {Role} */ (r)))) {
      throw new SchemaError(`${what} ${t.name}: \`allow\` must be an array of ${ROLES.join(', ')}`);
    }
    const order = allow.map((r) => ROLES.indexOf(/** @type {Role} */ (r)));
    const rolesOk =
      what === 'message' ? order.length > 0 && order.every((r, j) => j === 0 || order[j - 1] < r) : order.length === 0;
    if (!rolesOk) {
      throw new SchemaError(
        `${what} ${t.name}: a message type allows one or more roles, in the order player, spectator, admin, ` +
          'each once; an event allows none',
      );
    }
    types.push(
      Object.freeze({
        name: t.name,
        allow: Object.freeze(/** @type {Role[]} */ ([...allow])),
        fields: Object.freeze(parseFields(t.fields, t.name)),
      }),
    );
  }
  return Object.freeze(types);
}

/** A validated schema: what a client decodes snapshots and events and encodes inputs and messages with. */
export class Schema {
  /**
   * @param {string} text the schema's JSON text, exactly as the server sent it
   * @param {readonly Kind[]} kinds
   * @param {InputRecord} input
   * @param {readonly MessageType[]} messages
   * @param {readonly MessageType[]} events
   */
  constructor(text, kinds, input, messages, events) {
    /** The JSON text the hash covers. */
    this.text = text;
    /** FNV-1a 64 of {@link text}, 16 lowercase hex digits. */
    this.hash = fnv1a64(text);
    /** Entity kinds; a kind's index is its number on the wire. */
    this.kinds = kinds;
    /** The input record. */
    this.input = input;
    /** More than one kind: a kind number before each full entity, a kind-change bit before each change. */
    this.enumKinds = kinds.length > 1;
    /** Bits of a kind number. */
    this.kindBits = bitsFor(kinds.length - 1);
    /** What clients send besides inputs; a type's index is its number on the wire. */
    this.messages = messages;
    /** What the server sends besides snapshots; a type's index is its number on the wire. */
    this.events = events;
    Object.freeze(this);
  }

  /**
   * Parses and validates a schema's JSON text.
   * @param {string} text
   * @returns {Schema}
   */
  static parse(text) {
    /** @type {unknown} */
    let raw;
    try {
      raw = JSON.parse(text);
    } catch (e) {
      throw new SchemaError(`not JSON: ${/** @type {Error} */ (e).message}`);
    }
    if (!isObject(raw)) throw new SchemaError('the schema must be a JSON object');
    denyUnknown(raw, ['format', 'kinds', 'input', 'messages', 'events'], 'schema');
    if (raw.format !== SCHEMA_FORMAT) {
      throw new SchemaError(`schema format ${JSON.stringify(raw.format)} is not ${SCHEMA_FORMAT}`);
    }
    if (!Array.isArray(raw.kinds) || raw.kinds.length === 0) {
      throw new SchemaError('a schema needs at least one kind');
    }
    const kinds = raw.kinds.map((k, i) => {
      if (!isObject(k) || typeof k.name !== 'string') {
        throw new SchemaError(`kind ${i}: must be an object with a \`name\``);
      }
      denyUnknown(k, ['name', 'singleton', 'fields'], `kind ${k.name}`);
      return Object.freeze({
        name: k.name,
        singleton: boolean(k, 'singleton', k.name, false),
        fields: Object.freeze(parseFields(k.fields, k.name)),
      });
    });
    if (kinds.filter((k) => k.singleton).length > 1) {
      throw new SchemaError('at most one kind can be a singleton');
    }
    const input = parseRecord(raw.input, 'input', null);
    return new Schema(
      text,
      Object.freeze(kinds),
      input,
      parseTypes(raw.messages, 'message'),
      parseTypes(raw.events, 'event'),
    );
  }
}
