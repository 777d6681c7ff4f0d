// @ts-check
/**
 * Where the match's tick is, as seen from this client: the timeline snapshots
 * arrive on, from which rendering picks a tick a little in the past, and the
 * round trip, from which the server's own tick is estimated
 * ({@link TickClock}); and when to send an input so that it reaches the
 * server a small margin before the tick it is meant for ({@link InputClock},
 * docs/PROTOCOL.md, "Input timing").
 *
 * Snapshots leave the server once per tick and arrive late by the one-way
 * latency plus jitter, never early. So the offset between a snapshot's tick
 * and its arrival time follows the least-delayed arrivals at once and drifts
 * slowly towards later ones; a large gap (a stalled or restarted tick loop)
 * resets it.
 *
 * The input clock is the Rust client's `InputClock` (src/client/timing.rs),
 * with the same constants and rules, in milliseconds. It keeps its own fit
 * of the arrivals (`origin + T * dt` for tick `T`) rather than sharing
 * TickClock's: rendering follows later arrivals and starts over after a
 * stall, where the input clock fixes `origin` from the earliest arrival
 * until the first `InputTiming` report and holds it from then on: the
 * reports alone move the sends, since they measure exactly how early inputs
 * reach their tick. An input for tick `T` is sent `sendAhead` before
 * `origin + T * dt`. A report's error (its least lead against `margin`,
 * half the usual spread of leads above a floor) is corrected by half, at
 * once when the whole window came over half a tick early (the server
 * skipped tick slots) or inputs were late without a stall, and not at all
 * for lateness in one window whose spread was three times the usual (a
 * stall: following it would send every input early for seconds).
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

/** The least margin an input keeps before its tick, in ms: scheduling noise on a quiet machine. */
const MIN_MARGIN_MS = 0.75;
/**
 * How much of a report's error is corrected at once (reports come about
 * twice a second): a few reports settle it without chasing noise.
 */
const GAIN = 0.5;
/** A window whose spread of leads is this many times the usual one had a stall in it. */
const STALL_SPREAD = 3;
/**
 * The first reports: their lateness is followed at once even in a stalled
 * window (the first guess may be short by anything), their earliness by half
 * however early (the first guess errs early on purpose).
 */
const SETTLING_REPORTS = 2;
/** How fast the smoothed spread follows each report's. */
const SPREAD_WEIGHT = 0.25;
/** The most `sendAhead` can be, either way. */
const MAX_SEND_AHEAD_MS = 1000;
/** The largest tick (a u32). */
const MAX_TICK = 2 ** 32 - 1;

/**
 * The next input: the server tick it is for, and when to sample and send it
 * (ms on the clock the times were given in, `performance.now()` in the client).
 * @typedef {{tick: number, at: number}} InputDue
 */

export class InputClock {
  #dtMs;
  /** Local time at which tick 0's snapshot would arrive, at the earliest (held once reports steer); null before a snapshot. @type {number | null} */
  #origin = null;
  /** Before `origin + T * dt` that the input for `T` is sent; negative once the server's grid moved later than the fit. */
  #sendAheadMs;
  #marginMs = 2 * MIN_MARGIN_MS;
  /** Smoothed spread (max - min lead) of report windows, in ms. */
  #spreadMs = 0;
  /** The previous report's window had a stall in it. */
  #stalledBefore = false;
  /** @type {number | null} */
  #lastSent = null;
  #reports = 0;

  /** @param {number} tickRate the match's ticks per second */
  constructor(tickRate) {
    this.#dtMs = 1000 / Math.max(1, tickRate);
    // A guess until the first report: a whole tick ahead is on time on any
    // path of less than a tick's round trip.
    this.#sendAheadMs = this.#dtMs;
  }

