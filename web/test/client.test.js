// The client's rules with a scripted server behind a stand-in WebSocket:
// acks ride on inputs or go alone, a missing baseline ends the client, a
// refused resume is a `sessionlost`, a refusal told by a close code (4000 +
// the HTTP status) is a `RefusedError`, close codes say what is resumable,
// interpolation blends each field by its type, game events arrive once and
// in order across a resume, messages are sent (or refused) by the schema,
// a spectator sends no inputs, and timed inputs go one per tick at their
// send times, from each connection's first snapshot.

import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { BitWriter } from '../src/bits.js';
import { decodeSnapshot, presentSnapshot } from '../src/codec.js';
import {
  ClosedError,
  MessageError,
  MissingBaselineError,
  RefusedError,
  RoleError,
  TakenOverError,
  closedError,
  refusalFromClose,
} from '../src/errors.js';
import { connect } from '../src/index.js';
import { InterpolationBuffer, lerpAngle } from '../src/interpolation.js';
import { Schema } from '../src/schema.js';

const vectors = JSON.parse(readFileSync(new URL('../../docs/vectors/schema-v1.json', import.meta.url), 'utf8'));
const schema = Schema.parse(vectors.schema_text);
// arena's schema, with its messages and events, and event bytes its typed Rust code wrote.
const arena = JSON.parse(readFileSync(new URL('./vectors/messages-web.json', import.meta.url), 'utf8')).arena;
const hex = (b) => Buffer.from(b).toString('hex');
const unhex = (s) => Uint8Array.from(Buffer.from(s, 'hex'));

/** bincode's varint, for scripting server frames. */
function varint(value) {
  const v = BigInt(value);
  const le = (marker, n) => [marker, ...Array.from({ length: n }, (_, i) => Number((v >> BigInt(8 * i)) & 0xffn))];
  if (v < 251n) return [Number(v)];
  if (v < 1n << 16n) return le(0xfb, 2);
  if (v < 1n << 32n) return le(0xfc, 4);
  return le(0xfd, 8);
}

const TOKEN = new Uint8Array(16).fill(0x5a);

/** `Welcome` for the test game (or another `{schema_text, hash}`), role 0 player, 1 spectator, 2 admin. */
function welcomeFrame(withSchema = true, { game = vectors, role = 0, entity = role === 0 ? 65 : 0 } = {}) {
  const text = new TextEncoder().encode(game.schema_text);
  return Uint8Array.from([
    0, 1, 3, 42, ...varint(entity), 30, 5, ...TOKEN,
    ...varint(BigInt(`0x${game.hash}`)),
    ...(withSchema ? [1, ...varint(text.length), ...text] : [0]),
    role,
  ]);
}

/** `Event { seq, body }`, `EventsMissed`, `Ended`, `Error { Denied, text }`. */
const eventFrame = (seq, bodyHex) => Uint8Array.from([4, ...varint(seq), ...varint(bodyHex.length / 2), ...unhex(bodyHex)]);
const missedFrame = (first, last) => Uint8Array.from([5, ...varint(first), ...varint(last)]);
const endedFrame = (seq, resultHex) => Uint8Array.from([6, ...varint(seq), ...varint(resultHex.length / 2), ...unhex(resultHex)]);
const deniedFrame = (text) => {
  const bytes = new TextEncoder().encode(text);
  return Uint8Array.from([3, 6, ...varint(bytes.length), ...bytes]);
};

function snapshotFrame(tick, baseline, payloadHex) {
  const payload = unhex(payloadHex);
  return Uint8Array.from([
    1, ...varint(tick), ...(baseline === null ? [0] : [1, ...varint(baseline)]), ...varint(payload.length), ...payload,
  ]);
}

/** A WebSocket whose server side the test scripts. */
class FakeSocket extends EventTarget {
  static made = [];
  /** When set, the next socket's upgrade is refused with this `{status, body}`, as Node's `ws` reports it. */
  static refuseNext = null;
  binaryType = 'blob';
  sent = [];
  closedWith = null;
  #refusal = null;

