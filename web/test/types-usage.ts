// Compiled by `tsc --noEmit` (test/types.test.js), never run: the package's
// types as a game would use them, through the package's own name.

import {
  connect,
  ClosedError,
  MessageError,
  RefusedError,
  RoleError,
  Schema,
  decodeEvent,
  encodeMessage,
  TakenOverError,
  decodeSnapshot,
  presentSnapshot,
  InputClock,
  type Client,
  type Entity,
  type FieldValue,
  type GameMessage,
  type InputDue,
  type Role,
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

export async function chat(url: string): Promise<void> {
  const client = await connect(url, { spectate: true, maxMessagesPerSecond: 5 });
  const role: Role = client.role;
  client.addEventListener('event', (e) => {
    const seq: number = e.seq;
    const name: string = e.name;
    const said: GameMessage = e.event;
    if (name === 'Chat') console.log(seq, e.fields.text, said.fields.entity);
  });
  client.addEventListener('eventsmissed', (e) => console.log(e.first, e.last));
  client.addEventListener('ended', (e) => console.log(e.seq, e.result.type, e.result.fields));
  client.addEventListener('denied', (e) => console.log(e.messageType, e.reason, e.message));
  try {
    const sent: boolean = client.send('Chat', { text: 'hi' });
    client.send('Ready');
    if (role !== 'player') client.sendInput({});
    void sent;
  } catch (e) {
    if (e instanceof MessageError) console.log(e.messageType, e.field);
    else if (e instanceof RoleError) console.log(e.role);
  }
  const stored: number | undefined = client.session.lastEvent;
  void [stored, client.lastEvent];
}

export function tools(text: string, body: Uint8Array): GameMessage {
  const schema = Schema.parse(text);
  const bytes: Uint8Array = encodeMessage(schema, { type: 'Kick', fields: { entity: 70 } });
  void bytes;
  for (const t of schema.messages) console.log(t.name, t.allow, t.fields.length);
  return decodeEvent(schema, body);
}

export async function timed(url: string): Promise<void> {
  const client = await connect(url);
  const stick = { move_x: 0, move_y: 0, aim: 0, buttons: 0 };
  client.startTimedInputs((due: InputDue) => (due.tick % 2 === 0 ? stick : null));
  client.addEventListener('inputtiming', (e) => console.log(e.leadMinMs.toFixed(1), e.leadMaxMs, e.late));
  const due: InputDue | null = client.inputDue();
  if (due) {
    const seq: number | null = client.sendTimedInput(due.tick, stick);
    void [seq, due.at];
  }
  const clock: InputClock | null = client.inputClock;
  const ahead: number | undefined = clock?.sendAheadMs;
  void [ahead, clock?.marginMs, new InputClock(30).due(performance.now())];
  client.stopTimedInputs();
}
