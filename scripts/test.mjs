#!/usr/bin/env node
/**
 * `npm test`: starts throwaway servers (scripts/stack.mjs: Postgres, Redis, a
 * 6-node Redis Cluster, PgBouncer; installed with apt-get when missing), runs
 * every test file under test/ with node's test runner against them, several
 * files at once, and stops the servers after, whatever the outcome.
 *   npm test                          all tests, the reruns and the checks (what CI runs)
 *   npm test -- test/gateway          only files under a path, with only the servers they need
 *   npm run test:unit                 the files that need no server and start no process (no stack, no build, no checks)
 *   TEST_MODE=embedded npm test -- f  files against the embedded Postgres, no Redis
 *   TEST_REDIS_MODE=cluster npm test -- f       gateways on the stack's Redis Cluster
 *   TEST_DATABASE_MODE=pgbouncer npm test -- f  gateways reach Postgres through PgBouncer
 *   TEST_CONCURRENCY=1 npm test       one file at a time (default: one per core, at least 2)
 * Some suites run a second time in another shape (RERUNS below): the protocol
 * suite in the embedded mode and behind PgBouncer, the multi-instance suites
 * on the Redis Cluster.
 * The generated-protocol check, the type check and the layer rules run
 * beside the full run. What a file needs (servers, the Redis Cluster,
 * PgBouncer, Chromium, the built bundle) is read from its imports
 * (scripts/testNeeds.mjs).
 *
 * Files run longest first, so no long file starts last: durations of earlier
 * runs are kept in node_modules/.cache/osmium-tests/durations.json, and
 * test/durations.json (committed) stands in where there are none.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { availableParallelism, setPriority, tmpdir } from 'node:os';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ensureChromium } from './chromium.mjs';
import { startStack } from './stack.mjs';
import { needsOf, needsOfAll } from './testNeeds.mjs';

const started = Date.now();
const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const unit = process.argv.includes('--unit');
const args = process.argv.slice(2).filter((a) => a !== '--unit');
const fullRun = args.length === 0 && !unit;
const concurrency = Number(process.env.TEST_CONCURRENCY) || Math.max(2, availableParallelism());
const durationsFile = join(root, 'node_modules', '.cache', 'osmium-tests', 'durations.json');

function testFiles(path) {
  if (!existsSync(path)) {
    console.error(`no such test file or folder: ${relative(root, path)}`);
    process.exit(2);
  }
  if (statSync(path).isFile()) return path.endsWith('.test.ts') ? [path] : [];
  return readdirSync(path).sort().flatMap((name) => testFiles(join(path, name)));
}

/**
 * Runs a command with its output kept; resolves with the exit code and the
 * output. A check runs at a low CPU priority: its answer is needed only at
 * the end, so it takes the CPU the servers and tests leave.
 */
function runQuiet(cmd, cmdArgs, { check = false } = {}) {
  return new Promise((resolve) => {
    const child = spawn(cmd, cmdArgs, { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] });
    try {
      if (check) setPriority(child.pid, 15);
    } catch {
      /* not allowed here: normal priority */
    }
    let output = '';
    child.stdout.on('data', (c) => (output += c));
    child.stderr.on('data', (c) => (output += c));
    child.on('error', (err) => resolve({ code: 1, output: `${output}${err.message}\n` }));
    child.on('close', (code, signal) => resolve({ code: code ?? (signal ? 1 : 0), output }));
  });
}

// The checks need no servers: they run while the stack starts and the tests run (the full run only).
const checks = !fullRun ? [] : [
  { name: 'generated protocol code (npm run proto:check)', run: runQuiet(process.execPath, [join(root, 'scripts', 'genProto.mjs'), '--check'], { check: true }) },
  { name: 'type check (tsc --noEmit)', run: runQuiet(join(root, 'node_modules', '.bin', 'tsc'), ['--noEmit', '-p', root], { check: true }) },
  // The layer rules of .dependency-cruiser.cjs (README "Architecture"): no cycles, imports only downwards.
  { name: 'layer rules (depcruise)', run: runQuiet(join(root, 'node_modules', '.bin', 'depcruise'), ['--config', join(root, '.dependency-cruiser.cjs'), 'src'], { check: true }) },
];

function readJson(path) {
  try {
    return JSON.parse(readFileSync(path, 'utf8'));
  } catch {
    return {};
  }
}

