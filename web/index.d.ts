// Types of tickwire-client (src/*.js). Hand-written; test/types.test.js
// checks them with `tsc --noEmit` against test/types-usage.ts, and checks
// that every name declared here is exported by src/index.js and back.

// ---- Schema ---------------------------------------------------------------

export declare const SCHEMA_FORMAT: 2;

/** What a connection is (`Welcome.role`, in this order on the wire): a player steers an entity, the others watch. */
export type Role = 'player' | 'spectator' | 'admin';
export declare const ROLES: readonly ['player', 'spectator', 'admin'];
/** The largest `max_len` of a string or list. */
export declare const MAX_LEN: 65535;

export type FieldType = 'bool' | 'int' | 'varint' | 'fixed' | 'angle' | 'quat' | 'enum' | 'string' | 'list';

/** One field of a kind, the input, a message or event type, or a list item, with what decoding needs precomputed. */
export interface Field {
  readonly name: string;
  readonly type: FieldType;
  /** Components: 1 for every type but int, varint, fixed. */
  readonly dims: number;
  /** `int`: min; `fixed`: qmin; `varint`: the 32-bit domain's. */
  readonly min: number;
  /** `int`: max; `fixed`: qmax; `varint`: the 32-bit domain's. */
  readonly max: number;
  readonly signed: boolean;
  readonly quantum: number;
  readonly bits: number;
  readonly steps: boolean;
  readonly variants: readonly string[];
  readonly predict: 'hold' | 'counter' | 'linear';
  /** `linear`: the index of the velocity field, else -1. */
  readonly velocity: number;
  readonly top: number;
  /** `string`: the most UTF-8 bytes; `list`: the most elements; 0 otherwise. */
  readonly maxLen: number;
  /** `list`: the record each element is; null otherwise. */
  readonly item: InputRecord | null;
}

export interface Kind {
  readonly name: string;
  readonly singleton: boolean;
  readonly fields: readonly Field[];
}

/** A record of fields: the input, or a list's item. */
export interface InputRecord {
  readonly name: string;
  readonly fields: readonly Field[];
}

/** A client message type or a server event type; its index is its number on the wire. */
export interface MessageType {
  readonly name: string;
  /** The roles that may send it: one or more for a message, none for an event. */
  readonly allow: readonly Role[];
  readonly fields: readonly Field[];
}

/** A validated schema (docs/PROTOCOL.md, "Schema"). */
export declare class Schema {
  private constructor(
    text: string,
    kinds: readonly Kind[],
    input: InputRecord,
    messages: readonly MessageType[],
    events: readonly MessageType[],
  );
  /** Parses and validates a schema's JSON text. @throws {SchemaError} */
  static parse(text: string): Schema;
  /** The JSON text the hash covers. */
  readonly text: string;
  /** FNV-1a 64 of the text, 16 lowercase hex digits. */
  readonly hash: string;
  readonly kinds: readonly Kind[];
  readonly input: InputRecord;
  /** What clients send besides inputs. */
  readonly messages: readonly MessageType[];
  /** What the server sends besides snapshots. */
  readonly events: readonly MessageType[];
  readonly enumKinds: boolean;
  readonly kindBits: number;
}

/** FNV-1a 64 of a string's UTF-8 bytes, 16 lowercase hex digits. */
export declare function fnv1a64(text: string): string;

// ---- Values and snapshots ---------------------------------------------------

/**
 * A field in game units: reals as f32 numbers, angles in radians, enums by
 * name, strings as strings, vectors and quaternions `[x, y, z, w]` as
 * arrays, lists as arrays of records.
 */
export type FieldValue = boolean | number | string | number[] | FieldRecord[];

/** A record's fields by name: a list element, a message's or an event's fields. */
export interface FieldRecord {
  [name: string]: FieldValue;
}

/** A game message or event as JSON (the Rust `GenericCodec`'s): its type's name and its fields. */
export interface GameMessage {
  type: string;
  fields: FieldRecord;
}

