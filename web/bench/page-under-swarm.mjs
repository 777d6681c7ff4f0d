#!/usr/bin/env node
// The demo page as one player among a swarm of bots: opens it in headless
// Chromium, lets it play for a while, holds a movement key for the last
// second, and prints what the page lived through as one JSON object:
//
//   snapshots_per_second        snapshots the page's client decoded, per second of the window
//   interpolation_delay_ms      mean and max of how far the drawn world trails the server's tick
//   rtt_ms                      the client's smoothed round trip at the end
//   entities                    entities in the page's newest snapshot
//   moved                       whether its own entity went the held key's way (positions from the client's state)
//   page_errors                 uncaught exceptions and console errors
//
// It is a load probe, not a test: start the server and the bots yourself,
//
//   ./target/release/tickwire serve &
//   ./target/release/tickwire-bots --url ws://127.0.0.1:7777/ws --clients 160 --duration 60s &
//   node web/bench/page-under-swarm.mjs --url http://127.0.0.1:7777/ --seconds 20
//
// or leave out --url and it starts ./target/release/tickwire (or
// $TICKWIRE_BIN) on a free loopback port for itself. Chromium is $CHROMIUM
// (/usr/bin/chromium by default); playwright-core comes from `npm ci` in web/.

import { parseArgs } from 'node:util';
import { holdKey, keysAwayFromWalls, launch, newContext, pageState, untilJoined, watchErrors } from '../test/browser/chromium.js';
import { startServer } from '../test/tickwire-server.js';

const { values } = parseArgs({
  options: {
    url: { type: 'string' },
    seconds: { type: 'string', default: '10' },
    match: { type: 'string' },
    help: { type: 'boolean', short: 'h', default: false },
  },
});
if (values.help) {
  console.log('usage: node web/bench/page-under-swarm.mjs [--url http://HOST:PORT/] [--seconds N] [--match ID]');
  process.exit(0);
}
const seconds = Number(values.seconds);
if (!(seconds >= 2)) throw new Error(`--seconds must be a number, 2 or more: ${values.seconds}`);

/** How often the interpolation delay is sampled. */
const SAMPLE_MS = 100;
/** The key is held for the window's last stretch. */
const HOLD_MS = 1000;

const server = values.url ? null : await startServer();
const origin = values.url ? new URL(values.url).origin : server.origin;
const browser = await launch();
try {
  const context = await newContext(browser, { ignoreHTTPSErrors: true });
  const page = await context.newPage();
  const errors = watchErrors(page);
  await page.goto(`${origin}/${values.match ? `?match=${values.match}` : ''}`);
  await untilJoined(page);
  const joined = await pageState(page);
  if (joined.error) throw new Error(`the page could not join: ${joined.error}`);
  // Settle: the first snapshot, the clock's estimate.
  await page.waitForFunction(() => window.tickwire.snapshots >= 5, null, { timeout: 10_000 });

  const started = await page.evaluate(() => ({ at: performance.now(), snapshots: window.tickwire.snapshots }));
  const delays = [];
  const sampleUntil = async (deadline) => {
    while (Date.now() < deadline) {
      const delay = await page.evaluate(async () => {
        const { interpolationDelayMs } = await import('/demo/hud.js');
        return interpolationDelayMs(window.tickwire.client, performance.now());
      });
      if (delay !== null) delays.push(delay);
      await new Promise((r) => setTimeout(r, SAMPLE_MS));
    }
  };
  const windowEnd = Date.now() + seconds * 1000;
  await sampleUntil(windowEnd - HOLD_MS);

  const before = (await pageState(page)).pos;
  const [{ key, axis, sign }] = before ? keysAwayFromWalls(before) : [{ key: 'd', axis: 0, sign: 1 }];
  await Promise.all([holdKey(page, key, HOLD_MS), sampleUntil(windowEnd)]);
  const ended = await page.evaluate(() => ({ at: performance.now(), snapshots: window.tickwire.snapshots }));
  // The last input's effect arrives a round trip later.
  await page.waitForFunction((n) => window.tickwire.snapshots >= n, ended.snapshots + 5, { timeout: 5000 }).catch(() => {});
  const end = await pageState(page);
  const rtt = await page.evaluate(() => window.tickwire.client.smoothedRttMs);

  const mean = delays.reduce((s, d) => s + d, 0) / (delays.length || 1);
  const report = {
    url: origin,
    match: end.matchId,
    entity: end.entityId,
    seconds,
    snapshots: ended.snapshots - started.snapshots,
    snapshots_per_second: round(((ended.snapshots - started.snapshots) * 1000) / (ended.at - started.at)),
    interpolation_delay_ms: { mean: round(mean), max: round(Math.max(...delays, 0)), samples: delays.length },
    rtt_ms: rtt === null ? null : round(rtt),
    entities: end.entities,
    moved: {
      key,
      held_ms: HOLD_MS,
      before,
      after: end.pos,
      ok: Boolean(before && end.pos && (end.pos[axis] - before[axis]) * sign > 0),
    },
    page_state: end.state,
    page_errors: errors,
  };
  console.log(JSON.stringify(report, null, 2));
  await context.close();
} finally {
  await browser.close();
  await server?.stop();
}

/** @param {number} x */
function round(x) {
  return Math.round(x * 10) / 10;
}
