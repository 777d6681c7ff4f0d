// Compiled by `tsc --noEmit` (test/types.test.js), never run: the package's
// types as a game would use them, through the package's own name.

import {
  connect,
  ClosedError,
  RefusedError,
  Schema,
  TakenOverError,
  decodeSnapshot,
  presentSnapshot,
  type Client,
  type Entity,
  type FieldValue,
  type Snapshot,
} from 'tickwire-client';

export async function play(url: string): Promise<void> {
  const client: Client = await connect(url, {
    match: 3n,
    token: () => 'jwt',
    reconnect: { resumeWindowMs: 10_000 },
    interpolation: { delayTicks: 2, quat: 'nlerp' },
  });
  client.addEventListener('snapshot', (e) => {
    const tick: number = e.snapshot.tick;
    const base: number | null = e.baseline;
    const me: Entity | undefined = client.ownEntity;
    const pos: FieldValue | undefined = me?.fields.pos;
    void [tick, base, pos];
    const seq: number | null = client.sendInput({ move_x: 127, move_y: 0, aim: 0, buttons: 0 });
    void seq;
  });
  client.addEventListener('sessionlost', (e) => console.log(e.error.message));
  client.addEventListener('close', (e) => {
    if (e.error instanceof TakenOverError) console.log('another tab took over');
    else if (e.error instanceof ClosedError && e.error.retryAfterMs !== null) console.log(e.error.retryAfterMs);
    else if (e.error instanceof RefusedError) console.log(e.error.code, e.error.status);
  });
  const view: Snapshot | null = client.interpolated(performance.now());
  const rtt: number | null = client.rttMs;
  const player: bigint = client.welcome.playerId;
  void [view, rtt, player];
  const ended = await client.closed;
  void ended;
}

export function offline(text: string, payload: Uint8Array): Snapshot {
  const schema = Schema.parse(text);
  return presentSnapshot(schema, decodeSnapshot(schema, null, 1, payload));
}
