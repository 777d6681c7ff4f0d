// The demo page on a space3d server, in headless Chromium: it picks the 3D
// renderer from the schema, draws its own ship and the others from behind,
// and thrust (W held) moves the ship.

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

test('a space3d page draws its ship and the others from behind, and thrust moves it', { timeout: 30_000 }, async () => {
  const context = await newContext(browser);
  try {
    const { page, errors } = await openDemo(context, server.origin);
    const state = await pageState(page);
    assert.equal(state.error, null);
    assert.equal(state.role, 'player');
    assert.equal(state.pos?.length, 3, 'a ship has a 3D position');
    assert.match(await page.locator('#help').textContent(), /thrust/, 'the 3D renderer was picked');
    await snapshotsLater(page, 10);
    const canvas = await readCanvas(page);
    // Drifters share the arena NPCs' colour (COLOURS.npc); this ship sits in front of the chase camera.
    assert.ok(canvas.ownPixels > 20, `this ship is drawn: ${canvas.ownPixels} pixels of ${COLOURS.own}`);
    assert.ok(canvas.npc > 0, `other ships are drawn: ${canvas.npc} pixels`);
    await screenshot(page, 'space3d-joined');

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
