// @ts-check
/**
 * The 2D renderer, for a game whose entities have a 2D `int` `pos` and whose
 * input has `move_x`, `move_y` and `aim` (arena-v1): entities as dots by
 * kind, this player's ringed; WASD or the arrow keys move, the mouse aims,
 * a touch drag moves (and aims) on a phone.
 * @module
 */

import { heldKeys, inputHas, kindHas, restingInput, scaled } from './input.js';

/** @typedef {import('/client/index.js').Client} Client */
/** @typedef {import('/client/index.js').Schema} Schema */
/** @typedef {import('/client/index.js').Snapshot} Snapshot */
/** @typedef {import('/client/index.js').Entity} Entity */

/** Dot colours by the entity's `kind` field (or its kind's name). */
const COLOURS = /** @type {Record<string, string>} */ ({ Player: '#4cc9f0', Npc: '#8d99ae' });
const OTHER = ['#f72585', '#b5e48c', '#ffb703', '#9b5de5'];
const OWN = '#ffd166';
/** A touch drag this long (CSS pixels) is a full stick. */
const FULL_DRAG_PX = 60;

export class ArenaView {
  /** @param {Schema} schema */
  static fits(schema) {
    return kindHas(schema, null, [['pos', 'int', 2]]) && inputHas(schema, ['move_x', 'move_y', 'aim']);
  }

  help = 'WASD / arrows: move · mouse: aim · touch: drag to move · Enter: chat';

  #canvas;
  #ctx;
  #client;
  /** The world's square, from `pos`'s declared range. */
  #min;
  #max;
  /** Keys held down, lowercase. */
  #keys = heldKeys();
  /** The pointer in world units, for aiming; null before it moved. @type {[number, number] | null} */
  #mouse = null;
  /** A touch drag: where it started and where it is, CSS pixels. @type {{id: number, x0: number, y0: number, x: number, y: number} | null} */
  #drag = null;
  #aim = 0;
  /** Canvas pixels per world unit, and the world's top-left on the canvas. */
  #view = { scale: 1, x: 0, y: 0 };

