// The demo over https and wss: a server given a certificate
// (`--tls-cert`, `--tls-key`) serves the page and the WebSocket on one
// port, and the page loaded from https://127.0.0.1:PORT/ joins over wss,
// draws, and moves its entity, as a spectator page in the same browser sees.
//
// The certificate is made at run time by tests/browser.rs
// ($TICKWIRE_TEST_CERT, $TICKWIRE_TEST_KEY); the browser is told to accept
// it (ignoreHTTPSErrors), as no CA signed it.

import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { after, before, test } from 'node:test';
import { startServer } from '../tickwire-server.js';
import {
  assertNoErrors,
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
} from './chromium.js';

const { TICKWIRE_TEST_CERT: CERT, TICKWIRE_TEST_KEY: KEY } = process.env;

let server;
let browser;
before(async () => {
  assert.ok(
    CERT && KEY && existsSync(CERT) && existsSync(KEY),
    'TICKWIRE_TEST_CERT and TICKWIRE_TEST_KEY must name a PEM certificate and key for 127.0.0.1 (cargo test --test browser makes them)',
  );
  server = await startServer(['--tls-cert', CERT, '--tls-key', KEY]);
  browser = await launch();
});
after(async () => {
  await browser?.close();
  await server?.stop();
});

test('over https and wss the page joins, draws, and moves its entity', { timeout: 40_000 }, async () => {
  assert.match(server.url, /^wss:\/\/127\.0\.0\.1:\d+\/ws$/, 'the server announces wss');
  assert.match(server.origin, /^https:/);
  const context = await newContext(browser, { ignoreHTTPSErrors: true });
  try {
    const { page, errors } = await openDemo(context, server.origin);
    assert.equal(await page.evaluate(() => location.protocol), 'https:');
    const state = await pageState(page);
    assert.equal(state.error, null);
    assert.equal(state.role, 'player');
    assert.equal((await matchInfo(context.request, server.origin, state.matchId)).players, 1);
    await snapshotsLater(page, 10);
    const canvas = await readCanvas(page);
    assert.ok(canvas.npc > 500 && canvas.ownPixels > 20, `the world is drawn: ${canvas.npc} NPC, ${canvas.ownPixels} own pixels`);
    await screenshot(page, 'tls-joined');

    // Seen from outside the page: a spectator page decodes the entity's position.
    const { page: watcher, errors: watcherErrors } = await openDemo(
      context,
      server.origin,
      `/?match=${state.matchId}&spectate=1`,
    );
    const seen = async () => {
      await snapshotsLater(watcher, 2);
      return watcher.evaluate((id) => window.tickwire.client.world.entities.find((e) => e.id === id)?.fields.pos, state.entityId);
    };
    await page.bringToFront();
    for (const { key, axis, sign } of keysAwayFromWalls(await seen())) {
      const start = await seen();
      await holdKey(page, key, 600);
      await snapshotsLater(page, 6);
      const end = await seen();
      assert.ok((end[axis] - start[axis]) * sign > 3000, `${key} moved the entity along axis ${axis}: ${start} to ${end}`);
    }
    await screenshot(page, 'tls-moved');
    assertNoErrors(errors);
    assertNoErrors(watcherErrors, 'the spectator page');
  } finally {
    await context.close();
  }
});
