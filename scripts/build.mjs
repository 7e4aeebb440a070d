#!/usr/bin/env node
/**
 * `npm run build`: compiles the gateway to plain JavaScript in dist/ with
 * esbuild, so production starts `node dist/main.js` without a TypeScript
 * loader (tsx stays a development and test tool).
 *
 *   dist/main.js        the gateway (src/main.ts and everything it imports)
 *   dist/admin.js       the admin CLI (scripts/admin.ts), for images without tsx
 *   dist/migrations/    the SQL migrations, found beside the bundle at run time
 *
 *   node scripts/build.mjs              build
 *   node scripts/build.mjs --if-stale   build only when an input changed since
 *                                       the last build (what `npm start` runs)
 *
 * Each entry is one bundle with its npm dependencies inside: loading one file
 * instead of hundreds of package files is most of what makes the start fast.
 * A few packages stay outside, loaded from node_modules as usual:
 * - bcrypt: a native addon;
 * - pino, pino-pretty: pino starts its transports (pretty logs) in worker
 *   threads that load them from node_modules by name;
 * - pg-native: pg's optional native driver, never installed here.
 * The embedded Postgres binaries are found through node_modules at run time
 * (src/embedded/binaries.ts), never bundled.
 */
import { cp, mkdir, readFile, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
const DIST = join(ROOT, 'dist');
/** Lists the files the last build read, to tell whether it is stale. */
const INPUTS_FILE = join(DIST, 'build-inputs.json');
const ENTRIES = { main: 'src/main.ts', admin: 'scripts/admin.ts' };
const EXTERNAL = ['bcrypt', 'pino', 'pino-pretty', 'pg-native'];

/** Inputs that change a build without being imported by it. */
const BUILD_FILES = ['scripts/build.mjs', 'package.json', 'package-lock.json'];

async function mtime(path) {
  return stat(path).then((s) => s.mtimeMs, () => undefined);
}

/** Why the last build no longer matches its inputs, or undefined when it does. */
async function staleReason() {
  const built = await mtime(INPUTS_FILE);
  if (built === undefined) return 'no build yet';
  const { inputs } = JSON.parse(await readFile(INPUTS_FILE, 'utf8'));
  for (const input of [...inputs, ...BUILD_FILES]) {
    const changed = await mtime(join(ROOT, input));
    if (changed === undefined) return `${input} is gone`;
    if (changed > built) return `${input} changed`;
  }
  return undefined;
}

/** The folder holding the SQL migrations (src/…/migrations), copied to dist/migrations. */
async function migrationsDir() {
  const found = (await readdir(join(ROOT, 'src'), { recursive: true })).filter((p) => p.split('/').at(-1) === 'migrations');
  if (found.length !== 1) throw new Error(`expected one migrations folder under src/, found ${found.length}: ${found.join(', ')}`);
  return join(ROOT, 'src', found[0]);
}

async function build() {
  let esbuild;
  try {
    esbuild = await import('esbuild');
  } catch {
    throw new Error('esbuild is not installed (a production install, npm ci --omit=dev?): run npm ci, then npm run build');
  }
  const started = performance.now();
  await rm(DIST, { recursive: true, force: true });
  const result = await esbuild.build({
    absWorkingDir: ROOT,
    entryPoints: ENTRIES,
    outdir: DIST,
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
  await mkdir(join(DIST, 'migrations'));
  for (const file of (await readdir(migrations)).filter((f) => f.endsWith('.sql'))) await cp(join(migrations, file), join(DIST, 'migrations', file));
  const inputs = Object.keys(result.metafile.inputs).filter((p) => !p.startsWith('<'));
  await writeFile(INPUTS_FILE, `${JSON.stringify({ inputs }, null, 1)}\n`);
  return performance.now() - started;
}

async function main() {
  const { values } = parseArgs({ options: { 'if-stale': { type: 'boolean', default: false } } });
  if (values['if-stale']) {
    const reason = await staleReason();
    if (!reason) return;
    const haveDist = (await mtime(join(DIST, 'main.js'))) !== undefined;
    const haveEsbuild = await import('esbuild').then(() => true, () => false);
    // A production install (no dev dependencies) runs the dist/ it was given.
    if (!haveEsbuild && haveDist) return;
    console.error(`building dist/ (${reason})`);
  }
  const ms = await build();
  console.error(`built ${Object.keys(ENTRIES).map((e) => relative(ROOT, join(DIST, `${e}.js`))).join(', ')} in ${Math.round(ms)} ms`);
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  try {
    await main();
  } catch (err) {
    console.error(`build failed: ${err.message}`);
    process.exit(1);
  }
}
