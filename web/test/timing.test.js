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
  // sendAhead is one tick (20 ms): tick 13 arrives at 260 ms on the
  // earliest arrival's fit, so its input is due at 240 ms, the first send
  // time still to come.
  assert.equal(due?.tick, 13);
  near(due.at, origin + 240, 1e-9, 'due at');
  clock.sent(due.tick);
  assert.equal(clock.due(origin + 225)?.tick, 14, 'a tick gets one input');
});

test('arrivals fix the grid until the first report, and no longer', () => {
  const clock = new InputClock(50);
  clock.onSnapshot(10, 200);
  clock.onSnapshot(11, 218); // an earlier arrival moves the fit before any report
  const before = clock.due(230);
  near(before.at, 238, 1e-9, 'the earliest arrival');
  // This report's margin is 1.25 ms (the floor and half its 1 ms spread):
  // 0.75 ms too early, half of it corrected.
  clock.onReport(2, 3, 0);
  const steered = clock.due(230);
  near(steered.at - before.at, 0.375, 1e-9, 'moved by the report');
  // After a report, arrivals earlier or later move nothing.
  clock.onSnapshot(12, 230);
  clock.onSnapshot(13, 250);
  assert.deepEqual(clock.due(230), steered);
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
  // A late window without a stall: sends move earlier by at least the lateness, at once.
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
  // Wild spreads, window after window (a path that jittery): the margin
  // stops at half a tick, and sends never go over a second ahead.
  for (let i = 0; i < 40; i++) clock.onReport(-2000, 3000, 9);
  near(clock.marginMs, 1000 / 30 / 2, 1e-9, 'margin cap');
  assert.equal(clock.sendAheadMs, 1000, 'at most a second ahead');
  for (let i = 0; i < 40; i++) clock.onReport(3000, 3000, 0);
  assert.equal(clock.sendAheadMs, -1000, 'at most a second behind the fit');
});

/**
 * Runs a client against a simulated server for `ticks` ticks at 60 Hz and
 * returns each input's lead (ms) by tick: one-way paths of 5 ms, 0.2 ms of
 * steady jitter, reports every 30 ticks, the server's grid moving a tick
 * later at `skip` and the input for `stall` held up by 40 ms. The Rust
 * clock's test runs the same simulation.
 * @param {number} ticks @param {number | null} skip @param {number | null} stall
 */
function simulate(ticks, skip, stall) {
  const dt = 1000 / 60;
  let seed = 7;
  const jitter = () => {
    seed = (seed * 1103515245 + 12345) % 2147483648;
    return (seed / 2147483648) * 0.2;
  };
  const begin = (/** @type {number} */ t) => 1000 + (t + (skip !== null && t >= skip ? 1 : 0)) * dt;
  const clock = new InputClock(60);
  clock.seedRtt(10);
  /** @type {[number, number][]} */
  const leads = [];
  /** @type {number[]} */
  let window = [];
  for (let t = 0; t < ticks; t++) {
    clock.onSnapshot(t, begin(t) + 5.5 + jitter());
    for (;;) {
      const due = clock.due(begin(t) + 5.5);
      if (due === null || due.at > begin(t + 1) + 5.5) break;
      clock.sent(due.tick);
      const arrives = due.at + 5 + jitter() + (due.tick === stall ? 40 : 0);
      const lead = begin(due.tick) - arrives;
      leads.push([due.tick, lead]);
      window.push(lead);
    }
    if (t % 30 === 29 && window.length > 0) {
      clock.onReport(Math.min(...window), Math.max(...window), window.filter((l) => l < 0).length);
      window = [];
    }
  }
  return leads;
}

test('a steady path settles to a lead of a millisecond or two', () => {
  const settled = simulate(600, null, null).filter(([t]) => t > 240);
  assert.ok(settled.length > 300);
  for (const [t, lead] of settled) assert.ok(lead >= 0 && lead < 3, `tick ${t}: ${lead}`);
});

test('a skipped slot is followed within two reports, and a stall is not', () => {
  const leads = simulate(600, 300, null);
  const early = (/** @type {number} */ from, /** @type {number} */ to) =>
    Math.max(...leads.filter(([t]) => t >= from && t < to).map(([, l]) => l));
  assert.ok(early(300, 310) > 15, 'the skip made inputs early');
  assert.ok(early(370, 600) < 3, `${early(370, 600)}`);
  assert.ok(leads.filter(([t]) => t > 240).every(([, l]) => l >= 0));
  const steady = simulate(600, null, null);
  const stalled = simulate(600, null, 305);
  assert.deepEqual(
    stalled.filter(([t, l]) => l < 0 && t > 240).map(([t]) => t),
    [305],
  );
  steady.forEach(([t, l], i) => {
    if (t > 330) assert.ok(Math.abs(l - stalled[i][1]) < 0.5, `tick ${t}: ${l} against ${stalled[i][1]}`);
  });
});
