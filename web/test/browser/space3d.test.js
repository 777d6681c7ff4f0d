// The demo page on a space3d server, in headless Chromium: it picks the 3D
// renderer from the schema, draws its own ship from behind (a spectator's
// page: every ship, from a camera circling the world), and thrust (W
// held) moves the ship.

import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { startServer } from '../tickwire-server.js';
import {
  COLOURS,
  assertNoErrors,
  holdKey,
  launch,
  newContext,
  openDemo,
  pageState,
  readCanvas,
  screenshot,
  snapshotsLater,
} from './chromium.js';

let server;
let browser;
before(async () => {
  server = await startServer(['--game', 'space3d']);
  browser = await launch();
});
after(async () => {
  await browser?.close();
  await server?.stop();
});

test('a space3d page draws its ship from behind, a spectator\'s every ship, and thrust moves it', { timeout: 30_000 }, async () => {
  const context = await newContext(browser);
  try {
    const { page, errors } = await openDemo(context, server.origin);
    const state = await pageState(page);
    assert.equal(state.error, null);
    assert.equal(state.role, 'player');
    assert.equal(state.pos?.length, 3, 'a ship has a 3D position');
    assert.match(await page.locator('#help').textContent(), /thrust/, 'the 3D renderer was picked');
    await snapshotsLater(page, 10);
    // This ship sits in front of the chase camera; the others may all be out of its view.
    const canvas = await readCanvas(page);
    assert.ok(canvas.ownPixels > 20, `this ship is drawn: ${canvas.ownPixels} pixels of ${COLOURS.own}`);
    await screenshot(page, 'space3d-joined');

    // A spectator's camera circles the whole world: every ship, this player's in a player's colour.
    const { page: watcher, errors: watcherErrors } = await openDemo(context, server.origin, `/?match=${state.matchId}&spectate=1`);
    await snapshotsLater(watcher, 10);
    const overview = await readCanvas(watcher);
    assert.ok(overview.npc + overview.turner > 100, `the NPC ships are drawn: ${overview.npc} drifter, ${overview.turner} turner pixels`);
    assert.ok(overview.player > 0, `the player's ship is drawn: ${overview.player} pixels`);
    assert.equal(overview.ownPixels, 0);
    await screenshot(watcher, 'space3d-spectating');
    assertNoErrors(watcherErrors, 'the spectator page');
    await watcher.close();
    await page.bringToFront();

    const start = (await pageState(page)).pos;
    await holdKey(page, 'w', 800);
    await snapshotsLater(page, 6);
    const end = (await pageState(page)).pos;
    const moved = Math.hypot(...end.map((v, i) => v - start[i]));
    assert.ok(moved > 5, `thrust moved the ship ${moved.toFixed(1)} units: ${start} to ${end}`);
    await screenshot(page, 'space3d-thrust');
    assertNoErrors(errors);
  } finally {
    await context.close();
  }
});