  constructor(url) {
    super();
    this.url = url;
    FakeSocket.made.push(this);
    const refusal = FakeSocket.refuseNext;
    FakeSocket.refuseNext = null;
    if (refusal) setTimeout(() => this.#refusal?.(null, fakeResponse(refusal)), 0);
    else setTimeout(() => this.dispatchEvent(new Event('open')), 0);
  }

  on(name, fn) {
    if (name === 'unexpected-response') this.#refusal = fn;
  }

  terminate() {
    this.serverClose(1006, '');
  }

  send(bytes) {
    this.sent.push(hex(bytes));
  }

  close(code) {
    this.closedWith ??= code;
  }

  serverSend(bytes) {
    this.dispatchEvent(new MessageEvent('message', { data: bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) }));
  }

  serverClose(code, reason) {
    this.dispatchEvent(Object.assign(new Event('close'), { code, reason }));
  }
}

function fakeResponse({ status, body }) {
  const handlers = {};
  setTimeout(() => {
    handlers.data?.(new TextEncoder().encode(JSON.stringify(body)));
    handlers.end?.();
  }, 0);
  return { statusCode: status, on: (name, fn) => (handlers[name] = fn) };
}

/** Connects through a FakeSocket and answers the Join with Welcome (`welcome`: welcomeFrame's options). */
async function joined(options = {}, welcome = {}) {
  FakeSocket.made = [];
  const pending = connect('ws://127.0.0.1:9/ws', { WebSocket: FakeSocket, pingIntervalMs: 0, ...options });
  await new Promise((r) => setTimeout(r, 5));
  const socket = FakeSocket.made[0];
  // Join { version 1, resume None, last_event 0 }
  assert.deepStrictEqual(socket.sent, ['00010000'], 'Join first');
  socket.serverSend(welcomeFrame(true, welcome));
  return { client: await pending, socket };
}

/** Every event of these types on `client`, in order, as `[type, event]`. */
function record(client, types) {
  const seen = [];
  for (const type of types) client.addEventListener(type, (e) => seen.push([type, e]));
  return seen;
}

test('an input sent from a snapshot listener carries the ack; otherwise an Ack follows', async () => {
  const { client, socket } = await joined();
  assert.equal(client.schema.hash, vectors.hash);
  assert.equal(client.entityId, 65);
  const steer = () => client.sendInput(vectors.inputs[0].expected);
  client.addEventListener('snapshot', steer);
  socket.serverSend(snapshotFrame(10, null, vectors.cases[0].payload));
  // Input { seq 1, ack Some(10), the 4 input bytes }, and no Ack frame.
  assert.deepStrictEqual(socket.sent.slice(1), [`0101010a04${vectors.inputs[0].bytes}`]);
  client.removeEventListener('snapshot', steer);
  socket.serverSend(snapshotFrame(12, 10, vectors.cases[1].payload));
  assert.deepStrictEqual(socket.sent.slice(2), ['020c']);
  assert.deepStrictEqual(client.world, vectors.cases[1].expected);
  assert.equal(client.session.nextSeq, 2);
  // A delta against a tick the client does not have ends it: they disagree on the wire.
  socket.serverSend(snapshotFrame(14, 11, '00'));
  assert.ok((await client.closed) instanceof MissingBaselineError);
  assert.equal(socket.closedWith, 1000);
});

test('frames right behind Welcome, dispatched before the client listens, are kept', async () => {
  const connectFake = async () => {
    FakeSocket.made = [];
    const pending = connect('ws://127.0.0.1:9/ws', { WebSocket: FakeSocket, pingIntervalMs: 0 });
    await new Promise((r) => setTimeout(r, 5));
    return { pending, socket: FakeSocket.made[0] };
  };
  // One read, dispatched in a row as undici does: Welcome, then a snapshot.
  const first = await connectFake();
  first.socket.serverSend(welcomeFrame(true));
  first.socket.serverSend(snapshotFrame(10, null, vectors.cases[0].payload));
  const client = await first.pending;
  assert.deepStrictEqual(client.world, vectors.cases[0].expected, 'the snapshot was decoded');
  // Welcome, then at once a close that cannot be resumed: the client ends, it does not hang.
  const second = await connectFake();
  second.socket.serverSend(welcomeFrame(true));
  second.socket.serverClose(1008, 'kicked: spam');
  const ended = await (await second.pending).closed;
  assert.ok(ended instanceof ClosedError && ended.code === 1008, String(ended));
});

