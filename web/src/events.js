// @ts-check
/**
 * What a {@link import('./client.js').Client} tells its owner, as DOM events
 * (`client.addEventListener('snapshot', (e) => ...)`), each a class of its
 * own so its payload is typed. A server→client message added to the
 * protocol later becomes one more class here and one more name in the
 * client's event map.
 * @module
 */

/** @typedef {import('./codec.js').Snapshot} Snapshot */
/** @typedef {import('./messages.js').Welcome} Welcome */
/** @typedef {import('./errors.js').TickwireError} TickwireError */
/** @typedef {import('./codec.js').GameMessage} GameMessage */
/** @typedef {import('./fields.js').FieldRecord} FieldRecord */

/** `snapshot`: a snapshot was decoded; `client.world` is now it. */
export class SnapshotEvent extends Event {
  /**
   * @param {Snapshot} snapshot the decoded world, in game units
   * @param {number | null} baseline the tick it was a delta against (null: full)
   * @param {number} bytes the size of the WebSocket message
   */
  constructor(snapshot, baseline, bytes) {
    super('snapshot');
    this.snapshot = snapshot;
    this.baseline = baseline;
    this.bytes = bytes;
  }
}

/** `pong`: a round trip was measured. */
export class PongEvent extends Event {
  /** @param {number} rttMs @param {number} serverTick the match's newest tick when the server answered */
  constructor(rttMs, serverTick) {
    super('pong');
    this.rttMs = rttMs;
    this.serverTick = serverTick;
  }
}

/** `disconnect`: the connection was lost; `willResume` says whether the client is trying to resume. */
export class DisconnectEvent extends Event {
  /** @param {TickwireError} error @param {boolean} willResume */
  constructor(error, willResume) {
    super('disconnect');
    this.error = error;
    this.willResume = willResume;
  }
}

/** `resumed`: the player is back, with the same entity; the next snapshot is full. */
export class ResumedEvent extends Event {
  /** @param {Welcome} welcome @param {number} attempts */
  constructor(welcome, attempts) {
    super('resumed');
    this.welcome = welcome;
    this.attempts = attempts;
  }
}

/**
 * `sessionlost`: resuming was refused, or the reconnect grace ran out: the
 * server no longer keeps this player's entity. A `close` follows; to play
 * on, connect again as a new player.
 */
export class SessionLostEvent extends Event {
  /** @param {TickwireError} error */
  constructor(error) {
    super('sessionlost');
    this.error = error;
  }
}

/** `servererror`: the server sent an `Error` message (a close follows when it is fatal). */
export class ServerErrorEvent extends Event {
  /** @param {import('./errors.js').ServerError} error */
  constructor(error) {
    super('servererror');
    this.error = error;
  }
}

/**
 * `close`: the client is done, the last event it sends. `error` is null when
 * its owner closed it; a {@link import('./errors.js').TakenOverError} when a
 * newer connection of the same player took the seat.
 */
export class ClientCloseEvent extends Event {
  /** @param {TickwireError | null} error */
  constructor(error) {
    super('close');
    this.error = error;
  }
}

/**
 * `event`: the server sent one of the game's events (docs/PROTOCOL.md,
 * "Messages and events"), decoded by the schema's `events`. A DOM event's
 * `type` is its own name (`'event'`), so the game event's type is
 * {@link name} (and `event.type`).
 */
export class GameEvent extends Event {
  /** @param {number} seq @param {GameMessage} event */
  constructor(seq, event) {
    super('event');
    /** 1 for the session's first event, then one more each, across resumes too. */
    this.seq = seq;
    /** The event as the Rust `GenericCodec` gives it: `{type, fields}`. */
    this.event = event;
    /** The event type's name, e.g. `Chat`. */
    this.name = event.type;
    /** Its fields in game units (`{}` for a type without fields). */
    this.fields = event.fields;
  }
}

/**
 * `eventsmissed`: the session's events `first..=last` are lost (the server's
 * log no longer held them when this client resumed); the snapshots that
 * follow are whole again.
 */
export class EventsMissedEvent extends Event {
  /** @param {number} first @param {number} last */
  constructor(first, last) {
    super('eventsmissed');
    this.first = first;
    this.last = last;
  }
}

/**
 * `ended`: the game ended the match with this result (one of its event
 * types); the close (1001 `the match ended`) follows.
 */
export class EndedEvent extends Event {
  /** @param {number} seq @param {GameMessage} result */
  constructor(seq, result) {
    super('ended');
    /** The result's place in the session's events. */
    this.seq = seq;
    /** The result as `{type, fields}`. */
    this.result = result;
  }
}

/**
 * `denied`: the server refused one game message (or a spectator's input)
 * with `Error { Denied, "<Type>: <reason>" }`. The connection goes on; the
 * server closes it (1008) after too many refusals.
 */
export class DeniedEvent extends Event {
  /** @param {string} message the server's text, e.g. `Ready: a spectator may not send it` */
  constructor(message) {
    super('denied');
    const m = /^([^:]*): ([^]*)$/.exec(message);
    /** The server's whole text. */
    this.message = message;
    /** The refused message's type (`Ready`, or `Input`), from the text; null when it names none. */
    this.messageType = m ? m[1] : null;
    /** Why, without the type. */
    this.reason = m ? m[2] : message;
  }
}

/**
 * `inputtiming`: the server's report (every half second while timed inputs
 * come) of how early this client's timed inputs reached it over the last
 * window. The client's input clock has already taken it into account.
 */
export class InputTimingEvent extends Event {
  /**
   * @param {number} leadMinMs the least time from an input's arrival to the start of its tick (negative: late)
   * @param {number} leadMaxMs the most
   * @param {number} late how many inputs of the window came after their tick had begun
   * @param {number} bytes the size of the WebSocket message
   */
  constructor(leadMinMs, leadMaxMs, late, bytes) {
    super('inputtiming');
    this.leadMinMs = leadMinMs;
    this.leadMaxMs = leadMaxMs;
    this.late = late;
    this.bytes = bytes;
  }
}

/** `notice`: a notice from the server's operators (a cluster-wide broadcast). */
export class NoticeEvent extends Event {
  /** @param {string} text */
  constructor(text) {
    super('notice');
    this.text = text;
  }
}

/**
 * `moved`: the match moved to another node of a cluster (close 4002); the
 * client resumes there by itself, same entity (a `resumed` follows), and
 * reconnects there from now on.
 */
export class MovedEvent extends Event {
  /** @param {string} url the node's WebSocket URL */
  constructor(url) {
    super('moved');
    this.url = url;
  }
}
