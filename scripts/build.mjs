#!/usr/bin/env node
/**
 * `npm run build`: compiles the gateway to plain JavaScript in dist/ with
 * esbuild, so production starts `node dist/main.js` without a TypeScript
 * loader (tsx stays a development and test tool), and builds the browser
 * console into dist/browser/ (scripts/buildBrowser.mjs).
 *
 *   dist/main.js, dist/admin.js   what to run: the gateway, the admin CLI
 *   dist/server/                  their bundles, the gateway's code cache,
 *                                 and the SQL migrations
 *   dist/browser/                 the web console (scripts/buildBrowser.mjs)
 *   dist/backend/index.js         the helper for chat backends (src/backend/),
 *                                 `osmium-auth-gateway/backend`: an ES module
 *                                 whose npm dependencies stay imports
 *
 *   node scripts/build.mjs              build
 *   node scripts/build.mjs --if-stale   build only what an input (or the node
 *                                       version) changed since the last build
 *                                       (what `npm start` runs)
 *
 * Each bundle holds the entry and its npm dependencies: loading one file
 * instead of hundreds of package files is the first half of a fast start.
 * The second half is for the gateway only: its bundle is CommonJS
 * (dist/server/gateway.cjs, from src/start.ts), loaded with a V8 code cache
 * the build writes beside it (scripts/bundleLoader.mjs says why), and
 * packages it loads on demand (nodemailer, the console's mail parser) are
 * inside it, compiled only when first called. The password checker runs in
 * a thread of its own, a plain script copied beside the bundle that loads
 * zxcvbn from node_modules (src/services/passwordStrength.ts). The admin
 * CLI, whose start matters less, stays an ES module with its on-demand
 * packages in chunks of their own.
 *
 * A few packages stay outside, loaded from node_modules as usual:
 * - bcrypt: a native addon;
 * - pino-pretty: pretty logs on a terminal in development, required only
 *   then (src/logger.ts);
 * - pg-native: pg's optional native driver, never installed here.
 * The embedded Postgres binaries are found through node_modules at run time
 * (src/embedded/binaries.ts), never bundled.
 *
 * The bundles sit two folders deep (dist/server/), as the sources they come
 * from do (src/<layer>/): a path a source file writes relative to its own
 * location (import.meta.url) resolves to the same place from the bundle:
 * `../../dist/browser/` (the console) and `./migrations` beside it (copied).
 */