test('a refused resume is a sessionlost, then a close with the refusal', async () => {
  const { client, socket } = await joined({ reconnect: { resumeWindowMs: 2000, initialBackoffMs: 10 } });
  const events = [];
  for (const type of ['disconnect', 'resumed', 'sessionlost', 'close']) {
    client.addEventListener(type, (e) => events.push([type, e.willResume ?? e.error?.constructor.name]));
  }
  FakeSocket.refuseNext = {
    status: 401,
    body: { error: { code: 'invalid_session', message: 'unknown or expired session' } },
  };
  socket.serverClose(1006, '');
  const error = await client.closed;
  assert.ok(error instanceof RefusedError && error.sessionGone && error.status === 401, String(error));
  const resume = new URL(FakeSocket.made[1].url);
  assert.equal(resume.searchParams.get('resume'), hex(TOKEN));
  assert.equal(resume.searchParams.get('schema'), vectors.hash, 'a resume states the schema it has');
  assert.deepStrictEqual(events, [
    ['disconnect', true],
    ['sessionlost', 'RefusedError'],
    ['close', 'RefusedError'],
  ]);
});

test('a refusal told by a close code (refusal=close) is a RefusedError with its status, code and message', async () => {
  FakeSocket.made = [];
  const pending = connect('ws://127.0.0.1:9/ws', { WebSocket: FakeSocket, pingIntervalMs: 0, match: 999999 });
  await new Promise((r) => setTimeout(r, 5));
  const socket = FakeSocket.made[0];
  assert.equal(new URL(socket.url).searchParams.get('refusal'), 'close', 'every connection asks for it');
  socket.serverClose(4404, 'match_not_found: no match 999999');
  const refused = await pending.then(
    () => assert.fail('the join was refused'),
    (e) => e,
  );
  assert.ok(refused instanceof RefusedError, String(refused));
  assert.deepStrictEqual(
    [refused.status, refused.code, refused.serverMessage, refused.retryable],
    [404, 'match_not_found', 'no match 999999', false],
  );

  // The status decides the range, the reason the code; a message may hold ': ' itself.
  const full = refusalFromClose(4409, 'match_full: match 7: 16 of 16 seats taken');
  assert.deepStrictEqual([full?.status, full?.code, full?.serverMessage, full?.retryable], [409, 'match_full', 'match 7: 16 of 16 seats taken', true]);
  assert.equal(refusalFromClose(4503, 'shutting_down: draining')?.retryable, true);
  assert.deepStrictEqual([refusalFromClose(4500, '')?.code, refusalFromClose(4500, '')?.retryable], ['http_error', true]);
  for (const code of [1000, 1008, 4001, 4399, 4600]) assert.equal(refusalFromClose(code, 'x: y'), null, String(code));
});

test('a resume refused by close 4401 invalid_session is a sessionlost at once, not retried', async () => {
  const { client, socket } = await joined({ reconnect: { resumeWindowMs: 10_000, initialBackoffMs: 10 } });
  const events = record(client, ['disconnect', 'resumed', 'sessionlost', 'close']);
  const started = Date.now();
  socket.serverClose(1006, '');
  await new Promise((r) => setTimeout(r, 5));
  const again = FakeSocket.made[1];
  again.serverClose(4401, 'invalid_session: unknown or expired session');
  const error = await client.closed;
  assert.ok(error instanceof RefusedError && error.sessionGone && error.status === 401, String(error));
  assert.ok(Date.now() - started < 1000, 'not the resume window');
  assert.equal(FakeSocket.made.length, 2, 'one attempt');
  assert.deepStrictEqual(
    events.map(([type]) => type),
    ['disconnect', 'sessionlost', 'close'],
  );
});

