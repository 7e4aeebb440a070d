#!/usr/bin/env node
/**
 * `npm run build`: compiles the gateway to plain JavaScript in dist/ with
 * esbuild, so production starts `node dist/main.js` without a TypeScript
 * loader (tsx stays a development and test tool), and builds the browser
 * console into dist/browser/ (scripts/buildBrowser.mjs).
 *
 *   dist/main.js, dist/admin.js   what to run: the gateway, the admin CLI
 *   dist/server/                  their bundles, and the SQL migrations
 *   dist/browser/                 the web console (scripts/buildBrowser.mjs)
 *
 *   node scripts/build.mjs              build
 *   node scripts/build.mjs --if-stale   build only what an input changed since
 *                                       the last build (what `npm start` runs)
 *
 * Each bundle holds the entry and its npm dependencies: loading one file
 * instead of hundreds of package files is most of what makes the start fast.
 * A few packages stay outside, loaded from node_modules as usual:
 * - bcrypt: a native addon;
 * - pino, pino-pretty: pino starts its transports (pretty logs) in worker
 *   threads that load them from node_modules by name;
 * - pg-native: pg's optional native driver, never installed here.
 * The embedded Postgres binaries are found through node_modules at run time
 * (src/embedded/binaries.ts), never bundled.
 *
 * The bundles sit two folders deep (dist/server/), as the sources they come
 * from do (src/<layer>/): a path a source file writes relative to its own
 * location (import.meta.url) resolves to the same place from the bundle:
 * `../../dist/browser/` (the console) and `./migrations` beside it (copied).
 */
import { cp, mkdir, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
const DIST = join(ROOT, 'dist');
const SERVER = join(DIST, 'server');
/** Lists the files the last build read, to tell whether it is stale. */
const INPUTS_FILE = join(SERVER, 'build-inputs.json');
const ENTRIES = { main: 'src/main.ts', admin: 'scripts/admin.ts' };
const EXTERNAL = ['bcrypt', 'pino', 'pino-pretty', 'pg-native'];

/** Inputs that change a build without being imported by it. */
const BUILD_FILES = ['scripts/build.mjs', 'package.json', 'package-lock.json'];

async function mtime(path) {
  return stat(path).then((s) => s.mtimeMs, () => undefined);
}

/** Why the last server build no longer matches its inputs, or undefined when it does. */
async function serverStaleReason() {
  const built = await mtime(INPUTS_FILE);
  if (built === undefined) return 'no build yet';
  for (const entry of Object.keys(ENTRIES)) if ((await mtime(join(DIST, `${entry}.js`))) === undefined) return `dist/${entry}.js is missing`;
  const { inputs } = JSON.parse(await readFile(INPUTS_FILE, 'utf8'));
  for (const input of [...inputs, ...BUILD_FILES]) {
    const changed = await mtime(join(ROOT, input));
    if (changed === undefined) return `${input} is gone`;
    if (changed > built) return `${input} changed`;
  }
  return undefined;
}

/** The folder holding the SQL migrations (src/…/migrations), copied beside the bundles. */
async function migrationsDir() {
  const found = (await readdir(join(ROOT, 'src'), { recursive: true })).filter((p) => p.split('/').at(-1) === 'migrations');
  if (found.length !== 1) throw new Error(`expected one migrations folder under src/, found ${found.length}: ${found.join(', ')}`);
  return join(ROOT, 'src', found[0]);
}

async function buildServer(esbuild) {
  await rm(SERVER, { recursive: true, force: true });
  const result = await esbuild.build({
    absWorkingDir: ROOT,
    entryPoints: ENTRIES,
    outdir: SERVER,
    bundle: true,
    platform: 'node',
    target: 'node20',
    format: 'esm',
    external: EXTERNAL,
    // Bundled CommonJS packages call require(); an ES module has none of its own.
    banner: { js: "import { createRequire as __createRequire } from 'node:module'; const require = __createRequire(import.meta.url);" },
    sourcemap: 'linked',
    metafile: true,
    logLevel: 'warning',
    // protobufjs probes for optional modules with eval("require"): harmless, and the banner's require answers it.
    logOverride: { 'direct-eval': 'silent' },
  });
  const migrations = await migrationsDir();
  await mkdir(join(SERVER, 'migrations'));
  for (const file of (await readdir(migrations)).filter((f) => f.endsWith('.sql'))) await cp(join(migrations, file), join(SERVER, 'migrations', file));
  // What to run: `node dist/main.js` (cluster workers are forked from the same path).
  for (const entry of Object.keys(ENTRIES)) await writeFile(join(DIST, `${entry}.js`), `import './server/${entry}.js';\n`);
  const inputs = Object.keys(result.metafile.inputs).filter((p) => !p.startsWith('<'));
  await writeFile(INPUTS_FILE, `${JSON.stringify({ inputs }, null, 1)}\n`);
}

async function main() {
  const { values } = parseArgs({ options: { 'if-stale': { type: 'boolean', default: false } } });
  const esbuild = await import('esbuild').catch(() => undefined);
  const browser = esbuild ? await import('./buildBrowser.mjs') : undefined;
  let serverReason = 'requested';
  let browserStale = true;
  if (values['if-stale']) {
    serverReason = await serverStaleReason();
    browserStale = browser ? browser.browserBundleStale() : (await mtime(join(DIST, 'browser', 'index.html'))) === undefined;
    if (!serverReason && !browserStale) return;
  }
  if (!esbuild) {
    // A production install (no dev dependencies) runs the dist/ it was given.
    if (values['if-stale'] && (await mtime(join(DIST, 'main.js'))) !== undefined) return;
    throw new Error('esbuild is not installed (a production install, npm ci --omit=dev?) and dist/ is not built: run npm ci, then npm run build');
  }
  // A full build starts from nothing, so no file of an older layout lingers.
  if (!values['if-stale']) await rm(DIST, { recursive: true, force: true });
  await mkdir(DIST, { recursive: true });
  const started = performance.now();
  const built = [];
  if (serverReason) {
    await buildServer(esbuild);
    built.push('dist/main.js, dist/admin.js');
  }
  if (browserStale) {
    await browser.buildBrowser();
    built.push('dist/browser/');
  }
  console.error(`built ${built.join(' and ')} in ${Math.round(performance.now() - started)} ms${values['if-stale'] && serverReason ? ` (${serverReason})` : ''}`);
}

try {
  await main();
} catch (err) {
  console.error(`build failed: ${err.message}`);
  process.exit(1);
}
