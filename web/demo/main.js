// @ts-check
/**
 * The demo page: joins at once (`?match=ID` picks the match, `?spectate=1`
 * watches), picks a renderer by the kinds of the schema the server sent in
 * `Welcome`, sends one input per received snapshot, and wires the chat, the
 * Ready button and the HUD.
 * @module
 */

import { connect, MessageError } from '/client/index.js';
import { ArenaView } from './arena.js';
import { ByteRate, Log, drawHud } from './hud.js';
import { Space3dView } from './space3d.js';

/** @typedef {import('/client/index.js').Client} Client */
/** @typedef {import('/client/index.js').Schema} Schema */
/** @typedef {import('/client/index.js').Snapshot} Snapshot */

/**
 * What a renderer does; one per game.
 * @typedef {object} View
 * @property {string} help what the keys do
 * @property {() => Record<string, unknown>} input this tick's input, in game units
 * @property {(world: Snapshot | null, newest: Snapshot | null) => void} draw remote entities from `world` (interpolated), this player's from `newest`
 * @property {() => string[]} hudLines the game's lines in the HUD
 */

/** The renderers, tried in order: the first whose `fits(schema)` holds draws. */
const VIEWS = [ArenaView, Space3dView];

const byId = (/** @type {string} */ id) => /** @type {HTMLElement} */ (document.getElementById(id));
const canvas = /** @type {HTMLCanvasElement} */ (byId('view'));
const hud = byId('hud');
const status = byId('status');
const log = new Log(byId('log'));

/** @param {string} text */
function setStatus(text) {
  status.textContent = text;
}

async function main() {
  const params = new URLSearchParams(location.search);
  const match = params.get('match');
  const spectate = ['1', 'true'].includes(params.get('spectate') ?? '');
  const url = `${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/ws`;
  setStatus(spectate ? 'connecting to watch…' : 'joining…');

  /** @type {Client} */
  let client;
  try {
    client = await connect(url, {
      ...(match !== null && /^\d+$/.test(match) ? { match } : {}),
      ...(spectate ? { spectate: true } : {}),
    });
  } catch (error) {
    setStatus(`could not join: ${describe(error)}`);
    log.add(
      spectate
        ? 'Nothing to watch? Spectating without ?match= needs a live match. Reload to try again.'
        : 'The server refused or is unreachable (browsers do not say which). Reload to try again.',
      'system',
    );
    return;
  }

  const View = VIEWS.find((v) => v.fits(client.schema));
  if (!View) {
    const kinds = client.schema.kinds.map((k) => k.name).join(', ');
    setStatus(`connected, but this demo has no renderer for kinds ${kinds}`);
    client.close();
    return;
  }
  /** @type {View} */
  const view = new View(canvas, client);
  byId('help').textContent = view.help;
  setStatus(`${client.role} in match ${client.welcome.matchId}`);
  log.add(`Joined match ${client.welcome.matchId} as ${client.role}. Share ?match=${client.welcome.matchId} to play together, ?spectate=1 to watch.`, 'system');

  wireMessages(client);

  const rate = new ByteRate();
  client.addEventListener('snapshot', (e) => {
    rate.add(e.bytes, performance.now());
    // One input per tick, sent as the tick arrives: it carries the ack too.
    if (client.role === 'player' && client.state === 'open') client.sendInput(view.input());
  });
  client.addEventListener('disconnect', (e) => setStatus(e.willResume ? 'connection lost, resuming…' : `disconnected: ${describe(e.error)}`));
  client.addEventListener('resumed', () => setStatus(`${client.role} in match ${client.welcome.matchId} (resumed)`));
  client.addEventListener('sessionlost', () => setStatus('the session is gone: reload to join again'));
  client.addEventListener('ended', (e) => log.add(`The match ended: ${e.result.type} ${JSON.stringify(e.result.fields)}`, 'system'));
  client.addEventListener('close', (e) => setStatus(e.error ? `closed: ${describe(e.error)} (reload to join again)` : 'closed'));

  let frames = 0;
  const frame = () => {
    const world = client.interpolated();
    view.draw(world, client.world);
    // The HUD is text: a few times a second is plenty.
    if (frames++ % 10 === 0) drawHud(hud, client, rate, client.world ? client.world.entities.length : 0, view.hudLines());
    if (client.state !== 'closed') requestAnimationFrame(frame);
  };
  requestAnimationFrame(frame);
}

/**
 * The chat box, the Ready button, and the game's events in the log.
 * @param {Client} client
 */
function wireMessages(client) {
  const has = (/** @type {string} */ name) => client.schema.messages.some((m) => m.name === name);
  const form = /** @type {HTMLFormElement} */ (byId('chat'));
  const text = /** @type {HTMLInputElement} */ (byId('chat-text'));
  const ready = /** @type {HTMLButtonElement} */ (byId('ready'));
  const canChat = has('Chat');
  const canReady = has('Ready') && client.role === 'player';
  form.hidden = !canChat && !canReady;
  text.hidden = !canChat;
  /** @type {HTMLElement} */ (form.querySelector('button[type=submit]')).hidden = !canChat;
  ready.hidden = !canReady;

  form.addEventListener('submit', (e) => {
    e.preventDefault();
    const line = text.value.trim();
    if (!line) return;
    if (trySend(client, 'Chat', { text: line })) text.value = '';
    text.blur(); // back to the game's keys
  });
  ready.addEventListener('click', () => {
    if (trySend(client, 'Ready', null)) ready.disabled = true;
    ready.blur();
  });

  client.addEventListener('event', (e) => {
    const f = e.fields;
    if (e.name === 'Chat') {
      const me = f.role === 'Player' && f.entity === client.entityId;
      log.add(`${speaker(f)}${me ? ' (you)' : ''}: ${f.text}`, me ? 'me' : 'chat');
    } else if (e.name === 'Ready') {
      log.add(`#${f.entity} is ready`, 'system');
    } else if (e.name === 'AllReady') {
      log.add('everyone is ready', 'system');
    } else {
      log.add(`${e.name} ${JSON.stringify(f)}`, 'system');
    }
  });
  client.addEventListener('eventsmissed', (e) => log.add(`(events ${e.first}–${e.last} were lost while away)`, 'system'));
  client.addEventListener('denied', (e) => log.add(`refused: ${e.message}`, 'system'));
}

/**
 * Who said a chat line: an entity for a player, the role for the others.
 * @param {Record<string, unknown>} fields
 */
function speaker(fields) {
  if (fields.role === 'Player' || fields.role === undefined) return `#${fields.entity}`;
  return String(fields.role).toLowerCase();
}

/**
 * @param {Client} client
 * @param {string} type
 * @param {Record<string, unknown> | null} fields
 */
function trySend(client, type, fields) {
  try {
    if (client.send(type, fields)) return true;
    log.add(`${type} not sent (too fast, or reconnecting)`, 'system');
  } catch (error) {
    log.add(error instanceof MessageError ? `${type} not sent: ${error.message}` : String(error), 'system');
  }
  return false;
}

/** @param {unknown} error */
function describe(error) {
  return error instanceof Error ? error.message : String(error);
}

main().catch((error) => {
  setStatus(`demo failed: ${describe(error)}`);
  console.error(error);
});
