// index.d.ts against the code: `tsc --noEmit` checks the declarations, a
// game's use of them (test/types-usage.ts and the demo page, web/demo/,
// whose `/client/index.js` tsconfig.json maps to index.d.ts) and the JSDoc
// of src/ (checkJs); and the names it declares are exactly the ones
// src/index.js exports.

import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { test } from 'node:test';

const web = fileURLToPath(new URL('..', import.meta.url));
const tsc = `${web}node_modules/.bin/tsc`;

test('index.d.ts declares exactly what src/index.js exports', async () => {
  const exported = Object.keys(await import('../src/index.js')).sort();
  const text = readFileSync(`${web}index.d.ts`, 'utf8');
  const declared = [...text.matchAll(/^export declare (?:class|function|const) (\w+)/gm)].map((m) => m[1]).sort();
  assert.deepStrictEqual(declared, exported);
});

test('tsc --noEmit accepts the types, their use (the demo too), and the JSDoc of src/', () => {
    assert.ok(existsSync(tsc), 'typescript is not installed: run `npm ci` in web/ (tests/web.rs does)');
    try {
      execFileSync(tsc, ['--noEmit', '-p', web], { encoding: 'utf8', timeout: 120_000 });
    } catch (e) {
      assert.fail(`tsc found errors:\n${e.stdout}${e.stderr}`);
    }
});
