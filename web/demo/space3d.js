// @ts-check
/**
 * The 3D renderer, for a game with `Ship` entities (a 3D `fixed` `pos` and a
 * `quat` `orientation`) and an input of `thrust`, `yaw`, `pitch`, `roll`
 * (space3d): a perspective projection on a 2D canvas, from behind this
 * player's ship, or circling the world for a spectator or a wreck.
 * @module
 */

import { fitCanvas } from './arena.js';
import { heldKeys, inputHas, kindHas, restingInput, scaled } from './input.js';

/** @typedef {import('/client/index.js').Client} Client */
/** @typedef {import('/client/index.js').Schema} Schema */
/** @typedef {import('/client/index.js').Snapshot} Snapshot */
/** @typedef {import('/client/index.js').Entity} Entity */
/** @typedef {[number, number, number]} Vec3 */

const PILOT_COLOURS = /** @type {Record<string, string>} */ ({ Player: '#4cc9f0', Drifter: '#8d99ae', Turner: '#b5e48c' });
const OWN = '#ffd166';
const SHOT = '#f72585';
/** Sizes in world units: a ship's hit radius (what its dot shows), a shot's. */
const SHIP_RADIUS = 8;
const SHOT_RADIUS = 1.5;
/** Where the chase camera sits in the ship's frame: behind (+z) and above. */
const CHASE = /** @type {Vec3} */ ([0, 14, 48]);
const FIELD_OF_VIEW = (70 * Math.PI) / 180;
const NEAR = 1;
/** How far ahead the sight is drawn, world units. */
const SIGHT_DISTANCE = 300;

export class Space3dView {
  /** @param {Schema} schema */
  static fits(schema) {
    return (
      kindHas(schema, 'Ship', [
        ['pos', 'fixed', 3],
        ['orientation', 'quat', 1],
      ]) && inputHas(schema, ['thrust', 'yaw', 'pitch', 'roll'])
    );
  }

  help = 'W/S: thrust · A/D: yaw · ↑/↓: pitch · Q/E: roll · Space: fire · touch: drag to steer, second finger fires · Enter: chat';

  #canvas;
  #ctx;
  #client;
  /** The world's half side, from `pos`'s declared range. */
  #half;
  /** Keys held down, lowercase. */
  #keys = heldKeys();
  /** Touches on the canvas, by pointer id: where each started and is. @type {Map<number, {x0: number, y0: number, x: number, y: number}>} */
  #touches = new Map();

  /**
   * @param {HTMLCanvasElement} canvas
   * @param {Client} client
   */
  constructor(canvas, client) {
    this.#canvas = canvas;
    this.#ctx = /** @type {CanvasRenderingContext2D} */ (canvas.getContext('2d'));
    this.#client = client;
    const ship = client.schema.kinds.find((k) => k.name === 'Ship');
    const pos = ship?.fields.find((f) => f.name === 'pos');
    // A `fixed` field's min and max are on its grid: quanta, not units.
    this.#half = pos ? Math.max(Math.abs(pos.min), Math.abs(pos.max)) * pos.quantum : 500;


    canvas.addEventListener('pointerdown', (e) => {
      if (e.pointerType === 'mouse') return;
      canvas.setPointerCapture(e.pointerId);
      this.#touches.set(e.pointerId, { x0: e.offsetX, y0: e.offsetY, x: e.offsetX, y: e.offsetY });
    });
    canvas.addEventListener('pointermove', (e) => {
      const t = this.#touches.get(e.pointerId);
      if (t) Object.assign(t, { x: e.offsetX, y: e.offsetY });
    });
    const release = (/** @type {PointerEvent} */ e) => this.#touches.delete(e.pointerId);
    canvas.addEventListener('pointerup', release);
    canvas.addEventListener('pointercancel', release);
  }

  /** This tick's input, scaled to the schema's ranges. */
  input() {
    const k = this.#keys;
    const axis = (/** @type {string} */ plus, /** @type {string} */ minus) => (k.has(plus) ? 1 : 0) - (k.has(minus) ? 1 : 0);
    let thrust = axis('w', 's');
    let yaw = axis('a', 'd'); // positive yaw turns left (about +y)
    let pitch = axis('arrowup', 'arrowdown'); // positive pitch lifts the nose
    const roll = axis('q', 'e'); // positive roll banks left
    let fire = k.has(' ');
    const [first, ...others] = this.#touches.values();
    if (first) {
      // One finger steers like a stick and thrusts; any other fires.
      thrust = 1;
      yaw = -clamp((first.x - first.x0) / 60);
      pitch = -clamp((first.y - first.y0) / 60);
      fire ||= others.length > 0;
    }
    const schema = this.#client.schema;
    return {
      ...restingInput(schema),
      thrust: scaled(schema, 'thrust', thrust),
      yaw: scaled(schema, 'yaw', yaw),
      pitch: scaled(schema, 'pitch', pitch),
      roll: scaled(schema, 'roll', roll),
      fire,
    };
  }

