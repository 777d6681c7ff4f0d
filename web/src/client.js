// @ts-check
/**
 * The client: one player (or watcher) in one match, over the WebSocket API
 * of browsers (and of Node, given a constructor). It joins, takes the game's
 * schema from `Welcome` (or states one it has), decodes every snapshot
 * against the baseline it kept, acknowledges each decoded tick, sends inputs
 * and game messages, decodes game events, measures the round trip, times
 * inputs to the server's ticks, and comes back by itself after a lost
 * connection, asking only for the events it has not had (docs/PROTOCOL.md,
 * "Connecting", "Resuming", "Messages and events", "Input timing",
 * "Acknowledgements and baselines").
 *
 * The wire rules it keeps, because breaking them costs the player its seat:
 * acknowledge only ticks received on the current connection; drop every
 * baseline on reconnecting; keep input `seq` increasing across resumes;
 * never reconnect after close 4001 (a newer connection took the seat); stay
 * under the server's input rate (a sustained flood is closed).
 * @module
 */

import { Baselines } from './baselines.js';
import { decodeEvent, decodeSnapshot, encodeInput, encodeMessage, findEntity, presentSnapshot } from './codec.js';
import {
  ClientClosedError,
  ClosedError,
  ConnectError,
  MessageError,
  ProtocolError,
  RefusedError,
  RoleError,
  SchemaError,
  SchemaMismatchError,
  ServerError,
  TakenOverError,
  TickwireError,
  TimeoutError,
  MOVED,
  closedError,
  refusalFromClose,
} from './errors.js';
import {
  ClientCloseEvent,
  DeniedEvent,
  DisconnectEvent,
  EndedEvent,
  EventsMissedEvent,
  GameEvent,
  InputTimingEvent,
  MovedEvent,
  NoticeEvent,
  PongEvent,
  ResumedEvent,
  ServerErrorEvent,
  SessionLostEvent,
  SnapshotEvent,
} from './events.js';
import { InterpolationBuffer } from './interpolation.js';
import { PROTOCOL_VERSION, decodeServerMsg, encodeClientMsg, tokenFromHex, tokenToHex } from './messages.js';
import { ROLES, Schema } from './schema.js';
import { InputClock, TickClock } from './clock.js';

/** @typedef {import('./messages.js').Welcome} Welcome */
/** @typedef {import('./messages.js').ClientMsg} ClientMsg */
/** @typedef {import('./codec.js').Snapshot} Snapshot */
/** @typedef {import('./codec.js').Entity} Entity */
/** @typedef {import('./interpolation.js').InterpolationOptions} InterpolationOptions */
/** @typedef {import('./clock.js').InputDue} InputDue */

/**
 * What a WebSocket constructor must offer: the browser API.
 * @typedef {new (url: string) => WebSocket} WebSocketConstructor
 */

/**
 * Where schema texts are kept between connections (e.g. over `localStorage`).
 * @typedef {object} SchemaCache
 * @property {(hash: string) => string | null | undefined} get
 * @property {(hash: string, text: string) => void} set
 */

/**
 * @typedef {object} ReconnectOptions
 * @property {number} [resumeWindowMs] how long to keep trying to resume: the server's reconnect grace (10 s)
 * @property {number} [initialBackoffMs] the wait after the first failed attempt, doubled after each (100 ms)
 * @property {number} [maxBackoffMs] the longest wait between attempts (2 s)
 */

/**
 * A session to resume, from {@link Client.session} (kept, say, in `sessionStorage` across a page reload):
 * its token, the next input `seq`, and the newest event `seq` received (0: none; the server sends only later ones).
 * @typedef {{token: string, nextSeq: number, lastEvent?: number}} Session
 */

/** @typedef {import('./schema.js').Role} Role */

/**
 * @typedef {object} ConnectOptions
 * @property {WebSocketConstructor} [WebSocket] the WebSocket implementation (the global one by default)
 * @property {string | (() => string | Promise<string>)} [token] an auth token (JWT), sent as `?token=`; a function is asked again on every reconnect
 * @property {number | bigint | string} [match] the match to join (`?match=`)
 * @property {boolean} [quickJoin] join the fullest open match with room: the default without `match`; drops any `match=` from the URL
 * @property {Session} [resume] come back to a session instead of joining
 * @property {string} [ticket] a seat in a cluster, from {@link matchmake} (`?ticket=`): the first join uses it, never a resume
 * @property {boolean} [spectate] watch instead of play (`?spectate=1`): no entity, no inputs; snapshots, events and the messages the schema allows spectators
 * @property {string} [schema] a schema text this client already has: its hash is stated (`?schema=`), `Welcome` leaves the text out, another game is refused
 * @property {string} [schemaHash] the schema (16 hex digits) this client expects; another is a {@link SchemaMismatchError}
 * @property {SchemaCache} [schemaCache] schema texts by hash, read for `schemaHash` and written on every new schema
 * @property {boolean | ReconnectOptions} [reconnect] resume by itself after a lost connection (on by default)
 * @property {number} [connectTimeoutMs] the time for the upgrade and `Welcome` (10 s)
 * @property {number} [pingIntervalMs] how often to measure the round trip; 0 never (1 s)
 * @property {number} [ackDelayMs] how long a decoded tick waits for an input to carry its ack before a separate `Ack` goes (0: right after the `snapshot` listeners ran)
 * @property {number} [maxInputsPerSecond] inputs beyond this rate are not sent (the server's limit, 60)
 * @property {number} [maxMessagesPerSecond] game messages beyond this rate are not sent (the server's limit, 10)
 * @property {number} [maxMessageBytes] the largest `Message` frame the server takes (512): a larger one is refused here, as the server would close with 1009
 * @property {InterpolationOptions} [interpolation]
 * @property {() => number} [now] the clock in milliseconds (`performance.now`)
 */

