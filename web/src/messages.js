// @ts-check
/**
 * The protocol's messages and their bytes (docs/PROTOCOL.md, "Encoding",
 * "Client → server", "Server → client"): bincode 2's standard configuration,
 * one message per binary WebSocket frame.
 *
 * Integers are varints whose marker depends on the value; a decoder takes any
 * marker up to the field's width and refuses wider ones. `u64` fields
 * (match and player ids, the ping clock) are BigInts, so no id loses
 * precision; the schema hash is given as its 16 hex digits, the form URLs
 * and `GET /v1/schema` use.
 *
 * New messages are new variants: a client message is a new `type` in
 * {@link encodeClientMsg}, a server message a new entry in `SERVER_VARIANTS`,
 * both appended after the existing indices, which never move.
 * @module
 */

import { ERROR_CODES, ProtocolError } from './errors.js';

/** The protocol version `Join` announces. */
export const PROTOCOL_VERSION = 1;

/** The largest server message this client accepts: a full snapshot of a big world. */
export const MAX_SERVER_MESSAGE = 4 << 20;

/**
 * @typedef {{type: 'join', version: number, resume: Uint8Array | null, lastEvent?: number}} JoinMsg
 * @typedef {{type: 'input', seq: number, ack: number | null, input: Uint8Array}} InputMsg
 * @typedef {{type: 'ack', tick: number}} AckMsg
 * @typedef {{type: 'ping', clientTimeUs: bigint}} PingMsg
 * @typedef {{type: 'message', message: Uint8Array}} MessageMsg a game message, bit-packed by the schema's `messages`
 * @typedef {{type: 'timedinput', seq: number, ack: number | null, tick: number, view?: number, input: Uint8Array}} TimedInputMsg
 *   an input meant for server tick `tick`; only its low 16 bits travel (the server restores the rest).
 *   `view`: how far behind `tick` the world the player saw was, in sixteenths of a tick (0 or absent: not stated)
 * @typedef {JoinMsg | InputMsg | AckMsg | PingMsg | MessageMsg | TimedInputMsg} ClientMsg
 */

/**
 * What the server says a player is, and which game it plays.
 * @typedef {object} Welcome
 * @property {number} version
 * @property {bigint} matchId
 * @property {bigint} playerId with auth, derived from the token's `sub` (top bit set)
 * @property {number} entityId the entity this player steers
 * @property {number} tickRate ticks (and snapshots) per second
 * @property {number} tick the match's newest tick at the join; every snapshot is after it
 * @property {Uint8Array} sessionToken 16 secret bytes, the key to resume
 * @property {string} schemaHash 16 lowercase hex digits
 * @property {string | null} schema the schema's JSON text, unless the client stated its hash
 * @property {number} role 0 player, 1 spectator, 2 admin; only a player has an entity
 */

/**
 * @typedef {{type: 'welcome', welcome: Welcome}} WelcomeMsg
 * @typedef {{type: 'snapshot', tick: number, baseline: number | null, payload: Uint8Array}} SnapshotMsg
 * @typedef {{type: 'pong', clientTimeUs: bigint, serverTick: number}} PongMsg
 * @typedef {{type: 'error', code: string, message: string}} ErrorMsg
 * @typedef {{type: 'event', seq: number, body: Uint8Array}} EventMsg
 * @typedef {{type: 'eventsmissed', first: number, last: number}} EventsMissedMsg
 * @typedef {{type: 'ended', seq: number, result: Uint8Array}} EndedMsg
 * @typedef {{type: 'inputtiming', leadMin: number, leadMax: number, late: number}} InputTimingMsg
 *   how early this client's timed inputs arrived over the last report window: `leadMin`, `leadMax` in
 *   tenths of a millisecond (negative: late), `late` how many were
 * @typedef {{type: 'notice', text: string}} NoticeMsg
 *   a notice from the server's operators (a cluster-wide broadcast)
 * @typedef {WelcomeMsg | SnapshotMsg | PongMsg | ErrorMsg | EventMsg | EventsMissedMsg | EndedMsg | InputTimingMsg | NoticeMsg} ServerMsg
 */

const U16 = 0xfb;
const U32 = 0xfc;
const U64 = 0xfd;

/** Appends bincode values to a growing buffer. */
class ByteWriter {
  /** @type {number[]} */
  bytes = [];

