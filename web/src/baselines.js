// @ts-check
/**
 * The decoded snapshots a client keeps as baselines (docs/PROTOCOL.md,
 * "Acknowledgements and baselines"), the counterpart of the Rust client's
 * `Baselines`: the server encodes against a tick this client acknowledged,
 * at most {@link MAX_BASELINE_AGE} ticks older than the new snapshot, and its
 * baselines only move forward, so everything older than the newest message's
 * baseline, or than that age, can go.
 * @module
 */

import { MissingBaselineError } from './errors.js';

/** @typedef {import('./codec.js').GridSnapshot} GridSnapshot */

/** A baseline is never more than this many ticks older than the snapshot encoded against it. */
export const MAX_BASELINE_AGE = 16;

export class Baselines {
  /** Oldest first. @type {GridSnapshot[]} */
  #kept = [];

  /**
   * The snapshot a message at `tick` is a delta against (null for a full one).
   * @param {number} tick
   * @param {number | null} baseline
   * @returns {GridSnapshot | null}
   * @throws {MissingBaselineError}
   */
  find(tick, baseline) {
    if (baseline === null) return null;
    const found = this.#kept.find((s) => s.tick === baseline);
    if (!found) throw new MissingBaselineError(tick, baseline);
    return found;
  }

  /**
   * Keeps a newly decoded snapshot and drops what no later message can use.
   * @param {number | null} baseline the baseline the snapshot was decoded against
   * @param {GridSnapshot} snapshot
   */
  keep(baseline, snapshot) {
    const oldest = Math.max(0, snapshot.tick - MAX_BASELINE_AGE);
    const floor = baseline === null ? oldest : Math.max(baseline, oldest);
    let drop = 0;
    while (drop < this.#kept.length && this.#kept[drop].tick < floor) drop++;
    this.#kept.splice(0, drop);
    this.#kept.push(snapshot);
  }

  /** The newest decoded snapshot. */
  get newest() {
    return this.#kept.at(-1) ?? null;
  }

  /** How many snapshots are kept. */
  get size() {
    return this.#kept.length;
  }

  /** Forgets everything: a new connection's deltas refer only to snapshots sent on it. */
  clear() {
    this.#kept.length = 0;
  }
}