/** A message or event to encode: `fields` may be left out for a type without fields. */
export interface GameMessageInput {
  type: string;
  fields?: Readonly<Record<string, unknown>> | null;
}
export interface Entity {
  id: number;
  /** The kind's name. */
  kind: string;
  fields: Record<string, FieldValue>;
}

/** A decoded snapshot in game units; entities sorted by id. */
export interface Snapshot {
  tick: number;
  entities: Entity[];
}

export interface QuatGrid {
  largest: number;
  small: [number, number, number];
}

/** A field's value on its integer grid (a string as itself, a list as each element's grid values). */
export type GridValue = boolean | number | number[] | QuatGrid | string | GridValue[][];

export interface GridEntity {
  id: number;
  /** The kind's index in `schema.kinds`. */
  kind: number;
  fields: GridValue[];
}

/** A decoded snapshot on the grid: what later deltas decode against. */
export interface GridSnapshot {
  tick: number;
  entities: GridEntity[];
}

/** Decodes a snapshot payload against its baseline (null: a full snapshot). @throws {CodecError} */
export declare function decodeSnapshot(
  schema: Schema,
  baseline: GridSnapshot | null,
  tick: number,
  payload: Uint8Array,
): GridSnapshot;
export declare function presentSnapshot(schema: Schema, snapshot: GridSnapshot): Snapshot;
export declare function presentEntity(schema: Schema, entity: GridEntity): Entity;
export declare function predictEntity(schema: Schema, entity: GridEntity, ticks: number): GridEntity;
/** The bytes of an input given in game units. @throws {TypeError} */
export declare function encodeInput(schema: Schema, input: Readonly<Record<string, unknown>>): Uint8Array;
/** @throws {CodecError} */
export declare function decodeInput(schema: Schema, bytes: Uint8Array): Record<string, FieldValue>;
/** The bytes of a game message (what `Message` carries). @throws {MessageError} */
export declare function encodeMessage(schema: Schema, message: GameMessageInput): Uint8Array;
/** @throws {CodecError} naming the type and the field */
export declare function decodeMessage(schema: Schema, bytes: Uint8Array): GameMessage;
/** The bytes of a game event (for tests and tools). @throws {MessageError} */
export declare function encodeEvent(schema: Schema, event: GameMessageInput): Uint8Array;
/** An `Event` body or an `Ended` result as `{type, fields}`. @throws {CodecError} naming the type and the field */
export declare function decodeEvent(schema: Schema, bytes: Uint8Array): GameMessage;
/** The entity with this id, by binary search. */
export declare function findEntity<E extends { id: number }>(
  snapshot: { entities: readonly E[] },
  id: number,
): E | undefined;

// ---- Messages ---------------------------------------------------------------

export declare const PROTOCOL_VERSION: 1;
export declare const MAX_SERVER_MESSAGE: number;

export type ClientMsg =
  | { type: 'join'; version: number; resume: Uint8Array | null; lastEvent?: number }
  | { type: 'input'; seq: number; ack: number | null; input: Uint8Array }
  | { type: 'ack'; tick: number }
  | { type: 'ping'; clientTimeUs: bigint }
  | { type: 'message'; message: Uint8Array }
  /** An input meant for server tick `tick`: only its low 16 bits travel, the server restores the rest. */
  | { type: 'timedinput'; seq: number; ack: number | null; tick: number; /** sixteenths of a tick behind `tick` that the player's view was; 0 or absent: not stated */ view?: number; input: Uint8Array };

export interface Welcome {
  version: number;
  matchId: bigint;
  /** With auth, derived from the token's `sub` (its top bit set). */
  playerId: bigint;
  /** The entity this player steers. */
  entityId: number;
  tickRate: number;
  /** The match's newest tick at the join: every snapshot is after it. */
  tick: number;
  /** 16 secret bytes: the key to resume. */
  sessionToken: Uint8Array;
  /** 16 lowercase hex digits. */
  schemaHash: string;
  /** The schema text, unless the client stated its hash. */
  schema: string | null;
  /** 0 player, 1 spectator, 2 admin: only a player has an entity. */
  role: number;
}

