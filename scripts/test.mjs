#!/usr/bin/env node
/**
 * `npm test`: starts throwaway Postgres and Redis (installing them when
 * missing), runs every test file under test/ with node's test runner against
 * them, and stops them after, whatever the outcome.
 *   npm test                       all tests
 *   npm test -- test/gateway       only files under a path
 *   TEST_MODE=embedded npm test -- f  files against the embedded Postgres, no Redis
 * test/gateway/protocol.test.ts also runs a second time with TEST_MODE=embedded.
 */
import { spawn, execFileSync } from 'node:child_process';
import { readdirSync, statSync } from 'node:fs';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startStack } from './stack.mjs';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const args = process.argv.slice(2);

function testFiles(path) {
  if (statSync(path).isFile()) return path.endsWith('.test.ts') ? [path] : [];
  return readdirSync(path).sort().flatMap((name) => testFiles(join(path, name)));
}

execFileSync(process.execPath, [join(root, 'scripts', 'genProto.mjs'), '--check'], { stdio: 'inherit' });
execFileSync(join(root, 'node_modules', '.bin', 'tsc'), ['--noEmit', '-p', root], { stdio: 'inherit' });
// The layer rules of .dependency-cruiser.cjs (README "Architecture"): no cycles, imports only downwards.
execFileSync(join(root, 'node_modules', '.bin', 'depcruise'), ['--config', join(root, '.dependency-cruiser.cjs'), 'src'], { cwd: root, stdio: 'inherit' });

const files = (args.length ? args : ['test']).flatMap((p) => testFiles(join(root, p)));
const stack = await startStack();
console.log(`test stack: postgres ${stack.databaseUrl}, redis ${stack.redisUrl}`);
let stopped = false;
const stop = () => {
  if (!stopped) {
    stopped = true;
    stack.stop();
  }
};
process.on('exit', stop);
for (const sig of ['SIGINT', 'SIGTERM']) process.on(sig, () => process.exit(130));

/** Totals over every run, for one closing line. */
const totals = { passed: 0, failed: 0, skipped: 0 };

/** Runs test files in one node --test process (output passed through, totals counted); resolves with its exit code. */
function runTests(testFiles, extraEnv = {}) {
  const child = spawn(
    process.execPath,
    ['--import', 'tsx', '--expose-gc', '--test', '--test-concurrency=1', '--test-reporter=spec', ...testFiles],
    {
      cwd: root,
      stdio: ['ignore', 'pipe', 'inherit'],
      env: {
        ...process.env,
        TEST_DATABASE_URL: stack.databaseUrl,
        TEST_REDIS_URL: stack.redisUrl,
        TEST_REDIS_PORT: String(stack.redisPort),
        TEST_STACK_DIR: stack.dir,
        UV_THREADPOOL_SIZE: process.env.UV_THREADPOOL_SIZE ?? '8',
        ...extraEnv,
      },
    },
  );
  let pending = '';
  child.stdout.on('data', (chunk) => {
    process.stdout.write(chunk);
    pending += chunk;
    let nl;
    while ((nl = pending.indexOf('\n')) >= 0) {
      const line = pending.slice(0, nl);
      pending = pending.slice(nl + 1);
      const match = /^ℹ (pass|fail|skipped) (\d+)$/.exec(line.trim());
      if (match) totals[{ pass: 'passed', fail: 'failed', skipped: 'skipped' }[match[1]]] += Number(match[2]);
    }
  });
  return new Promise((resolve) => child.on('close', (code, signal) => resolve(code ?? (signal ? 1 : 0))));
}

// The main protocol suite runs a second time in the zero-config mode
// (embedded Postgres, in-process live state), as `npm start` runs without settings.
const BOTH_MODES = [join(root, 'test', 'gateway', 'protocol.test.ts')];
let code = await runTests(files);
const again = process.env.TEST_MODE === 'embedded' ? [] : files.filter((f) => BOTH_MODES.includes(f));
if (again.length) {
  console.log(`\nagain in embedded mode (TEST_MODE=embedded): ${again.map((f) => f.slice(root.length + 1)).join(', ')}`);
  code = (await runTests(again, { TEST_MODE: 'embedded' })) || code;
}
stop();
console.log(`\n${totals.passed} passed, ${totals.failed} failed, ${totals.skipped} skipped`);
process.exit(code);
