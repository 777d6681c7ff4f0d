// The client against a real tickwire server on 127.0.0.1: two players in one
// match see each other move, a dropped connection resumes to the same
// entity, a player taken over by a newer connection does not come back,
// players and a spectator chat and hear each other (the spectator's `Ready`
// is denied), a resumed player gets the events it missed, in order, and
// timed inputs are applied at their ticks, reported late when late, and
// scheduled by the client's clock ahead of their ticks.
//
// The server is $TICKWIRE_BIN (cargo's test binary when tests/web.rs runs
// this), else a build in ../target; without one these tests are skipped.
// Node 20 needs --experimental-websocket for its global WebSocket.

import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { createServer, connect as tcpConnect } from 'node:net';
import { after, before, test } from 'node:test';
import { ClosedError, RoleError, TakenOverError, connect, findEntity } from '../src/index.js';
import { BIN, NO_BIN, next, startServer, within } from './tickwire-server.js';

const skip = BIN ? false : NO_BIN;

/**
 * A TCP relay to the server whose connections can be cut without a close
 * frame, as a lost network does; while `hold()` is on, it answers every new
 * connection with a 503, as a proxy without a backend does, until
 * `release()`. (A socket dropped before any answer would leave Node 20's
 * WebSocket waiting for the connect timeout: it reports nothing.)
 */
