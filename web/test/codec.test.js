// The codec against the shared vectors: docs/vectors/schema-v1.json (payloads
// the Rust derive encoded, with the JSON a schema decoder must produce) and
// the byte vectors of docs/PROTOCOL.md, "Test vectors".

import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { BitReader, BitWriter, bitsFor } from '../src/bits.js';
import { decodeInput, decodeSnapshot, encodeInput, presentSnapshot } from '../src/codec.js';
import { CodecError, ProtocolError, SchemaError } from '../src/errors.js';
import { decodeServerMsg, encodeClientMsg, tokenFromHex, tokenToHex } from '../src/messages.js';
import { Schema, fnv1a64 } from '../src/schema.js';

const vectors = JSON.parse(readFileSync(new URL('../../docs/vectors/schema-v1.json', import.meta.url), 'utf8'));

/** @param {string} hex */
const bytes = (hex) => Uint8Array.from(Buffer.from(hex.replaceAll(' ', ''), 'hex'));
/** @param {Uint8Array} b */
const hex = (b) => Buffer.from(b).toString('hex');

// arena-v1's schema as docs/PROTOCOL.md prints it, made compact as the server sends it.
const ARENA_SCHEMA =
  '{"format":1,"kinds":[{"name":"ArenaEntity","fields":[' +
  '{"name":"kind","type":"enum","variants":["Player","Npc"]},' +
  '{"name":"pos","type":"int","dims":2,"min":0,"max":64000,"signed":true,"predict":{"linear":"vel"}},' +
  '{"name":"vel","type":"varint","dims":2,"signed":true},' +
  '{"name":"angle","type":"angle","bits":16,"steps":true},' +
  '{"name":"hp","type":"int","dims":1,"min":0,"max":255,"signed":false},' +
  '{"name":"last_input_seq","type":"varint","dims":1,"signed":false,"predict":"counter"}]}],' +
  '"input":{"name":"ArenaInput","fields":[' +
  '{"name":"move_x","type":"int","dims":1,"min":-127,"max":127,"signed":true},' +
  '{"name":"move_y","type":"int","dims":1,"min":-127,"max":127,"signed":true},' +
  '{"name":"aim","type":"angle","bits":16},' +
  '{"name":"buttons","type":"int","dims":1,"min":0,"max":255,"signed":false}]}}';

test('every vector case decodes to exactly the expected JSON', () => {
  const schema = Schema.parse(vectors.schema_text);
  const decoded = [];
  for (const c of vectors.cases) {
    const baseline = c.baseline === null ? null : decoded[c.baseline];
    const snapshot = decodeSnapshot(schema, baseline, c.tick, bytes(c.payload));
    decoded.push(snapshot);
    assert.deepStrictEqual(presentSnapshot(schema, snapshot), c.expected, c.name);
  }
  assert.ok(decoded.length >= 3);
});

test('every vector input decodes to its values and encodes back to its bytes', () => {
  const schema = Schema.parse(vectors.schema_text);
  for (const input of vectors.inputs) {
    assert.deepStrictEqual(decodeInput(schema, bytes(input.bytes)), input.expected);
    assert.equal(hex(encodeInput(schema, input.expected)), input.bytes);
  }
});

test('the vectors schema text hashes to the vectors hash, and its object is the same schema', () => {
  assert.equal(fnv1a64(vectors.schema_text), vectors.hash);
  assert.deepStrictEqual(JSON.parse(vectors.schema_text), vectors.schema);
});

test('FNV-1a 64 matches its reference values and arena-v1 hashes as documented', () => {
  assert.equal(fnv1a64(''), 'cbf29ce484222325');
  assert.equal(fnv1a64('a'), 'af63dc4c8601ec8c');
  assert.equal(fnv1a64('foobar'), '85944171f73967e8');
  assert.equal(Schema.parse(ARENA_SCHEMA).hash, 'b3caefa7f14280d9');
});

test('client messages encode to the documented bytes', () => {
  const arena = Schema.parse(ARENA_SCHEMA);
  const ab = new Uint8Array(16).fill(0xab);
  assert.equal(hex(encodeClientMsg({ type: 'join', version: 1, resume: null, lastEvent: 0 })), '00010000');
  assert.equal(
    hex(encodeClientMsg({ type: 'join', version: 1, resume: ab, lastEvent: 300 })),
    '000101' + 'ab'.repeat(16) + 'fb2c01',
  );
  const aim = encodeInput(arena, { move_x: 127, move_y: -127, aim: Math.PI / 2, buttons: 1 });
  assert.equal(hex(encodeClientMsg({ type: 'input', seq: 300, ack: 1000, input: aim })), '01fb2c0101fbe80305fe00400001');
  const rest = encodeInput(arena, { move_x: 0, move_y: 0, aim: 0, buttons: 0 });
  assert.equal(hex(encodeClientMsg({ type: 'input', seq: 5, ack: null, input: rest })), '010500057f7f000000');
  assert.equal(hex(encodeClientMsg({ type: 'ack', tick: 70000 })), '02fc70110100');
  assert.equal(hex(encodeClientMsg({ type: 'ping', clientTimeUs: 123456n })), '03fc40e20100');
});