  /**
   * Starts from a measured round trip instead of the one-tick guess (until the first report).
   * @param {number} rttMs
   */
  seedRtt(rttMs) {
    if (this.#reports === 0) this.#sendAheadMs = rttMs + this.#marginMs + this.#dtMs / 4;
  }

  /**
   * A snapshot of `tick` arrived at `atMs`: until the first report, the earliest arrival fixes `origin`.
   * @param {number} tick
   * @param {number} atMs
   */
  onSnapshot(tick, atMs) {
    if (this.#reports > 0) return;
    const estimate = atMs - tick * this.#dtMs;
    if (this.#origin === null || estimate < this.#origin) this.#origin = estimate;
  }

  /**
   * A report from the server: the least and the most lead of the window
   * (ms, negative for late inputs), and how many of its inputs were late.
   * @param {number} leadMinMs
   * @param {number} leadMaxMs
   * @param {number} late
   */
  onReport(leadMinMs, leadMaxMs, late) {
    this.#reports++;
    const spread = Math.max(0, leadMaxMs - leadMinMs);
    // A stall: leads spread far wider than usual, not the jitter the margin covers.
    const stalled = this.#reports > 1 && spread > Math.max(STALL_SPREAD * this.#spreadMs, 4 * MIN_MARGIN_MS);
    // Two stalled windows in a row: the path's jitter is that wide.
    const lasting = stalled && this.#stalledBefore;
    this.#stalledBefore = stalled;
    if (this.#reports === 1) this.#spreadMs = Math.min(spread, this.#dtMs / 2);
    else if (!stalled || lasting) this.#spreadMs += (Math.min(spread, this.#dtMs) - this.#spreadMs) * SPREAD_WEIGHT;
    // Half the usual spread on top of the least margin: the worst input of
    // the next window rarely falls further than that.
    this.#marginMs = Math.min(MIN_MARGIN_MS + this.#spreadMs / 2, this.#dtMs / 2);
    const error = leadMinMs - this.#marginMs;
    const wasLate = late > 0 || leadMinMs < 0;
    const settling = this.#reports <= SETTLING_REPORTS;
    let step;
    // The whole window came over half a tick early: the grid moved (not
    // while settling: the first guess is early on purpose).
    if (error > this.#dtMs / 2 && !settling) step = error;
    else if (wasLate && (!stalled || lasting || settling)) step = error;
    else if (wasLate) step = 0; // one stalled window: the next one says whether it lasts
    else step = error * GAIN;
    this.#sendAheadMs = Math.min(Math.max(this.#sendAheadMs - step, -MAX_SEND_AHEAD_MS), MAX_SEND_AHEAD_MS);
  }

  /**
   * The next input: the first tick whose send time has not passed, after
   * the last one sent. Null before the first snapshot.
   * @param {number} nowMs
   * @returns {InputDue | null}
   */
  due(nowMs) {
    if (this.#origin === null) return null;
    // Ticks whose send time (`origin + T * dt - sendAhead`) is still to come.
    const elapsed = Math.max(0, nowMs + this.#sendAheadMs - this.#origin);
    let tick = Math.floor(elapsed / this.#dtMs) + 1;
    if (this.#lastSent !== null) tick = Math.max(tick, this.#lastSent + 1);
    tick = Math.min(tick, MAX_TICK);
    return { tick, at: this.#origin + tick * this.#dtMs - this.#sendAheadMs };
  }

  /**
   * The input for `tick` went out (or was skipped): none is due for it, or
   * for an earlier tick, any more.
   * @param {number} tick
   */
  sent(tick) {
    this.#lastSent = tick;
  }

  /** How long before `origin + T * dt` the input for `T` is sent, in ms (negative once the server skipped slots). */
  get sendAheadMs() {
    return this.#sendAheadMs;
  }

  /** The lead the latest input of a window aims to keep, in ms. */
  get marginMs() {
    return this.#marginMs;
  }

  /** Reports received so far. */
  get reports() {
    return this.#reports;
  }

  /** One tick, in ms. */
  get tickMs() {
    return this.#dtMs;
  }
}