  /**
   * @param {HTMLCanvasElement} canvas
   * @param {Client} client
   */
  constructor(canvas, client) {
    this.#canvas = canvas;
    this.#ctx = /** @type {CanvasRenderingContext2D} */ (canvas.getContext('2d'));
    this.#client = client;
    const pos = client.schema.kinds.flatMap((k) => k.fields).find((f) => f.name === 'pos');
    this.#min = pos?.min ?? 0;
    this.#max = pos?.max ?? 1000;


    canvas.addEventListener('pointermove', (e) => {
      if (e.pointerType === 'mouse') this.#mouse = this.#toWorld(e.offsetX, e.offsetY);
      if (this.#drag && e.pointerId === this.#drag.id) Object.assign(this.#drag, { x: e.offsetX, y: e.offsetY });
    });
    canvas.addEventListener('pointerdown', (e) => {
      if (e.pointerType === 'mouse') return;
      canvas.setPointerCapture(e.pointerId);
      this.#drag = { id: e.pointerId, x0: e.offsetX, y0: e.offsetY, x: e.offsetX, y: e.offsetY };
    });
    const release = (/** @type {PointerEvent} */ e) => {
      if (this.#drag && e.pointerId === this.#drag.id) this.#drag = null;
    };
    canvas.addEventListener('pointerup', release);
    canvas.addEventListener('pointercancel', release);
  }

  /** This tick's input: the keys or the drag, the aim at the mouse. */
  input() {
    const k = this.#keys;
    let x = (k.has('d') || k.has('arrowright') ? 1 : 0) - (k.has('a') || k.has('arrowleft') ? 1 : 0);
    let y = (k.has('s') || k.has('arrowdown') ? 1 : 0) - (k.has('w') || k.has('arrowup') ? 1 : 0);
    if (this.#drag) {
      const dx = this.#drag.x - this.#drag.x0;
      const dy = this.#drag.y - this.#drag.y0;
      const length = Math.hypot(dx, dy);
      if (length > 4) {
        const unit = Math.min(1, length / FULL_DRAG_PX) / length;
        x = dx * unit;
        y = dy * unit;
        this.#aim = Math.atan2(dy, dx);
      }
    }
    const own = this.#client.ownEntity;
    if (this.#mouse && own && !this.#drag) {
      const [px, py] = /** @type {number[]} */ (own.fields.pos);
      this.#aim = Math.atan2(this.#mouse[1] - py, this.#mouse[0] - px);
    }
    const schema = this.#client.schema;
    return { ...restingInput(schema), move_x: scaled(schema, 'move_x', x), move_y: scaled(schema, 'move_y', y), aim: this.#aim };
  }

  /**
   * @param {Snapshot | null} world remote entities, interpolated
   * @param {Snapshot | null} newest the newest snapshot (this player's entity)
   */
  draw(world, newest) {
    const ctx = this.#ctx;
    const { width, height } = fitCanvas(this.#canvas);
    const span = this.#max - this.#min;
    const dpr = devicePixelRatio || 1;
    const scale = (Math.min(width, height) - 16 * dpr) / span;
    this.#view = { scale, x: (width - span * scale) / 2, y: (height - span * scale) / 2 };
    ctx.fillStyle = '#101418';
    ctx.fillRect(0, 0, width, height);
    ctx.fillStyle = '#161c22';
    ctx.strokeStyle = '#2c3540';
    ctx.lineWidth = dpr;
    ctx.fillRect(this.#view.x, this.#view.y, span * scale, span * scale);
    ctx.strokeRect(this.#view.x, this.#view.y, span * scale, span * scale);

    const ownId = this.#client.entityId;
    const radius = Math.max(3 * dpr, 6 * scale * (span / 1000));
    for (const e of world?.entities ?? []) {
      if (e.id !== ownId) this.#dot(e, colourOf(e), radius, false);
    }
    const own = ownId ? newest?.entities.find((e) => e.id === ownId) : undefined;
    if (own) this.#dot(own, OWN, radius * 1.3, true);
    if (this.#drag) {
      const d = this.#drag;
      ctx.strokeStyle = 'rgba(255, 209, 102, 0.6)';
      ctx.lineWidth = 2 * dpr;
      ctx.beginPath();
      ctx.arc(d.x0 * dpr, d.y0 * dpr, FULL_DRAG_PX * dpr, 0, Math.PI * 2);
      ctx.moveTo(d.x0 * dpr, d.y0 * dpr);
      ctx.lineTo(d.x * dpr, d.y * dpr);
      ctx.stroke();
    }
  }

  hudLines() {
    const own = this.#client.ownEntity;
    return own && typeof own.fields.hp === 'number' ? [`hp     ${own.fields.hp}`] : [];
  }

  /**
   * @param {Entity} e
   * @param {string} colour
   * @param {number} radius
   * @param {boolean} own
   */
  #dot(e, colour, radius, own) {
    const pos = e.fields.pos;
    if (!Array.isArray(pos)) return;
    const ctx = this.#ctx;
    const { scale, x, y } = this.#view;
    const cx = x + (Number(pos[0]) - this.#min) * scale;
    const cy = y + (Number(pos[1]) - this.#min) * scale;
    ctx.fillStyle = colour;
    ctx.beginPath();
    ctx.arc(cx, cy, radius, 0, Math.PI * 2);
    ctx.fill();
    if (typeof e.fields.angle === 'number') {
      ctx.strokeStyle = colour;
      ctx.lineWidth = Math.max(1, radius / 3);
      ctx.beginPath();
      ctx.moveTo(cx, cy);
      ctx.lineTo(cx + Math.cos(e.fields.angle) * radius * 2, cy + Math.sin(e.fields.angle) * radius * 2);
      ctx.stroke();
    }
    if (own) {
      ctx.strokeStyle = '#fff';
      ctx.lineWidth = Math.max(1, radius / 4);
      ctx.beginPath();
      ctx.arc(cx, cy, radius * 1.8, 0, Math.PI * 2);
      ctx.stroke();
    }
  }

  /**
   * A point on the canvas (CSS pixels) in world units.
   * @param {number} px @param {number} py @returns {[number, number]}
   */
  #toWorld(px, py) {
    const dpr = devicePixelRatio || 1;
    const { scale, x, y } = this.#view;
    return [(px * dpr - x) / scale + this.#min, (py * dpr - y) / scale + this.#min];
  }
}

/** @param {Entity} e */
function colourOf(e) {
  const kind = typeof e.fields.kind === 'string' ? e.fields.kind : e.kind;
  if (COLOURS[kind]) return COLOURS[kind];
  let h = 0;
  for (const c of kind) h = (h * 31 + c.charCodeAt(0)) >>> 0;
  return OTHER[h % OTHER.length];
}

/**
 * Sizes the canvas's pixels to its CSS box (times the device's pixel ratio).
 * @param {HTMLCanvasElement} canvas
 */
export function fitCanvas(canvas) {
  const dpr = devicePixelRatio || 1;
  const width = Math.max(1, Math.round(canvas.clientWidth * dpr));
  const height = Math.max(1, Math.round(canvas.clientHeight * dpr));
  if (canvas.width !== width || canvas.height !== height) {
    canvas.width = width;
    canvas.height = height;
  }
  return { width, height };
}
