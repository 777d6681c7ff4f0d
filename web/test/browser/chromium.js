// A real headless Chromium for the browser tests, and what they read from
// the demo page: its state (`window.tickwire`, web/demo/main.js), its
// canvas's pixels, its screenshots.
//
// The browser is $CHROMIUM (tests/browser.rs sets it; /usr/bin/chromium by
// default), driven by playwright-core; none is ever downloaded. Screenshots
// go to $TICKWIRE_TEST_OUT (tests/browser.rs: target/tmp/browser/).

import assert from 'node:assert/strict';
import { existsSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export const CHROMIUM = process.env.CHROMIUM ?? '/usr/bin/chromium';
export const OUT = process.env.TICKWIRE_TEST_OUT ?? join(tmpdir(), 'tickwire-browser-tests');

/**
 * The flags every launch takes. Without the background-networking ones
 * Chromium reaches for Google's services, which a closed network refuses;
 * the tests talk to 127.0.0.1 only.
 */
const ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

/**
 * Browsers close a page's sockets with 1001 (going away) when it reloads or
 * its tab closes; the server still takes that for a goodbye and frees the
 * seat at once. Until it parks the seat for the reconnect grace instead (as
 * for a lost connection; src/net/connection/reader.rs), these tests run and
 * report as TODO rather than fail the suite.
 */

/** A page's waits: every one is bounded, and none needs longer on a busy 2-core machine. */
const PAGE_TIMEOUT_MS = 15_000;

/**
 * The demo's colours (web/demo/arena.js, space3d.js): an NPC (space3d's
 * drifters too), another player, this player, and space3d's turners.
 */
export const COLOURS = {
  npc: [0x8d, 0x99, 0xae],
  player: [0x4c, 0xc9, 0xf0],
  own: [0xff, 0xd1, 0x66],
  turner: [0xb5, 0xe4, 0x8c],
};

/**
 * Launches Chromium headless with a fresh profile (playwright makes one per
 * launch and removes it at close). Fails, naming what to install, when
 * playwright-core or Chromium is missing.
 */
export async function launch() {
  let chromium;
  try {
    ({ chromium } = await import('playwright-core'));
  } catch (e) {
    assert.fail(`playwright-core is not installed: run \`npm ci\` in web/ (tests/browser.rs does): ${e.message}`);
  }
  assert.ok(
    existsSync(CHROMIUM),
    `Chromium is not at ${CHROMIUM}: install it (Debian: apt-get install chromium) or set CHROMIUM to its path`,
  );
  return chromium.launch({ executablePath: CHROMIUM, args: ARGS, headless: true, timeout: 30_000 });
}

/**
 * A new browser context (its own storage and cookies: another player) with
 * bounded waits. `options`: playwright's (viewport, ignoreHTTPSErrors...).
 */
export async function newContext(browser, options = {}) {
  const context = await browser.newContext({ viewport: { width: 1280, height: 720 }, ...options });
  context.setDefaultTimeout(PAGE_TIMEOUT_MS);
  return context;
}

/**
 * Opens the demo page at `origin` + `path` in `context` and waits until it
 * joined (or failed to: `tickwire.error`). Returns the page and the errors
 * it reported (uncaught exceptions, console errors), for `assertNoErrors`.
 */
export async function openDemo(context, origin, path = '/') {
  const page = await context.newPage();
  const errors = watchErrors(page);
  await page.goto(`${origin}${path}`);
  await untilJoined(page);
  return { page, errors };
}

/** Collects a page's uncaught exceptions and console errors, across reloads too. */
export function watchErrors(page) {
  const errors = [];
  page.on('pageerror', (e) => errors.push(`uncaught: ${e.message}`));
  page.on('console', (m) => {
    if (m.type() === 'error') errors.push(`console: ${m.text()}`);
  });
  return errors;
}

/** Waits until the page's join settled: a client, or the reason it has none. */
export async function untilJoined(page) {
  await page.waitForFunction(() => window.tickwire && (window.tickwire.client || window.tickwire.error));
}

/** The page's client as plain data: what it joined, and its entity as the newest snapshot has it. */
export function pageState(page) {
  return page.evaluate(() => {
    const { client, snapshots, resumed, error } = window.tickwire;
    if (!client) return { error, snapshots };
    const own = client.ownEntity;
    return {
      error,
      snapshots,
      resumed,
      state: client.state,
      role: client.role,
      matchId: String(client.welcome.matchId),
      entityId: client.entityId,
      entities: client.world ? client.world.entities.length : 0,
      pos: own ? [...own.fields.pos] : null,
    };
  });
}

/** Waits until the page has received `n` more snapshots than it had. */
export async function snapshotsLater(page, n) {
  const now = await page.evaluate(() => window.tickwire.snapshots);
  await page.waitForFunction((target) => window.tickwire.snapshots >= target, now + n);
}

/**
 * The canvas as counts of pixels of each entity colour (`npc`, `player`,
 * `ownPixels`, `turner`), and where they are: `own` the centre of this player's
 * pixels (canvas pixels) or null, `cells`
 * which 16-pixel cells hold an NPC's pixel, as a string of 0s and 1s (two
 * frames whose NPCs moved differ in it).
 */
export function readCanvas(page) {
  return page.evaluate((colours) => {
    const canvas = /** @type {HTMLCanvasElement} */ (document.getElementById('view'));
    const { width, height } = canvas;
    const data = canvas.getContext('2d').getImageData(0, 0, width, height).data;
    const counts = { npc: 0, player: 0, ownPixels: 0, turner: 0 };
    const cols = Math.ceil(width / 16);
    const cells = new Uint8Array(cols * Math.ceil(height / 16));
    let ownX = 0;
    let ownY = 0;
    const is = (i, [r, g, b]) => data[i] === r && data[i + 1] === g && data[i + 2] === b;
    for (let y = 0; y < height; y++) {
      for (let x = 0; x < width; x++) {
        const i = (y * width + x) * 4;
        if (is(i, colours.npc)) {
          counts.npc++;
          cells[Math.floor(y / 16) * cols + Math.floor(x / 16)] = 1;
        } else if (is(i, colours.player)) counts.player++;
        else if (is(i, colours.turner)) counts.turner++;
        else if (is(i, colours.own)) {
          counts.ownPixels++;
          ownX += x;
          ownY += y;
        }
      }
    }
    return {
      width,
      height,
      ...counts,
      own: counts.ownPixels > 0 ? [ownX / counts.ownPixels, ownY / counts.ownPixels] : null,
      cells: cells.join(''),
    };
  }, COLOURS);
}

/** How many cells differ between two `readCanvas` results. */
export function cellsChanged(a, b) {
  let n = 0;
  for (let i = 0; i < a.cells.length; i++) if (a.cells[i] !== b.cells[i]) n++;
  return n;
}

/** Saves a screenshot of `page` as `OUT/name.png`. */
export async function screenshot(page, name) {
  mkdirSync(OUT, { recursive: true });
  await page.screenshot({ path: join(OUT, `${name}.png`) });
}

/** Fails with the errors a page reported, if it reported any. */
export function assertNoErrors(errors, what = 'the page') {
  assert.deepStrictEqual(errors, [], `${what} reported errors`);
}

/** The match API's view of match `id` (players, spectators...), through `request` (playwright's, for https). */
export async function matchInfo(request, origin, id) {
  const response = await request.get(`${origin}/v1/matches/${id}`);
  assert.equal(response.status(), 200, `GET /v1/matches/${id}: ${await response.text()}`);
  return response.json();
}

/** Polls `probe` every 100 ms until it returns a truthy value, at most `ms`. */
export async function eventually(ms, what, probe) {
  const deadline = Date.now() + ms;
  let last;
  for (;;) {
    last = await probe();
    if (last) return last;
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${what} (last: ${JSON.stringify(last)})`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** Half of arena-v1's side, in position quanta (docs/PROTOCOL.md, "Arena-v1's schema"). */
const ARENA_MIDDLE = 32_000;

/**
 * For an arena entity at `pos`, the keys that move it away from the nearer
 * wall on each axis (a wall stops a player): `{key, axis, sign}`, x first.
 * World y grows downwards on the canvas, as `s` moves.
 */
export function keysAwayFromWalls(pos) {
  return [
    pos[0] < ARENA_MIDDLE ? { key: 'd', axis: 0, sign: 1 } : { key: 'a', axis: 0, sign: -1 },
    pos[1] < ARENA_MIDDLE ? { key: 's', axis: 1, sign: 1 } : { key: 'w', axis: 1, sign: -1 },
  ];
}

/** Holds `key` down on `page` for `ms`, as a player does. */
export async function holdKey(page, key, ms) {
  await page.keyboard.down(key);
  await new Promise((r) => setTimeout(r, ms));
  await page.keyboard.up(key);
}
