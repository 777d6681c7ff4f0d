// The client in a cluster: two real tickwire nodes sharing a real
// redis-server on 127.0.0.1. A player asks a node where to play
// (`matchmake`), connects with its ticket, and when the node holding its
// match is drained, follows the move (close 4002) to the other node and
// resumes there with the same entity.
//
// The nodes are $TICKWIRE_BIN (as server.test.js); redis-server must be on
// PATH (.ci/run installs it): without it this test fails, saying so.

import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { createServer } from 'node:net';
import { after, before, test } from 'node:test';
import { RefusedError, connect, findEntity, matchmake } from '../src/index.js';
import { BIN, NO_BIN, next, startServer, within } from './tickwire-server.js';

const skip = BIN ? false : NO_BIN;
const ADMIN = 'an-admin-token-for-the-js-cluster-test';
const SECRET = 'a-cluster-secret-for-the-js-test';

/** A loopback port free now. */
async function freePort() {
  const server = createServer();
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address();
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/** A throwaway redis-server on a free port, nothing saved. */
async function startRedis() {
  const found = spawnSync('redis-server', ['--version']);
  if (found.error) throw new Error('redis-server is not installed: apt-get install -y redis-server');
  const port = await freePort();
  const child = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const kill = () => child.kill('SIGKILL');
  process.once('exit', kill);
  await within(
    10_000,
    'redis-server to start',
    new Promise((resolve, reject) => {
      let out = '';
      child.stdout.on('data', (d) => {
        out += d;
        if (out.includes('Ready to accept connections')) resolve(undefined);
      });
      child.on('exit', (code) => reject(new Error(`redis-server exited (${code}): ${out}`)));
    }),
  );
  return { url: `redis://127.0.0.1:${port}`, stop: kill };
}

async function startNode(redis, id) {
  const port = await freePort();
  const args = ['--redis', redis.url, '--node-id', id, '--cluster-secret', SECRET, '--admin-token', ADMIN];
  return startServer([...args, '--tick-threads', '1', '--api-requests-per-second', '1000'], { port });
}

let redis;
let nodes = [];

before(async () => {
  if (skip) return;
  redis = await startRedis();
  nodes = [await startNode(redis, 'a'), await startNode(redis, 'b')];
  // Both nodes in the directory before anyone asks it.
  await within(
    10_000,
    'both nodes in the directory',
    (async () => {
      for (;;) {
        const res = await fetch(`${nodes[0].origin}/v1/nodes`);
        const body = await res.json();
        if (res.ok && body.nodes?.length === 2) return;
        await new Promise((r) => setTimeout(r, 100));
      }
    })(),
  );
});

after(async () => {
  for (const n of nodes) await n.stop();
  redis?.stop();
});

test('a player placed by matchmake follows its match to another node, same entity', { skip }, async () => {
  const offer = await matchmake(nodes[0].origin);
  assert.match(offer.url, /^ws:\/\/127\.0\.0\.1:\d+\/ws$/);
  assert.ok(offer.ticket.length > 0);
  const client = await within(10_000, 'connect with the ticket', connect(offer.url, { ticket: offer.ticket }));
  try {
    const entity = client.welcome.entityId;
    if (offer.matchId !== null) assert.equal(String(client.welcome.matchId), offer.matchId);
    await within(5000, 'a snapshot', next(client, 'snapshot'));

    // Drain the node holding the match: it moves to the other one.
    const holder = nodes.find((n) => offer.url === n.url);
    const other = nodes.find((n) => n !== holder);
    assert.ok(holder && other, `${offer.url} is one of the nodes`);
    const moved = next(client, 'moved');
    const resumed = next(client, 'resumed');
    const res = await fetch(`${holder.origin}/v1/admin/drain`, {
      method: 'POST',
      headers: { authorization: `Bearer ${ADMIN}`, 'content-type': 'application/json' },
      body: '{}',
    });
    assert.equal(res.status, 202, await res.text());
    const m = await within(20_000, 'the move', moved);
    assert.equal(m.url, other.url);
    const r = await within(20_000, 'the resume at the new node', resumed);
    assert.equal(r.welcome.entityId, entity, 'the same entity');
    // Snapshots go on there, with this player's entity in them.
    const snap = await within(5000, 'a snapshot from the new node', next(client, 'snapshot'));
    assert.ok(findEntity(snap.snapshot, entity), 'its entity is in the world');
  } finally {
    client.close();
  }
});

test('matchmake on a node outside any cluster is a RefusedError', { skip }, async () => {
  const single = await startServer();
  try {
    await assert.rejects(matchmake(single.origin), (e) => e instanceof RefusedError && e.code === 'cluster_off');
  } finally {
    await single.stop();
  }
});
