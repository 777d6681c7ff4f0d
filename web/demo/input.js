// @ts-check
/**
 * Inputs by the schema: every field of the game's input at rest, and a stick
 * position (-1..1) scaled to an `int` field's own range, so a renderer never
 * hard-codes a game's limits.
 * @module
 */

/** @typedef {import('/client/index.js').Schema} Schema */
/** @typedef {import('/client/index.js').Field} Field */

/**
 * Every field of the input at rest: false, 0 (or the range's value nearest
 * it), vectors of zeros.
 * @param {Schema} schema
 * @returns {Record<string, unknown>}
 */
export function restingInput(schema) {
  /** @type {Record<string, unknown>} */
  const input = {};
  for (const field of schema.input.fields) input[field.name] = resting(field);
  return input;
}

/** @param {Field} field @returns {unknown} */
function resting(field) {
  switch (field.type) {
    case 'bool':
      return false;
    case 'enum':
      return field.variants[0];
    case 'angle':
      return 0;
    case 'quat':
      return [0, 0, 0, 1];
    case 'string':
      return '';
    case 'list':
      return [];
    default: {
      const zero = field.type === 'int' ? Math.min(Math.max(0, field.min), field.max) : 0;
      return field.dims > 1 ? new Array(field.dims).fill(zero) : zero;
    }
  }
}

/**
 * `unit` (-1..1, a stick's deflection) on the input's `int` field `name`:
 * -1 is the field's min, 1 its max, 0 is 0.
 * @param {Schema} schema
 * @param {string} name
 * @param {number} unit
 */
export function scaled(schema, name, unit) {
  const field = schema.input.fields.find((f) => f.name === name);
  if (!field) return 0;
  const u = Math.max(-1, Math.min(1, unit));
  return Math.round(u >= 0 ? u * field.max : -u * field.min);
}

/**
 * Whether the schema's input has every one of these fields.
 * @param {Schema} schema
 * @param {string[]} names
 */
export function inputHas(schema, names) {
  return names.every((n) => schema.input.fields.some((f) => f.name === n));
}

/**
 * The kind named `name` with a field of each of these (name, type, dims).
 * @param {Schema} schema
 * @param {string | null} name any kind when null
 * @param {[string, string, number][]} fields
 */
export function kindHas(schema, name, fields) {
  return schema.kinds.some(
    (k) =>
      (name === null || k.name === name) &&
      fields.every(([n, type, dims]) => k.fields.some((f) => f.name === n && f.type === type && f.dims === dims)),
  );
}

/**
 * The keys held down (lowercase `KeyboardEvent.key`s), kept up to date for
 * the page's lifetime. Keys typed into the chat box do not count; Enter moves
 * to it; arrows and space do not scroll the page.
 * @returns {Set<string>}
 */
export function heldKeys() {
  /** @type {Set<string>} */
  const keys = new Set();
  const typing = () => document.activeElement instanceof HTMLInputElement;
  addEventListener('keydown', (e) => {
    if (typing()) return;
    if (e.key === 'Enter') {
      document.getElementById('chat-text')?.focus();
      e.preventDefault();
      return;
    }
    keys.add(e.key.toLowerCase());
    if (e.key.startsWith('Arrow') || e.key === ' ') e.preventDefault();
  });
  addEventListener('keyup', (e) => keys.delete(e.key.toLowerCase()));
  addEventListener('blur', () => keys.clear());
  return keys;
}
