// The codec against the shared vectors: docs/vectors/schema-v1.json (payloads
// the Rust derive encoded, with the JSON a schema decoder must produce),
// test/vectors/messages-web.json (messages and events the Rust GenericCodec
// and arena's typed code encoded, with their JSON and the errors Rust gives),
// docs/vectors/messages-v1.json when this checkout has it, and the byte
// vectors of docs/PROTOCOL.md, "Test vectors".

import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { BitReader, BitWriter, bitsFor } from '../src/bits.js';
import { existsSync } from 'node:fs';
import {
  decodeEvent,
  decodeInput,
  decodeMessage,
  decodeSnapshot,
  encodeEvent,
  encodeInput,
  encodeMessage,
  presentSnapshot,
} from '../src/codec.js';
import { CodecError, MessageError, ProtocolError, SchemaError } from '../src/errors.js';
import { decodeServerMsg, encodeClientMsg, tokenFromHex, tokenToHex } from '../src/messages.js';
import { Schema, fnv1a64 } from '../src/schema.js';

const vectors = JSON.parse(readFileSync(new URL('../../docs/vectors/schema-v1.json', import.meta.url), 'utf8'));
const web = JSON.parse(readFileSync(new URL('./vectors/messages-web.json', import.meta.url), 'utf8'));
const sharedMessages = new URL('../../docs/vectors/messages-v1.json', import.meta.url);

/** @param {string} hex */
const bytes = (hex) => Uint8Array.from(Buffer.from(hex.replaceAll(' ', ''), 'hex'));
/** @param {Uint8Array} b */
const hex = (b) => Buffer.from(b).toString('hex');

// arena-v1's schema as the server sends it (format 2, with its messages and events).
const ARENA_SCHEMA =
  '{"format":2,"kinds":[{"name":"ArenaEntity","fields":[' +
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
  '{"name":"buttons","type":"int","dims":1,"min":0,"max":255,"signed":false}]},' +
  '"messages":[{"name":"Chat","allow":["player","spectator","admin"],"fields":[{"name":"text","type":"string","max_len":200}]},' +
  '{"name":"Ready","allow":["player"],"fields":[]},' +
  '{"name":"Kick","allow":["admin"],"fields":[{"name":"entity","type":"varint","dims":1,"signed":false}]},' +
  '{"name":"EndMatch","allow":["admin"],"fields":[]}],' +
  '"events":[{"name":"Chat","fields":[{"name":"entity","type":"varint","dims":1,"signed":false},' +
  '{"name":"role","type":"enum","variants":["Player","Spectator","Admin"]},{"name":"text","type":"string","max_len":200}]},' +
  '{"name":"Ready","fields":[{"name":"entity","type":"varint","dims":1,"signed":false}]},' +
  '{"name":"AllReady","fields":[]},' +
  '{"name":"MatchOver","fields":[{"name":"players","type":"list","max_len":64,"item":{"name":"Standing","fields":[' +
  '{"name":"entity","type":"varint","dims":1,"signed":false},{"name":"hp","type":"int","dims":1,"min":0,"max":255,"signed":false}]}}]}]}';
// Its hash, as docs/PROTOCOL.md ("The hash") gives it and the server computes it.
const ARENA_HASH = '18d7ec762b02815e';

