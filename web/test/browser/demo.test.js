// The arena demo page in headless Chromium against a real server: it joins
// with no click, draws the world and times its inputs to the server's
// ticks (the HUD shows their lead), held keys move its entity (as a
// spectator outside the page decodes it), a reload takes the same seat
// back, `?spectate=1` watches and `?match=ID` joins that match, a phone's
// screen fits it, and a refused join says why. Each state's screenshot is
// saved in $TICKWIRE_TEST_OUT.

import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { connect, findEntity } from '../../src/index.js';
import { next, startServer, within } from '../tickwire-server.js';
import {
  assertNoErrors,
  cellsChanged,
  holdKey,
  keysAwayFromWalls,
  launch,
  matchInfo,
  newContext,
  openDemo,
  pageState,
  readCanvas,
  screenshot,
  snapshotsLater,
  untilJoined,
} from './chromium.js';

const ADMIN = 'browser-test-admin';

let server;
let browser;
before(async () => {
  server = await startServer(['--admin-token', ADMIN]);
  browser = await launch();
});
after(async () => {
  await browser?.close();
  await server?.stop();
});

/** A fresh context (a player of its own) for `body`, closed after it. */
async function inContext(options, body) {
  const context = await newContext(browser, options);
  try {
    return await body(context);
  } finally {
    await context.close();
  }
}

test('the page joins with no click and draws the entities, and the drawing moves', { timeout: 30_000 }, () =>
  inContext({}, async (context) => {
    const { page, errors } = await openDemo(context, server.origin);
    const state = await pageState(page);
    assert.equal(state.error, null);
    assert.equal(state.role, 'player');
    assert.ok(state.entityId >= 65, `a player's entity: ${state.entityId}`);
    await snapshotsLater(page, 10);
    assert.ok((await pageState(page)).entities >= 65, '64 NPCs and this player');

    const first = await readCanvas(page);
    // 64 NPC dots of 3 canvas pixels' radius at least (some may overlap).
    assert.ok(first.npc > 500, `NPC-coloured pixels: ${first.npc}`);
    assert.ok(first.ownPixels > 20 && first.own, `this player's pixels: ${first.ownPixels}`);
    await screenshot(page, 'demo-joined');
    // Half the NPCs walk at 50 units/s: half a second moves their dots across cells.
    await snapshotsLater(page, 15);
    const later = await readCanvas(page);
    assert.ok(cellsChanged(first, later) >= 4, `the NPCs' dots moved: ${cellsChanged(first, later)} cells changed`);

    const hud = await page.locator('#hud').textContent();
    assert.match(hud, new RegExp(`player #${state.entityId}`));
    assert.match(hud, /rtt +\d+ ms/);
    assert.match(await page.locator('#status').textContent(), new RegExp(`player in match ${state.matchId}`));
    // Its inputs are timed: the server's reports (every half second) show in the HUD. How far ahead
    // the clock settles depends on the machine's load (a benchmark's business, not this test's).
    await page.waitForFunction(() => /lead +-?\d+\.\d ms/.test(document.getElementById('hud')?.textContent ?? ''), null, {
      timeout: 5000,
    });
    const timing = await page.evaluate(() => {
      const clock = window.tickwire.client.inputClock;
      return { reports: clock.reports, sendAheadMs: clock.sendAheadMs, tickMs: clock.tickMs };
    });
    assert.ok(timing.reports > 0 && Number.isFinite(timing.sendAheadMs), JSON.stringify(timing));
    assertNoErrors(errors);
  }),
);

