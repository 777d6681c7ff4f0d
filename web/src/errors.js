// @ts-check
/**
 * Every way the client can fail, as classes a game can tell apart with
 * `instanceof` (or by `name`). Each message says what went wrong in the words
 * of docs/PROTOCOL.md, so a log line is enough to find the rule that broke.
 *
 * The classes follow the protocol's layers: a schema the client cannot use,
 * a payload that breaks the schema, a frame that is not a protocol message,
 * a refusal before the upgrade, a close after it, an `Error` message.
 * @module
 */

/** The base class: every error this library throws or reports. */
export class TickwireError extends Error {
  /** @param {string} message @param {ErrorOptions} [options] */
  constructor(message, options) {
    super(message, options);
    this.name = new.target.name;
  }
}

/** A schema this client cannot decode with (docs/PROTOCOL.md, "Schema"). */
export class SchemaError extends TickwireError {
  /** @param {string} message */
  constructor(message) {
    super(`invalid schema: ${message}`);
  }
}

/**
 * A snapshot payload, input, message or event that breaks the schema.
 * Nothing of that snapshot is kept. `field` names the field whose bits were
 * wrong, when one was (the Rust decoder's `` field `pos`: value above the
 * declared maximum ``; inside a list, `` field `ranking[1].score` ``), and
 * `where` the message or event type being read (`` event `MatchOver` ``).
 */
export class CodecError extends TickwireError {
  /** @param {string} reason @param {string | null} [field] @param {string | null} [where] */
  constructor(reason, field = null, where = null) {
    const at = field === null ? null : `field \`${field}\``;
    super(
      where === null
        ? at === null
          ? `invalid payload: ${reason}`
          : `${at}: ${reason}`
        : `${where}${at === null ? '' : ` ${at}`}: ${reason}`,
    );
    /** What was wrong, without the field's name. */
    this.reason = reason;
    /** The field being read (a path inside a list), or null for the payload's own structure. */
    this.field = field;
    /** The message or event type being read (`` event `Hit` ``), or null. */
    this.where = where;
  }
}

/**
 * A game message (or event) this client cannot encode: the schema has no
 * type of that name, a field is missing, or a value does not fit its field.
 * Nothing was sent. The message names the type and the field, as the Rust
 * encoder does (`` message `Chat` field `text` is missing ``).
 */
export class MessageError extends TickwireError {
  /** @param {string} message @param {string | null} [messageType] @param {string | null} [field] */
  constructor(message, messageType = null, field = null) {
    super(message);
    /** The type's name as given (null when none was), whether or not the schema has it. */
    this.messageType = messageType;
    /** The field at fault (a path inside a list: `ranking[1].team`), or null. */
    this.field = field;
  }
}

/**
 * Something this connection's role may not do, refused by the client
 * itself: a spectator or an admin has no entity, so it sends no inputs.
 */
export class RoleError extends TickwireError {
  /** @param {'player' | 'spectator' | 'admin'} role @param {string} message */
  constructor(role, message) {
    super(message);
    /** The connection's role (`Welcome.role`). */
    this.role = role;
  }
}

/** A server frame that is not a well-formed `ServerMsg` (docs/PROTOCOL.md, "Encoding"). */
export class ProtocolError extends TickwireError {}

/**
 * A snapshot that is a delta against a tick this client no longer keeps. The
 * server only uses acknowledged ticks at most 16 ticks old, so this means the
 * client and the server disagree about what was acknowledged.
 */
export class MissingBaselineError extends TickwireError {
  /** @param {number} tick @param {number} baseline */
  constructor(tick, baseline) {
    super(`snapshot ${tick} is a delta against ${baseline}, which this client no longer has`);
    this.tick = tick;
    this.baseline = baseline;
  }
}

/** The server runs another game (or another version of it) than the one this client expects. */
export class SchemaMismatchError extends TickwireError {
  /** @param {string} expected @param {string} server */
  constructor(expected, server) {
    super(`this client expects schema ${expected} but the server's game has schema ${server}`);
    this.expected = expected;
    this.server = server;
  }
}

/** The server did not answer in time (the upgrade, or `Welcome` after `Join`). */
export class TimeoutError extends TickwireError {}

/**
 * The WebSocket could not be opened and the reason is unknown: the server is
 * unreachable, or it refused the upgrade itself. Browsers hide the HTTP
 * answer to a refused upgrade, so a server refuses this client after the
 * upgrade instead (`?refusal=close`), which is a {@link RefusedError}; so
 * does Node's `ws` package, which exposes the response, with a server that
 * does not.
 */
export class ConnectError extends TickwireError {}

/**
 * The server refused the connection, with an HTTP status and
 * `{"error": {"code", "message"}}` before the upgrade (docs/PROTOCOL.md,
 * "Connecting"), or, for a client that asked with `?refusal=close` (this one
 * always does), after it: a close with code 4000 + the status and the reason
 * `"<code>: <message>"`, which browsers do pass on to a page.
 */
export class RefusedError extends ConnectError {
  /** @param {number} status @param {string} code @param {string} message */
  constructor(status, code, message) {
    super(`the server refused the connection with HTTP ${status} ${code}: ${message}`);
    this.status = status;
    /** The refusal's `code`, e.g. `match_full` (see `REFUSALS`). */
    this.code = code;
    this.serverMessage = message;
  }

  /** Whether the same request may succeed later (a full server, a handover in progress). */
  get retryable() {
    return REFUSALS[this.code]?.retryable ?? this.status >= 500;
  }