  /** A varint of any width, in its shortest form. @param {number | bigint} value */
  varint(value) {
    const v = BigInt(value);
    if (v < 0n || v >= 1n << 64n) throw new RangeError(`${v} is not a u64`);
    if (v < 251n) this.bytes.push(Number(v));
    else if (v < 1n << 16n) this.#le(U16, v, 2);
    else if (v < 1n << 32n) this.#le(U32, v, 4);
    else this.#le(U64, v, 8);
  }

  /** @param {number} marker @param {bigint} v @param {number} n */
  #le(marker, v, n) {
    this.bytes.push(marker);
    for (let i = 0; i < n; i++) this.bytes.push(Number((v >> BigInt(8 * i)) & 0xffn));
  }

  /** An `Option`: `00`, or `01` then the value. @template T @param {T | null} v @param {(v: T) => void} write */
  option(v, write) {
    if (v === null) {
      this.bytes.push(0);
    } else {
      this.bytes.push(1);
      write(v);
    }
  }

  /** @param {Uint8Array} b */
  raw(b) {
    for (const x of b) this.bytes.push(x);
  }

  finish() {
    return Uint8Array.from(this.bytes);
  }
}

/**
 * The bytes of a client message.
 * @param {ClientMsg} msg
 * @returns {Uint8Array}
 */
export function encodeClientMsg(msg) {
  const w = new ByteWriter();
  switch (msg.type) {
    case 'join':
      w.varint(0);
      w.varint(msg.version);
      w.option(msg.resume, (token) => {
        if (token.length !== 16) throw new RangeError('a session token is 16 bytes');
        w.raw(token);
      });
      // The newest event of the resumed session this client received.
      w.varint(msg.lastEvent ?? 0);
      break;
    case 'input':
      w.varint(1);
      w.varint(msg.seq);
      w.option(msg.ack, (tick) => w.varint(tick));
      w.varint(msg.input.length);
      w.raw(msg.input);
      break;
    case 'ack':
      w.varint(2);
      w.varint(msg.tick);
      break;
    case 'ping':
      w.varint(3);
      w.varint(msg.clientTimeUs);
      break;
    case 'message':
      w.varint(4);
      w.varint(msg.message.length);
      w.raw(msg.message);
      break;
    case 'timedinput':
      w.varint(5);
      w.varint(msg.seq);
      w.option(msg.ack, (tick) => w.varint(tick));
      // The protocol's `[u8; 2]`: two plain bytes, little-endian, not a varint.
      w.raw(Uint8Array.of(msg.tick & 0xff, (msg.tick >>> 8) & 0xff));
      w.varint(Math.min(Math.max(Math.round(msg.view ?? 0), 0), 0xffff));
      w.varint(msg.input.length);
      w.raw(msg.input);
      break;
    default:
      throw new TypeError(`unknown client message ${JSON.stringify(/** @type {{type: unknown}} */ (msg).type)}`);
  }
  return w.finish();
}

/** Reads bincode values; every read past the end is a {@link ProtocolError}. */
class ByteReader {
  #bytes;
  pos = 0;

  /** @param {Uint8Array} bytes */
  constructor(bytes) {
    this.#bytes = bytes;
  }

  /** @param {number} n */
  #take(n) {
    if (this.pos + n > this.#bytes.length) throw new ProtocolError('message ends early');
    const out = this.#bytes.subarray(this.pos, this.pos + n);
    this.pos += n;
    return out;
  }

