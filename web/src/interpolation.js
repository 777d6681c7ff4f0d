// @ts-check
/**
 * Smooth motion for remote entities: snapshots arrive once per tick, a frame
 * is drawn many times per tick, so a renderer shows the world a little in the
 * past (`delayTicks` behind the newest arrivals, 2 by default) and blends
 * between the two snapshots around that moment. The delay absorbs jitter: a
 * late snapshot is still in time to be blended in.
 *
 * Blending follows each field's type: `int` and `fixed` linearly, angles
 * along the shorter arc, quaternions by slerp (or nlerp) along the shorter
 * path; booleans, enums and varints (counts, sequence numbers) are not
 * blended and keep the older snapshot's value until the newer one is reached.
 * Nothing is extrapolated: past the newest snapshot, the newest is shown.
 * @module
 */

/** @typedef {import('./schema.js').Schema} Schema */
/** @typedef {import('./schema.js').Field} Field */
/** @typedef {import('./codec.js').Snapshot} Snapshot */
/** @typedef {import('./codec.js').Entity} Entity */
/** @typedef {import('./fields.js').FieldValue} FieldValue */

const TAU = 2 * Math.PI;

/**
 * @param {number} a @param {number} b @param {number} t
 */
export function lerp(a, b, t) {
  return a + (b - a) * t;
}

/**
 * The angle between `a` and `b` (radians) along the shorter arc, in `[0, 2π)`.
 * @param {number} a @param {number} b @param {number} t
 */
export function lerpAngle(a, b, t) {
  let d = (b - a) % TAU;
  if (d > Math.PI) d -= TAU;
  else if (d < -Math.PI) d += TAU;
  const out = (a + d * t) % TAU;
  return out < 0 ? out + TAU : out;
}

/**
 * Normalized linear blend of two unit quaternions `[x, y, z, w]`, along the
 * shorter path: cheap, and close to slerp for the small steps between ticks.
 * @param {readonly number[]} a @param {readonly number[]} b @param {number} t
 * @returns {number[]}
 */
export function nlerp(a, b, t) {
  const sign = a[0] * b[0] + a[1] * b[1] + a[2] * b[2] + a[3] * b[3] < 0 ? -1 : 1;
  const q = a.map((c, i) => c + (sign * b[i] - c) * t);
  const len = Math.hypot(q[0], q[1], q[2], q[3]);
  return len > 0 ? q.map((c) => c / len) : a.slice();
}

/**
 * Spherical blend of two unit quaternions `[x, y, z, w]` along the shorter
 * path: constant angular speed.
 * @param {readonly number[]} a @param {readonly number[]} b @param {number} t
 * @returns {number[]}
 */
export function slerp(a, b, t) {
  let dot = a[0] * b[0] + a[1] * b[1] + a[2] * b[2] + a[3] * b[3];
  const sign = dot < 0 ? -1 : 1;
  dot *= sign;
  // Nearly the same rotation: sin θ would be too small to divide by.
  if (dot > 0.9995) return nlerp(a, b, t);
  const theta = Math.acos(Math.min(dot, 1));
  const sin = Math.sin(theta);
  const wa = Math.sin((1 - t) * theta) / sin;
  const wb = (Math.sin(t * theta) / sin) * sign;
  return a.map((c, i) => c * wa + b[i] * wb);
}

/**
 * @typedef {object} InterpolationOptions
 * @property {number} [delayTicks] how far behind the newest arrivals to render (2)
 * @property {'slerp' | 'nlerp'} [quat] how to blend quaternions ('slerp')
 * @property {number} [capacity] snapshots kept (64)
 */

/** The recent snapshots, and the world at any moment between them. */
export class InterpolationBuffer {
  #schema;
  /** Kinds by name: presented entities name their kind. @type {Map<string, readonly Field[]>} */
  #fieldsOf;
  /** Oldest first, ticks increasing. @type {Snapshot[]} */
  #snapshots = [];
  #capacity;
  #blendQuat;

  /**
   * @param {Schema} schema
   * @param {InterpolationOptions} [options]
   */
  constructor(schema, options = {}) {
    this.#schema = schema;
    this.#fieldsOf = new Map(schema.kinds.map((k) => [k.name, k.fields]));
    /** Ticks behind the newest arrivals that {@link Client.interpolated} renders. */
    this.delayTicks = options.delayTicks ?? 2;
    this.#capacity = Math.max(2, options.capacity ?? 64);
    this.#blendQuat = options.quat === 'nlerp' ? nlerp : slerp;
  }

  /** The schema the buffered snapshots were decoded with. */
  get schema() {
    return this.#schema;
  }

  /**
   * Adds a decoded snapshot; one not newer than the newest is ignored.
   * @param {Snapshot} snapshot
   */
  push(snapshot) {
    const newest = this.#snapshots.at(-1);
    if (newest && snapshot.tick <= newest.tick) return;
    this.#snapshots.push(snapshot);
    if (this.#snapshots.length > this.#capacity) this.#snapshots.shift();
  }

  /** Forgets every snapshot. */
  clear() {
    this.#snapshots.length = 0;
  }

  /**
   * The world at the fractional tick `tick`: between the two snapshots
   * around it, or the oldest (newest) one before (after) them all; null
   * when nothing was pushed.
   * @param {number} tick
   * @returns {Snapshot | null}
   */
  sample(tick) {
    const list = this.#snapshots;
    if (list.length === 0) return null;
    let b = 0;
    while (b < list.length && list[b].tick <= tick) b++;
    if (b === 0) return { tick, entities: list[0].entities };
    if (b === list.length) return { tick, entities: list[b - 1].entities };
    const from = list[b - 1];
    const to = list[b];
    const t = (tick - from.tick) / (to.tick - from.tick);
    /** @type {Entity[]} */
    const entities = [];
    let j = 0;
    for (const e of from.entities) {
      while (j < to.entities.length && to.entities[j].id < e.id) j++;
      const next = to.entities[j];
      // Entities new in `to` appear once it is reached; removed ones stay until then.
      entities.push(next && next.id === e.id && next.kind === e.kind ? this.#blend(e, next, t) : e);
    }
    return { tick, entities };
  }

  /**
   * @param {Entity} a @param {Entity} b @param {number} t
   * @returns {Entity}
   */
  #blend(a, b, t) {
    const fields = this.#fieldsOf.get(a.kind) ?? [];
    /** @type {Record<string, FieldValue>} */
    const out = { ...a.fields };
    for (const f of fields) {
      const x = a.fields[f.name];
      const y = b.fields[f.name];
      switch (f.type) {
        case 'int':
        case 'fixed':
          out[f.name] = Array.isArray(x)
            ? /** @type {number[]} */ (x).map((c, i) => lerp(c, /** @type {number[]} */ (y)[i], t))
            : lerp(/** @type {number} */ (x), /** @type {number} */ (y), t);
          break;
        case 'angle':
          out[f.name] = lerpAngle(/** @type {number} */ (x), /** @type {number} */ (y), t);
          break;
        case 'quat':
          out[f.name] = this.#blendQuat(/** @type {number[]} */ (x), /** @type {number[]} */ (y), t);
          break;
        default:
          break;
      }
    }
    return { id: a.id, kind: a.kind, fields: out };
  }
}
