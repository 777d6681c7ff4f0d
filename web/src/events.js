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