  /**
   * @param {Snapshot | null} world every entity, interpolated (this player's too: the camera follows it smoothly)
   * @param {Snapshot | null} newest
   */
  draw(world, newest) {
    const ctx = this.#ctx;
    const { width, height } = fitCanvas(this.#canvas);
    ctx.fillStyle = '#05070a';
    ctx.fillRect(0, 0, width, height);
    const entities = world?.entities ?? newest?.entities ?? [];
    const ownId = this.#client.entityId;
    const own = ownId ? entities.find((e) => e.id === ownId) : undefined;
    const camera = own && Number(own.fields.hp) > 0 ? chaseCamera(own) : orbitCamera(this.#half, performance.now());
    const focal = height / 2 / Math.tan(FIELD_OF_VIEW / 2);
    const project = (/** @type {Vec3} */ p) => {
      const c = toCamera(camera, p);
      return c[2] < NEAR ? null : { x: width / 2 + (c[0] / c[2]) * focal, y: height / 2 - (c[1] / c[2]) * focal, depth: c[2] };
    };

    this.#drawCube(camera, focal, width, height);

    /** @type {{depth: number, draw: () => void}[]} */
    const items = [];
    for (const e of entities) {
      const pos = vec(e.fields.pos);
      if (!pos) continue;
      const at = project(pos);
      if (!at) continue;
      if (e.kind === 'Ship') {
        if (Number(e.fields.hp) === 0) continue; // destroyed, waiting to respawn
        const colour = e.id === ownId ? OWN : (PILOT_COLOURS[String(e.fields.pilot)] ?? '#ccc');
        const q = quat(e.fields.orientation);
        const nose = q ? project(add(pos, rotate(q, [0, 0, -SHIP_RADIUS * 2]))) : null;
        items.push({
          depth: at.depth,
          draw: () => {
            const r = Math.max(1.5, (SHIP_RADIUS * focal) / at.depth);
            ctx.fillStyle = colour;
            ctx.beginPath();
            ctx.arc(at.x, at.y, r, 0, Math.PI * 2);
            ctx.fill();
            if (nose) {
              ctx.strokeStyle = colour;
              ctx.lineWidth = Math.max(1, r / 3);
              ctx.beginPath();
              ctx.moveTo(at.x, at.y);
              ctx.lineTo(nose.x, nose.y);
              ctx.stroke();
            }
          },
        });
      } else if (e.kind === 'Shot') {
        items.push({
          depth: at.depth,
          draw: () => {
            ctx.fillStyle = SHOT;
            ctx.beginPath();
            ctx.arc(at.x, at.y, Math.max(1.5, (SHOT_RADIUS * focal) / at.depth), 0, Math.PI * 2);
            ctx.fill();
          },
        });
      }
    }
    items.sort((a, b) => b.depth - a.depth);
    for (const item of items) item.draw();

    if (own && Number(own.fields.hp) > 0) {
      // The sight: where the nose points, a shot's flight ahead.
      const q = quat(own.fields.orientation);
      const pos = vec(own.fields.pos);
      const sight = q && pos ? project(add(pos, rotate(q, [0, 0, -SIGHT_DISTANCE]))) : null;
      if (sight) {
        const dpr = devicePixelRatio || 1;
        ctx.strokeStyle = 'rgba(255, 209, 102, 0.7)';
        ctx.lineWidth = dpr;
        ctx.beginPath();
        ctx.arc(sight.x, sight.y, 10 * dpr, 0, Math.PI * 2);
        ctx.stroke();
      }
    } else if (own) {
      ctx.fillStyle = '#f72585';
      ctx.font = `${Math.round(height / 14)}px system-ui, sans-serif`;
      ctx.textAlign = 'center';
      ctx.fillText('destroyed: respawning…', width / 2, height / 2);
    }
  }

  hudLines() {
    const world = this.#client.world;
    const lines = [];
    const own = this.#client.ownEntity;
    if (own) lines.push(`hp     ${own.fields.hp}  kills ${own.fields.kills}`);
    const score = world?.entities.find((e) => e.kind === 'Score');
    if (score && world) {
      const f = score.fields;
      const left = Math.max(0, (Number(f.phase_ends) - world.tick) / this.#client.welcome.tickRate);
      lines.push(`round  ${f.round} ${String(f.phase).toLowerCase()} ${left.toFixed(0)} s`);
      const leaders = [
        [f.first, f.first_kills],
        [f.second, f.second_kills],
        [f.third, f.third_kills],
      ].filter(([id, kills]) => Number(id) !== 0 && Number(kills) > 0);
      if (leaders.length) lines.push(`top    ${leaders.map(([id, kills]) => `#${id}:${kills}`).join(' ')}`);
    }
    return lines;
  }

  /**
   * The world's edges, clipped at the near plane.
   * @param {Camera} camera @param {number} focal @param {number} width @param {number} height
   */
  #drawCube(camera, focal, width, height) {
    const h = this.#half;
    const ctx = this.#ctx;
    ctx.strokeStyle = '#2c3540';
    ctx.lineWidth = devicePixelRatio || 1;
    ctx.beginPath();
    for (const [a, b] of cubeEdges(h)) {
      let p = toCamera(camera, a);
      let q = toCamera(camera, b);
      if (p[2] < NEAR && q[2] < NEAR) continue;
      if (p[2] < NEAR) p = cut(q, p);
      else if (q[2] < NEAR) q = cut(p, q);
      ctx.moveTo(width / 2 + (p[0] / p[2]) * focal, height / 2 - (p[1] / p[2]) * focal);
      ctx.lineTo(width / 2 + (q[0] / q[2]) * focal, height / 2 - (q[1] / q[2]) * focal);
    }
    ctx.stroke();
  }
}

/**
 * A camera: its position and its right, up and forward unit vectors.
 * @typedef {{pos: Vec3, right: Vec3, up: Vec3, forward: Vec3}} Camera
 */

/** Behind and above a ship, turned with it. @param {Entity} ship @returns {Camera} */
function chaseCamera(ship) {
  const q = quat(ship.fields.orientation) ?? [0, 0, 0, 1];
  const pos = vec(ship.fields.pos) ?? [0, 0, 0];
  return {
    pos: add(pos, rotate(q, CHASE)),
    right: rotate(q, [1, 0, 0]),
    up: rotate(q, [0, 1, 0]),
    forward: rotate(q, [0, 0, -1]),
  };
}

/** Circling the world, looking at its centre. @param {number} half @param {number} nowMs @returns {Camera} */
function orbitCamera(half, nowMs) {
  const t = nowMs / 20000;
  const pos = /** @type {Vec3} */ ([Math.sin(t) * half * 2.2, half * 0.8, Math.cos(t) * half * 2.2]);
  const forward = normalize(scale(pos, -1));
  const right = normalize(cross(forward, [0, 1, 0]));
  return { pos, right, up: cross(right, forward), forward };
}

/** A world point in the camera's frame: x right, y up, z the depth ahead. @param {Camera} c @param {Vec3} p @returns {Vec3} */
function toCamera(c, p) {
  const d = sub(p, c.pos);
  return [dot(d, c.right), dot(d, c.up), dot(d, c.forward)];
}

/** The point of segment inside→outside at the near plane. @param {Vec3} inside @param {Vec3} outside @returns {Vec3} */
function cut(inside, outside) {
  const t = (inside[2] - NEAR) / (inside[2] - outside[2]);
  return [inside[0] + (outside[0] - inside[0]) * t, inside[1] + (outside[1] - inside[1]) * t, NEAR];
}

/** @param {number} h @returns {[Vec3, Vec3][]} */
function cubeEdges(h) {
  /** @type {[Vec3, Vec3][]} */
  const edges = [];
  for (const a of [-h, h]) {
    for (const b of [-h, h]) {
      edges.push([[-h, a, b], [h, a, b]], [[a, -h, b], [a, h, b]], [[a, b, -h], [a, b, h]]);
    }
  }
  return edges;
}

/** @param {unknown} v @returns {Vec3 | null} */
function vec(v) {
  return Array.isArray(v) && v.length === 3 ? /** @type {Vec3} */ (v.map(Number)) : null;
}

/** @param {unknown} v @returns {[number, number, number, number] | null} */
function quat(v) {
  return Array.isArray(v) && v.length === 4 ? /** @type {[number, number, number, number]} */ (v.map(Number)) : null;
}

/** Rotates `v` by the unit quaternion `q` ([x, y, z, w]). @param {number[]} q @param {Vec3} v @returns {Vec3} */
function rotate(q, v) {
  const [x, y, z, w] = q;
  // t = 2 * cross(q.xyz, v); v' = v + w * t + cross(q.xyz, t)
  const t = scale(cross([x, y, z], v), 2);
  return add(add(v, scale(t, w)), cross([x, y, z], t));
}

/** @param {Vec3} a @param {Vec3} b @returns {Vec3} */
const add = (a, b) => [a[0] + b[0], a[1] + b[1], a[2] + b[2]];
/** @param {Vec3} a @param {Vec3} b @returns {Vec3} */
const sub = (a, b) => [a[0] - b[0], a[1] - b[1], a[2] - b[2]];
/** @param {Vec3} a @param {number} s @returns {Vec3} */
const scale = (a, s) => [a[0] * s, a[1] * s, a[2] * s];
/** @param {Vec3} a @param {Vec3} b */
const dot = (a, b) => a[0] * b[0] + a[1] * b[1] + a[2] * b[2];
/** @param {Vec3} a @param {Vec3} b @returns {Vec3} */
const cross = (a, b) => [a[1] * b[2] - a[2] * b[1], a[2] * b[0] - a[0] * b[2], a[0] * b[1] - a[1] * b[0]];
/** @param {Vec3} a */
const normalize = (a) => scale(a, 1 / (Math.hypot(...a) || 1));
/** @param {number} v */
const clamp = (v) => Math.max(-1, Math.min(1, v));