// This machine's last measurements, else the committed ones (a fresh clone, CI).
const known = { ...readJson(join(root, 'test', 'durations.json')), ...readJson(durationsFile) };
const byName = (f) => relative(root, f);
// Longest first; files never timed first of all (they may be long).
const files = (args.length ? args : ['test'])
  .flatMap((p) => testFiles(join(root, p)))
  .filter((f) => {
    if (!unit) return true;
    const needs = needsOf(f, root);
    return !needs.servers && !needs.processes;
  })
  .sort((a, b) => (known[byName(b)] ?? Infinity) - (known[byName(a)] ?? Infinity));
// Nothing selected: say so, rather than hand node --test no file (it would then run every test file it finds).
if (files.length === 0) {
  console.error(unit
    ? `no unit test among ${args.join(' ') || 'test/'}: those files need servers or start processes; run them with npm test -- ${args.join(' ')}`
    : `no test file in ${args.join(' ')}`);
  process.exit(2);
}

/**
 * Suites that run a second time in another deployment shape, beside the main
 * run (one file at a time each, at low cost to it); their output is printed
 * after the main run's. Only when the whole tree runs, or a listed file does.
 */
const RERUNS = [
  {
    // The zero-config mode `npm start` runs without settings: embedded Postgres, in-process live state.
    name: 'embedded', env: { TEST_MODE: 'embedded' },
    files: ['test/gateway/protocol.test.ts'],
  },
  {
    // Gateways on the Redis Cluster (REDIS_CLUSTER_NODES) instead of one Redis node: the suites that
    // span instances or lean on Redis atomicity (guess limits, races, revocation, fan-out).
    name: 'redis-cluster', env: { TEST_REDIS_MODE: 'cluster' },
    files: [
      'test/gateway/revocationFinal.test.ts', 'test/methods/sessions.test.ts', 'test/security/guessLimits.test.ts',
      'test/security/rateLimits.test.ts', 'test/security/limitsAcrossInstances.test.ts', 'test/methods/invitesRace.test.ts',
      'test/methods/authorize.test.ts',
    ],
  },
  {
    // Postgres behind PgBouncer in transaction pooling (no prepared statements, DATABASE_DIRECT_URL for migrations and LISTEN).
    name: 'pgbouncer', env: { TEST_DATABASE_MODE: 'pgbouncer' },
    files: ['test/gateway/protocol.test.ts', 'test/methods/sessions.test.ts', 'test/gateway/revocationFinal.test.ts'],
  },
];
const reruns = process.env.TEST_MODE || process.env.TEST_REDIS_MODE || process.env.TEST_DATABASE_MODE
  ? [] // already a rerun's shape: run what was asked, once
  : RERUNS.map((r) => ({ ...r, files: files.filter((f) => r.files.includes(byName(f))) })).filter((r) => r.files.length);
// Only what these files (and their reruns) need is started; the full run starts everything.
const needs = fullRun
  ? { servers: true, redisCluster: true, pgbouncer: true, chromium: true, build: true }
  : needsOfAll(files, root);
if (reruns.some((r) => r.env.TEST_REDIS_MODE === 'cluster') || process.env.TEST_REDIS_MODE === 'cluster') needs.redisCluster = true;
if (reruns.some((r) => r.env.TEST_DATABASE_MODE === 'pgbouncer') || process.env.TEST_DATABASE_MODE === 'pgbouncer') needs.pgbouncer = true;

// On Ctrl-C the 'exit' handlers stop the servers (scripts/stack.mjs registers one as it starts them).
for (const sig of ['SIGINT', 'SIGTERM']) process.on(sig, () => process.exit(130));
// Installed here, once, before test files that launch it run in parallel (two apt-gets would collide).
if (needs.chromium) ensureChromium();
/**
 * The gateway and the admin CLI as production runs them (`npm run build`:
 * dist/main.js, dist/admin.js), for the processes tests spawn
 * (test/helpers/entry.ts); built, beside the stack's start, when a source
 * changed since the last build. A bundle starts with ~0.5 s of CPU where
 * loading the TypeScript sources through tsx takes ~2 s, and a run starts
 * about 50 such processes.
 */
const building = needs.build ? runQuiet(process.execPath, [join(root, 'scripts', 'build.mjs'), '--if-stale']) : { code: 0 };
const stack = needs.servers
  ? await startStack({ redisCluster: needs.redisCluster, pgbouncer: needs.pgbouncer })
  : { dir: mkdtempSync(join(tmpdir(), 'osmium-unit-')), stop() {}, redisClusterNodes: [] };
