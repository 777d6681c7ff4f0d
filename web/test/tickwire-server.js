// A real tickwire server for the tests that play against one
// (server.test.js, browser/*.test.js), and the bounded waits they share.
//
// The binary is $TICKWIRE_BIN (cargo's, when tests/web.rs or
// tests/browser.rs runs the tests), else a build in ../target.

import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';

/** The server binary, or undefined when there is none. */
export const BIN =
  process.env.TICKWIRE_BIN ??
  ['release', 'debug'].map((p) => new URL(`../../target/${p}/tickwire`, import.meta.url).pathname).find(existsSync);

/** Why there is no server to play against, for a test that cannot go on without one. */
export const NO_BIN = 'no server binary: set TICKWIRE_BIN or build with cargo';

/** Every wait in these tests ends: a failure is a clear message, not a hang. */
export function within(ms, what, promise) {
  let timer;
  return Promise.race([
    promise,
    new Promise((_, reject) => {
      timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms waiting for ${what}`)), ms);
    }),
  ]).finally(() => clearTimeout(timer));
}

/** The next event of `type` on `target` that satisfies `ok`. */
export function next(target, type, ok = () => true) {
  return new Promise((resolve) => {
    const on = (e) => {
      if (!ok(e)) return;
      target.removeEventListener(type, on);
      resolve(e);
    };
    target.addEventListener(type, on);
  });
}

/**
 * Starts `tickwire serve` on a free loopback port (or `port`) with `args`; resolves
 * with its WebSocket URL (`ws://` or, with TLS, `wss://127.0.0.1:PORT/ws`),
 * its `origin` (`http(s)://127.0.0.1:PORT`, where the demo page and the API
 * are), and `stop`. A server the test forgets is killed when the process exits.
 */
export async function startServer(args = [], { port = 0 } = {}) {
  if (!BIN) throw new Error(NO_BIN);
  const child = spawn(BIN, ['serve', '--bind', `127.0.0.1:${port}`, '--log-filter', 'warn', ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const kill = () => child.kill('SIGKILL');
  process.once('exit', kill);
  let stderr = '';
  child.stderr.on('data', (d) => {
    stderr += d;
  });
  const exited = new Promise((resolve) => child.once('exit', resolve));
  let url;
  try {
    url = await within(
      10_000,
      'the server to listen',
      new Promise((resolve, reject) => {
        let out = '';
        child.stdout.on('data', (d) => {
          out += d;
          const m = /listening on (wss?:\/\/\S+)/.exec(out);
          if (m) resolve(m[1]);
        });
        child.on('exit', (code) => reject(new Error(`the server exited (${code}): ${stderr}`)));
      }),
    );
  } catch (e) {
    kill();
    throw e;
  }
  const origin = new URL(url);
  origin.protocol = origin.protocol === 'wss:' ? 'https:' : 'http:';
  return {
    url,
    origin: origin.origin,
    /** What the server logged (warnings and errors): for a failure's message. */
    get stderr() {
      return stderr;
    },
    stop: async () => {
      kill();
      process.removeListener('exit', kill);
      await within(5000, 'the server to exit', exited);
    },
  };
}
