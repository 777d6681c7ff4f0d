// The client's rules with a scripted server behind a stand-in WebSocket:
// acks ride on inputs or go alone, a missing baseline ends the client, a
// refused resume is a `sessionlost`, close codes say what is resumable, and
// interpolation blends each field by its type.

import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { decodeSnapshot, presentSnapshot } from '../src/codec.js';
import { ClosedError, MissingBaselineError, RefusedError, TakenOverError, closedError } from '../src/errors.js';
import { connect } from '../src/index.js';
import { InterpolationBuffer, lerpAngle } from '../src/interpolation.js';
import { Schema } from '../src/schema.js';

const vectors = JSON.parse(readFileSync(new URL('../../docs/vectors/schema-v1.json', import.meta.url), 'utf8'));
const schema = Schema.parse(vectors.schema_text);
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

function welcomeFrame(withSchema = true) {
  const text = new TextEncoder().encode(vectors.schema_text);
  return Uint8Array.from([
    0, 1, 3, 42, ...varint(65), 30, 5, ...TOKEN,
    ...varint(BigInt(`0x${vectors.hash}`)),
    ...(withSchema ? [1, ...varint(text.length), ...text] : [0]),
  ]);
}

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

/** Connects through a FakeSocket and answers the Join with Welcome. */
async function joined(options = {}) {
  FakeSocket.made = [];
  const pending = connect('ws://127.0.0.1:9/ws', { WebSocket: FakeSocket, pingIntervalMs: 0, ...options });
  await new Promise((r) => setTimeout(r, 5));
  const socket = FakeSocket.made[0];
  assert.deepStrictEqual(socket.sent, ['000100'], 'Join first');
  socket.serverSend(welcomeFrame());
  return { client: await pending, socket };
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

test('a lost connection resumes, and the new connection starts without baselines', async () => {
  const { client, socket } = await joined({ reconnect: { initialBackoffMs: 10 } });
  socket.serverSend(snapshotFrame(10, null, vectors.cases[0].payload));
  const resumed = new Promise((r) => client.addEventListener('resumed', r, { once: true }));
  socket.serverClose(1001, 'heartbeat timeout');
  await new Promise((r) => setTimeout(r, 5));
  const again = FakeSocket.made[1];
  assert.deepStrictEqual(again.sent, [`000101${hex(TOKEN)}`], 'Join names the session');
  again.serverSend(welcomeFrame(false));
  assert.equal((await resumed).attempts, 1);
  // A delta against the old connection's tick 10 is not decodable here.
  again.serverSend(snapshotFrame(12, 10, vectors.cases[1].payload));
  assert.ok((await client.closed) instanceof MissingBaselineError);
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