test('held keys move the page\'s own entity: a spectator outside the page sees it go that way', { timeout: 30_000 }, () =>
  inContext({}, async (context) => {
    const { page, errors } = await openDemo(context, server.origin);
    const { matchId, entityId } = await pageState(page);
    const watcher = await within(5000, 'the spectator to join', connect(server.url, { match: matchId, spectate: true }));
    try {
      /** The page's entity as the spectator's newest snapshot has it. */
      const seen = async () => {
        await within(3000, 'a snapshot for the spectator', next(watcher, 'snapshot'));
        const entity = findEntity(watcher.world, entityId);
        assert.ok(entity, `the spectator sees entity ${entityId}`);
        return entity.fields.pos;
      };
      // 200 units/s is 12800 quanta a second: 600 ms of a key is about 7700.
      for (const { key, axis, sign } of keysAwayFromWalls(await seen())) {
        const start = await seen();
        const canvasStart = (await readCanvas(page)).own;
        await holdKey(page, key, 600);
        // The key's last input has been applied a few ticks later.
        await snapshotsLater(page, 6);
        const end = await seen();
        const moved = (end[axis] - start[axis]) * sign;
        assert.ok(moved > 3000, `${key} moved entity ${entityId} ${moved} quanta along axis ${axis} (from ${start} to ${end})`);
        assert.ok(Math.abs(end[1 - axis] - start[1 - axis]) <= 64, `${key} kept the other axis: ${start} to ${end}`);
        // And the page drew it there: the canvas's axes are the world's.
        const canvasEnd = (await readCanvas(page)).own;
        assert.ok((canvasEnd[axis] - canvasStart[axis]) * sign > 5, `the dot moved on the canvas: ${canvasStart} to ${canvasEnd}`);
      }
      await screenshot(page, 'demo-moved');
      assertNoErrors(errors);
    } finally {
      watcher.close();
    }
  }),
);

test('a reload takes the same seat back: the session kept in sessionStorage resumes', { timeout: 30_000 }, () =>
  inContext({}, async (context) => {
    const { page, errors } = await openDemo(context, server.origin);
    const first = await pageState(page);
    assert.equal(first.resumed, false);
    await snapshotsLater(page, 5);
    const players = (await matchInfo(context.request, server.origin, first.matchId)).players;

    await page.reload();
    await untilJoined(page);
    const again = await pageState(page);
    assert.equal(again.error, null);
    assert.equal(again.resumed, true, 'the page resumed rather than joined');
    assert.equal(again.matchId, first.matchId);
    assert.equal(again.entityId, first.entityId, 'the same entity');
    assert.equal((await matchInfo(context.request, server.origin, first.matchId)).players, players, 'no second seat');
    assert.match(await page.locator('#log').textContent(), /the seat waited over the reload/);

    // Its inputs still count: input seq went on from where the last page left it.
    await snapshotsLater(page, 3);
    const [{ key, axis, sign }] = keysAwayFromWalls((await pageState(page)).pos);
    const start = (await pageState(page)).pos;
    await holdKey(page, key, 400);
    await snapshotsLater(page, 6);
    const end = (await pageState(page)).pos;
    assert.ok((end[axis] - start[axis]) * sign > 1500, `the resumed page moves its entity: ${start} to ${end}`);
    await screenshot(page, 'demo-reloaded');
    assertNoErrors(errors);
  }),
);

test('?spectate=1 watches without an entity; ?match=ID joins that match, not the fullest', { timeout: 30_000 }, () =>
  inContext({}, async (context) => {
    const { page: player } = await openDemo(context, server.origin);
    const { matchId, entityId } = await pageState(player);

    await inContext({}, async (watching) => {
      const { page, errors } = await openDemo(watching, server.origin, '/?spectate=1');
      const state = await pageState(page);
      assert.equal(state.error, null);
      assert.equal(state.role, 'spectator');
      assert.equal(state.entityId, 0);
      assert.equal(state.pos, null);
      assert.equal(state.matchId, matchId, 'the match with the most players');
      await page.waitForFunction((id) => window.tickwire.client.world?.entities.some((e) => e.id === id), entityId);
      await snapshotsLater(page, 5);
      const canvas = await readCanvas(page);
      assert.ok(canvas.npc > 500, `NPCs drawn: ${canvas.npc}`);
      assert.ok(canvas.player > 20, `the player drawn in a player's colour: ${canvas.player}`);
      assert.equal(canvas.ownPixels, 0, 'no entity of its own');
      assert.match(await page.locator('#hud').textContent(), /spectator/);
      assert.equal((await matchInfo(watching.request, server.origin, matchId)).spectators, 1);
      await screenshot(page, 'demo-spectating');
      assertNoErrors(errors);
    });

    // A second match: quick-join would still pick the fuller first one.
    const created = await context.request.post(`${server.origin}/v1/matches`, {
      headers: { authorization: `Bearer ${ADMIN}` },
      data: {},
    });
    assert.equal(created.status(), 201, await created.text());
    const other = String((await created.json()).id);
    assert.notEqual(other, matchId);
    await inContext({}, async (joining) => {
      const { page, errors } = await openDemo(joining, server.origin, `/?match=${other}`);
      const state = await pageState(page);
      assert.equal(state.error, null);
      assert.equal(state.matchId, other);
      assert.equal(state.role, 'player');
      assert.match(await page.locator('#status').textContent(), new RegExp(`match ${other}`));
      assertNoErrors(errors);
    });
  }),
);