export type ServerMsg =
  | { type: 'welcome'; welcome: Welcome }
  | { type: 'snapshot'; tick: number; baseline: number | null; payload: Uint8Array }
  | { type: 'pong'; clientTimeUs: bigint; serverTick: number }
  | { type: 'error'; code: ServerErrorCode; message: string }
  | { type: 'event'; seq: number; body: Uint8Array }
  | { type: 'eventsmissed'; first: number; last: number }
  | { type: 'ended'; seq: number; result: Uint8Array }
  /** How early timed inputs arrived over the last window: leads in tenths of a millisecond (negative: late). */
  | { type: 'inputtiming'; leadMin: number; leadMax: number; late: number };

export declare function encodeClientMsg(msg: ClientMsg): Uint8Array;
/** @throws {ProtocolError} */
export declare function decodeServerMsg(bytes: Uint8Array): ServerMsg;
export declare function tokenToHex(token: Uint8Array): string;
export declare function tokenFromHex(hex: string): Uint8Array | null;

// ---- Baselines, clock, interpolation -----------------------------------------

export declare const MAX_BASELINE_AGE: 16;

export declare class Baselines {
  /** @throws {MissingBaselineError} */
  find(tick: number, baseline: number | null): GridSnapshot | null;
  keep(baseline: number | null, snapshot: GridSnapshot): void;
  readonly newest: GridSnapshot | null;
  readonly size: number;
  clear(): void;
}

export declare class TickClock {
  constructor(tickRate: number);
  observe(tick: number, atMs: number): void;
  observeRtt(rttMs: number): void;
  readonly rttMs: number | null;
  readonly smoothedRttMs: number | null;
  arrivalTickAt(nowMs: number): number | null;
  serverTickAt(nowMs: number): number | null;
}

/** The next timed input: the server tick it is for, and when to sample and send it (ms, `performance.now()`). */
export interface InputDue {
  tick: number;
  at: number;
}

/**
 * When to send inputs so that they reach the server just before their ticks
 * (the Rust client's `InputClock`): fits the tick grid from snapshot arrivals,
 * starts one tick (or a round trip) ahead, and moves by the server's reports.
 * All times in milliseconds.
 */
export declare class InputClock {
  constructor(tickRate: number);
  /** Starts from a measured round trip instead of one tick (until the first report). */
  seedRtt(rttMs: number): void;
  onSnapshot(tick: number, atMs: number): void;
  /** A report: the least and most lead of its window (negative: late), and the late count. */
  onReport(leadMinMs: number, leadMaxMs: number, late: number): void;
  /** The first tick whose send time has not passed, after the last one sent; null before a snapshot. */
  due(nowMs: number): InputDue | null;
  /** The input for `tick` went out (or was skipped). */
  sent(tick: number): void;
  /** How long before a tick's snapshot arrives its input is sent. */
  readonly sendAheadMs: number;
  /** The lead the worst input of a window aims to keep: 0.75 ms plus half the smoothed spread, at most half a tick. */
  readonly marginMs: number;
  readonly reports: number;
  readonly tickMs: number;
}

export interface InterpolationOptions {
  /** How far behind the newest arrivals to render (2). */
  delayTicks?: number;
  /** How to blend quaternions ('slerp'). */
  quat?: 'slerp' | 'nlerp';
  /** Snapshots kept (64). */
  capacity?: number;
}

export declare class InterpolationBuffer {
  constructor(schema: Schema, options?: InterpolationOptions);
  delayTicks: number;
  readonly schema: Schema;
  push(snapshot: Snapshot): void;
  clear(): void;
  sample(tick: number): Snapshot | null;
}