test('server messages decode from the documented bytes', () => {
  const welcome = decodeServerMsg(bytes('0001032a411efa' + '11'.repeat(16) + 'fd8877665544332211' + '01027b7d' + '00'));
  assert.deepStrictEqual(welcome, {
    type: 'welcome',
    welcome: {
      version: 1,
      matchId: 3n,
      playerId: 42n,
      entityId: 65,
      tickRate: 30,
      tick: 250,
      sessionToken: new Uint8Array(16).fill(0x11),
      schemaHash: '1122334455667788',
      schema: '{}',
      role: 0,
    },
  });
  assert.deepStrictEqual(decodeServerMsg(bytes('01fbfb0001fa024080')), {
    type: 'snapshot',
    tick: 251,
    baseline: 250,
    payload: bytes('4080'),
  });
  assert.deepStrictEqual(decodeServerMsg(bytes('01050003010203')), {
    type: 'snapshot',
    tick: 5,
    baseline: null,
    payload: bytes('010203'),
  });
  assert.deepStrictEqual(decodeServerMsg(bytes('02fc40e20100fbfc00')), {
    type: 'pong',
    clientTimeUs: 123456n,
    serverTick: 252,
  });
  assert.deepStrictEqual(decodeServerMsg(bytes('030204' + Buffer.from('full').toString('hex'))), {
    type: 'error',
    code: 'MatchUnavailable',
    message: 'full',
  });
});

test('server frames that break bincode are protocol errors', () => {
  const bad = {
    'trailing byte': '0105000301020300',
    'ends early': '01fbfb',
    'a u64 marker in a u32 field': '01fd0500000000000000000000',
    'an fe marker': '01fe',
    'an option tag of 2': '010502',
    'an unknown variant': '09',
    'an unknown error code': '030900',
    'a length beyond the frame': '010500ff',
    'invalid UTF-8': '030201ff',
  };
  for (const [what, frame] of Object.entries(bad)) {
    assert.throws(() => decodeServerMsg(bytes(frame)), ProtocolError, what);
  }
  // A narrower marker than the field allows is fine: a u32 of 5 written with fb.
  assert.equal(/** @type {any} */ (decodeServerMsg(bytes('01fb0500000100'))).tick, 5);
});

test('session tokens travel as 32 lowercase hex digits', () => {
  const token = new Uint8Array(16).fill(0xab);
  assert.equal(tokenToHex(token), 'ab'.repeat(16));
  assert.deepStrictEqual(tokenFromHex('AB'.repeat(16)), token);
  assert.equal(tokenFromHex('+f'.repeat(16)), null);
  assert.equal(tokenFromHex('ab'), null);
});

test('gamma and signed codes match the documented bits and round-trip', () => {
  assert.deepStrictEqual([0, 1, 2, 254, 64000].map(bitsFor), [0, 1, 2, 8, 16]);
  assert.equal(bitsFor(2 ** 32 - 1), 32);
  const w = new BitWriter();
  for (const v of [0, 1, 2, 3]) w.writeGamma(v); // 1, 010, 011, 00100
  assert.equal(hex(w.finish()), 'a640'); // 1010 0110 0100
  // Deterministic pseudo-random values across every width, with the extremes.
  const values = [0, 1, 2 ** 31 - 1, 2 ** 31, 2 ** 32 - 1];
  let x = 0x2545f491;
  for (let i = 0; i < 500; i++) {
    x = (Math.imul(x, 1103515245) + 12345) >>> 0;
    values.push(x >>> (i % 32));
  }
  const out = new BitWriter();
  for (const [i, v] of values.entries()) {
    out.writeGamma(v);
    out.writeBits(v, i % 33);
    out.writeSigned(v | 0);
  }
  const r = new BitReader(out.finish());
  for (const [i, v] of values.entries()) {
    assert.equal(r.readGamma(), v);
    const n = i % 33;
    assert.equal(r.readBits(n), n === 32 ? v : v % 2 ** n);
    assert.equal(r.readSigned(), v | 0);
  }
  r.expectEnd();
});

test('the documented arena payload: one entity removed is the byte b0', () => {
  const arena = Schema.parse(ARENA_SCHEMA);
  const still = (id) => ({ id, kind: 0, fields: [0, [640, 640], [0, 0], 0, 100, [0]] });
  const baseline = { tick: 7, entities: [still(1), still(2)] };
  const next = decodeSnapshot(arena, baseline, 8, bytes('b0'));
  assert.deepStrictEqual(next, { tick: 8, entities: [still(1)] });
  // A world equal to its prediction is the byte 00.
  assert.deepStrictEqual(decodeSnapshot(arena, baseline, 9, bytes('00')).entities.length, 2);
});