  /** Whether the session named by `?resume=` is gone: only a new join can help. */
  get sessionGone() {
    return this.code === 'invalid_session' || this.code === 'session_not_yours';
  }
}

/**
 * Every refusal docs/PROTOCOL.md lists, with its status and whether trying
 * again later can work.
 * @type {Readonly<Record<string, {status: number, retryable: boolean}>>}
 */
export const REFUSALS = Object.freeze({
  bad_query: { status: 400, retryable: false },
  bad_websocket_version: { status: 400, retryable: false },
  missing_websocket_key: { status: 400, retryable: false },
  bad_websocket_key: { status: 400, retryable: false },
  bad_http_version: { status: 400, retryable: false },
  bad_host: { status: 400, retryable: false },
  unauthorized: { status: 401, retryable: false },
  invalid_session: { status: 401, retryable: false },
  origin_not_allowed: { status: 403, retryable: false },
  match_not_allowed: { status: 403, retryable: false },
  session_not_yours: { status: 403, retryable: false },
  match_not_found: { status: 404, retryable: false },
  nothing_to_watch: { status: 404, retryable: false },
  match_full: { status: 409, retryable: true },
  no_spectator_room: { status: 409, retryable: true },
  already_connected: { status: 409, retryable: true },
  schema_mismatch: { status: 409, retryable: false },
  match_ended: { status: 410, retryable: false },
  websocket_required: { status: 426, retryable: false },
  too_many_connections: { status: 429, retryable: true },
  server_full: { status: 503, retryable: true },
  shutting_down: { status: 503, retryable: true },
  too_many_matches: { status: 503, retryable: true },
});

/** The close code of a connection taken over by a newer one of the same player. */
export const TAKEN_OVER = 4001;

/**
 * The close code of a match that moved to another node of a cluster (a
 * drain): the reason is the node's WebSocket URL, where the session resumes.
 */
export const MOVED = 4002;

/**
 * A refusal told by a close (`?refusal=close`) has this code plus the HTTP
 * status: 4404 `match_not_found`, 4409 `match_full`, 4503 `shutting_down`.
 * Only statuses 400..599 are refusals; 4001 and the rest are not.
 */
const REFUSAL_CLOSE_BASE = 4000;

/**
 * The refusal a close during the handshake stands for (4400..=4599, the
 * reason `"<code>: <message>"`), or null for any other close.
 * @param {number} code
 * @param {string} reason
 * @returns {RefusedError | null}
 */
export function refusalFromClose(code, reason) {
  const status = code - REFUSAL_CLOSE_BASE;
  if (status < 400 || status > 599) return null;
  const colon = reason.indexOf(': ');
  // A reason without the separator is still the server's word: keep it whole as the code.
  return colon < 0
    ? new RefusedError(status, reason || 'http_error', '')
    : new RefusedError(status, reason.slice(0, colon), reason.slice(colon + 2));
}

/**
 * The server (or the network) closed the connection after the upgrade
 * (docs/PROTOCOL.md, "Close codes"). 1006 is a connection lost without a
 * close frame.
 */
export class ClosedError extends TickwireError {
  /** @param {number} code @param {string} reason */
  constructor(code, reason) {
    super(`the connection closed (${code})${reason ? `: ${reason}` : ''}`);
    this.code = code;
    this.reason = reason;
  }

  /**
   * Whether the server parked the seat for the reconnect grace, so that
   * `?resume=` can bring the player back: a connection lost without a close
   * frame, a heartbeat timeout, an ack timeout. Every other close ends the
   * session. 1001 and 1008 are resumable or not by their reason, as the
   * protocol's close-code table says.
   */
  get resumable() {
    switch (this.code) {
      case 1005: // closed without a status: no close frame from the server either
      case 1006:
        return true;
      case 1001:
        return this.reason === 'heartbeat timeout';
      case 1008:
        return this.reason === 'no acknowledgement within the ack timeout';
      default:
        return false;
    }
  }

  /**
   * After the drain (1001 `server shutting down; retry in 5s`), how long to
   * wait before joining again as a new player; null otherwise.
   */
  get retryAfterMs() {
    const m = this.code === 1001 ? /retry in (\d+)s/.exec(this.reason) : null;
    return m ? Number(m[1]) * 1000 : null;
  }
}

/**
 * Closed with 4001: a newer connection of the same player took the seat
 * over. Never reconnect automatically after it: two tabs would take the seat
 * from each other forever.
 */
export class TakenOverError extends ClosedError {}

/** The names of `ServerMsg::Error`'s codes, by wire index. */
export const ERROR_CODES = Object.freeze([
  'UnsupportedVersion',
  'ExpectedJoin',
  'MatchUnavailable',
  'InvalidSession',
  'ShuttingDown',
  'Internal',
  'Denied',
]);

/** The server sent an `Error` message (a close frame follows when it is fatal). */
export class ServerError extends TickwireError {
  /** @param {string} code one of `ERROR_CODES` @param {string} message */
  constructor(code, message) {
    super(`the server sent an error (${code}): ${message}`);
    this.code = code;
    this.serverMessage = message;
  }
}

/** The client was closed by its owner; pending operations end with this. */
export class ClientClosedError extends TickwireError {
  constructor() {
    super('the client was closed');
  }
}

/** The closing error for a close code and reason: {@link TakenOverError} for 4001. */
export function closedError(/** @type {number} */ code, /** @type {string} */ reason) {
  return code === TAKEN_OVER ? new TakenOverError(code, reason) : new ClosedError(code, reason);
}