import { spawnSync } from 'node:child_process';
import { cp, mkdir, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { defineCommand } from './commandLine.mjs';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
const DIST = join(ROOT, 'dist');
const SERVER = join(DIST, 'server');
/** Lists the files the last build read, to tell whether it is stale. */
const INPUTS_FILE = join(SERVER, 'build-inputs.json');
/** What `node dist/<name>.js` runs. */
const ENTRIES = { main: 'src/start.ts', admin: 'scripts/admin.ts' };
/** The backend helper, a library: package.json `exports["./backend"]`. */
const BACKEND_HELPER = { entry: 'src/backend/index.ts', out: join(DIST, 'backend', 'index.js') };
const EXTERNAL = ['bcrypt', 'pino-pretty', 'pg-native'];
const LOADER = 'scripts/bundleLoader.mjs';
/** The node version check dist/main.js runs before anything else (npm start runs it before the build). */
const NODE_CHECK = 'scripts/checkNode.mjs';
/** Plain JavaScript a thread of the gateway runs as it is (src/services/passwordStrength.ts), copied beside the bundle. */
const THREAD_SCRIPTS = ['src/services/passwordStrengthWorker.mjs'];

/** Inputs that change a build without being imported by it. */
const BUILD_FILES = ['scripts/build.mjs', LOADER, NODE_CHECK, ...THREAD_SCRIPTS, 'package.json', 'package-lock.json'];

async function mtime(path) {
  return stat(path).then((s) => s.mtimeMs, () => undefined);
}

/** Why the last server build no longer matches its inputs, or undefined when it does. */
async function serverStaleReason() {
  const built = await mtime(INPUTS_FILE);
  if (built === undefined) return 'no build yet';
  for (const entry of Object.keys(ENTRIES)) if ((await mtime(join(DIST, `${entry}.js`))) === undefined) return `dist/${entry}.js is missing`;
  if ((await mtime(BACKEND_HELPER.out)) === undefined) return 'dist/backend/index.js is missing';
  const { inputs, node } = JSON.parse(await readFile(INPUTS_FILE, 'utf8'));
  // The code cache is V8's: another node version refuses it.
  if (node !== process.version) return `node ${process.version} replaced ${node ?? 'an older build'}`;
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

/** Settings both bundles share. */
const COMMON = {
  absWorkingDir: ROOT,
  bundle: true,
  platform: 'node',
  target: 'node22',
  // Less source to parse and compile at start; names kept for readable stack traces (and source maps beside).
  minifyWhitespace: true,
  minifySyntax: true,
  external: EXTERNAL,
  sourcemap: 'linked',
  metafile: true,
  logLevel: 'warning',
  // protobufjs probes for optional modules with eval("require"): harmless, and the bundle's require answers it.
  logOverride: { 'direct-eval': 'silent' },
};

/** The gateway: one CommonJS file exporting start(), for the code cache. */
function buildGateway(esbuild) {
  return esbuild.build({
    ...COMMON,
    entryPoints: { gateway: ENTRIES.main },
    outdir: SERVER,
    outExtension: { '.js': '.cjs' },
    format: 'cjs',
    // The packages' licence comments go beside it (gateway.cjs.LEGAL.txt): the bundle stays ASCII, quick to read.
    legalComments: 'external',
    banner: {
      js:
        "var __importMetaUrl = require('node:url').pathToFileURL(__filename).href;\n" +
        "var __navigator = globalThis.navigator ?? { userAgent: `Node.js/${process.versions.node.split('.')[0]}` };",
    },
    define: {
      // import.meta.url (paths beside the sources: migrations, the console) is the bundle's own URL in CommonJS.
      'import.meta.url': '__importMetaUrl',
      // Node 21 and later have a global navigator; Node 20 has none, and pg then tells Node from Cloudflare
      // Workers by building a fetch Response, which loads Node's whole fetch implementation (~25 ms of a start).
      // Inside the bundle, Node 20 gets the navigator a later Node would give it.
      navigator: '__navigator',
    },
    // import() becomes require(): code compiled from a cache made in another process cannot import() on Node 20
    // ("A dynamic import callback was not specified"), and a require() is all a CommonJS bundle needs.
    supported: { 'dynamic-import': false },
  });
}

/** The admin CLI: an ES module, with what it loads on demand in chunks of their own. */
function buildAdmin(esbuild) {
  return esbuild.build({
    ...COMMON,
    entryPoints: { admin: ENTRIES.admin },
    outdir: SERVER,
    format: 'esm',
    splitting: true,
    // Bundled CommonJS packages call require(); an ES module has none of its own.
    banner: { js: "import { createRequire as __createRequire } from 'node:module'; const require = __createRequire(import.meta.url);" },
  });
}

/** The backend helper: one ES module; undici, protobufjs and long are the backend's own dependencies, imported. */
function buildBackendHelper(esbuild) {
  return esbuild.build({ ...COMMON, entryPoints: [BACKEND_HELPER.entry], outfile: BACKEND_HELPER.out, format: 'esm', packages: 'external' });
}

async function buildServer(esbuild) {
  await rm(SERVER, { recursive: true, force: true });
  await rm(dirname(BACKEND_HELPER.out), { recursive: true, force: true });
  const results = await Promise.all([buildGateway(esbuild), buildAdmin(esbuild), buildBackendHelper(esbuild)]);
  const migrations = await migrationsDir();
  await mkdir(join(SERVER, 'migrations'));
  for (const file of (await readdir(migrations)).filter((f) => f.endsWith('.sql'))) await cp(join(migrations, file), join(SERVER, 'migrations', file));
  await cp(join(ROOT, LOADER), join(SERVER, 'bundleLoader.mjs'));
  await cp(join(ROOT, NODE_CHECK), join(SERVER, 'checkNode.mjs'));
  for (const script of THREAD_SCRIPTS) await cp(join(ROOT, script), join(SERVER, script.split('/').at(-1)));
  // What to run: `node dist/main.js` (cluster workers are forked from the same path).
  await writeFile(
    join(DIST, 'main.js'),
    "// The gateway (npm run build wrote this): loads dist/server/gateway.cjs with its code cache, then starts it.\n" +
      "// First a node too old for it says so in one line (imports run in order).\n" +
      "import './server/checkNode.mjs';\n" +
      "import { loadBundle } from './server/bundleLoader.mjs';\n\n" +
      "const { exports, codeCache } = loadBundle('gateway');\nawait exports.start({ codeCache });\n",
  );
  await writeFile(join(DIST, 'admin.js'), "import './server/admin.js';\n");
  await writeCodeCache();
  const inputs = [...new Set(results.flatMap((r) => Object.keys(r.metafile.inputs)))].filter((p) => !p.startsWith('<'));
  await writeFile(INPUTS_FILE, `${JSON.stringify({ node: process.version, inputs }, null, 1)}\n`);
}

/**
 * Loads the gateway bundle in a node of its own (the flags V8 checks a cache
 * against are then node's defaults, as at `node dist/main.js`) and writes its
 * code cache; fails the build when loading the bundle fails.
 */
async function writeCodeCache() {
  const loader = pathToFileURL(join(SERVER, 'bundleLoader.mjs')).href;
  const code = `import { writeCodeCache } from ${JSON.stringify(loader)}; writeCodeCache('gateway'); process.exit(0);`;
  const { status, stderr } = spawnSync(process.execPath, ['--input-type=module', '-e', code], { cwd: ROOT, encoding: 'utf8', env: { ...process.env, NODE_OPTIONS: '' } });
  if (status !== 0) throw new Error(`loading dist/server/gateway.cjs to write its code cache failed:\n${stderr}`);
}

async function main() {
  const values = defineCommand({
    usage: 'node scripts/build.mjs [options]',
    options: { 'if-stale': { type: 'boolean', help: 'build only what an input (or the node version) changed since the last build' } },
  }).parseOrExit();
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
    built.push('dist/main.js, dist/admin.js, dist/backend/');
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
