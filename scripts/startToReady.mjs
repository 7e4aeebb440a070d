#!/usr/bin/env node
/**
 * Start to ready: milliseconds from spawning a process to its first
 * `/readyz` 200, for the gateway in each mode and for the ceiling (plain node
 * serving /readyz with nothing else), and the CPU time the process itself
 * used until then (steadier than the wall time on a machine shared with other
 * work; Postgres's own work is not in it). Runs on throwaway servers from
 * scripts/stack.mjs; the cases run interleaved, round after round.
 *
 *   node scripts/startToReady.mjs [--runs 5] [--tsx]   (--tsx: also the TypeScript start through tsx)
 *
 * `timeToReady` and `CEILING_SCRIPT` are exported for the benchmark.
 */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { defineCommand, numberValue } from './commandLine.mjs';
import { createDatabase, freePort, startStack } from './stack.mjs';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');

/** The ceiling: plain node answering /readyz, nothing to load or connect. */
export const CEILING_SCRIPT = `require('node:http').createServer((q, s) => s.end('ready')).listen(Number(process.env.PORT), '127.0.0.1');
process.on('SIGTERM', () => process.exit(0));`;

/** USER_HZ: the unit of /proc's CPU times (100 on Linux). */
const CLOCK_TICKS = 100;

/** CPU milliseconds (user + system) a running process has used, from /proc (Linux); undefined elsewhere. */
function cpuMs(pid) {
  try {
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
    return ((Number(fields[11]) + Number(fields[12])) * 1000) / CLOCK_TICKS;
  } catch {
    return undefined;
  }
}
/**
 * Spawns `node ...args` with PORT set and resolves with `{ ms, cpuMs }`: the
 * milliseconds until `http://127.0.0.1:PORT/readyz` answers 200 and the CPU
 * time the process used until then; the process is stopped after.
 */
export async function timeToReady({ args, env = {}, timeoutMs = 90_000 }) {
  const port = await freePort();
  const started = performance.now();
  const child = spawn(process.execPath, args, {
    cwd: ROOT,
    env: { ...process.env, NODE_ENV: 'production', LOG_LEVEL: 'warn', HOST: '127.0.0.1', WORKERS: '1', ...env, PORT: String(port) },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout.on('data', (c) => (output += c));
  child.stderr.on('data', (c) => (output += c));
  try {
    while (performance.now() - started < timeoutMs) {
      if (child.exitCode !== null) throw new Error(`exited with ${child.exitCode}:\n${output}`);
      const status = await fetch(`http://127.0.0.1:${port}/readyz`).then((r) => r.status, () => 0);
      if (status === 200) return { ms: performance.now() - started, cpuMs: cpuMs(child.pid) };
      await new Promise((r) => setTimeout(r, 2));
    }
    throw new Error(`not ready in ${timeoutMs} ms:\n${output}`);
  } finally {
    if (child.exitCode === null) {
      child.kill('SIGTERM');
      await once(child, 'exit');
    }
  }
}

const command = defineCommand(
  {
    usage: 'node scripts/startToReady.mjs [options]',
    options: {
      runs: { type: 'string', value: 'N', help: 'rounds of every case, 1-100 (default 5)' },
      tsx: { type: 'boolean', help: 'also the TypeScript start through tsx' },
    },
  },
  (v) => ({ runs: v.runs === undefined ? 5 : numberValue('runs', v.runs, { min: 1, max: 100 }), tsx: v.tsx }),
);

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

async function main() {
  const { runs, tsx } = command.parseOrExit();
  const stack = await startStack();
  const dirs = [];
  try {
    const compiled = ['dist/main.js'];
    const typescript = ['--import', 'tsx', 'src/main.ts'];
    const built = existsSync(join(ROOT, 'dist', 'main.js'));
    if (!built) console.log('dist/main.js is missing (npm run build): measuring the tsx start only');
    const cases = [['ceiling: plain node serving /readyz', () => ({ args: ['-e', CEILING_SCRIPT] })]];
    if (built) {
      cases.push(
        ['server mode, fresh database, compiled (node dist/main.js)', async () => ({ args: compiled, env: serverEnv(await createDatabase(stack.databaseUrl)) })],
        ['server mode, migrated database (a restart), compiled', () => ({ args: compiled, env: serverEnv(migrated) })],
        ['embedded mode, first start, compiled', () => ({ args: compiled, env: embeddedEnv(freshDir()) })],
        ['embedded mode, later start, compiled', () => ({ args: compiled, env: embeddedEnv(reusedDir()) })],
      );
    }
    if (tsx || !built) {
      cases.push(
        ['ceiling: node + tsx serving /readyz', () => ({ args: ['--import', 'tsx', '-e', CEILING_SCRIPT] })],
        ['server mode, tsx (node --import tsx src/main.ts)', async () => ({ args: typescript, env: serverEnv(await createDatabase(stack.databaseUrl)) })],
        ['embedded mode, first start, tsx', () => ({ args: typescript, env: embeddedEnv(freshDir()) })],
        ['embedded mode, later start, tsx', () => ({ args: typescript, env: embeddedEnv(reusedDir()) })],
      );
    }
    let reused;
    function freshDir() {
      const dir = mkdtempSync(join(tmpdir(), 'osmium-ready-'));
      // As root, Postgres runs as the user postgres, who must enter it: the cluster then stays in DATA_DIR, removed with it.
      chmodSync(dir, 0o755);
      dirs.push(dir);
      return join(dir, 'data');
    }
    function reusedDir() {
      reused ??= freshDir();
      return reused;
    }
    function serverEnv(databaseUrl) {
      return { DATABASE_URL: databaseUrl, REDIS_URL: stack.redisUrl, RATE_LIMITS: 'on' };
    }
    function embeddedEnv(dataDir) {
      return { DATABASE_URL: '', REDIS_URL: '', DATA_DIR: dataDir };
    }
    // The later-start and restart cases need a cluster and a database that already exist.
    await timeToReady({ args: built ? compiled : typescript, env: embeddedEnv(reusedDir()) });
    const migrated = await createDatabase(stack.databaseUrl);
    await timeToReady({ args: built ? compiled : typescript, env: serverEnv(migrated) });
    const results = cases.map(([name]) => ({ name, ms: [], cpu: [] }));
    // Interleaved rounds: load from other work on the machine falls on every case alike.
    for (let round = 0; round < runs; round++) {
      for (const [i, [, setup]] of cases.entries()) {
        const { ms, cpuMs } = await timeToReady(await setup());
        results[i].ms.push(ms);
        if (cpuMs !== undefined) results[i].cpu.push(cpuMs);
      }
    }
    console.log(`${'case'.padEnd(52)} ${'wall ms'.padStart(8)} ${'cpu ms'.padStart(7)}   wall ms of each run`);
    for (const { name, ms, cpu } of results) {
      const cpuText = cpu.length ? median(cpu).toFixed(0) : '-';
      console.log(`${name.padEnd(52)} ${median(ms).toFixed(0).padStart(8)} ${cpuText.padStart(7)}   ${ms.map((m) => m.toFixed(0)).join(', ')}`);
    }
    console.log(`medians of ${runs} runs; load average at the end: ${loadavg().map((l) => l.toFixed(1)).join(' ')}`);
  } finally {
    for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
    stack.stop();
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) await main();