test('a lost connection resumes, and the new connection starts without baselines', async () => {
  const { client, socket } = await joined({ reconnect: { initialBackoffMs: 10 } });
  socket.serverSend(snapshotFrame(10, null, vectors.cases[0].payload));
  const resumed = new Promise((r) => client.addEventListener('resumed', r, { once: true }));
  socket.serverClose(1001, 'heartbeat timeout');
  await new Promise((r) => setTimeout(r, 5));
  const again = FakeSocket.made[1];
  assert.deepStrictEqual(again.sent, [`000101${hex(TOKEN)}00`], 'Join names the session, and no event was received');
  again.serverSend(welcomeFrame(false));
  assert.equal((await resumed).attempts, 1);
  // A delta against the old connection's tick 10 is not decodable here.
  again.serverSend(snapshotFrame(12, 10, vectors.cases[1].payload));
  assert.ok((await client.closed) instanceof MissingBaselineError);
});

test('a resume whose first snapshot comes in the same read as the Welcome tells resumed first', async () => {
  const { client, socket } = await joined({ reconnect: { initialBackoffMs: 10 } });
  const events = record(client, ['resumed', 'snapshot']);
  socket.serverClose(1006, '');
  await new Promise((r) => setTimeout(r, 5));
  const again = FakeSocket.made[1];
  // Both frames are dispatched before the client has adopted the socket:
  // undici does this with the frames of one read.
  again.serverSend(welcomeFrame(false));
  again.serverSend(snapshotFrame(12, null, vectors.cases[0].payload));
  await new Promise((r) => setTimeout(r, 5));
  assert.deepStrictEqual(
    events.map(([type]) => type),
    ['resumed', 'snapshot'],
    'the first snapshot after a resume is heard after the resume',
  );
  assert.equal(events[1][1].baseline, null);
  client.close();
});

test('close codes say whether the seat waits for a resume', () => {
  assert.equal(new ClosedError(1006, '').resumable, true);
  assert.equal(new ClosedError(1001, 'heartbeat timeout').resumable, true);
  assert.equal(new ClosedError(1008, 'no acknowledgement within the ack timeout').resumable, true);
  const drained = new ClosedError(1001, 'server shutting down; retry in 5s');
  assert.equal(drained.resumable, false);
  assert.equal(drained.retryAfterMs, 5000);
  for (const [code, reason] of [[1002, ''], [1003, ''], [1007, ''], [1008, 'Join sent twice'], [1009, ''], [1011, 'the match failed'], [1013, '']]) {
    assert.equal(new ClosedError(code, reason).resumable, false, `${code} ${reason}`);
  }
  const taken = closedError(4001, 'taken over by a newer connection');
  assert.ok(taken instanceof TakenOverError && !taken.resumable);
});

test('interpolation blends reals linearly, angles and rotations along the short way, and steps the rest', () => {
  const decoded = [];
  for (const c of vectors.cases) decoded.push(decodeSnapshot(schema, c.baseline === null ? null : decoded[c.baseline], c.tick, unhex(c.payload)));
  const [, twelve, thirteen] = decoded.map((s) => presentSnapshot(schema, s));
  const buffer = new InterpolationBuffer(schema, { quat: 'slerp' });
  buffer.push(twelve);
  buffer.push(thirteen);
  const mid = buffer.sample(12.5);
  const ship = (s, id) => s.entities.find((e) => e.id === id);
  const [a, b, m] = [ship(twelve, 1), ship(thirteen, 1), ship(mid, 1)];
  assert.deepStrictEqual(m.fields.pos, a.fields.pos.map((x, i) => (x + b.fields.pos[i]) / 2));
  assert.equal(m.fields.seq, a.fields.seq, 'a varint steps');
  const two = ship(mid, 2);
  assert.equal(two.fields.alive, ship(twelve, 2).fields.alive, 'a bool steps');
  assert.ok(Math.abs(Math.hypot(...two.fields.rot) - 1) < 1e-9, 'slerp stays on the unit sphere');
  assert.deepStrictEqual(buffer.sample(20).entities, thirteen.entities, 'no extrapolation past the newest');
  assert.ok(Math.abs(lerpAngle(6.2, 0.1, 0.5) - ((6.2 + 0.1 + 2 * Math.PI) / 2) % (2 * Math.PI)) < 1e-12);
});