export declare function lerp(a: number, b: number, t: number): number;
export declare function lerpAngle(a: number, b: number, t: number): number;
export declare function nlerp(a: readonly number[], b: readonly number[], t: number): number[];
export declare function slerp(a: readonly number[], b: readonly number[], t: number): number[];

// ---- Errors -------------------------------------------------------------------

export declare class TickwireError extends Error {}
export declare class SchemaError extends TickwireError {
  constructor(message: string);
}
export declare class CodecError extends TickwireError {
  constructor(reason: string, field?: string | null, where?: string | null);
  readonly reason: string;
  /** The field at fault (inside a list, a path: `ranking[1].score`), or null. */
  readonly field: string | null;
  /** The message or event type being read (`` event `Hit` ``), or null. */
  readonly where: string | null;
}
/** A game message this client cannot encode: no such type, a missing field, a value that does not fit, too large. */
export declare class MessageError extends TickwireError {
  constructor(message: string, messageType?: string | null, field?: string | null);
  readonly messageType: string | null;
  readonly field: string | null;
}
/** Something this connection's role may not do (a spectator's or an admin's input). */
export declare class RoleError extends TickwireError {
  constructor(role: Role, message: string);
  readonly role: Role;
}
export declare class ProtocolError extends TickwireError {}
export declare class MissingBaselineError extends TickwireError {
  constructor(tick: number, baseline: number);
  readonly tick: number;
  readonly baseline: number;
}
export declare class SchemaMismatchError extends TickwireError {
  constructor(expected: string, server: string);
  readonly expected: string;
  readonly server: string;
}
export declare class TimeoutError extends TickwireError {}
/** The socket did not open: the server is unreachable, or refused the upgrade without saying why. */
export declare class ConnectError extends TickwireError {}

export type RefusalCode =
  | 'bad_query'
  | 'bad_websocket_version'
  | 'missing_websocket_key'
  | 'bad_websocket_key'
  | 'bad_http_version'
  | 'bad_host'
  | 'unauthorized'
  | 'invalid_session'
  | 'origin_not_allowed'
  | 'match_not_allowed'
  | 'session_not_yours'
  | 'match_not_found'
  | 'nothing_to_watch'
  | 'match_full'
  | 'no_spectator_room'
  | 'already_connected'
  | 'schema_mismatch'
  | 'match_ended'
  | 'websocket_required'
  | 'too_many_connections'
  | 'server_full'
  | 'shutting_down'
  | 'too_many_matches';

export declare const REFUSALS: Readonly<Record<RefusalCode, { status: number; retryable: boolean }>>;

/**
 * The server refused the connection: with close code 4000 + `status` and the reason
 * `"<code>: <message>"` after the upgrade (the client asks for that with `?refusal=close`,
 * so browsers see it too), or with an HTTP error before it (seen only where the WebSocket
 * implementation exposes the response: Node's `ws`).
 */
export declare class RefusedError extends ConnectError {
  constructor(status: number, code: string, message: string);
  readonly status: number;
  /** A {@link RefusalCode}, or `http_error` for a body that is not the server's JSON. */
  readonly code: RefusalCode | (string & {});
  readonly serverMessage: string;
  readonly retryable: boolean;
  readonly sessionGone: boolean;
}

export declare const TAKEN_OVER: 4001;
/** The close code of a match that moved to another node; the reason is that node's URL. */
export declare const MOVED: 4002;

/** A close after the upgrade; 1006 is a connection lost without a close frame. */
export declare class ClosedError extends TickwireError {
  constructor(code: number, reason: string);
  readonly code: number;
  readonly reason: string;
  /** The seat is parked: `?resume=` can bring the player back. */
  readonly resumable: boolean;
  /** After the drain's 1001: how long to wait before joining again. */
  readonly retryAfterMs: number | null;
}
/** Close 4001: never reconnect automatically. */
export declare class TakenOverError extends ClosedError {}