/** A format-2 schema text with one empty kind, no input, and these parts. */
const schemaWith = (parts) =>
  JSON.stringify({
    format: 2,
    kinds: [{ name: 'A', fields: [] }],
    input: { name: '()', fields: [] },
    messages: [],
    events: [],
    ...parts,
  });

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
  assert.equal(Schema.parse(ARENA_SCHEMA).hash, ARENA_HASH);
  assert.equal(ARENA_SCHEMA, web.arena.schema_text, 'the schema the vectors were made with');
  // docs/PROTOCOL.md prints it spread over lines (its strings hold no whitespace).
  const doc = readFileSync(new URL('../../docs/PROTOCOL.md', import.meta.url), 'utf8');
  const printed = /## Schema[^]*?```json\n([^]*?)```/.exec(doc)?.[1];
  assert.equal(printed?.replace(/\s+/g, ''), ARENA_SCHEMA, "PROTOCOL.md's arena schema");
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
  // Message { message: arena's Ready, one type index of 2 bits: 01 and padding }
  const ready = encodeMessage(arena, { type: 'Ready' });
  assert.equal(hex(ready), '40');
  assert.equal(hex(encodeClientMsg({ type: 'message', message: ready })), '040140');
  // TimedInput { seq 5, ack Some(70000), tick: the low 16 bits of 70001 (0x1171) as two plain bytes, view 40 (2.5 ticks back) }
  const timed = '050501fc7011010071112805' + '7f7f000000';
  assert.equal(hex(encodeClientMsg({ type: 'timedinput', seq: 5, ack: 70000, tick: 70001, view: 40, input: rest })), timed);
  assert.equal(hex(encodeClientMsg({ type: 'timedinput', seq: 5, ack: 70000, tick: 4465, view: 40, input: rest })), timed);
  // Below 251 still two bytes, not a varint; no view stated is 0.
  assert.equal(hex(encodeClientMsg({ type: 'timedinput', seq: 1, ack: null, tick: 7, input: rest })), '050100070000057f7f000000');
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
  assert.deepStrictEqual(decodeServerMsg(bytes('0306026e6f')), { type: 'error', code: 'Denied', message: 'no' });
  assert.deepStrictEqual(decodeServerMsg(bytes('0407028001')), { type: 'event', seq: 7, body: bytes('8001') });
  assert.deepStrictEqual(decodeServerMsg(bytes('0503fb0401')), { type: 'eventsmissed', first: 3, last: 260 });
  assert.deepStrictEqual(decodeServerMsg(bytes('060901ff')), { type: 'ended', seq: 9, result: bytes('ff') });
  // docs/PROTOCOL.md's Notice vector (an operator's broadcast).
  assert.deepStrictEqual(decodeServerMsg(bytes('08026869')), { type: 'notice', text: 'hi' });
  // Zigzag: -3 is 5, 80 is 160 (a0); in tenths of a millisecond.
  assert.deepStrictEqual(decodeServerMsg(bytes('0705a001')), { type: 'inputtiming', leadMin: -3, leadMax: 80, late: 1 });
  // The extremes of an i16, each behind a u16 marker: -32768 is 65535, 32767 is 65534.
  assert.deepStrictEqual(decodeServerMsg(bytes('07fbfffffbfeff00')), {
    type: 'inputtiming',
    leadMin: -32768,
    leadMax: 32767,
    late: 0,
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
    'a u32 marker in an i16 field': '07fc0500000000',
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
  const kind = (fields) => ({ kinds: [{ name: 'A', fields }] });
  const message = (name, allow, fields = []) => ({ name, allow, fields });
  const string = (name, max_len, extra = {}) => ({ name, type: 'string', max_len, ...extra });
  const list = (name, max_len, fields) => ({ name, type: 'list', max_len, item: { name: 'Item', fields } });
  const int = (name, min, max) => ({ name, type: 'int', dims: 1, min, max, signed: true });
  const refused = {
    'format 1': [/schema format 1 is not 2/, '{"format":1,"kinds":[{"name":"A","fields":[]}],"input":{"name":"()","fields":[]}}'],
    'format 3': [/format 3/, schemaWith({ format: 3 })],
    'no messages': [/messages/, '{"format":2,"kinds":[{"name":"A","fields":[]}],"input":{"name":"()","fields":[]},"events":[]}'],
    'no kinds': [/at least one kind/, schemaWith({ kinds: [] })],
    'an unknown top-level key': [/unknown key `x`/, schemaWith({ x: 1 })],
    'two singletons': [
      /singleton/,
      schemaWith({ kinds: [{ name: 'A', singleton: true, fields: [] }, { name: 'B', singleton: true, fields: [] }] }),
    ],
    'a linear velocity of another quantum': [
      /Ship\.pos/,
      schemaWith({
        kinds: [
          {
            name: 'Ship',
            fields: [
              { name: 'pos', type: 'fixed', dims: 1, quantum: 0.5, qmin: 0, qmax: 9, predict: { linear: 'vel' } },
              { name: 'vel', type: 'fixed', dims: 1, quantum: 0.25, qmin: 0, qmax: 9 },
            ],
          },
        ],
      }),
    ],
    'a counter on a bool': [/A\.on/, schemaWith(kind([{ name: 'on', type: 'bool', predict: 'counter' }]))],
    'quat bits 25': [/A\.r/, schemaWith(kind([{ name: 'r', type: 'quat', bits: 25 }]))],
    'an int span over 32 bits': [/A\.n/, schemaWith(kind([int('n', -2147483648, 4294967295)]))],
    'two message types of one name': [
      /two message types named Chat/,
      schemaWith({ messages: [message('Chat', ['player']), message('Chat', ['admin'])] }),
    ],
    'two event types of one name': [/two event types named Hit/, schemaWith({ events: [message('Hit'), message('Hit')] })],
    'a message type allowing no role': [/message Kick: a message type allows/, schemaWith({ messages: [message('Kick', [])] })],
    'a message type without allow': [/message Kick/, schemaWith({ messages: [{ name: 'Kick', fields: [] }] })],
    'roles out of order': [/message Kick/, schemaWith({ messages: [message('Kick', ['admin', 'player'])] })],
    'a role twice': [/message Kick/, schemaWith({ messages: [message('Kick', ['admin', 'admin'])] })],
    'an unknown role': [/message Kick/, schemaWith({ messages: [message('Kick', ['referee'])] })],
    'an event that allows a role': [/event Over/, schemaWith({ events: [message('Over', ['player'])] })],
    'an unknown key in a message type': [/unknown key `predict`/, schemaWith({ messages: [{ ...message('M', ['player']), predict: 1 }] })],
    'a string of max_len 0': [/Chat\.text: `max_len`/, schemaWith({ messages: [message('Chat', ['player'], [string('text', 0)])] })],
    'a string of max_len 65536': [/Chat\.text/, schemaWith({ messages: [message('Chat', ['player'], [string('text', 65536)])] })],
    'a list of max_len 0': [/Over\.ranks/, schemaWith({ events: [message('Over', undefined, [list('ranks', 0, [])])] })],
    'a bad field in a list item': [
      /Over\.ranks\.score/,
      schemaWith({ events: [message('Over', undefined, [list('ranks', 8, [int('score', 10, 0)])])] }),
    ],
    'a list without an item': [/Over\.ranks/, schemaWith({ events: [message('Over', undefined, [{ name: 'ranks', type: 'list', max_len: 8 }])] })],
    'a predicted string': [
      /only ever held/,
      schemaWith({ messages: [message('Chat', ['player'], [string('text', 4, { predict: 'counter' })])] }),
    ],
    'too many fields in a message': [
      /Big: more than 32 fields/,
      schemaWith({ messages: [message('Big', ['player'], Array.from({ length: 33 }, (_, i) => ({ name: `f${i}`, type: 'bool' })))] }),
    ],
  };
  for (const [what, [why, text]] of Object.entries(refused)) {
    assert.throws(() => Schema.parse(text), (e) => e instanceof SchemaError && why.test(e.message), what);
  }
  // And what the rules allow: an event may say `allow: []`; a list item may be empty; lists nest.
  const ok = Schema.parse(
    schemaWith({
      messages: [message('Kick', ['player', 'admin'], [string('why', 65535)])],
      events: [message('Over', [], [list('ranks', 1, [list('inner', 65535, [])])])],
    }),
  );
  assert.deepStrictEqual(ok.messages[0].allow, ['player', 'admin']);
  assert.equal(ok.events[0].fields[0].item?.fields[0].maxLen, 65535);
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

/** Checks one file of message vectors: every bytes decodes to its expected JSON and the JSON encodes back to the bytes. */
function checkMessageVectors(file, label) {
  const schema = Schema.parse(file.schema_text);
  assert.equal(schema.hash, file.hash, `${label}: the schema text hashes to the file's hash`);
  for (const [list, decode, encode] of [
    [file.messages, decodeMessage, encodeMessage],
    [file.events, decodeEvent, encodeEvent],
  ]) {
    assert.ok(list.length > 0);
    for (const c of list) {
      assert.deepStrictEqual(decode(schema, bytes(c.bytes)), c.expected, `${label}: ${c.bytes}`);
      assert.equal(hex(encode(schema, c.expected)), c.bytes, `${label}: ${JSON.stringify(c.expected)}`);
      // What the sender was given (cut and clamped to what travels), where the file says.
      if (c.input) assert.equal(hex(encode(schema, c.input)), c.bytes, `${label}: ${JSON.stringify(c.input)}`);
    }
  }
}

test('messages and events decode to the JSON of the Rust GenericCodec and encode back to its bytes', () => {
  checkMessageVectors(web, 'messages-web.json');
  checkMessageVectors(web.arena, 'arena');
  // What the vectors cover, so a regenerated file cannot quietly lose it.
  const said = web.messages.map((c) => c.expected.fields.text).filter((t) => t !== undefined);
  assert.ok(said.includes('abc'), 'a text cut at max_len on a character boundary');
  assert.ok(said.includes('\ufeffx'), 'a leading BOM travels as a character');
  const board = web.events.find((c) => c.expected.fields.rows?.length === 3);
  assert.ok(board, 'a list cut at its max_len');
  assert.deepStrictEqual(board.expected.fields.rows[2].scores, [{ v: 1000 }, { v: 0 }], 'a nested list, clamped and cut');
});

test('docs/vectors/messages-v1.json, when this checkout has it', { skip: existsSync(sharedMessages) ? false : 'not in this checkout yet' }, () => {
  checkMessageVectors(JSON.parse(readFileSync(sharedMessages, 'utf8')), 'messages-v1.json');
});

test('bytes that break a message type are errors naming the type and the field, as Rust reports them', () => {
  const schema = Schema.parse(web.schema_text);
  assert.ok(web.decode_errors.length >= 10);
  for (const c of web.decode_errors) {
    const decode = c.what === 'message' ? decodeMessage : decodeEvent;
    assert.throws(
      () => decode(schema, bytes(c.bytes)),
      (e) => {
        assert.ok(e instanceof CodecError, `${c.name}: ${e}`);
        if (c.error.field !== null) {
          // The Rust CodecError::Field: the same field path and reason; the type is named too.
          assert.equal(e.field, c.error.field, c.name);
          assert.equal(e.reason, c.error.reason, c.name);
          assert.match(e.message, new RegExp(`^${c.what} \`\\w+\` field \`${c.error.field.replace(/[[\].]/g, '\\$&')}\`: `), c.name);
        } else if (c.error.reason?.startsWith('trailing data')) {
          // Rust reuses the snapshot reader's words, `trailing data after the last entity`.
          assert.equal(e.reason, `trailing data after the ${c.what}`, c.name);
        } else if (c.error.reason !== null) {
          assert.equal(e.reason, c.error.reason, c.name);
        } else {
          // Rust's Truncated: the bytes end early.
          assert.match(e.reason, /ends early/, c.name);
        }
        return true;
      },
      c.name,
    );
  }
});

test('a message that cannot be encoded is a MessageError naming the type and the field, as Rust words it', () => {
  const schema = Schema.parse(web.schema_text);
  assert.ok(web.encode_errors.length >= 10);
  for (const c of web.encode_errors) {
    const encode = c.what === 'message' ? encodeMessage : encodeEvent;
    assert.throws(
      () => encode(schema, c.input),
      (e) => {
        assert.ok(e instanceof MessageError, String(e));
        // The same words; this client may add why, in parentheses.
        assert.ok(e.message === c.error || e.message.startsWith(`${c.error} (`), `${e.message}\n  vs Rust: ${c.error}`);
        return true;
      },
      JSON.stringify(c.input),
    );
  }
  const missing = web.encode_errors.find((c) => /rows\[1\]\.name/.test(c.error));
  assert.throws(
    () => encodeEvent(schema, missing.input),
    (e) => e instanceof MessageError && e.messageType === 'Board' && e.field === 'rows[1].name',
  );
});

test('strings: UTF-8 both ways, lone surrogates refused, malformed bytes an error', () => {
  const schema = Schema.parse(web.schema_text);
  const say = (text) => decodeMessage(schema, encodeMessage(schema, { type: 'Say', fields: { text, loud: false } })).fields.text;
  assert.equal(say('a\u00e9'), 'a\u00e9');
  assert.equal(say('\u{1f3c1}\u{1f3c1}'), '\u{1f3c1}', 'cut after the first 4-byte character');
  assert.equal(say('abcd\u00e9'), 'abcd', 'cut before a 2-byte character that would end past max_len');
  assert.throws(() => encodeMessage(schema, { type: 'Say', fields: { text: 'a\ud800', loud: false } }), /lone surrogates/);
  assert.equal(say('\ud83c\udfc1'), '\u{1f3c1}', 'a surrogate pair is one character');
});