test('game events arrive once, in order, with their seq; a resume asks only for later ones', async () => {
  const { client, socket } = await joined({ reconnect: { initialBackoffMs: 10 } }, { game: arena });
  assert.equal(client.role, 'player');
  const seen = record(client, ['event', 'eventsmissed', 'ended', 'close']);
  const [hello, spectatorHi, ready, allReady, over] = arena.events;
  socket.serverSend(eventFrame(1, hello.bytes));
  socket.serverSend(eventFrame(2, ready.bytes));
  assert.equal(client.lastEvent, 2);
  assert.equal(client.session.lastEvent, 2);
  const resumed = new Promise((r) => client.addEventListener('resumed', r, { once: true }));
  socket.serverClose(1006, '');
  await new Promise((r) => setTimeout(r, 5));
  const again = FakeSocket.made[1];
  // Join { version 1, resume Some(token), last_event 2 }
  assert.deepStrictEqual(again.sent, [`000101${hex(TOKEN)}02`]);
  again.serverSend(welcomeFrame(false, { game: arena }));
  await resumed;
  // The log lost 3..=4; then 5, a repeat of 2 (dropped), 6, and the end.
  again.serverSend(missedFrame(3, 4));
  again.serverSend(eventFrame(5, allReady.bytes));
  again.serverSend(eventFrame(2, ready.bytes));
  again.serverSend(eventFrame(6, spectatorHi.bytes));
  again.serverSend(endedFrame(7, over.bytes));
  again.serverClose(1001, 'the match ended');
  const error = await client.closed;
  assert.ok(error instanceof ClosedError && error.code === 1001 && !error.resumable, String(error));
  assert.deepStrictEqual(
    seen.map(([type, e]) => [type, e.seq ?? null, e.event ?? e.result ?? (e.first ? [e.first, e.last] : null)]),
    [
      ['event', 1, hello.expected],
      ['event', 2, ready.expected],
      ['eventsmissed', null, [3, 4]],
      ['event', 5, allReady.expected],
      ['event', 6, spectatorHi.expected],
      ['ended', 7, over.expected],
      ['close', null, null],
    ],
  );
  assert.equal(seen[0][1].name, 'Chat');
  assert.deepStrictEqual(seen[0][1].fields, { entity: 65, role: 'Player', text: 'hello' });
  assert.equal(client.lastEvent, 7);
});

test('an undecodable event ends the client: it and the server disagree on the schema', async () => {
  const { client, socket } = await joined({}, { game: arena });
  // Chat { entity 65, role Player, text of 201 bytes }: over its max_len of 200.
  const w = new BitWriter();
  w.writeBits(0, 2);
  w.writeGamma(65);
  w.writeBits(0, 2);
  w.writeGamma(201);
  socket.serverSend(eventFrame(1, hex(w.finish())));
  const error = await client.closed;
  assert.equal(error?.name, 'CodecError');
  assert.match(error.message, /^event `Chat` field `text`: /);
  assert.equal(socket.closedWith, 1000);
});

test('send encodes a game message; an unknown type or an oversized one is refused before sending', async () => {
  const { client, socket } = await joined({}, { game: arena });
  const before = socket.sent.length;
  // Message { message: [the Chat bytes] }
  const chat = arena.messages.find((m) => m.expected.type === 'Chat');
  assert.equal(client.send('Chat', chat.expected.fields), true);
  assert.deepStrictEqual(socket.sent.slice(before), [`04${(chat.bytes.length / 2).toString(16).padStart(2, '0')}${chat.bytes}`]);
  assert.equal(client.send('Ready'), true);
  assert.equal(socket.sent.at(-1), `0401${arena.messages.find((m) => m.expected.type === 'Ready').bytes}`);
  const sent = socket.sent.length;
  assert.throws(
    () => client.send('Shout', { text: 'hi' }),
    (e) => e instanceof MessageError && e.messageType === 'Shout' && /unknown message type `Shout`/.test(e.message),
  );
  assert.throws(
    () => client.send('Chat', {}),
    (e) => e instanceof MessageError && e.field === 'text' && e.message === 'message `Chat` field `text` is missing',
  );
  assert.throws(() => client.send('Kick', { entity: 'x' }), (e) => e instanceof MessageError && e.field === 'entity');
  // 200 bytes of text fit arena's max_len, but not a server limit of 100 bytes a frame.
  const { client: small, socket: smallSocket } = await joined({ maxMessageBytes: 100 }, { game: arena });
  assert.throws(() => small.send('Chat', { text: 'x'.repeat(300) }), (e) => e instanceof MessageError && /exceeds/.test(e.message));
  assert.equal(smallSocket.sent.some((f) => f.startsWith('04')), false);
  small.close();
  assert.equal(socket.sent.length, sent, 'nothing refused was sent');
  client.close();
});