export type ServerErrorCode =
  | 'UnsupportedVersion'
  | 'ExpectedJoin'
  | 'MatchUnavailable'
  | 'InvalidSession'
  | 'ShuttingDown'
  | 'Internal'
  | 'Denied';

export declare const ERROR_CODES: readonly ServerErrorCode[];

export declare class ServerError extends TickwireError {
  constructor(code: ServerErrorCode, message: string);
  readonly code: ServerErrorCode;
  readonly serverMessage: string;
}
export declare class ClientClosedError extends TickwireError {}

// ---- Events -------------------------------------------------------------------

export declare class SnapshotEvent extends Event {
  constructor(snapshot: Snapshot, baseline: number | null, bytes: number);
  readonly type: 'snapshot';
  readonly snapshot: Snapshot;
  /** The tick it was a delta against; null for a full snapshot. */
  readonly baseline: number | null;
  readonly bytes: number;
}
export declare class PongEvent extends Event {
  constructor(rttMs: number, serverTick: number);
  readonly type: 'pong';
  readonly rttMs: number;
  readonly serverTick: number;
}
export declare class DisconnectEvent extends Event {
  constructor(error: TickwireError, willResume: boolean);
  readonly type: 'disconnect';
  readonly error: TickwireError;
  readonly willResume: boolean;
}
export declare class ResumedEvent extends Event {
  constructor(welcome: Welcome, attempts: number);
  readonly type: 'resumed';
  readonly welcome: Welcome;
  readonly attempts: number;
}
export declare class SessionLostEvent extends Event {
  constructor(error: TickwireError);
  readonly type: 'sessionlost';
  readonly error: TickwireError;
}
export declare class ServerErrorEvent extends Event {
  constructor(error: ServerError);
  readonly type: 'servererror';
  readonly error: ServerError;
}
export declare class ClientCloseEvent extends Event {
  constructor(error: TickwireError | null);
  readonly type: 'close';
  /** Null when the owner closed the client. */
  readonly error: TickwireError | null;
}

/** `event`: one of the game's events. (`type` is the DOM event's, `'event'`: the game's is `name`.) */
export declare class GameEvent extends Event {
  constructor(seq: number, event: GameMessage);
  readonly type: 'event';
  /** 1 for the session's first event, then one more each, across resumes too. */
  readonly seq: number;
  /** `{type, fields}`, as the Rust `GenericCodec` gives it. */
  readonly event: GameMessage;
  /** The event type's name. */
  readonly name: string;
  readonly fields: FieldRecord;
}
/** `eventsmissed`: the session's events `first..=last` are lost. */
export declare class EventsMissedEvent extends Event {
  constructor(first: number, last: number);
  readonly type: 'eventsmissed';
  readonly first: number;
  readonly last: number;
}
/** `ended`: the match ended with this result; the close follows. */
export declare class EndedEvent extends Event {
  constructor(seq: number, result: GameMessage);
  readonly type: 'ended';
  readonly seq: number;
  readonly result: GameMessage;
}
/** `denied`: the server refused a game message (or a spectator's input); the connection goes on. */
export declare class DeniedEvent extends Event {
  constructor(message: string);
  readonly type: 'denied';
  /** The server's text: `<Type>: <reason>`. */
  readonly message: string;
  /** The refused message's type, from the text; null when it names none. */
  readonly messageType: string | null;
  readonly reason: string;
}

/** `inputtiming`: the server's report on this client's timed inputs (every half second while they come). */
export declare class InputTimingEvent extends Event {
  constructor(leadMinMs: number, leadMaxMs: number, late: number, bytes: number);
  readonly type: 'inputtiming';
  /** The least time from an input's arrival to the start of its tick, in ms (negative: late). */
  readonly leadMinMs: number;
  /** The most. */
  readonly leadMaxMs: number;
  /** How many inputs of the window came after their tick had begun. */
  readonly late: number;
  readonly bytes: number;
}