async function startRelay(target) {
  const { hostname, port } = new URL(target);
  const sockets = new Set();
  let held = false;
  const server = createServer((client) => {
    if (held) {
      client.on('error', () => {});
      client.end('HTTP/1.1 503 Service Unavailable\r\ncontent-length: 0\r\nconnection: close\r\n\r\n');
      return;
    }
    const upstream = tcpConnect(Number(port), hostname);
    for (const s of [client, upstream]) {
      sockets.add(s);
      s.on('close', () => sockets.delete(s));
      s.on('error', () => {});
    }
    client.pipe(upstream);
    upstream.pipe(client);
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `ws://127.0.0.1:${server.address().port}/ws`,
    cut: () => sockets.forEach((s) => s.destroy()),
    hold: () => {
      held = true;
    },
    release: () => {
      held = false;
    },
    stop: () => {
      sockets.forEach((s) => s.destroy());
      server.close();
    },
  };
}

/** An HS256 JWT for `sub`, valid for a minute. */
function jwt(secret, sub) {
  const b64 = (v) => Buffer.from(JSON.stringify(v)).toString('base64url');
  const now = Math.floor(Date.now() / 1000);
  const body = `${b64({ alg: 'HS256', typ: 'JWT' })}.${b64({ sub, iat: now, exp: now + 60 })}`;
  return `${body}.${createHmac('sha256', secret).update(body).digest('base64url')}`;
}

/**
 * Runs `client`'s entity along `axis` (0: x, 1: y) with an input on every
 * snapshot (each input carrying that snapshot's ack), towards the far side
 * of the world from where it stands when the direction is chosen, so a
 * wall never stops it within a test. `reverse()` turns it round: it has
 * come at least as far as it is asked to go back.
 */
function steer(client, axis) {
  const state = { sign: 0 };
  client.addEventListener('snapshot', () => {
    const me = client.ownEntity;
    if (!me) return;
    if (state.sign === 0) state.sign = me.fields.pos[axis] < 32000 ? 1 : -1;
    const move = [0, 0];
    move[axis] = 127 * state.sign;
    client.sendInput({ move_x: move[0], move_y: move[1], aim: axis === 0 ? 0 : Math.PI / 2, buttons: 0 });
  });
  return {
    get sign() {
      return state.sign;
    },
    reverse() {
      state.sign = -state.sign;
    },
  };
}

/**
 * Resolves when `watcher` has seen entity `id` travel at least `distance`
 * along `axis` in the direction `steering` runs it.
 */
function seesMove(watcher, id, axis, distance, steering) {
  let start = null;
  return next(watcher, 'snapshot', (e) => {
    const entity = e.snapshot.entities.find((x) => x.id === id);
    if (!entity) return false;
    start ??= entity.fields.pos[axis];
    return (entity.fields.pos[axis] - start) * steering.sign >= distance;
  });
}

let arena;
let relay;
before(async () => {
  if (skip) return;
  arena = await startServer();
  relay = await startRelay(arena.url);
});
after(() => {
  relay?.stop();
  arena?.stop();
});

test('two players in one match see each other move, and a dropped one resumes its entity', { skip, timeout: 20_000 }, async () => {
  const a = await within(5000, 'player A to join', connect(arena.url, { quickJoin: true }));
  const b = await within(5000, 'player B to join', connect(relay.url, { match: a.welcome.matchId }));
  try {
    assert.equal(b.welcome.matchId, a.welcome.matchId);
    assert.notEqual(a.entityId, b.entityId);
    // arena-v1's schema with its messages and events, hashed as docs/PROTOCOL.md says.
    assert.equal(a.schema.hash, '18d7ec762b02815e');
    assert.equal(a.schema.input.name, 'ArenaInput');

    // A runs along x, B along y: 200 units/s is 12800 quanta a second.
    const runA = steer(a, 0);
    const runB = steer(b, 1);
    await within(
      8000,
      'each player to see the other move',
      Promise.all([seesMove(a, b.entityId, 1, 2000, runB), seesMove(b, a.entityId, 0, 2000, runA)]),
    );
    const own = a.ownEntity;
    assert.equal(own?.fields.kind, 'Player');
    assert.ok(own.fields.last_input_seq > 0, 'the server applied A inputs');
    assert.ok(a.rttMs !== null && a.rttMs < 1000, `a round trip was measured: ${a.rttMs}`);
    const view = a.interpolated();
    assert.ok(view && view.entities.some((e) => e.id === b.entityId), 'the interpolated world holds B');

    // The network drops B's connection without a close frame: it resumes.
    const entity = b.entityId;
    const seqBefore = b.session.nextSeq;
    const disconnected = next(b, 'disconnect');
    // Back, B turns round: A seeing it proves the new connection's inputs count.
    // The first snapshot is awaited from the moment B resumes: it may come in
    // the same read as the Welcome, and be handled before this test's next turn.
    /** @type {Promise<any> | null} */
    let firstAfter = null;
    const resumed = next(b, 'resumed', () => {
      runB.reverse();
      firstAfter = next(b, 'snapshot');
      return true;
    });
    relay.cut();
    const lost = await within(5000, 'B to notice the lost connection', disconnected);
    assert.ok(lost.error instanceof ClosedError && lost.error.resumable, String(lost.error));
    assert.equal(lost.willResume, true);
    const back = await within(8000, 'B to resume', resumed);
    assert.equal(back.welcome.entityId, entity);
    assert.equal(b.entityId, entity);
    assert.ok(firstAfter, 'the resumed listener ran');
    const full = await within(3000, 'a snapshot after the resume', firstAfter);
    assert.equal(full.baseline, null, 'the first snapshot of a new connection is full');
    assert.ok(full.snapshot.entities.some((e) => e.id === entity), 'the resumed entity is in the world');
    await within(3000, 'B inputs to be applied after the resume', seesMove(a, entity, 1, 500, runB));
    assert.ok(b.session.nextSeq > seqBefore, 'input seq continues across the resume');
  } finally {
    a.close();
    b.close();
  }
  assert.equal(await a.closed, null);
});

test('a player taken over by a newer connection gets 4001 and does not reconnect', { skip, timeout: 15_000 }, async () => {
  const secret = 'web-client-test-secret';
  const server = await startServer(['--auth-secret', secret]);
  try {
    const token = jwt(secret, 'player-one');
    const first = await within(5000, 'the first connection', connect(server.url, { token }));
    const resumes = [];
    first.addEventListener('resumed', (e) => resumes.push(e));
    const ended = first.closed;
    const second = await within(5000, 'the second connection', connect(server.url, { token }));
    try {
      const error = await within(5000, 'the first connection to be closed', ended);
      assert.ok(error instanceof TakenOverError, String(error));
      assert.equal(error.code, 4001);
      assert.equal(first.state, 'closed');
      assert.equal(second.entityId, first.entityId, 'the takeover keeps the entity');
      assert.equal(second.welcome.playerId, first.welcome.playerId);
      assert.ok(second.welcome.playerId >= 2n ** 63n, 'an authenticated player id has its top bit set');
      await within(3000, 'a snapshot on the new connection', next(second, 'snapshot'));
      assert.deepEqual(resumes, []);
    } finally {
      second.close();
    }
  } finally {
    server.stop();
  }
});

test('a space3d server is decoded from its Welcome schema alone', { skip, timeout: 15_000 }, async () => {
  const server = await startServer(['--game', 'space3d']);
  try {
    const c = await within(5000, 'joining space3d', connect(server.url));
    try {
      const { snapshot } = await within(3000, 'a snapshot', next(c, 'snapshot'));
      const me = snapshot.entities.find((e) => e.id === c.entityId);
      assert.ok(me, 'the player ship is in the world');
      const quat = Object.values(me.fields).find((v) => Array.isArray(v) && v.length === 4);
      assert.ok(quat, 'a ship has an orientation');
      assert.ok(Math.abs(Math.hypot(...quat) - 1) < 1e-3, `a unit quaternion: ${quat}`);
      await within(3000, 'a delta', next(c, 'snapshot', (e) => e.baseline !== null));
    } finally {
      c.close();
    }
  } finally {
    server.stop();
  }
});

/** Every game event `client` receives from now on, as `{seq, name, fields}`, in order. */
function heard(client) {
  const events = [];
  client.addEventListener('event', (e) => events.push({ seq: e.seq, name: e.name, fields: e.fields }));
  return events;
}

/** Resolves once `list` (filled by `heard`) holds `n` events. */
async function hears(list, n, what) {
  const deadline = Date.now() + 5000;
  while (list.length < n) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}: heard ${JSON.stringify(list)}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

test('players and a spectator hear a chat line as event 1; a spectator may chat but not be Ready', { skip, timeout: 20_000 }, async () => {
  const a = await within(5000, 'player A to join', connect(arena.url, { quickJoin: true }));
  const match = a.welcome.matchId;
  const b = await within(5000, 'player B to join', connect(arena.url, { match }));
  const s = await within(5000, 'the spectator to join', connect(arena.url, { match, spectate: true }));
  try {
    assert.equal(a.role, 'player');
    assert.equal(s.role, 'spectator');
    assert.equal(s.entityId, 0);
    assert.equal(s.welcome.matchId, match);
    assert.deepStrictEqual(
      s.schema.messages.map((t) => [t.name, t.allow.join('+')]),
      [['Chat', 'player+spectator+admin'], ['Ready', 'player'], ['Kick', 'admin'], ['EndMatch', 'admin']],
    );
    const [toA, toB, toS] = [a, b, s].map(heard);
    assert.equal(a.send('Chat', { text: '  hello, arena ' }), true);
    await within(5000, 'everyone to hear A', Promise.all([toA, toB, toS].map((l) => hears(l, 1, 'the chat line'))));
    const line = { seq: 1, name: 'Chat', fields: { entity: a.entityId, role: 'Player', text: 'hello, arena' } };
    for (const list of [toA, toB, toS]) assert.deepStrictEqual(list, [line]);

    // The server refuses a spectator's Ready before the game sees it; the connection goes on.
    const denied = next(s, 'denied');
    assert.equal(s.send('Ready'), true);
    const refusal = await within(5000, 'the Ready to be denied', denied);
    assert.ok(refusal.message.startsWith('Ready: a spectator may not'), refusal.message);
    assert.equal(refusal.messageType, 'Ready');
    assert.equal(s.state, 'open');
    assert.throws(() => s.sendInput({ move_x: 0, move_y: 0, aim: 0, buttons: 0 }), RoleError);
    await within(3000, 'a snapshot for the spectator', next(s, 'snapshot'));

    // A spectator's line: entity 0, role Spectator, event 2 for everyone.
    assert.equal(s.send('Chat', { text: 'watching' }), true);
    await within(5000, 'everyone to hear the spectator', Promise.all([toA, toB, toS].map((l) => hears(l, 2, 'the second line'))));
    for (const list of [toA, toB, toS]) {
      assert.deepStrictEqual(list[1], { seq: 2, name: 'Chat', fields: { entity: 0, role: 'Spectator', text: 'watching' } });
    }
    assert.equal(toS.length, 2, 'the denied Ready made no event');
  } finally {
    for (const c of [a, b, s]) c.close();
  }
});

test('a resumed player gets the chat it missed, in order, with continuous seq', { skip, timeout: 25_000 }, async () => {
  const a = await within(5000, 'player A to join', connect(arena.url, { quickJoin: true }));
  const b = await within(5000, 'player B to join', connect(relay.url, { match: a.welcome.matchId }));
  try {
    const [toA, toB] = [a, b].map(heard);
    const missed = [];
    b.addEventListener('eventsmissed', (e) => missed.push([e.first, e.last]));
    assert.equal(a.send('Chat', { text: 'one' }), true);
    await within(5000, 'both to hear line one', Promise.all([hears(toA, 1, 'one'), hears(toB, 1, 'one')]));
    assert.equal(b.lastEvent, 1);

    // B's network drops, and stays down while A says two more lines.
    const disconnected = next(b, 'disconnect');
    const resumed = next(b, 'resumed');
    relay.hold();
    relay.cut();
    const lost = await within(5000, 'B to notice the lost connection', disconnected);
    assert.equal(lost.willResume, true);
    assert.equal(a.send('Chat', { text: 'two' }), true);
    assert.equal(a.send('Chat', { text: 'three' }), true);
    await within(5000, 'A to hear its lines', hears(toA, 3, 'two and three'));
    assert.equal(toB.length, 1, 'B heard nothing while away');
    relay.release();
    const back = await within(10_000, 'B to resume', resumed);
    assert.ok(back.attempts > 1, 'the first attempts met the held relay');
    await within(5000, 'B to hear what it missed', hears(toB, 3, 'the missed lines'));
    const texts = (list) => list.map((e) => [e.seq, e.fields.text]);
    assert.deepStrictEqual(texts(toB), [[1, 'one'], [2, 'two'], [3, 'three']]);
    assert.deepStrictEqual(texts(toB), texts(toA));
    assert.deepStrictEqual(missed, []);

    // And the session goes on from there.
    assert.equal(a.send('Chat', { text: 'four' }), true);
    await within(5000, 'B to hear line four', hears(toB, 4, 'four'));
    assert.deepStrictEqual(toB[3].seq, 4);
    assert.equal(b.session.lastEvent, 4);
  } finally {
    relay.release();
    a.close();
    b.close();
  }
});

/** arena-v1's input at rest. */
const REST = { move_x: 0, move_y: 0, aim: 0, buttons: 0 };

/** The `last_input_seq` of `client`'s own entity in `snapshot`: the newest input the server applied. */
function applied(client, snapshot) {
  return findEntity(snapshot, client.entityId)?.fields.last_input_seq ?? 0;
}

test('an input timed for a later tick shows first in exactly that tick\'s snapshot', { skip, timeout: 15_000 }, async () => {
  const c = await within(5000, 'joining', connect(arena.url, { quickJoin: true }));
  try {
    const { snapshot } = await within(3000, 'a snapshot', next(c, 'snapshot'));
    // Ten ticks ahead (333 ms at 30 Hz): it must wait in the match.
    const target = snapshot.tick + 10;
    const seq = c.sendTimedInput(target, REST);
    assert.ok(seq !== null);
    const early = [];
    const at = await within(
      3000,
      `the snapshot of tick ${target}`,
      next(c, 'snapshot', (e) => {
        if (e.snapshot.tick >= target) return true;
        if (applied(c, e.snapshot) >= seq) early.push(e.snapshot.tick);
        return false;
      }),
    );
    assert.deepStrictEqual(early, [], 'applied before its tick');
    assert.equal(at.snapshot.tick, target, 'a snapshot per tick');
    assert.equal(applied(c, at.snapshot), seq, 'applied at its tick');
  } finally {
    c.close();
  }
});

test('an input timed for a tick already run is applied at once and reported late', { skip, timeout: 15_000 }, async () => {
  const c = await within(5000, 'joining', connect(arena.url, { quickJoin: true }));
  try {
    const { snapshot } = await within(3000, 'a snapshot after tick 5', next(c, 'snapshot', (e) => e.snapshot.tick >= 5));
    const report = next(c, 'inputtiming');
    const seq = c.sendTimedInput(snapshot.tick - 3, REST);
    const { snapshot: at } = await within(3000, 'the input to be applied', next(c, 'snapshot', (e) => applied(c, e.snapshot) === seq));
    // Its tick has run: the next one applies it.
    assert.ok(at.tick <= snapshot.tick + 3, `applied at once, not held: tick ${at.tick} after ${snapshot.tick}`);
    const e = await within(3000, 'a report', report);
    assert.equal(e.late, 1, 'one late input');
    // Three ticks and more behind: 100 ms at 30 Hz.
    assert.ok(e.leadMinMs < -50, `lead ${e.leadMinMs} ms`);
    assert.equal(e.leadMinMs, e.leadMaxMs, 'one input in the window');
    assert.ok(c.inputClock.sendAheadMs > 50, `the clock moved its sends earlier at once: ${c.inputClock.sendAheadMs} ms`);
  } finally {
    c.close();
  }
});

test('the client\'s timed inputs reach the server ahead of their ticks, and its sends move later than one tick ahead', { skip, timeout: 20_000 }, async (t) => {
  const c = await within(5000, 'joining', connect(arena.url, { quickJoin: true }));
  try {
    const tickMs = 1000 / c.welcome.tickRate;
    assert.equal(c.inputDue(), null, 'nothing is due before a snapshot');
    await within(3000, 'a snapshot', next(c, 'snapshot'));
    // One tick, or a round trip and a quarter tick when a Pong came first.
    const initial = c.inputClock.sendAheadMs;
    assert.ok(initial <= tickMs, `${initial} ms`);
    const reports = [];
    c.addEventListener('inputtiming', (e) => reports.push(e));
    let sent = 0;
    let lastSeq = 0;
    c.startTimedInputs(() => {
      sent++;
      lastSeq = c.session.nextSeq;
      return REST;
    });
    // Four reports: about two seconds of inputs, one per tick.
    const deadline = Date.now() + 8000;
    while (reports.length < 4) {
      assert.ok(Date.now() < deadline, `four reports within 8 s: ${reports.length}`);
      await new Promise((r) => setTimeout(r, 50));
    }
    c.stopTimedInputs();
    const leads = reports.map((e) => `${e.leadMinMs}..${e.leadMaxMs} (${e.late} late)`).join(', ');
    t.diagnostic(`send-ahead ${initial.toFixed(2)} -> ${c.inputClock.sendAheadMs.toFixed(2)} ms; leads ${leads}`);
    assert.ok(sent >= 30, `an input per tick: ${sent}`);
    assert.ok(c.inputClock.sendAheadMs < initial, `${initial} then ${c.inputClock.sendAheadMs} ms`);
    assert.ok(c.inputClock.sendAheadMs < tickMs);
    assert.ok(reports.every((e) => e.leadMinMs > -tickMs), `no input a whole tick late: ${leads}`);
    const { snapshot } = await within(3000, 'the last input applied', next(c, 'snapshot', (e) => applied(c, e.snapshot) >= lastSeq));
    assert.ok(applied(c, snapshot) >= lastSeq);
  } finally {
    c.close();
  }
});