test('messages over the rate are not sent; a Denied is a denied event and the connection goes on', async () => {
  let now = 0;
  const { client, socket } = await joined({ now: () => now, maxMessagesPerSecond: 3 }, { game: arena });
  const seen = record(client, ['denied', 'servererror', 'close']);
  const results = Array.from({ length: 5 }, () => client.send('Chat', { text: 'spam' }));
  assert.deepStrictEqual(results, [true, true, true, false, false]);
  now = 1000;
  assert.equal(client.send('Chat', { text: 'later' }), true);
  socket.serverSend(deniedFrame('Ready: already ready'));
  assert.equal(client.state, 'open');
  assert.deepStrictEqual(
    seen.map(([type, e]) => [type, e.message, e.messageType, e.reason]),
    [['denied', 'Ready: already ready', 'Ready', 'already ready']],
  );
  client.close();
});

test('a spectator asks with spectate=1, has no entity, and may not send inputs', async () => {
  const { client, socket } = await joined({ spectate: true, reconnect: { initialBackoffMs: 10 } }, { game: arena, role: 1 });
  assert.equal(new URL(socket.url).searchParams.get('spectate'), '1');
  assert.equal(client.role, 'spectator');
  assert.equal(client.entityId, 0);
  assert.equal(client.ownEntity, undefined);
  assert.throws(
    () => client.sendInput({ move_x: 0, move_y: 0, aim: 0, buttons: 0 }),
    (e) => e instanceof RoleError && e.role === 'spectator',
  );
  assert.equal(client.send('Chat', { text: 'watching' }), true, 'a spectator may chat');
  // A resume names the session, which keeps its role: no spectate=1.
  socket.serverClose(1006, '');
  await new Promise((r) => setTimeout(r, 5));
  assert.equal(new URL(FakeSocket.made[1].url).searchParams.get('spectate'), null);
  client.close();
});

test('a Welcome with an unknown role is a protocol error', async () => {
  FakeSocket.made = [];
  const pending = connect('ws://127.0.0.1:9/ws', { WebSocket: FakeSocket, pingIntervalMs: 0 });
  await new Promise((r) => setTimeout(r, 5));
  FakeSocket.made[0].serverSend(welcomeFrame(true, { role: 3 }));
  await assert.rejects(pending, /unknown role 3/);
});

test('a socket that fails without a close event (Node 20) ends the attempt at once', async () => {
  class ErrorOnly extends EventTarget {
    binaryType = 'blob';
    constructor() {
      super();
      setTimeout(() => this.dispatchEvent(new Event('error')), 0);
    }
    send() {}
    close() {}
  }
  const started = Date.now();
  await assert.rejects(
    connect('ws://127.0.0.1:9/ws', { WebSocket: ErrorOnly, pingIntervalMs: 0, connectTimeoutMs: 5000 }),
    (e) => e.name === 'ConnectError' && /did not open/.test(e.message),
  );
  assert.ok(Date.now() - started < 1000, 'not the connect timeout');
});

/** The `TimedInput`s among a socket's sent frames (small seqs and acks), as `{seq, ack, tick, input}`, `tick` its low 16 bits. */
function timedInputs(socket) {
  return socket.sent
    .filter((f) => f.startsWith('05'))
    .map((f) => {
      // `00` after the tick: no view stated.
      const m = /^05(..)(00|01..)(..)(..)0004(.{8})$/.exec(f);
      assert.ok(m, `a TimedInput of one-byte seq and ack: ${f}`);
      return { seq: parseInt(m[1], 16), ack: m[2], tick: parseInt(m[4] + m[3], 16), input: m[5] };
    });
}