/** `notice`: a notice from the server's operators (a cluster-wide broadcast). */
export declare class NoticeEvent extends Event {
  constructor(text: string);
  readonly type: 'notice';
  readonly text: string;
}

/** `moved`: the match moved to another node (close 4002); the client resumes there by itself. */
export declare class MovedEvent extends Event {
  constructor(url: string);
  readonly type: 'moved';
  /** The node's WebSocket URL, where the client reconnects from now on. */
  readonly url: string;
}

export interface ClientEventMap {
  snapshot: SnapshotEvent;
  event: GameEvent;
  eventsmissed: EventsMissedEvent;
  ended: EndedEvent;
  denied: DeniedEvent;
  pong: PongEvent;
  inputtiming: InputTimingEvent;
  notice: NoticeEvent;
  moved: MovedEvent;
  disconnect: DisconnectEvent;
  resumed: ResumedEvent;
  sessionlost: SessionLostEvent;
  servererror: ServerErrorEvent;
  close: ClientCloseEvent;
}

// ---- Client -------------------------------------------------------------------

export type WebSocketConstructor = new (url: string) => WebSocket;

export interface SchemaCache {
  get(hash: string): string | null | undefined;
  set(hash: string, text: string): void;
}

export interface ReconnectOptions {
  /** How long to keep trying to resume: the server's reconnect grace (10 s). */
  resumeWindowMs?: number;
  /** The wait after the first failed attempt, doubled after each (100 ms). */
  initialBackoffMs?: number;
  /** The longest wait between attempts (2 s). */
  maxBackoffMs?: number;
}

/** What resuming takes: keep it (e.g. in sessionStorage) to come back after a reload. */
export interface Session {
  token: string;
  nextSeq: number;
  /** The newest event `seq` received (0 or absent: none): the server resends only later ones. */
  lastEvent?: number;
}

export interface ConnectOptions {
  /** The WebSocket implementation (the global one by default). */
  WebSocket?: WebSocketConstructor;
  /** An auth token (JWT), sent as `?token=`; a function is asked again on every reconnect. */
  token?: string | (() => string | Promise<string>);
  /** The match to join. */
  match?: number | bigint | string;
  /** Join the fullest open match with room (the default without `match`). */
  quickJoin?: boolean;
  /** Come back to a session instead of joining. */
  resume?: Session;
  /** A seat in a cluster, from `matchmake` (`?ticket=`): the first join uses it, never a resume. */
  ticket?: string;
  /** Watch instead of play (`?spectate=1`): no entity, no inputs. */
  spectate?: boolean;
  /** A schema text this client has: its hash is stated, `Welcome` leaves the text out. */
  schema?: string;
  /** The schema hash this client expects (16 hex digits). */
  schemaHash?: string;
  /** Schema texts by hash: read for `schemaHash`, written with every new schema. */
  schemaCache?: SchemaCache;
  /** Resume by itself after a lost connection (on by default). */
  reconnect?: boolean | ReconnectOptions;
  /** The time for the upgrade and `Welcome` (10 s). */
  connectTimeoutMs?: number;
  /** How often to measure the round trip; 0 never (1 s). */
  pingIntervalMs?: number;
  /** How long a decoded tick waits for an input to carry its ack (0). */
  ackDelayMs?: number;
  /** Inputs beyond this rate are not sent (60, the server's default limit). */
  maxInputsPerSecond?: number;
  /** Game messages beyond this rate are not sent (10, the server's default limit). */
  maxMessagesPerSecond?: number;
  /** The largest `Message` frame the server takes (512); a larger one is a MessageError here, not a close 1009. */
  maxMessageBytes?: number;
  interpolation?: InterpolationOptions;
  /** The clock in milliseconds (`performance.now`). */
  now?: () => number;
}

/** Connects and joins (or resumes); resolves once `Welcome` has arrived. */
export declare function connect(url: string, options?: ConnectOptions): Promise<Client>;

