#!/usr/bin/env node
/**
 * Start to ready: milliseconds from spawning a process to its first
 * `/readyz` 200, for the gateway in each mode and for the ceiling (plain node
 * serving /readyz with nothing else), and the CPU time the process itself
 * used until then (scripts/readyTimer.mjs, the bench's figure 5 timer). Runs
 * on throwaway servers from scripts/stack.mjs; the cases run interleaved,
 * round after round.
 *
 *   node scripts/startToReady.mjs [--runs 5] [--tsx]   (--tsx: also the TypeScript start through tsx)
 */
import { chmodSync, existsSync, mkdtempSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { defineCommand, numberValue } from './commandLine.mjs';
import { READY_CEILING, timeToReady } from './readyTimer.mjs';
import { createDatabase, startStack } from './stack.mjs';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');

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
    const cases = [['ceiling: plain node serving /readyz', () => ({ args: [READY_CEILING] })]];
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
        ['ceiling: node + tsx serving /readyz', () => ({ args: ['--import', 'tsx', READY_CEILING] })],
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
        if (cpuMs !== null) results[i].cpu.push(cpuMs);
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

await main();
