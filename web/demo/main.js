// @ts-check
/**
 * The demo page: joins at once (`?match=ID` picks the match, `?spectate=1`
 * watches), takes its seat back after a reload, picks a renderer by the
 * kinds of the schema the server sent in `Welcome`, sends one input per
 * tick timed to reach the server just before that tick, and wires the
 * chat, the Ready button and the HUD.
 * @module
 */

import { connect, MessageError, RefusedError } from '/client/index.js';
import { ArenaView } from './arena.js';
import { ByteRate, InputLead, Log, drawHud } from './hud.js';
import { Space3dView } from './space3d.js';

/** @typedef {import('/client/index.js').Client} Client */
/** @typedef {import('/client/index.js').Schema} Schema */
/** @typedef {import('/client/index.js').Snapshot} Snapshot */
/** @typedef {import('/client/index.js').Session} Session */

/**
 * The page's state as `window.tickwire`, for the console and for automation
 * (web/test/browser/, web/bench/): to read; the game is played with the keys.
 * @typedef {object} DemoState
 * @property {Client | null} client the connection, once joined
 * @property {boolean} resumed whether this page took back the seat its tab had before a reload
 * @property {number} snapshots snapshots received since the page loaded
 * @property {string | null} error why joining failed, if it did
 */

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

/** @type {DemoState} */
const state = { client: null, resumed: false, snapshots: 0, error: null };
Object.assign(window, { tickwire: state });

/** @param {string} text */
function setStatus(text) {
  status.textContent = text;
}

async function main() {
  const params = new URLSearchParams(location.search);
  const asked = params.get('match');
  const match = asked !== null && /^\d+$/.test(asked) ? asked : null;
  const spectate = ['1', 'true'].includes(params.get('spectate') ?? '');
  const url = `${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/ws`;
  setStatus(spectate ? 'connecting to watch…' : 'joining…');

  /** @type {Client} */
  let client;
  try {
    client = await join(url, match, spectate);
  } catch (error) {
    state.error = describe(error);
    hud.textContent = 'not connected';
    setStatus(`could not join: ${describe(error)}`);
    log.add(joinHint(error), 'system');
    return;
  }
  state.client = client;
  keepSeat(client);
  // The seat outlives the page for the reconnect grace: the next load of this tab takes it back.
  addEventListener('pagehide', () => {
    if (client.state !== 'closed') keepSeat(client);
  });
  // A page restored from the back-forward cache lost its socket: load it again, which resumes.
  addEventListener('pageshow', (e) => {
    if (e.persisted) location.reload();
  });

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
  setStatus(`${client.role} in match ${client.welcome.matchId}${state.resumed ? ' (resumed)' : ''}`);
  log.add(
    state.resumed
      ? `Back in match ${client.welcome.matchId} as ${client.role}${client.entityId ? ` #${client.entityId}` : ''}: the seat waited over the reload.`
      : `Joined match ${client.welcome.matchId} as ${client.role}. Share ?match=${client.welcome.matchId} to play together, ?spectate=1 to watch.`,
    'system',
  );

  wireMessages(client);

  const rate = new ByteRate();
  const plays = client.role === 'player';
  const lead = plays ? new InputLead(client) : null;
  /** Whether a timed input went out on this connection: timing starts a tick after its first snapshot. */
  let timed = false;
  client.addEventListener('snapshot', (e) => {
    state.snapshots++;
    rate.add(e.bytes, performance.now());
    // Until then, an input as the snapshot arrives (carrying its ack), so
    // held keys count from a (re)connection's first tick.
    if (plays && !timed && client.state === 'open') client.sendInput(view.input());
  });
  if (plays) {
    // One input per tick, sampled just before its send time: it reaches the
    // server right before the tick that applies it.
    client.startTimedInputs(() => {
      timed = true;
      return view.input();
    });
  }
  client.addEventListener('disconnect', (e) => setStatus(e.willResume ? 'connection lost, resuming…' : `disconnected: ${describe(e.error)}`));
  client.addEventListener('resumed', () => {
    // A new connection fits its tick grid again before timing its inputs.
    timed = false;
    // Each Welcome brings a new session token; the old one is dead.
    keepSeat(client);
    setStatus(`${client.role} in match ${client.welcome.matchId} (resumed)`);
  });
  client.addEventListener('sessionlost', () => setStatus('the session is gone: reload to join again'));
  client.addEventListener('ended', (e) => log.add(`The match ended: ${e.result.type} ${JSON.stringify(e.result.fields)}`, 'system'));
  client.addEventListener('close', (e) => {
    forgetSeat();
    setStatus(e.error ? `closed: ${describe(e.error)} (reload to join again)` : 'closed');
  });

  let frames = 0;
  const frame = () => {
    const world = client.interpolated();
    view.draw(world, client.world);
    // The HUD is text: a few times a second is plenty.
    if (frames++ % 10 === 0) drawHud(hud, client, rate, lead, client.world ? client.world.entities.length : 0, view.hudLines());
    if (client.state !== 'closed') requestAnimationFrame(frame);
  };
  requestAnimationFrame(frame);
}

/** Where a tab keeps its seat over a reload: sessionStorage is the tab's own, so two tabs never share a seat. */
const SEAT_KEY = 'tickwire.seat';

/**
 * A seat kept over a reload: the session, and what it is (a page asking for
 * another match, or to watch rather than play, joins anew).
 * @typedef {{matchId: string, role: string, session: Session}} Seat
 */

/**
 * Resumes the seat this tab kept, if the page asks for what it is; else (or
 * when the server no longer has it) joins.
 * @param {string} url
 * @param {string | null} match
 * @param {boolean} spectate
 * @returns {Promise<Client>}
 */
async function join(url, match, spectate) {
  const seat = keptSeat();
  if (seat && (match === null || seat.matchId === match) && spectate === (seat.role !== 'player')) {
    try {
      const client = await connect(url, { resume: seat.session });
      state.resumed = true;
      return client;
    } catch (error) {
      forgetSeat();
      log.add(`The seat kept over the reload is gone (${describe(error)}): joining anew.`, 'system');
    }
  }
  return connect(url, { ...(match !== null ? { match } : {}), ...(spectate ? { spectate: true } : {}) });
}

/** @returns {Seat | null} */
function keptSeat() {
  try {
    const seat = JSON.parse(sessionStorage.getItem(SEAT_KEY) ?? 'null');
    return typeof seat?.session?.token === 'string' && typeof seat.matchId === 'string' ? seat : null;
  } catch {
    return null; // storage off (a private window's policy) or a damaged entry: join anew
  }
}

/** @param {Client} client */
function keepSeat(client) {
  /** @type {Seat} */
  const seat = { matchId: String(client.welcome.matchId), role: client.role, session: client.session };
  try {
    sessionStorage.setItem(SEAT_KEY, JSON.stringify(seat));
  } catch {
    // No storage: a reload joins anew.
  }
}

function forgetSeat() {
  try {
    sessionStorage.removeItem(SEAT_KEY);
  } catch {
    // No storage, nothing kept.
  }
}

/**
 * What to do about a failed join, for the log.
 * @param {unknown} error
 */
function joinHint(error) {
  if (!(error instanceof RefusedError)) return 'The server is unreachable. Reload to try again.';
  switch (error.code) {
    case 'match_not_found':
    case 'match_ended':
      return 'That match is not there (any more): open the page without ?match= to join one.';
    case 'nothing_to_watch':
      return 'Nothing to watch: spectating without ?match= needs a live match.';
    default:
      return error.retryable ? 'Reload to try again in a moment.' : 'Reloading will not help.';
  }
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