/**
 * What the handshake brings: a socket past `Welcome`, and what came after
 * it before the client listened (`stopKeeping` hands it over, once).
 * @typedef {{ws: WebSocket, welcome: Welcome, schema: Schema, stopKeeping: () => Event[]}} Opened
 */

/** Only {@link connect} makes clients: a client is always past its first `Welcome`. */
const CONSTRUCT = Symbol('Client.construct');

/** The close code a client may send from a browser for a normal goodbye. */
const NORMAL_CLOSURE = 1000;

/** How long a client keeps trying to resume at the node its match moved to (5 s at least). */
const MOVE_WINDOW_MS = 5_000;

/**
 * The node a `MOVED` close names (its reason: a `ws://` or `wss://` URL), or
 * null for anything else.
 * @param {string} reason
 */
function movedTo(reason) {
  try {
    const url = new URL(reason);
    return url.protocol === 'ws:' || url.protocol === 'wss:' ? url.href : null;
  } catch {
    return null;
  }
}

/**
 * @typedef {object} Offer
 * @property {string} url the WebSocket URL of the node to play on
 * @property {string} ticket the seat there, for {@link ConnectOptions.ticket}: single-use and short-lived
 * @property {string | null} matchId the match it seats the player in (null: a new match, opened by the ticket)
 * @property {string} [node] that node's id
 */

/**
 * Asks a node of a cluster where to play (`POST /v1/matchmake`, docs/CLUSTER.md):
 * the node holding `match`, else the fullest open match in the cluster, else a
 * new match on the least loaded node. Connect with the answer:
 * `connect(offer.url, { ticket: offer.ticket })`. A browser cannot follow the
 * HTTP 307 a full node answers a plain quick-join with; this is its way in.
 * @param {string} origin the node's `http(s)://host:port`
 * @param {{match?: number | bigint | string, game?: string, fetch?: typeof fetch}} [options]
 * @returns {Promise<Offer>}
 */