test('prediction: linear clamps at the walls, counters count up once nonzero', () => {
  const arena = Schema.parse(ARENA_SCHEMA);
  const walker = { id: 1, kind: 0, fields: [1, [63990, 10], [5, -7], 0, 100, [12]] };
  const idle = { id: 2, kind: 0, fields: [1, [100, 100], [0, 0], 0, 100, [0]] };
  const [a, b] = decodeSnapshot(arena, { tick: 10, entities: [walker, idle] }, 13, bytes('00')).entities;
  assert.deepStrictEqual(a.fields[1], [64000, 0]);
  assert.deepStrictEqual(a.fields[5], [15]);
  assert.deepStrictEqual(b.fields[5], [0]);
});

test('a payload that breaks the schema is an error naming the field', () => {
  const arena = Schema.parse(ARENA_SCHEMA);
  const w = new BitWriter();
  w.writeBit(false); // nothing removed
  w.writeBit(true);
  w.writeGamma(0); // entity 0, in full
  w.writeBits(0, 1); // kind Player
  w.writeBits(64001, 16); // pos.x above 64000
  w.writeBits(0, 16);
  const payload = w.finish();
  assert.throws(
    () => decodeSnapshot(arena, null, 1, payload),
    (e) => e instanceof CodecError && e.field === 'pos' && e.message === 'field `pos`: value above the declared maximum',
  );
  assert.throws(() => decodeSnapshot(arena, null, 1, bytes('40')), /payload ends/);
  assert.throws(() => decodeSnapshot(arena, null, 1, bytes('0000')), /trailing data/);
  assert.throws(() => decodeSnapshot(arena, null, 1, bytes('c0')), /removed entity is not in the baseline/);
  assert.throws(() => decodeSnapshot(arena, { tick: 5, entities: [] }, 5, bytes('00')), /not before/);
});

test('schemas that break the rules are refused, naming the field', () => {
  const refused = {
    'format 2': '{"format":2,"kinds":[],"input":{"name":"()","fields":[]}}',
    'no kinds': '{"format":1,"kinds":[],"input":{"name":"()","fields":[]}}',
    'an unknown top-level key': '{"format":1,"kinds":[{"name":"A","fields":[]}],"input":{"name":"()","fields":[]},"x":1}',
    'two singletons':
      '{"format":1,"kinds":[{"name":"A","singleton":true,"fields":[]},{"name":"B","singleton":true,"fields":[]}],"input":{"name":"()","fields":[]}}',
    'a linear velocity of another quantum':
      '{"format":1,"kinds":[{"name":"Ship","fields":[{"name":"pos","type":"fixed","dims":1,"quantum":0.5,"qmin":0,"qmax":9,"predict":{"linear":"vel"}},{"name":"vel","type":"fixed","dims":1,"quantum":0.25,"qmin":0,"qmax":9}]}],"input":{"name":"()","fields":[]}}',
    'a counter on a bool':
      '{"format":1,"kinds":[{"name":"A","fields":[{"name":"on","type":"bool","predict":"counter"}]}],"input":{"name":"()","fields":[]}}',
    'quat bits 25': '{"format":1,"kinds":[{"name":"A","fields":[{"name":"r","type":"quat","bits":25}]}],"input":{"name":"()","fields":[]}}',
    'an int span over 32 bits':
      '{"format":1,"kinds":[{"name":"A","fields":[{"name":"n","type":"int","dims":1,"min":-2147483648,"max":4294967295,"signed":true}]}],"input":{"name":"()","fields":[]}}',
  };
  for (const [what, text] of Object.entries(refused)) {
    assert.throws(() => Schema.parse(text), SchemaError, what);
  }
  assert.throws(() => Schema.parse(refused['a linear velocity of another quantum']), /Ship\.pos/);
});

test('inputs are clamped to their range and refused when a field is missing or mistyped', () => {
  const arena = Schema.parse(ARENA_SCHEMA);
  const clamped = encodeInput(arena, { move_x: 1000, move_y: -128, aim: -Math.PI / 2, buttons: 2.5 });
  assert.deepStrictEqual(decodeInput(arena, clamped), {
    move_x: 127,
    move_y: -127,
    aim: Math.fround((49152 * 2 * Math.PI) / 65536),
    buttons: 3,
  });
  // Not finite: step 0, as the Rust encoder sends it.
  assert.deepStrictEqual(decodeInput(arena, encodeInput(arena, { move_x: 0, move_y: 0, aim: NaN, buttons: 0 })).aim, 0);
  assert.throws(() => encodeInput(arena, { move_x: 0, move_y: 0, aim: 0 }), /`buttons` is missing/);
  assert.throws(() => encodeInput(arena, { move_x: '1', move_y: 0, aim: 0, buttons: 0 }), TypeError);
});
