// The input clock's arithmetic, case by case as the Rust InputClock's own
// tests (src/client/timing.rs) check it: the same arrivals and reports give
// the same ticks, send times and corrections, in milliseconds.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { InputClock } from '../src/clock.js';

/** `a` within `eps` of `b`. */
function near(a, b, eps, what) {
  assert.ok(Math.abs(a - b) <= eps, `${what}: ${a} is not within ${eps} of ${b}`);
}

test('inputs are due one send-ahead before their tick arrives, and never twice for a tick', () => {
  const clock = new InputClock(50); // 20 ms ticks
  assert.equal(clock.due(0), null, 'no snapshot yet');
  // Tick 10 arrives 200 ms after the origin, tick 11 with 3 ms of jitter.
  const origin = 1000;
  clock.onSnapshot(10, origin + 200);
  clock.onSnapshot(11, origin + 223);
  const due = clock.due(origin + 225);
  // sendAhead is one tick (20 ms): tick 13 arrives at 260 ms (and the 60 µs
  // the late tick 11 raised the fit by), so its input is due at 240 ms, the
  // first send time still to come.
  assert.equal(due?.tick, 13);
  near(due.at, origin + 240.06, 0.002, 'due at');
  clock.sent(due.tick);
  assert.equal(clock.due(origin + 225)?.tick, 14, 'a tick gets one input');
});

test('an earlier arrival moves the fit at once, a later one by 2 % of the difference', () => {
  const clock = new InputClock(50);
  clock.onSnapshot(10, 1200);
  clock.onSnapshot(11, 1225); // 5 ms late: the origin rises by 0.1 ms
  near(clock.due(1230).at, 1240.1, 1e-9, 'after a late arrival');
  clock.onSnapshot(12, 1238); // 2 ms early: the origin is that arrival's
  near(clock.due(1230).at, 1238, 1e-9, 'after an early arrival');
});

test('reports move the sends until the worst input keeps the margin; a late window corrects at once', () => {
  const clock = new InputClock(30);
  const before = clock.sendAheadMs;
  near(before, 1000 / 30, 1e-9, 'one tick at first');
  // Inputs arrive 20 to 22 ms early: far more than needed, send later.
  for (let i = 0; i < 20; i++) clock.onReport(20, 22, 0);
  const settled = clock.sendAheadMs;
  assert.ok(settled < before, `${settled} < ${before}`);
  near(clock.marginMs, 0.75 + 1, 1e-9, 'margin: 0.75 ms and half the spread');
  assert.equal(clock.reports, 20);
  // A late window: sends move earlier by at least the lateness, at once.
  clock.onReport(-4, 1, 2);
  assert.ok(clock.sendAheadMs >= settled + 4, `${clock.sendAheadMs} >= ${settled} + 4`);
});

test('a round trip seeds the send-ahead until the first report; the margin is at most half a tick', () => {
  const clock = new InputClock(30);
  clock.seedRtt(10);
  // The round trip, the first margin (1.5 ms) and a quarter tick.
  near(clock.sendAheadMs, 10 + 1.5 + 1000 / 30 / 4, 1e-9, 'seeded');
  clock.onReport(5, 5, 0);
  const after = clock.sendAheadMs;
  clock.seedRtt(50);
  assert.equal(clock.sendAheadMs, after, 'a report outranks a round trip');
  // A wild spread: the margin stops at half a tick, and sends never go over a second ahead.
  clock.onReport(-2000, 3000, 9);
  near(clock.marginMs, 1000 / 30 / 2, 1e-9, 'margin cap');
  assert.equal(clock.sendAheadMs, 1000, 'at most a second ahead');
  for (let i = 0; i < 40; i++) clock.onReport(3000, 3000, 0);
  assert.equal(clock.sendAheadMs, 0, 'never after the arrival itself');
});