  /** @param {number} n */
  #le(n) {
    const b = this.#take(n);
    let v = 0n;
    for (let i = n - 1; i >= 0; i--) v = (v << 8n) | BigInt(b[i]);
    return v;
  }

  /**
   * A varint whose field is at most `widest` (a marker): wider markers are errors.
   * @param {number} widest
   * @returns {bigint}
   */
  #varint(widest) {
    const first = this.#take(1)[0];
    if (first < 251) return BigInt(first);
    if (first > widest) throw new ProtocolError(`varint marker 0x${first.toString(16)} is too wide for its field`);
    return this.#le(first === U16 ? 2 : first === U32 ? 4 : 8);
  }

  u16() {
    return Number(this.#varint(U16));
  }

  u32() {
    return Number(this.#varint(U32));
  }

  u64() {
    return this.#varint(U64);
  }

  /** An `i16`: a zigzag varint (0, -1, 1, -2... as 0, 1, 2, 3...). */
  i16() {
    const z = this.u16();
    return (z >>> 1) ^ -(z & 1);
  }

  /** A length prefix (a `usize`, encoded as a u64) that must fit what is left. */
  length() {
    const n = this.u64();
    if (n > BigInt(this.#bytes.length - this.pos)) throw new ProtocolError('length prefix beyond the message');
    return Number(n);
  }

  bytes() {
    return this.#take(this.length()).slice();
  }

  string() {
    try {
      return new TextDecoder('utf-8', { fatal: true }).decode(this.#take(this.length()));
    } catch (e) {
      if (e instanceof ProtocolError) throw e;
      throw new ProtocolError('a string is not valid UTF-8');
    }
  }

  /** @template T @param {() => T} read @returns {T | null} */
  option(read) {
    const tag = this.#take(1)[0];
    if (tag === 0) return null;
    if (tag === 1) return read();
    throw new ProtocolError(`option tag ${tag} is neither 0 nor 1`);
  }

  /** @param {number} n */
  array(n) {
    return this.#take(n).slice();
  }

  end() {
    if (this.pos !== this.#bytes.length) {
      throw new ProtocolError(`message has ${this.#bytes.length - this.pos} unexpected trailing bytes`);
    }
  }
}

/** @param {bigint} v */
function hex64(v) {
  return v.toString(16).padStart(16, '0');
}

/**
 * The server's messages by variant index, in wire order.
 * @type {ReadonlyArray<(r: ByteReader) => ServerMsg>}
 */
const SERVER_VARIANTS = [
  (r) => ({
    type: 'welcome',
    welcome: {
      version: r.u16(),
      matchId: r.u64(),
      playerId: r.u64(),
      entityId: r.u32(),
      tickRate: r.u16(),
      tick: r.u32(),
      sessionToken: r.array(16),
      schemaHash: hex64(r.u64()),
      schema: r.option(() => r.string()),
      role: r.array(1)[0],
    },
  }),
  (r) => ({
    type: 'snapshot',
    tick: r.u32(),
    baseline: r.option(() => r.u32()),
    payload: r.bytes(),
  }),
  (r) => ({ type: 'pong', clientTimeUs: r.u64(), serverTick: r.u32() }),
  (r) => {
    const index = r.u32();
    const code = ERROR_CODES[index];
    if (code === undefined) throw new ProtocolError(`unknown error code ${index}`);
    return { type: 'error', code, message: r.string() };
  },
  (r) => ({ type: 'event', seq: r.u32(), body: r.bytes() }),
  (r) => ({ type: 'eventsmissed', first: r.u32(), last: r.u32() }),
  (r) => ({ type: 'ended', seq: r.u32(), result: r.bytes() }),
  (r) => ({ type: 'inputtiming', leadMin: r.i16(), leadMax: r.i16(), late: r.u16() }),
  (r) => ({ type: 'notice', text: r.string() }),
];

/**
 * Decodes one server frame; it must use every byte.
 * @param {Uint8Array} bytes
 * @returns {ServerMsg}
 * @throws {ProtocolError}
 */
export function decodeServerMsg(bytes) {
  if (bytes.length > MAX_SERVER_MESSAGE) {
    throw new ProtocolError(`message of ${bytes.length} bytes exceeds the limit of ${MAX_SERVER_MESSAGE} bytes`);
  }
  const r = new ByteReader(bytes);
  const variant = r.u32();
  const decode = SERVER_VARIANTS[variant];
  if (decode === undefined) throw new ProtocolError(`unknown server message ${variant}`);
  const msg = decode(r);
  r.end();
  return msg;
}

/**
 * A session token as `?resume=` wants it: 32 lowercase hex digits.
 * @param {Uint8Array} token
 */
export function tokenToHex(token) {
  return Array.from(token, (b) => b.toString(16).padStart(2, '0')).join('');
}

/**
 * The bytes of a token in hex (either case), or null if it is not 32 hex digits.
 * @param {string} hex
 * @returns {Uint8Array | null}
 */
export function tokenFromHex(hex) {
  if (!/^[0-9a-fA-F]{32}$/.test(hex)) return null;
  return Uint8Array.from({ length: 16 }, (_, i) => parseInt(hex.slice(2 * i, 2 * i + 2), 16));
}
