// @ts-check
/**
 * The demo's overlay: the numbers a netcode demo should show (round trip,
 * tick, bytes down, entities, interpolation delay, how early inputs reach
 * the server) and the message log.
 * @module
 */

/** @typedef {import('/client/index.js').Client} Client */
/** @typedef {import('/client/index.js').InputTimingEvent} InputTimingEvent */

/** Bytes of snapshots received in the last second, for KB/s down. */
export class ByteRate {
  /** @type {{at: number, bytes: number}[]} */
  #samples = [];

  /** @param {number} bytes @param {number} at */
  add(bytes, at) {
    this.#samples.push({ at, bytes });
    this.#trim(at);
  }

  /** @param {number} now @returns {number} kilobytes per second */
  kbPerSecond(now) {
    this.#trim(now);
    return this.#samples.reduce((sum, s) => sum + s.bytes, 0) / 1024;
  }

  /** @param {number} now */
  #trim(now) {
    while (this.#samples.length > 0 && now - this.#samples[0].at > 1000) this.#samples.shift();
  }
}

/**
 * The newest input timing report: how early the worst input of the last
 * half second reached the server before its tick (negative: late).
 */
export class InputLead {
  /** @type {InputTimingEvent | null} */
  #report = null;

  /** @param {Client} client */
  constructor(client) {
    client.addEventListener('inputtiming', (e) => {
      this.#report = e;
    });
  }

  /** `1.8 ms`, with the late inputs if any; `–` before the first report. */
  text() {
    const r = this.#report;
    if (r === null) return '–';
    return `${r.leadMinMs.toFixed(1)} ms${r.late > 0 ? ` (${r.late} late)` : ''}`;
  }
}

/**
 * Writes the HUD. `extra` is the renderer's own lines (hp, score...).
 * @param {HTMLElement} element
 * @param {Client} client
 * @param {ByteRate} rate
 * @param {InputLead | null} lead a player's, null for a watcher (who sends no inputs)
 * @param {number} entities
 * @param {string[]} extra
 */
export function drawHud(element, client, rate, lead, entities, extra) {
  const now = performance.now();
  const rtt = client.smoothedRttMs;
  const delay = interpolationDelayMs(client, now);
  const lines = [
    `match ${client.welcome.matchId} · ${client.role}${client.entityId ? ` #${client.entityId}` : ''}`,
    `rtt    ${rtt === null ? '–' : `${rtt.toFixed(0)} ms`}`,
    `tick   ${client.world ? client.world.tick : '–'} (${client.welcome.tickRate}/s)`,
    `down   ${rate.kbPerSecond(now).toFixed(1)} KB/s`,
    `ents   ${entities}`,
    `interp ${delay === null ? '–' : `${delay.toFixed(0)} ms behind the server`}`,
    ...(lead ? [`lead   ${lead.text()}`] : []),
    ...extra,
  ];
  const text = lines.join('\n');
  if (element.textContent !== text) element.textContent = text;
}

/**
 * How far behind the server's estimated tick the drawn world is, in
 * milliseconds (the interpolation delay plus jitter), or null before the
 * first snapshot.
 * @param {Client} client
 * @param {number} now
 */
export function interpolationDelayMs(client, now) {
  const server = client.serverTick(now);
  const render = client.renderTick(now);
  return server !== null && render !== null ? ((server - render) * 1000) / client.welcome.tickRate : null;
}

/** The message log: chat lines and the game's other events. */
export class Log {
  #element;

  /** @param {HTMLElement} element */
  constructor(element) {
    this.#element = element;
  }

  /**
   * @param {string} text
   * @param {'chat' | 'me' | 'system'} [style]
   */
  add(text, style = 'chat') {
    const line = document.createElement('div');
    line.className = style;
    line.textContent = text; // never innerHTML: chat is other people's text
    const atBottom = this.#element.scrollTop + this.#element.clientHeight >= this.#element.scrollHeight - 4;
    this.#element.append(line);
    while (this.#element.childElementCount > 200) this.#element.firstElementChild?.remove();
    if (atBottom) this.#element.scrollTop = this.#element.scrollHeight;
  }
}
