// Two demo pages in one match, in headless Chromium against a real server
// with a 1 s reconnect grace: each sees and draws the other and reads the
// other's chat, and a closed tab's seat waits out the grace, then is freed.

import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { startServer } from '../tickwire-server.js';
import {
  assertNoErrors,
  eventually,
  launch,
  matchInfo,
  newContext,
  openDemo,
  pageState,
  readCanvas,
  screenshot,
  snapshotsLater,
} from './chromium.js';

const GRACE_MS = 1000;

let server;
let browser;
before(async () => {
  server = await startServer(['--reconnect-grace', `${GRACE_MS / 1000}s`]);
  browser = await launch();
});
after(async () => {
  await browser?.close();
  await server?.stop();
});

/** Two players, each in a context of its own: the second joins the first's match by `?match=`. */
async function twoPlayers() {
  const contexts = [await newContext(browser), await newContext(browser)];
  const a = await openDemo(contexts[0], server.origin);
  const first = await pageState(a.page);
  const b = await openDemo(contexts[1], server.origin, `/?match=${first.matchId}`);
  const second = await pageState(b.page);
  assert.equal(second.matchId, first.matchId);
  assert.notEqual(second.entityId, first.entityId);
  return {
    a: { ...a, ...first },
    b: { ...b, ...second },
    close: () => Promise.all(contexts.map((c) => c.close())),
  };
}

/** Whether `page`'s newest snapshot holds entity `id`. */
const holds = (page, id) => page.evaluate((id) => !!window.tickwire.client.world?.entities.some((e) => e.id === id), id);

test('two pages in one match see each other, drawn, and read each other\'s chat', { timeout: 40_000 }, async () => {
  const { a, b, close } = await twoPlayers();
  try {
    for (const [me, other] of [[a, b], [b, a]]) {
      await eventually(5000, `page #${me.entityId} to hold #${other.entityId}`, () => holds(me.page, other.entityId));
      await me.page.bringToFront();
      await snapshotsLater(me.page, 5);
      const canvas = await readCanvas(me.page);
      assert.ok(canvas.player > 20, `page #${me.entityId} draws the other player: ${canvas.player} pixels`);
      assert.ok(canvas.ownPixels > 20, `and itself: ${canvas.ownPixels} pixels`);
      assert.match(await me.page.locator('#hud').textContent(), /ents +66/);
    }

    for (const [me, other] of [[a, b], [b, a]]) {
      const line = `hello from #${me.entityId}`;
      await me.page.fill('#chat-text', line);
      await me.page.press('#chat-text', 'Enter');
      await other.page.locator('#log', { hasText: `#${me.entityId}: ${line}` }).waitFor();
      await me.page.locator('#log', { hasText: `#${me.entityId} (you): ${line}` }).waitFor();
      assert.equal(await me.page.inputValue('#chat-text'), '', 'the box is emptied once sent');
    }
    await screenshot(a.page, 'two-pages-a');
    await screenshot(b.page, 'two-pages-b');
    assertNoErrors(a.errors, 'page A');
    assertNoErrors(b.errors, 'page B');
  } finally {
    await close();
  }
});

test('a closed tab\'s seat waits out the reconnect grace, then is freed', { timeout: 30_000 }, async (t) => {
  const { a, b, close } = await twoPlayers();
  try {
    const players = () => matchInfo(a.page.request, server.origin, a.matchId).then((m) => m.players);
    await eventually(5000, 'both seats taken', async () => (await players()) === 2);
    const closed = Date.now();
    await b.page.close();
    const freedAfter = await eventually(
      GRACE_MS + 4000,
      'the closed tab\'s seat to be freed',
      async () => (await players()) === 1 && Date.now() - closed,
    );
    t.diagnostic(`seat freed ${freedAfter} ms after the tab closed (grace ${GRACE_MS} ms)`);
    // Chromium closes a closing (or reloading) tab's socket with 1001, going
    // away: the seat is parked as for a lost connection, so a reload can resume it.
    assert.ok(freedAfter >= GRACE_MS - 50, `the seat waited for the grace: freed after ${freedAfter} ms`);
    await eventually(3000, 'page A to see the entity gone', async () => !(await holds(a.page, b.entityId)));
    assert.equal((await pageState(a.page)).state, 'open');
    assertNoErrors(a.errors, 'page A');
  } finally {
    await close();
  }
});
