// @ts-check
/**
 * Where the match's tick is, as seen from this client: the timeline snapshots
 * arrive on, from which rendering picks a tick a little in the past, and the
 * round trip, from which the server's own tick is estimated.
 *
 * Snapshots leave the server once per tick and arrive late by the one-way
 * latency plus jitter, never early. So the offset between a snapshot's tick
 * and its arrival time follows the least-delayed arrivals at once and drifts
 * slowly towards later ones; a large gap (a stalled or restarted tick loop)
 * resets it.
 * @module
 */

/** How fast the estimate follows arrivals later than expected, per snapshot. */
const FOLLOW_LATE = 0.05;
/** Arrivals this many ticks later than expected mean the tick loop itself fell behind. */
const RESYNC_TICKS = 4;
/** Weight of a new round-trip sample in the smoothed round trip. */
const RTT_WEIGHT = 0.125;

export class TickClock {
  #ticksPerMs;
  /** `tick - arrivalMs * ticksPerMs` of the timeline, or null before the first snapshot. @type {number | null} */
  #offset = null;
  /** @type {number | null} */
  #rttMs = null;
  /** @type {number | null} */
  #smoothedRttMs = null;

  /** @param {number} tickRate ticks per second */
  constructor(tickRate) {
    this.#ticksPerMs = tickRate / 1000;
  }

  /**
   * A snapshot of `tick` arrived at `atMs`.
   * @param {number} tick
   * @param {number} atMs
   */
  observe(tick, atMs) {
    const sample = tick - atMs * this.#ticksPerMs;
    if (this.#offset === null || sample > this.#offset || this.#offset - sample > RESYNC_TICKS) {
      this.#offset = sample;
    } else {
      this.#offset += (sample - this.#offset) * FOLLOW_LATE;
    }
  }

  /**
   * A round trip was measured.
   * @param {number} rttMs
   */
  observeRtt(rttMs) {
    this.#rttMs = rttMs;
    this.#smoothedRttMs =
      this.#smoothedRttMs === null ? rttMs : this.#smoothedRttMs + (rttMs - this.#smoothedRttMs) * RTT_WEIGHT;
  }

  /** The newest round trip in milliseconds, or null before the first pong. */
  get rttMs() {
    return this.#rttMs;
  }

  /** The smoothed round trip in milliseconds, or null before the first pong. */
  get smoothedRttMs() {
    return this.#smoothedRttMs;
  }

  /**
   * The (fractional) tick snapshots have reached at `nowMs`, or null before the first one.
   * @param {number} nowMs
   */
  arrivalTickAt(nowMs) {
    return this.#offset === null ? null : this.#offset + nowMs * this.#ticksPerMs;
  }

  /**
   * The server's own (fractional) tick at `nowMs`: arrivals plus half a round trip.
   * @param {number} nowMs
   */
  serverTickAt(nowMs) {
    const arrived = this.arrivalTickAt(nowMs);
    if (arrived === null) return null;
    return arrived + ((this.#smoothedRttMs ?? 0) / 2) * this.#ticksPerMs;
  }
}
