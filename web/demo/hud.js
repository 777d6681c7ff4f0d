// @ts-check
/**
 * The demo's overlay: the numbers a netcode demo should show (round trip,
 * tick, bytes down, entities, interpolation delay) and the message log.
 * @module
 */

/** @typedef {import('/client/index.js').Client} Client */

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
 * Writes the HUD. `extra` is the renderer's own lines (hp, score...).
 * @param {HTMLElement} element
 * @param {Client} client
 * @param {ByteRate} rate
 * @param {number} entities
 * @param {string[]} extra
 */
export function drawHud(element, client, rate, entities, extra) {
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