/** Where to play in a cluster: the answer of a node's `POST /v1/matchmake`. */
export interface Offer {
  /** The WebSocket URL of the node to play on. */
  url: string;
  /** The seat there, for `ConnectOptions.ticket`: single-use and short-lived. */
  ticket: string;
  /** The match it seats the player in (null: a new match, opened by the ticket). */
  matchId: string | null;
  node?: string;
}

/**
 * Asks a node of a cluster where to play; then `connect(offer.url, { ticket: offer.ticket })`.
 * A refusal is a `RefusedError` (503 `cluster_unavailable` while Redis is down, say).
 */
export declare function matchmake(
  origin: string,
  options?: { match?: number | bigint | string; game?: string; fetch?: typeof fetch },
): Promise<Offer>;

export declare class Client extends EventTarget {
  private constructor();
  /** Settles when the client is done, with the error that ended it (null: closed by its owner). */
  readonly closed: Promise<TickwireError | null>;
  readonly state: 'connecting' | 'open' | 'reconnecting' | 'closed';
  readonly welcome: Welcome;
  readonly schema: Schema;
  /** 0 for a spectator or an admin. */
  readonly entityId: number;
  readonly role: Role;
  /** The newest event `seq` received in this session (0: none). */
  readonly lastEvent: number;
  readonly session: Session;
  /** The newest decoded snapshot; null before the first. */
  readonly world: Snapshot | null;
  readonly ownEntity: Entity | undefined;
  readonly rttMs: number | null;
  readonly smoothedRttMs: number | null;
  /** Sends an input; its seq, or null when not sent (resuming, or over the input rate). @throws {RoleError} for a watcher */
  sendInput(input: Readonly<Record<string, unknown>>): number | null;
  /** The next timed input's tick and send time (ms, `performance.now()`); null before this connection's first snapshot. */
  inputDue(): InputDue | null;
  /** Sends an input meant for server tick `tick` (from `inputDue`); its seq, or null when not sent. @throws {RoleError} for a watcher */
  sendTimedInput(tick: number, input: Readonly<Record<string, unknown>>): number | null;
  /**
   * Samples and sends one timed input per tick with a timer: `sample(due)` is called
   * about a millisecond before `due.at` (timer precision: ~1 ms, 4 ms when nested,
   * a second in a background tab); null or undefined sends nothing for that tick.
   * @throws {RoleError} for a watcher
   */
  startTimedInputs(sample: (due: InputDue) => Readonly<Record<string, unknown>> | null | undefined): void;
  stopTimedInputs(): void;
  /** This connection's input clock; null before the first Welcome. */
  readonly inputClock: InputClock | null;
  /**
   * Sends a game message; false when not sent (resuming, or over the message rate).
   * A refusal by the server is a `denied` event. @throws {MessageError}
   */
  send(type: string, fields?: Readonly<Record<string, unknown>> | null): boolean;
  /** Leaves the match (the entity is removed at once; no resume). */
  close(): void;
  serverTick(nowMs?: number): number | null;
  renderTick(nowMs?: number): number | null;
  /** The world to draw now: remote entities blended `delayTicks` behind the newest arrivals. */
  interpolated(nowMs?: number): Snapshot | null;

  addEventListener<K extends keyof ClientEventMap>(
    type: K,
    listener: (this: Client, event: ClientEventMap[K]) => void,
    options?: boolean | AddEventListenerOptions,
  ): void;
  addEventListener(
    type: string,
    listener: EventListenerOrEventListenerObject | null,
    options?: boolean | AddEventListenerOptions,
  ): void;
  removeEventListener<K extends keyof ClientEventMap>(
    type: K,
    listener: (this: Client, event: ClientEventMap[K]) => void,
    options?: boolean | EventListenerOptions,
  ): void;
  removeEventListener(
    type: string,
    listener: EventListenerOrEventListenerObject | null,
    options?: boolean | EventListenerOptions,
  ): void;
}
