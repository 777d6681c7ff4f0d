// The documentation's browser code, run as written in headless Chromium
// against a real server: README.md's "Playing from the browser" page and
// web/README.md's example. Each is put in a page of the server's origin
// (the client's modules and /ws are the server's own), and must join, steer
// and chat.

import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, before, test } from 'node:test';
import { connect } from '../../src/index.js';
import { next, startServer, within } from '../tickwire-server.js';
import { assertNoErrors, eventually, launch, newContext, watchErrors } from './chromium.js';

let server;
let browser;
before(async () => {
  server = await startServer();
  browser = await launch();
});
after(async () => {
  await browser?.close();
  await server?.stop();
});

/** The first fenced block of `lang` after `heading` in the file at `path` (from the repository root). */
function codeBlock(path, heading, lang) {
  const text = readFileSync(new URL(`../../../${path}`, import.meta.url), 'utf8');
  const from = heading === null ? 0 : text.indexOf(`\n${heading}\n`);
  assert.ok(from >= 0, `${path} has no heading ${heading}`);
  const m = new RegExp('```' + lang + '\\n([\\s\\S]*?)\\n```').exec(text.slice(from));
  assert.ok(m, `${path}: no \`\`\`${lang} block after ${heading}`);
  return m[1];
}

/**
 * Opens `html` as a page of the server's origin: a document the server
 * answers (/healthz) whose content is then replaced, so the page keeps the
 * server's origin and address (Chromium lets only a page from a loopback
 * address open a socket to one; a page playwright made up has none).
 * Returns it with its console lines and errors.
 */
async function openAt(context, html) {
  const page = await context.newPage();
  // Browsers ask a non-HTML document's origin for /favicon.ico; the server has none.
  await page.route(`${server.origin}/favicon.ico`, (route) => route.fulfill({ status: 204 }));
  const errors = watchErrors(page);
  const lines = [];
  page.on('console', (m) => lines.push(m.text()));
  await page.goto(`${server.origin}/healthz`);
  await page.setContent(html);
  return { page, errors, lines };
}

/**
 * A player entity as a spectator of `match` sees it once `ok` holds: entity
 * `id`, or (null) the only player of the only match with players.
 */
async function playerSeen(ok, match = null, id = null) {
  if (match === null) {
    const { matches } = await (await fetch(`${server.origin}/v1/matches`)).json();
    const live = matches.filter((m) => m.players > 0);
    assert.deepStrictEqual(live.map((m) => m.players), [1], `one match with one player: ${JSON.stringify(matches)}`);
    match = live[0].id;
  }
  const watcher = await within(5000, 'a spectator', connect(server.url, { match, spectate: true }));
  const find = (snapshot) => snapshot.entities.find((x) => (id === null ? x.fields.kind === 'Player' : x.id === id));
  try {
    const seen = await within(5000, 'the player to be seen', next(watcher, 'snapshot', (e) => {
      const player = find(e.snapshot);
      return player && ok(player);
    }));
    return find(seen.snapshot);
  } finally {
    watcher.close();
  }
}

test('README.md\'s "Playing from the browser" page joins, steers and chats as written', { timeout: 30_000 }, async () => {
  const block = codeBlock('README.md', '## Playing from the browser', 'html');
  const context = await newContext(browser);
  try {
    const { page, errors, lines } = await openAt(context, `<!doctype html>\n${block}`);
    await eventually(5000, 'the chat line to come back as an event', () =>
      lines.find((l) => l.startsWith('Chat ') && l.includes('"text":"hello from the browser"')),
    );
    // Its inputs move the entity by +x (move_x 127), or hold it at the wall.
    const player = await playerSeen((p) => p.fields.last_input_seq > 10);
    assert.ok(player.fields.vel[0] > 0 || player.fields.pos[0] === 64000, `steered: ${JSON.stringify(player.fields)}`);
    assertNoErrors(errors);
    await page.close();
  } finally {
    await context.close();
  }
});

test('web/README.md\'s example runs as written in a page', { timeout: 30_000 }, async () => {
  const example = codeBlock('web/README.md', null, 'js').replaceAll('ws://127.0.0.1:7777/ws', server.url);
  // What the example leaves to the game: drawing and showing chat. And a way to look at its client.
  const html = `<!doctype html>
<script type="importmap">{ "imports": { "tickwire-client": "/client/index.js" } }</script>
<script>
  window.drawn = 0;
  window.draw = (world) => { if (world && world.entities.length > 0) window.drawn++; };
  window.showChat = (entity, text) => console.log('chat', entity, text);
</script>
<script type="module">
${example}
window.example = client;
</script>`;
  const context = await newContext(browser);
  try {
    const { page, errors, lines } = await openAt(context, html);
    await page.waitForFunction(() => window.example && window.drawn > 10);
    const [match, entity] = await page.evaluate(() => [String(window.example.welcome.matchId), window.example.entityId]);
    await eventually(5000, 'showChat to get the line', () => lines.find((l) => l === `chat ${entity} gl hf`));
    const player = await playerSeen((p) => p.fields.last_input_seq > 10, match, entity);
    assert.ok(player.fields.vel[0] > 0 || player.fields.pos[0] === 64000, `move_x 127 steers it: ${JSON.stringify(player.fields)}`);
    assertNoErrors(errors);
    await page.close();
  } finally {
    await context.close();
  }
});