export async function matchmake(origin, options = {}) {
  const body = {};
  if (options.match !== undefined) body.match_id = Number(options.match);
  if (options.game !== undefined) body.game = options.game;
  const doFetch = options.fetch ?? fetch;
  const res = await doFetch(new URL('/v1/matchmake', origin).href, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  const json = await res.json().catch(() => null);
  if (!res.ok) {
    const err = json?.error ?? {};
    throw new RefusedError(res.status, err.code ?? 'unknown', err.message ?? res.statusText);
  }
  if (typeof json?.url !== 'string' || typeof json?.ticket !== 'string') {
    throw new ProtocolError('matchmake answered without a url and a ticket');
  }
  const matchId = json.match_id === null || json.match_id === undefined ? null : String(json.match_id);
  return { url: json.url, ticket: json.ticket, matchId, node: json.node };
}

/**
 * How much earlier than an input's send time its timer is set, in ms:
 * timers fire late (by about a millisecond, more under load), never early.
 */
const TIMER_EARLY_MS = 1;

/**
 * Connects to a tickwire server and joins (or resumes): resolves once
 * `Welcome` has arrived and the schema is known.
 * @param {string} url the server's `/ws` URL: `ws://host:7777/ws`, `wss://...`, or a path in a browser page
 * @param {ConnectOptions} [options]
 * @returns {Promise<Client>}
 */
export async function connect(url, options = {}) {
  const client = new Client(CONSTRUCT, url, options);
  await client._start();
  return client;
}

/**
 * @param {string} url
 * @returns {URL}
 */
function wsUrl(url) {
  const base = /** @type {{location?: {href: string}}} */ (globalThis).location?.href;
  const u = new URL(url, base);
  if (u.protocol === 'http:') u.protocol = 'ws:';
  else if (u.protocol === 'https:') u.protocol = 'wss:';
  return u;
}

/** @param {unknown} e */
function asError(e) {
  if (e instanceof TickwireError) return e;
  return new ConnectError(e instanceof Error ? e.message : String(e), { cause: e });
}

/**
 * Whether the server no longer knows the session: resuming cannot work.
 * @param {unknown} e
 */
function isSessionGone(e) {
  return (
    (e instanceof RefusedError && e.sessionGone) || (e instanceof ServerError && e.code === 'InvalidSession')
  );
}

/**
 * Whether trying again cannot help: another attempt would fail the same way.
 * @param {unknown} e
 */
function isFinal(e) {
  return (
    e instanceof TakenOverError ||
    e instanceof SchemaError ||
    e instanceof SchemaMismatchError ||
    e instanceof ProtocolError ||
    (e instanceof RefusedError && !e.retryable) ||
    (e instanceof ClosedError && !e.resumable)
  );
}

/**
 * Opens a WebSocket, sends `Join` and waits for the first server message.
 * A refusal is a {@link RefusedError}: the server, asked with
 * `?refusal=close`, upgrades and closes at once with 4000 + the HTTP status;
 * an older server refuses the upgrade itself, which only Node's `ws` package
 * reports (a browser says nothing but that the socket failed).
 * @param {WebSocketConstructor} Impl
 * @param {string} url
 * @param {Uint8Array | null} resume
 * @param {number} lastEvent the newest event received in the resumed session (0: none)
 * @param {number} timeoutMs
 * @returns {Promise<{ws: WebSocket, welcome: Welcome, stopKeeping: () => Event[]}>}
 */
function handshake(Impl, url, resume, lastEvent, timeoutMs) {
  return new Promise((resolve, reject) => {
    /** @type {WebSocket} */
    let ws;
    try {
      ws = new Impl(url);
    } catch (e) {
      reject(new ConnectError(`cannot open ${url}: ${e instanceof Error ? e.message : e}`, { cause: e }));
      return;
    }
    ws.binaryType = 'arraybuffer';
    let opened = false;
    const detach = () => {
      clearTimeout(timer);
      ws.removeEventListener('open', onOpen);
      ws.removeEventListener('message', onMessage);
      ws.removeEventListener('close', onClose);
      ws.removeEventListener('error', onError);
    };
    /** @param {TickwireError} error */
    const fail = (error) => {
      detach();
      try {
        ws.close(NORMAL_CLOSURE);
      } catch {
        // Closing a socket that never opened may throw in some implementations; it is gone either way.
      }
      reject(error);
    };
    const timer = setTimeout(() => fail(new TimeoutError(`no Welcome within ${timeoutMs} ms`)), timeoutMs);
    const onOpen = () => {
      opened = true;
      ws.send(encodeClientMsg({ type: 'join', version: PROTOCOL_VERSION, resume, lastEvent }));
    };
    /** @param {MessageEvent} ev */
    const onMessage = (ev) => {
      let msg;
      try {
        if (!(ev.data instanceof ArrayBuffer)) throw new ProtocolError('the server sent a text frame');
        msg = decodeServerMsg(new Uint8Array(ev.data));
      } catch (e) {
        fail(asError(e));
        return;
      }
      if (msg.type === 'welcome') {
        detach();
        // What follows Welcome (a resume's replayed events, the first
        // snapshot, a close) may be dispatched before the client listens:
        // undici fires every frame of one read in a row. Keep it until then.
        /** @type {Event[]} */
        const early = [];
        const keep = (/** @type {Event} */ e) => early.push(e);
        ws.addEventListener('message', keep);
        ws.addEventListener('close', keep);
        const stopKeeping = () => {
          ws.removeEventListener('message', keep);
          ws.removeEventListener('close', keep);
          return early;
        };
        resolve({ ws, welcome: msg.welcome, stopKeeping });
      } else if (msg.type === 'error') {
        fail(new ServerError(msg.code, msg.message));
      } else {
        fail(new ProtocolError(`expected Welcome, got ${msg.type}`));
      }
    };
    // A server that knows `refusal=close` upgrades to refuse, so this is
    // mostly an unreachable one; an older server's refusal looks the same here.
    const notOpened = () =>
      new ConnectError(
        `the WebSocket to ${url} did not open: the server is unreachable, or refused the upgrade without saying why`,
      );
    /** @param {CloseEvent} ev */
    const onClose = (ev) => {
      fail(opened ? (refusalFromClose(ev.code, ev.reason) ?? closedError(ev.code, ev.reason)) : notOpened());
    };
    // A socket that never opened: browsers follow the error with a close, but
    // Node 20's WebSocket (undici) may fire only the error, so it ends the attempt.
    const onError = () => {
      if (!opened) fail(notOpened());
    };
    ws.addEventListener('open', onOpen);
    ws.addEventListener('message', onMessage);
    ws.addEventListener('close', onClose);
    ws.addEventListener('error', onError);
    listenForRefusal(ws, fail);
  });
}

/**
 * Node's `ws` package hands a refused upgrade's HTTP response to an
 * `unexpected-response` listener: its status and JSON body make a typed
 * refusal. Other implementations (browsers, Node's global WebSocket) do not
 * expose it, and this does nothing.
 * @param {WebSocket} ws
 * @param {(error: TickwireError) => void} fail
 */
function listenForRefusal(ws, fail) {
  const emitter = /** @type {{on?: Function, terminate?: Function}} */ (/** @type {unknown} */ (ws));
  if (typeof emitter.on !== 'function') return;
  emitter.on('unexpected-response', (/** @type {unknown} */ _req, /** @type {any} */ res) => {
    /** @type {Uint8Array[]} */
    const chunks = [];
    let size = 0;
    res.on('data', (/** @type {Uint8Array} */ chunk) => {
      // A refusal body is a short JSON object; anything larger is not one.
      if (size < 16384) chunks.push(chunk);
      size += chunk.length;
    });
    res.on('end', () => {
      const text = new TextDecoder().decode(concat(chunks));
      let code = 'http_error';
      let message = text;
      try {
        const body = JSON.parse(text);
        code = String(body.error.code);
        message = String(body.error.message);
      } catch {
        // Not the server's JSON (a proxy's page): keep the status and the raw body.
      }
      fail(new RefusedError(res.statusCode, code, message));
      emitter.terminate?.();
    });
  });
}

/** @param {Uint8Array[]} chunks */
function concat(chunks) {
  const out = new Uint8Array(chunks.reduce((n, c) => n + c.length, 0));
  let at = 0;
  for (const c of chunks) {
    out.set(c, at);
    at += c.length;
  }
  return out;
}

/**
 * A connected player (or spectator, or admin). Made by {@link connect}; its
 * events are `snapshot`, `event`, `eventsmissed`, `ended`, `denied`, `pong`,
 * `inputtiming`, `disconnect`, `resumed`, `sessionlost`, `servererror` and
 * `close` (see events.js).
 */
export class Client extends EventTarget {
  #url;
  #options;
  /** @type {WebSocketConstructor} */
  #WebSocket;
  /** @type {Required<ReconnectOptions> | null} */
  #reconnect;
  #now;

  /** @type {'connecting' | 'open' | 'reconnecting' | 'closed'} */
  #state = 'connecting';
  /** @type {WebSocket | null} */
  #ws = null;
  /** @type {Welcome | null} */
  #welcome = null;
  /** @type {Schema | null} */
  #schema = null;
  #baselines = new Baselines();
  /** @type {Snapshot | null} */
  #world = null;
  /** @type {InterpolationBuffer | null} */
  #interpolation = null;
  /** @type {TickClock | null} */
  #clock = null;
  /** Fits this connection's tick grid, for timed inputs. @type {InputClock | null} */
  #inputClock = null;
  /** What {@link startTimedInputs} samples; null when it is off. @type {((due: InputDue) => Readonly<Record<string, unknown>> | null | undefined) | null} */
  #sampleInput = null;
  /** The timer of the next timed input. @type {ReturnType<typeof setTimeout> | null} */
  #inputTimer = null;

  #nextSeq = 1;
  /** The newest event `seq` of this session: a resume states it, so the server sends only later ones. */
  #lastEvent = 0;
  /** The newest decoded tick not yet acknowledged on this connection. @type {number | null} */
  #unacked = null;
  /** @type {ReturnType<typeof setTimeout> | null} */
  #ackTimer = null;
  /** @type {ReturnType<typeof setInterval> | null} */
  #pingTimer = null;
  /** Send times of the inputs of the last second, oldest first. @type {number[]} */
  #inputTimes = [];
  /** Send times of the game messages of the last second, oldest first. @type {number[]} */
  #messageTimes = [];
  /** An `Error` message whose close frame has not arrived yet. @type {ServerError | null} */
  #serverError = null;
  /** Wakes a reconnect backoff early when the owner closes the client. @type {(() => void) | null} */
  #wake = null;

  /** @type {(error: TickwireError | null) => void} */
  #resolveClosed = () => {};
  /**
   * Settles when the client is done, with the error that ended it (null when its owner closed it).
   * @type {Promise<TickwireError | null>}
   */
  closed = new Promise((resolve) => {
    this.#resolveClosed = resolve;
  });

  /**
   * @param {symbol} construct
   * @param {string} url
   * @param {ConnectOptions} options
   */
  constructor(construct, url, options) {
    super();
    if (construct !== CONSTRUCT) throw new TypeError('use connect() to make a Client');
    if (options.match !== undefined && options.quickJoin) {
      throw new TypeError('`match` and `quickJoin` exclude each other');
    }
    const Impl = options.WebSocket ?? /** @type {{WebSocket?: WebSocketConstructor}} */ (globalThis).WebSocket;
    if (!Impl) {
      throw new TypeError(
        'no WebSocket implementation: pass `WebSocket` in the options (Node 20: run with --experimental-websocket, or use the `ws` package)',
      );
    }
    this.#WebSocket = Impl;
    this.#url = wsUrl(url);
    this.#options = options;
    const r = options.reconnect ?? true;
    this.#reconnect =
      r === false
        ? null
        : {
            resumeWindowMs: 10_000,
            initialBackoffMs: 100,
            maxBackoffMs: 2_000,
            ...(r === true ? {} : r),
          };
    this.#now = options.now ?? (() => performance.now());
    if (options.resume) {
      this.#nextSeq = options.resume.nextSeq;
      this.#lastEvent = options.resume.lastEvent ?? 0;
    }
  }

  /**
   * The first join (or resume). Internal: {@link connect} calls it.
   * @returns {Promise<void>}
   */
  async _start() {
    const resume = this.#options.resume ? tokenFromHex(this.#options.resume.token) : null;
    if (this.#options.resume && !resume) throw new TypeError('`resume.token` must be 32 hex digits');
    const opened = await this.#open(resume);
    this.#adopt(opened);
  }

  /**
   * One attempt: the URL for this join or resume, the handshake, the schema.
   * @param {Uint8Array | null} resume
   * @returns {Promise<Opened>}
   */
  async #open(resume) {
    const o = this.#options;
    const url = new URL(this.#url);
    const stated = this.#statedSchema();
    if (resume) {
      // The token names the match; a `match` would be ignored.
      url.searchParams.delete('match');
      url.searchParams.set('resume', tokenToHex(resume));
    } else if (o.match !== undefined) {
      url.searchParams.set('match', String(o.match));
    } else if (o.quickJoin) {
      url.searchParams.delete('match');
    }
    // A ticket seats one new player once; a resume (here or after a move) needs none.
    if (o.ticket !== undefined && !resume) url.searchParams.set('ticket', o.ticket);
    else url.searchParams.delete('ticket');
    // A resumed session keeps its role; a new one watches when asked to.
    if (o.spectate && !resume) url.searchParams.set('spectate', '1');
    if (o.token !== undefined) {
      url.searchParams.set('token', typeof o.token === 'function' ? await o.token() : o.token);
    }
    if (stated) url.searchParams.set('schema', stated.hash);
    // Browsers hide a refused upgrade's status: ask for the refusal as a close code instead.
    url.searchParams.set('refusal', 'close');
    const timeout = o.connectTimeoutMs ?? 10_000;
    const lastEvent = resume ? this.#lastEvent : 0;
    const { ws, welcome, stopKeeping } = await handshake(this.#WebSocket, url.href, resume, lastEvent, timeout);
    try {
      if (ROLES[welcome.role] === undefined) throw new ProtocolError(`Welcome names an unknown role ${welcome.role}`);
      return { ws, welcome, schema: this.#schemaOf(welcome, stated), stopKeeping };
    } catch (e) {
      ws.close(NORMAL_CLOSURE);
      throw e;
    }
  }

  /**
   * The schema whose hash the next connection states: the one already in
   * use, the one given, or the expected one from the cache.
   * @returns {Schema | null}
   */
  #statedSchema() {
    if (this.#schema) return this.#schema;
    const o = this.#options;
    const text = o.schema ?? (o.schemaHash ? o.schemaCache?.get(o.schemaHash) : null);
    if (!text) return null;
    const schema = Schema.parse(text);
    if (o.schemaHash && schema.hash !== o.schemaHash.toLowerCase()) {
      throw new SchemaMismatchError(o.schemaHash, schema.hash);
    }
    return schema;
  }

  /**
   * The schema `Welcome` stands for: its text, checked against its hash, or
   * the one this client stated.
   * @param {Welcome} welcome
   * @param {Schema | null} stated
   * @returns {Schema}
   */
  #schemaOf(welcome, stated) {
    const expected = this.#schema?.hash ?? this.#options.schemaHash?.toLowerCase() ?? stated?.hash;
    if (expected && welcome.schemaHash !== expected) throw new SchemaMismatchError(expected, welcome.schemaHash);
    if (welcome.schema === null) {
      if (stated && stated.hash === welcome.schemaHash) return stated;
      throw new ProtocolError('Welcome carries no schema, and this client stated none');
    }
    const schema = Schema.parse(welcome.schema);
    if (schema.hash !== welcome.schemaHash) {
      throw new SchemaError(`the schema text hashes to ${schema.hash}, not to Welcome's ${welcome.schemaHash}`);
    }
    this.#options.schemaCache?.set(schema.hash, welcome.schema);
    return schema;
  }

  /**
   * Makes a handshaken socket the client's connection. `adopted` runs once
   * the connection is the client's and before the frames that came with the
   * Welcome are handled: a `resumed` listener hears of the resume before the
   * first snapshot after it, as that event promises.
   * @param {Opened} opened
   * @param {() => void} [adopted]
   */
  #adopt({ ws, welcome, schema, stopKeeping }, adopted = () => {}) {
    this.#ws = ws;
    this.#welcome = welcome;
    if (!this.#schema) {
      this.#schema = schema;
      this.#interpolation = new InterpolationBuffer(schema, this.#options.interpolation);
      this.#clock = new TickClock(welcome.tickRate);
    }
    // A new connection starts with a full snapshot; its deltas refer only to snapshots sent on it.
    this.#baselines.clear();
    // Its tick grid is fitted again from its own snapshots, as the Rust client does: the
    // old one may be another path's, or from before the match paused.
    this.#inputClock = new InputClock(welcome.tickRate);
    this.#unacked = null;
    this.#serverError = null;
    this.#state = 'open';
    ws.addEventListener('message', this.#onMessage);
    ws.addEventListener('close', this.#onClose);
    const interval = this.#options.pingIntervalMs ?? 1000;
    if (interval > 0) {
      this.#ping();
      this.#pingTimer = setInterval(() => this.#ping(), interval);
    }
    adopted();
    // Frames that arrived between Welcome and now, in order, then a close.
    for (const ev of stopKeeping()) {
      if (ev.type === 'message') this.#onMessage(/** @type {MessageEvent} */ (ev));
      else this.#onClose(/** @type {CloseEvent} */ (ev));
    }
  }

  /** @param {MessageEvent} ev */
  #onMessage = (ev) => {
    if (this.#state !== 'open' || ev.target !== this.#ws) return;
    try {
      if (!(ev.data instanceof ArrayBuffer)) throw new ProtocolError('the server sent a text frame');
      const msg = decodeServerMsg(new Uint8Array(ev.data));
      switch (msg.type) {
        case 'snapshot':
          this.#onSnapshot(msg.tick, msg.baseline, msg.payload, ev.data.byteLength);
          break;
        case 'pong': {
          const rtt = Math.max(0, this.#now() - Number(msg.clientTimeUs) / 1000);
          this.#clock?.observeRtt(rtt);
          this.#inputClock?.seedRtt(rtt);
          this.dispatchEvent(new PongEvent(rtt, msg.serverTick));
          break;
        }
        case 'error':
          // A refused game message: the connection goes on.
          if (msg.code === 'Denied') {
            this.dispatchEvent(new DeniedEvent(msg.message));
            break;
          }
          // Fatal ones are followed by a close frame, which ends the connection.
          this.#serverError = new ServerError(msg.code, msg.message);
          this.dispatchEvent(new ServerErrorEvent(this.#serverError));
          break;
        case 'welcome':
          throw new ProtocolError('a second Welcome on one connection');
        // Game events are counted, so that a resume asks only for later ones.
        case 'event': {
          // Already had (a resume that crossed one in flight): each event reaches the game once.
          if (msg.seq <= this.#lastEvent) break;
          const event = decodeEvent(/** @type {Schema} */ (this.#schema), msg.body);
          this.#lastEvent = msg.seq;
          this.dispatchEvent(new GameEvent(msg.seq, event));
          break;
        }
        case 'eventsmissed':
          this.#lastEvent = Math.max(this.#lastEvent, msg.last);
          this.dispatchEvent(new EventsMissedEvent(msg.first, msg.last));
          break;
        case 'ended': {
          const result = decodeEvent(/** @type {Schema} */ (this.#schema), msg.result);
          this.#lastEvent = Math.max(this.#lastEvent, msg.seq);
          // The close (1001 `the match ended`) follows.
          this.dispatchEvent(new EndedEvent(msg.seq, result));
          break;
        }
        case 'inputtiming': {
          // On the wire in tenths of a millisecond.
          const [min, max] = [msg.leadMin / 10, msg.leadMax / 10];
          this.#inputClock?.onReport(min, max, msg.late);
          // The send time of the input already waiting has moved with it.
          if (this.#inputTimer !== null) this.#scheduleInput();
          this.dispatchEvent(new InputTimingEvent(min, max, msg.late, ev.data.byteLength));
          break;
        }
        case 'notice':
          this.dispatchEvent(new NoticeEvent(msg.text));
          break;
      }
    } catch (e) {
      this.#fail(asError(e));
    }
  };

  /**
   * @param {number} tick
   * @param {number | null} baseline
   * @param {Uint8Array} payload
   * @param {number} bytes
   */
  #onSnapshot(tick, baseline, payload, bytes) {
    // Its arrival, before decoding takes its time.
    const arrived = this.#now();
    this.#inputClock?.onSnapshot(tick, arrived);
    const schema = /** @type {Schema} */ (this.#schema);
    const decoded = decodeSnapshot(schema, this.#baselines.find(tick, baseline), tick, payload);
    this.#baselines.keep(baseline, decoded);
    const snapshot = presentSnapshot(schema, decoded);
    this.#world = snapshot;
    this.#interpolation?.push(snapshot);
    this.#clock?.observe(tick, this.#now());
    this.#unacked = tick;
    // Listeners may send an input now: it carries the ack, and no Ack frame is needed.
    this.dispatchEvent(new SnapshotEvent(snapshot, baseline, bytes));
    // Timed inputs wait for a connection's first snapshot: it gives the tick grid.
    if (this.#sampleInput && this.#inputTimer === null) this.#scheduleInput();
    if (this.#unacked === null || this.#state !== 'open') return;
    const delay = this.#options.ackDelayMs ?? 0;
    if (delay <= 0) this.#flushAck();
    else this.#ackTimer ??= setTimeout(() => this.#flushAck(), delay);
  }

  #flushAck() {
    if (this.#ackTimer !== null) clearTimeout(this.#ackTimer);
    this.#ackTimer = null;
    if (this.#unacked === null) return;
    const tick = this.#unacked;
    this.#unacked = null;
    this.#send({ type: 'ack', tick });
  }

  #ping() {
    this.#send({ type: 'ping', clientTimeUs: BigInt(Math.max(0, Math.round(this.#now() * 1000))) });
  }

  /** @param {ClientMsg} msg */
  #send(msg) {
    if (this.#state !== 'open' || !this.#ws) return false;
    this.#ws.send(encodeClientMsg(msg));
    return true;
  }

  /** @param {CloseEvent} ev */
  #onClose = (ev) => {
    if (ev.target !== this.#ws || this.#state !== 'open') return;
    const to = ev.code === MOVED ? movedTo(ev.reason) : null;
    if (to && this.#reconnect) {
      // The match moved to another node (a cluster drain): resume there,
      // same entity, as after a lost connection.
      const error = closedError(ev.code, ev.reason);
      this.#drop();
      this.#url = wsUrl(to);
      this.dispatchEvent(new DisconnectEvent(error, true));
      this.dispatchEvent(new MovedEvent(to));
      void this.#resume(error, MOVE_WINDOW_MS);
      return;
    }
    const error = isSessionGone(this.#serverError)
      ? /** @type {ServerError} */ (this.#serverError)
      : closedError(ev.code, ev.reason);
    this.#drop();
    if (error instanceof ClosedError && error.resumable && this.#reconnect) {
      this.dispatchEvent(new DisconnectEvent(error, true));
      void this.#resume(error);
    } else {
      this.dispatchEvent(new DisconnectEvent(error, false));
      if (isSessionGone(error)) this.dispatchEvent(new SessionLostEvent(error));
      this.#finish(error);
    }
  };

  /** Lets go of the current socket and everything tied to it. */
  #drop() {
    if (this.#pingTimer !== null) clearInterval(this.#pingTimer);
    if (this.#ackTimer !== null) clearTimeout(this.#ackTimer);
    if (this.#inputTimer !== null) clearTimeout(this.#inputTimer);
    this.#pingTimer = null;
    this.#ackTimer = null;
    this.#inputTimer = null;
    this.#unacked = null;
    const ws = this.#ws;
    this.#ws = null;
    if (ws) {
      ws.removeEventListener('message', this.#onMessage);
      ws.removeEventListener('close', this.#onClose);
    }
    return ws;
  }

  /**
   * Resumes the session after a lost connection, with backoff, within the
   * reconnect grace.
   * @param {TickwireError} lost
   * @param {number} [movedWindowMs] after a move: try at the new node for at least this long
   */
  async #resume(lost, movedWindowMs = 0) {
    const policy = /** @type {Required<ReconnectOptions>} */ (this.#reconnect);
    this.#state = 'reconnecting';
    const deadline = this.#now() + Math.max(policy.resumeWindowMs, movedWindowMs);
    // After a move, the new node may not have restored the match yet: until
    // then it does not know the session, so that is no reason to give up.
    const moving = movedWindowMs > 0;
    let backoff = policy.initialBackoffMs;
    let last = lost;
    for (let attempt = 1; this.#state === 'reconnecting'; attempt++) {
      try {
        const token = /** @type {Welcome} */ (this.#welcome).sessionToken;
        const opened = await this.#open(token);
        if (this.#state !== 'reconnecting') {
          opened.ws.close(NORMAL_CLOSURE);
          return;
        }
        this.#adopt(opened, () => this.dispatchEvent(new ResumedEvent(opened.welcome, attempt)));
        return;
      } catch (e) {
        last = asError(e);
        if (this.#state !== 'reconnecting') return;
        if (isSessionGone(last) && !moving) break;
        if (isFinal(last)) {
          this.#finish(last);
          return;
        }
      }
      const wait = Math.min(backoff, deadline - this.#now());
      if (wait <= 0) break;
      await new Promise((resolve) => {
        const timer = setTimeout(resolve, wait);
        this.#wake = () => {
          clearTimeout(timer);
          resolve(undefined);
        };
      });
      this.#wake = null;
      backoff = Math.min(backoff * 2, policy.maxBackoffMs);
    }
    if (this.#state !== 'reconnecting') return;
    this.dispatchEvent(new SessionLostEvent(last));
    this.#finish(last);
  }

  /**
   * Ends the client because of something it cannot go on with (an
   * undecodable frame): the server treats the close as a goodbye.
   * @param {TickwireError} error
   */
  #fail(error) {
    const ws = this.#drop();
    try {
      ws?.close(NORMAL_CLOSURE, error.message.slice(0, 120));
    } catch {
      // Already closing.
    }
    this.#finish(error);
  }

  /** @param {TickwireError | null} error */
  #finish(error) {
    if (this.#state === 'closed') return;
    this.#state = 'closed';
    this.#sampleInput = null;
    this.#drop();
    this.#wake?.();
    this.dispatchEvent(new ClientCloseEvent(error));
    this.#resolveClosed(error);
  }

  /**
   * Leaves the match: a close frame, after which the server removes the
   * player's entity at once and the session cannot be resumed.
   */
  close() {
    if (this.#state === 'closed') return;
    const ws = this.#drop();
    ws?.close(NORMAL_CLOSURE);
    this.#finish(null);
  }

  /**
   * Sends an input, given as an object of field values in game units (see
   * `schema.input`), with the pending acknowledgement if there is one. The
   * server applies it at the first tick that begins after it arrives.
   * Returns its sequence number, or null when it was not sent: no open
   * connection (resuming), or over `maxInputsPerSecond`.
   * @param {Readonly<Record<string, unknown>>} input
   * @returns {number | null}
   * @throws {TypeError} when a field is missing or does not fit its type
   * @throws {RoleError} when this connection is a spectator's or an admin's: only a player steers an entity
   */
  sendInput(input) {
    return this.#sendInput(input, null);
  }

  /**
   * When to sample and send the next timed input, and the server tick it
   * is for (docs/PROTOCOL.md, "Input timing"): at `at` (ms of
   * `performance.now()`, or of the `now` option), sample the player's
   * controls and pass them with `tick` to {@link sendTimedInput}. Null
   * until this connection's first snapshot, and while it is not open:
   * meanwhile inputs go untimed ({@link sendInput}).
   * {@link startTimedInputs} does all of this with a timer.
   * @returns {InputDue | null}
   */
  inputDue() {
    return this.#state === 'open' ? (this.#inputClock?.due(this.#now()) ?? null) : null;
  }

  /**
   * Sends an input meant for server tick `tick` (from {@link inputDue}): sent
   * at its time, it arrives just before that tick begins, so it waits for no
   * tick boundary. One that arrives early waits in the match for its tick
   * (at most 500 ms); one that arrives late is applied at the next tick.
   * Returns its sequence number, or null when it was not sent (as
   * {@link sendInput}).
   * @param {number} tick
   * @param {Readonly<Record<string, unknown>>} input
   * @returns {number | null}
   * @throws {TypeError} when a field is missing or does not fit its type
   * @throws {RoleError} when this connection is a spectator's or an admin's
   */
  sendTimedInput(tick, input) {
    if (!Number.isInteger(tick) || tick < 0) throw new TypeError(`a tick is a whole number from 0, not ${tick}`);
    const seq = this.#sendInput(input, tick);
    if (seq !== null) this.#inputClock?.sent(tick);
    return seq;
  }

  /**
   * Sends one timed input per tick, each sampled by `sample` just before
   * its send time: a timer (set a millisecond early, as timers fire late)
   * calls `sample(due)`, and what it returns goes out for `due.tick` (null
   * or undefined: no input for that tick). The precision is the browser's
   * timers': a millisecond or so; a delay under 4 ms becomes 4 ms, each
   * timer being set from the previous one's callback (the clamp for nested
   * timers); once a second in a background tab. The server's reports
   * measure it, and the send times move to keep inputs in time. An input
   * whose timer fired more than half a tick late goes untimed, so a
   * throttled tab does not teach the clock its timers' delays. It starts
   * at this connection's first snapshot, pauses while the client resumes,
   * and stops at {@link stopTimedInputs} or the end of the client. A call
   * replaces the previous `sample`.
   * @param {(due: InputDue) => Readonly<Record<string, unknown>> | null | undefined} sample
   * @throws {RoleError} when this connection is a spectator's or an admin's
   */
  startTimedInputs(sample) {
    if (!this.#schema || this.#state === 'closed') throw new ClientClosedError();
    const role = this.role;
    if (role !== 'player') throw new RoleError(role, `a ${role} has no entity to steer and may not send inputs`);
    this.#sampleInput = sample;
    this.#scheduleInput();
  }

  /** Stops {@link startTimedInputs}: no more inputs are sampled. */
  stopTimedInputs() {
    this.#sampleInput = null;
    if (this.#inputTimer !== null) clearTimeout(this.#inputTimer);
    this.#inputTimer = null;
  }

  /**
   * The input clock of this connection: `sendAheadMs`, `marginMs`,
   * `reports`. Null before the first `Welcome`.
   */
  get inputClock() {
    return this.#inputClock;
  }

  /** Sets the timer of the next timed input, if one is due (not before a snapshot: that calls again). */
  #scheduleInput() {
    if (this.#inputTimer !== null) clearTimeout(this.#inputTimer);
    this.#inputTimer = null;
    const due = this.#sampleInput ? this.inputDue() : null;
    const clock = this.#inputClock;
    if (!due || !clock) return;
    const wait = Math.max(0, due.at - this.#now() - TIMER_EARLY_MS);
    this.#inputTimer = setTimeout(() => this.#sendDue(due, clock), wait);
  }

  /**
   * @param {InputDue} due
   * @param {InputClock} clock the clock `due` came from
   */
  #sendDue(due, clock) {
    this.#inputTimer = null;
    const sample = this.#sampleInput;
    if (!sample || clock !== this.#inputClock || this.#state !== 'open') return;
    // Like setInterval, a sample that throws loses its tick, not the ticks after it.
    try {
      const input = sample(due);
      if (input) {
        if (this.#now() - due.at > clock.tickMs / 2) this.#sendInput(input, null);
        else this.#sendInput(input, due.tick);
      }
    } finally {
      // Whether sent or not, this tick is done: the next one is due.
      clock.sent(due.tick);
      this.#scheduleInput();
    }
  }

  /**
   * @param {Readonly<Record<string, unknown>>} input
   * @param {number | null} tick the server tick it is meant for; null: untimed
   * @returns {number | null}
   */
  #sendInput(input, tick) {
    if (!this.#schema) throw new ClientClosedError();
    const role = this.role;
    if (role !== 'player') {
      throw new RoleError(role, `a ${role} has no entity to steer and may not send inputs (the server would refuse them)`);
    }
    const bytes = encodeInput(this.#schema, input);
    if (this.#state !== 'open') return null;
    const now = this.#now();
    while (this.#inputTimes.length > 0 && now - this.#inputTimes[0] >= 1000) this.#inputTimes.shift();
    if (this.#inputTimes.length >= (this.#options.maxInputsPerSecond ?? 60)) return null;
    this.#inputTimes.push(now);
    const seq = this.#nextSeq++;
    const ack = this.#unacked;
    this.#unacked = null;
    if (this.#ackTimer !== null) clearTimeout(this.#ackTimer);
    this.#ackTimer = null;
    this.#send(tick === null ? { type: 'input', seq, ack, input: bytes } : { type: 'timedinput', seq, ack, tick, input: bytes });
    return seq;
  }

  /**
   * Sends a game message of the schema's `messages` (chat, "ready", an
   * admin's order), its fields in game units (left out for a type without
   * fields). Returns whether it was sent: false with no open connection
   * (resuming) or over `maxMessagesPerSecond`. The server checks the type's
   * `allow` and the game its own rules; a refusal comes back as a `denied`
   * event, and the connection goes on.
   * @param {string} type the message type's name, e.g. `Chat`
   * @param {Readonly<Record<string, unknown>> | null} [fields]
   * @returns {boolean}
   * @throws {MessageError} when the schema has no such type, a field is missing, a value does not fit, or the frame would exceed `maxMessageBytes`
   */
  send(type, fields) {
    if (!this.#schema) throw new ClientClosedError();
    const body = encodeMessage(this.#schema, { type, fields });
    const frame = encodeClientMsg({ type: 'message', message: body });
    const max = this.#options.maxMessageBytes ?? 512;
    if (frame.length > max) {
      throw new MessageError(
        `message \`${type}\`: a frame of ${frame.length} bytes exceeds the server's limit of ${max} (it would close the connection with 1009)`,
        type,
      );
    }
    if (this.#state !== 'open' || !this.#ws) return false;
    const now = this.#now();
    while (this.#messageTimes.length > 0 && now - this.#messageTimes[0] >= 1000) this.#messageTimes.shift();
    if (this.#messageTimes.length >= (this.#options.maxMessagesPerSecond ?? 10)) return false;
    this.#messageTimes.push(now);
    this.#ws.send(frame);
    return true;
  }

  /** `connecting`, `open`, `reconnecting` (after a lost connection) or `closed`. */
  get state() {
    return this.#state;
  }

  /** The newest `Welcome` (each resume brings a fresh one, with a new session token). */
  get welcome() {
    return /** @type {Welcome} */ (this.#welcome);
  }

  /** The game's schema. */
  get schema() {
    return /** @type {Schema} */ (this.#schema);
  }

  /** The entity this player steers (0 for a spectator or an admin, who have none). */
  get entityId() {
    return this.welcome.entityId;
  }

  /**
   * What this connection is (`Welcome.role`): a `player` steers an entity;
   * a `spectator` or an `admin` watches.
   * @returns {Role}
   */
  get role() {
    return ROLES[this.welcome.role];
  }

  /** The newest event `seq` received in this session (0: none yet). */
  get lastEvent() {
    return this.#lastEvent;
  }

  /** What resuming this session takes: keep it to come back after a page reload. */
  get session() {
    return { token: tokenToHex(this.welcome.sessionToken), nextSeq: this.#nextSeq, lastEvent: this.#lastEvent };
  }

  /** The newest decoded snapshot, in game units; null before the first. */
  get world() {
    return this.#world;
  }

  /** This player's entity in {@link world}, if it is there (never for a spectator or an admin). */
  get ownEntity() {
    return this.#world && this.role === 'player' ? findEntity(this.#world, this.entityId) : undefined;
  }

  /** The newest measured round trip in milliseconds, or null. */
  get rttMs() {
    return this.#clock?.rttMs ?? null;
  }

  /** The smoothed round trip in milliseconds, or null. */
  get smoothedRttMs() {
    return this.#clock?.smoothedRttMs ?? null;
  }

  /**
   * The estimated (fractional) tick of the server at `nowMs`, or null before the first snapshot.
   * @param {number} [nowMs]
   */
  serverTick(nowMs = this.#now()) {
    return this.#clock?.serverTickAt(nowMs) ?? null;
  }

  /**
   * The (fractional) tick rendering shows at `nowMs`: `delayTicks` behind the newest arrivals.
   * @param {number} [nowMs]
   */
  renderTick(nowMs = this.#now()) {
    const arrived = this.#clock?.arrivalTickAt(nowMs);
    if (arrived === null || arrived === undefined || !this.#interpolation) return null;
    return arrived - this.#interpolation.delayTicks;
  }

  /**
   * The world to draw at `nowMs`: remote entities blended between the
   * snapshots around {@link renderTick}. Null before the first snapshot.
   * @param {number} [nowMs]
   * @returns {Snapshot | null}
   */
  interpolated(nowMs = this.#now()) {
    const tick = this.renderTick(nowMs);
    return tick === null ? null : (this.#interpolation?.sample(tick) ?? null);
  }
}
