#!/usr/bin/env node
/**
 * `npm run build:browser`: bundles the browser side with esbuild into
 * dist/browser/, which the gateway serves under /console (CONSOLE):
 *   osmium-client.js  the typed client (src/client/index.ts) as one ES module
 *   console.js/.css   the web console's script and style (src/console/)
 *   index.html        the console page
 * `npm start` and `npm test` run it through `scripts/build.mjs --if-stale`
 * (with the server bundle), so a fresh clone serves the console and an edit
 * shows on the next start. About 0.5 s on 2 busy cores.
 *   node scripts/buildBrowser.mjs             build (minified, with source maps)
 *   node scripts/buildBrowser.mjs --if-stale  only when a source is newer than the bundle
 *   node scripts/buildBrowser.mjs --quiet     no size report
 */
import { build } from 'esbuild';
import { copyFileSync, mkdirSync, readdirSync, rmSync, statSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { defineCommand } from './commandLine.mjs';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
/** Read by src/gateway/consoleRoutes.ts (BROWSER_BUNDLE_DIR). */
export const BROWSER_DIR = join(root, 'dist', 'browser');

/** Builds dist/browser/; resolves with each output file and its size in bytes. */
export async function buildBrowser({ outDir = BROWSER_DIR } = {}) {
  rmSync(outDir, { recursive: true, force: true });
  mkdirSync(outDir, { recursive: true });
  const result = await build({
    absWorkingDir: root,
    entryPoints: [
      { in: 'src/client/index.ts', out: 'osmium-client' },
      { in: 'src/console/main.ts', out: 'console' },
      { in: 'src/console/console.css', out: 'console' },
    ],
    outdir: outDir,
    bundle: true,
    format: 'esm',
    platform: 'browser',
    // Browsers of the last few years; the client uses classes, async/await and optional chaining.
    target: ['chrome100', 'firefox100', 'safari15'],
    // Node's WebSocket library: the client imports it only when it runs in Node.
    external: ['ws'],
    minify: true,
    sourcemap: 'linked',
    metafile: true,
    legalComments: 'eof',
    logLevel: 'warning',
  });
  copyFileSync(join(root, 'src', 'console', 'index.html'), join(outDir, 'index.html'));
  return Object.entries(result.metafile.outputs).map(([file, { bytes }]) => ({ file: relative(root, join(root, file)), bytes }));
}

/** Folders whose files end up in the bundle. */
const SOURCES = ['src/client', 'src/console', 'src/gen', 'src/protocol', 'package-lock.json'];

function newestMtime(path) {
  const stat = statSync(path);
  if (!stat.isDirectory()) return stat.mtimeMs;
  return Math.max(0, ...readdirSync(path).map((name) => newestMtime(join(path, name))));
}

/** True when the bundle is missing or older than one of its sources. */
export function browserBundleStale(outDir = BROWSER_DIR) {
  let built;
  try {
    built = Math.min(...['index.html', 'console.js', 'console.css', 'osmium-client.js'].map((f) => statSync(join(outDir, f)).mtimeMs));
  } catch {
    return true;
  }
  return SOURCES.some((source) => newestMtime(join(root, source)) > built);
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const options = defineCommand({
    usage: 'node scripts/buildBrowser.mjs [options]',
    options: {
      'if-stale': { type: 'boolean', help: 'only when a source is newer than the bundle' },
      quiet: { type: 'boolean', help: 'no size report' },
    },
  }).parseOrExit();
  if (options['if-stale'] && !browserBundleStale()) process.exit(0);
  const started = performance.now();
  const outputs = await buildBrowser();
  if (!options.quiet) {
    for (const { file, bytes } of outputs.filter((o) => !o.file.endsWith('.map'))) {
      console.log(`${file.padEnd(40)} ${(bytes / 1024).toFixed(1).padStart(7)} KiB`);
    }
    console.log(`browser bundle built in ${Math.round(performance.now() - started)} ms`);
  }
}