const built = await building;
if (built.code !== 0) {
  console.log(`npm run build failed:\n${built.output}`);
  process.exit(1); // the 'exit' handler stops the stack
}
console.log(
  needs.servers
    ? `test stack (started in ${stack.startMs} ms): postgres ${stack.databaseUrl}, redis ${stack.redisUrl}` +
        `${needs.redisCluster ? `, redis cluster ${stack.redisClusterNodes.join(',')}` : ''}${needs.pgbouncer ? `, pgbouncer ${stack.pgbouncerUrl}` : ''}; ` +
        `${files.length} files, ${concurrency} at once`
    : `no servers needed; ${files.length} files, ${concurrency} at once`,
);

/** Totals over every run, for one closing line. */
const totals = { passed: 0, failed: 0, skipped: 0 };

function countSummaryLine(line) {
  const match = /^ℹ (pass|fail|skipped) (\d+)$/.exec(line.trim());
  if (match) totals[{ pass: 'passed', fail: 'failed', skipped: 'skipped' }[match[1]]] += Number(match[2]);
}

/**
 * Runs test files in one node --test process, `concurrency` files at once
 * (each file in its own process). Output goes to stdout as it comes, or is
 * kept and returned when `quiet`. Resolves with the exit code.
 */
function runTests(testFiles, { extraEnv = {}, quiet = false, name = 'main', concurrency: filesAtOnce = concurrency, record = true } = {}) {
  const durationsOut = join(stack.dir, `durations-${name}.json`);
  const child = spawn(
    process.execPath,
    [
      '--import', 'tsx', '--test', `--test-concurrency=${filesAtOnce}`, '--test-timeout=300000',
      '--test-reporter=spec', '--test-reporter-destination=stdout',
      `--test-reporter=${join(root, 'test', 'helpers', 'durationsReporter.mjs')}`, `--test-reporter-destination=${durationsOut}`,
      ...testFiles,
    ],
    {
      cwd: root,
      stdio: ['ignore', 'pipe', 'inherit'],
      env: {
        ...process.env,
        ...(needs.servers ? { TEST_DATABASE_URL: stack.databaseUrl, TEST_REDIS_URL: stack.redisUrl, TEST_REDIS_PORT: String(stack.redisPort) } : {}),
        ...(needs.redisCluster ? { TEST_REDIS_CLUSTER_NODES: stack.redisClusterNodes.join(',') } : {}),
        ...(needs.pgbouncer ? { TEST_PGBOUNCER_URL: stack.pgbouncerUrl } : {}),
        TEST_STACK_DIR: stack.dir,
        TEST_DIST_DIR: join(root, 'dist'),
        UV_THREADPOOL_SIZE: process.env.UV_THREADPOOL_SIZE ?? '8',
        ...extraEnv,
      },
    },
  );
  let pending = '';
  let kept = '';
  child.stdout.on('data', (chunk) => {
    if (quiet) kept += chunk;
    else process.stdout.write(chunk);
    pending += chunk;
    let nl;
    while ((nl = pending.indexOf('\n')) >= 0) {
      countSummaryLine(pending.slice(0, nl));
      pending = pending.slice(nl + 1);
    }
  });
  return new Promise((resolve) =>
    child.on('close', (code, signal) => {
      try {
        if (record) Object.assign(known, JSON.parse(readFileSync(durationsOut, 'utf8')));
      } catch {
        /* the run ended before the reporter wrote */
      }
      resolve({ code: code ?? (signal ? 1 : 0), output: kept });
    }),
  );
}

const rerunning = reruns.map((r) => ({ ...r, run: runTests(r.files, { extraEnv: r.env, quiet: true, name: r.name, concurrency: 1, record: false }) }));
const main = await runTests(files);
let code = main.code;
for (const rerun of rerunning) {
  const { code: rerunCode, output } = await rerun.run;
  console.log(`\nagain with ${Object.entries(rerun.env).map(([k, v]) => `${k}=${v}`).join(' ')}: ${rerun.files.map(byName).join(', ')}`);
  process.stdout.write(output);
  code ||= rerunCode;
}
stack.stop();
if (!needs.servers) rmSync(stack.dir, { recursive: true, force: true });

const failedChecks = [];
for (const check of checks) {
  const { code: checkCode, output } = await check.run;
  if (checkCode !== 0) {
    console.log(`\n${check.name} FAILED:\n${output}`);
    failedChecks.push(check.name);
    code ||= checkCode;
  }
}
mkdirSync(dirname(durationsFile), { recursive: true });
writeFileSync(durationsFile, `${JSON.stringify(known, null, 1)}\n`);
console.log(`\nnpm test took ${((Date.now() - started) / 1000).toFixed(1)} s${failedChecks.length ? `; failed checks: ${failedChecks.join(', ')}` : ''}`);
console.log(`${totals.passed} passed, ${totals.failed} failed, ${totals.skipped} skipped`);
process.exit(code);