test('on a phone-sized screen the canvas fits, nothing scrolls sideways, and the HUD shows', { timeout: 30_000 }, () =>
  inContext({ viewport: { width: 390, height: 844 }, deviceScaleFactor: 3, isMobile: true, hasTouch: true }, async (context) => {
    const { page, errors } = await openDemo(context, server.origin);
    await snapshotsLater(page, 10);
    const layout = await page.evaluate(() => {
      const box = (id) => document.getElementById(id).getBoundingClientRect().toJSON();
      const root = document.documentElement;
      return {
        viewport: [innerWidth, innerHeight],
        scrollWidth: Math.max(root.scrollWidth, document.body.scrollWidth),
        clientWidth: root.clientWidth,
        canvas: box('view'),
        hud: box('hud'),
        status: box('status'),
        side: box('side'),
        hudShown: getComputedStyle(document.getElementById('hud')).display !== 'none',
      };
    });
    const [width, height] = layout.viewport;
    assert.equal(width, 390);
    assert.ok(layout.scrollWidth <= layout.clientWidth, `no sideways scroll: ${layout.scrollWidth} > ${layout.clientWidth}`);
    const inside = (b) => b.left >= 0 && b.top >= 0 && b.right <= width && b.bottom <= height;
    assert.ok(inside(layout.canvas) && layout.canvas.width >= width - 1, `the canvas fits: ${JSON.stringify(layout.canvas)}`);
    for (const name of ['hud', 'status', 'side']) assert.ok(inside(layout[name]), `${name} on screen: ${JSON.stringify(layout[name])}`);
    assert.ok(layout.hudShown);
    const overlap = (a, b) => a.left < b.right && b.left < a.right && a.top < b.bottom && b.top < a.bottom;
    assert.ok(!overlap(layout.hud, layout.status), `the HUD and the status do not cover each other: ${JSON.stringify([layout.hud, layout.status])}`);
    assert.match(await page.locator('#hud').textContent(), /rtt/);
    const canvas = await readCanvas(page);
    assert.ok(canvas.npc > 500 && canvas.ownPixels > 20, `the world is drawn: ${canvas.npc} NPC, ${canvas.ownPixels} own pixels`);
    await screenshot(page, 'demo-phone');
    assertNoErrors(errors);
  }),
);

test('a refused join says why: ?match=999999 shows match_not_found', { timeout: 30_000 }, () =>
  inContext({}, async (context) => {
    const { page, errors } = await openDemo(context, server.origin, '/?match=999999');
    const state = await pageState(page);
    assert.match(String(state.error), /HTTP 404 match_not_found/);
    assert.match(await page.locator('#status').textContent(), /match_not_found/);
    assert.match(await page.locator('#log').textContent(), /That match is not there/);
    assert.equal(await page.locator('#hud').textContent(), 'not connected');
    await screenshot(page, 'demo-refused');
    // The refusal came as a close after the upgrade: no failed handshake in the console.
    assertNoErrors(errors);
  }),
);
