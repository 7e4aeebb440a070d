/**
 * Loads the gateway's production bundle with V8's code cache. Shipped by
 * `npm run build` as dist/server/bundleLoader.mjs; dist/main.js is two lines
 * that call it.
 *
 * Why: most of a start used to be V8 parsing and compiling ~2 MB of bundled
 * JavaScript (zod, protobufjs, ioredis, pg, node-pg-migrate...) before the
 * first line of ours ran. A code cache holds that work done: the bytecode of
 * every function that ran while the modules initialised. Node 22 and 24 keep
 * one by themselves (module.enableCompileCache()), but measured on Node 24
 * (2026-12-07, 2 shared cores, 7 interleaved starts, docs/benchmarks.md) it
 * saved less: CPU to /readyz 384 ms (migrated database) and 460 ms (fresh)
 * with it, 331 and 403 ms with this loader, 453 ms with no cache at all;
 * this cache is made after the modules initialised, so it holds the
 * functions that ran then too. So the gateway stays bundled as CommonJS
 * (dist/server/gateway.cjs), and this module compiles it as Node's own
 * CommonJS loader would (the same wrapper function, run in the main
 * context) but hands V8 the cache.
 *
 * The cache (gateway.cjs.v8cache) is written by the build, by loading the
 * bundle without starting it (`writeCodeCache`). V8 refuses a cache made by
 * another V8 version or with other V8 flags, or for another source; the start
 * then compiles from source as it would without one, only slower, and says so
 * in its ready line. `npm start` rebuilds when the node version changed.
 */
import { isAscii } from 'node:buffer';
import { readFileSync, renameSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Script } from 'node:vm';

const HERE = dirname(fileURLToPath(import.meta.url));

/**
 * What a load did with the code cache: `used`, `rejected` (made by another
 * V8 or with other flags), or `missing`.
 * @typedef {'used' | 'rejected' | 'missing'} CodeCacheUse
 */

/**
 * Compiles and runs dist/server/<name>.cjs (its modules initialise; nothing
 * starts until the caller calls an export), with its code cache when there
 * is one.
 * @param {string} name the bundle's name, without `.cjs`
 * @returns {{ exports: Record<string, unknown>, codeCache: CodeCacheUse, script: Script, cacheFile: string }}
 */
export function loadBundle(name) {
  const file = join(HERE, `${name}.cjs`);
  const cacheFile = `${file}.v8cache`;
  const bytes = readFileSync(file);
  // esbuild writes ASCII (other characters escaped), which decodes as Latin-1 several times faster than as UTF-8.
  const source = isAscii(bytes) ? bytes.toString('latin1') : bytes.toString('utf8');
  let cachedData;
  try {
    cachedData = readFileSync(cacheFile);
  } catch {
    cachedData = undefined; // no cache: compile from source
  }
  // Node's CommonJS wrapper, opened on the bundle's first line so that stack traces keep its line numbers.
  // No import() callback: the build turns every import() into require(), as one compiled from a cache cannot import.
  const script = new Script(`(function (exports, require, module, __filename, __dirname) {${source}\n})`, { filename: file, cachedData });
  const module = { exports: {} };
  script.runInThisContext()(module.exports, createRequire(file), module, file, HERE);
  const codeCache = cachedData === undefined ? 'missing' : script.cachedDataRejected ? 'rejected' : 'used';
  return { exports: module.exports, codeCache, script, cacheFile };
}

/**
 * The build's last step: loads the bundle (initialising its modules, which
 * compiles what they run) and writes the code cache beside it.
 * @param {string} name the bundle's name, without `.cjs`
 * @returns {number} the cache's size in bytes
 */
export function writeCodeCache(name) {
  const { script, cacheFile } = loadBundle(name);
  const data = script.createCachedData();
  // Written whole or not at all: a start that read a half-written cache would have it refused, and start slower.
  writeFileSync(`${cacheFile}.tmp`, data);
  renameSync(`${cacheFile}.tmp`, cacheFile);
  return data.length;
}