/** Polls `ok` every few ms for at most `ms`. */
async function until(ms, what, ok) {
  const deadline = Date.now() + ms;
  while (!ok()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

test('timed inputs: one per tick from the first snapshot, at its send time; a report moves the clock; a resume starts over', async () => {
  const { client, socket } = await joined({ reconnect: { initialBackoffMs: 10 } });
  const input = vectors.inputs[0].expected;
  const sampled = [];
  client.startTimedInputs((due) => {
    sampled.push({ ...due, now: performance.now() });
    // The second tick's sample has nothing to say: that tick gets no input.
    return sampled.length === 2 ? null : input;
  });
  await new Promise((r) => setTimeout(r, 50));
  assert.equal(client.inputDue(), null, 'no tick grid before a snapshot');
  assert.deepStrictEqual(timedInputs(socket), []);

  const arrived = performance.now();
  socket.serverSend(snapshotFrame(10, null, vectors.cases[0].payload));
  // One tick ahead (33.3 ms at 30 Hz) of tick 12's arrival: one tick from now.
  const first = client.inputDue();
  assert.equal(first?.tick, 12);
  assert.ok(Math.abs(first.at - (arrived + 1000 / 30)) < 2, `${first.at - arrived} ms after the snapshot`);
  await until(1000, 'four samples', () => sampled.length >= 4);
  assert.deepStrictEqual(sampled.slice(0, 4).map((d) => d.tick), [12, 13, 14, 15], 'a tick each, in order');
  for (const d of sampled) assert.ok(d.now >= d.at - 3, `sampled ${d.at - d.now} ms before its send time`);
  // The Ack went alone after the snapshot, so the inputs carry none.
  assert.deepStrictEqual(timedInputs(socket).slice(0, 3), [
    { seq: 1, ack: '00', tick: 12, input: vectors.inputs[0].bytes },
    { seq: 2, ack: '00', tick: 14, input: vectors.inputs[0].bytes },
    { seq: 3, ack: '00', tick: 15, input: vectors.inputs[0].bytes },
  ]);

  // InputTiming { lead_min -0.3 ms, lead_max 8 ms, late 1 }: sends move earlier at once,
  // by the lateness and the margin (0.75 ms and half the 8.3 ms spread).
  const before = client.inputClock.sendAheadMs;
  const report = new Promise((r) => client.addEventListener('inputtiming', r, { once: true }));
  socket.serverSend(Uint8Array.of(7, 5, 0xa0, 1));
  const e = await report;
  assert.deepStrictEqual([e.leadMinMs, e.leadMaxMs, e.late], [-0.3, 8, 1]);
  assert.ok(Math.abs(client.inputClock.sendAheadMs - (before + 0.3 + 0.75 + 8.3 / 2)) < 1e-9);

  client.stopTimedInputs();
  const stopped = sampled.length;
  await new Promise((r) => setTimeout(r, 80));
  assert.equal(sampled.length, stopped, 'no samples after stopTimedInputs');

  // A resumed connection fits its own tick grid: nothing is due until its first snapshot.
  client.startTimedInputs(() => input);
  const resumed = new Promise((r) => client.addEventListener('resumed', r, { once: true }));
  socket.serverClose(1006, '');
  await new Promise((r) => setTimeout(r, 5));
  const again = FakeSocket.made[1];
  again.serverSend(welcomeFrame(false));
  await resumed;
  await new Promise((r) => setTimeout(r, 50));
  assert.equal(client.inputDue(), null);
  assert.deepStrictEqual(timedInputs(again), []);
  again.serverSend(snapshotFrame(20, null, vectors.cases[0].payload));
  await until(1000, 'a timed input on the new connection', () => timedInputs(again).length > 0);
  assert.equal(timedInputs(again)[0].tick, 22);
  assert.equal(client.inputClock.reports, 0, 'a new clock');
  client.close();
});
