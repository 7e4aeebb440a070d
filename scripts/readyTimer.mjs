/**
 * Start to ready, the one timer of scripts/startToReady.mjs and the bench's
 * figure 5: spawns `node ...args` on a free port and measures the
 * milliseconds until `GET /readyz` answers 200, and the CPU time the process
 * itself used until then (steadier than the wall time on a machine shared
 * with other work; children such as an embedded Postgres are not in it).
 * `waitForReady` is the same wait for a process the caller keeps.
 */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { processCpuSeconds } from './procfs.mjs';
import { freePort } from './stack.mjs';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');

/** The ceiling: plain node answering /readyz, nothing to load or connect (run from the repository root). */
export const READY_CEILING = 'scripts/bench/readyCeiling.mjs';

/** How a measured gateway runs unless told otherwise: one process, quiet, production. */
export const MEASURED_GATEWAY_ENV = { NODE_ENV: 'production', LOG_LEVEL: 'warn', HOST: '127.0.0.1', WORKERS: '1' };

/** The process exited or stayed unready; `output` is everything it printed. */
export class NotReady extends Error {
  constructor(reason, output) {
    const tail = output.trim().split('\n').slice(-20).join('\n');
    super(tail ? `${reason}:\n${tail}` : reason);
    this.output = output;
  }
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** Resolves once http://127.0.0.1:PORT/readyz answers 200; throws NotReady when the child exits or the time is up. */
export async function waitForReady(child, port, { timeoutMs, intervalMs = 5, output = () => '' }) {
  const deadline = performance.now() + timeoutMs;
  for (;;) {
    if (child.exitCode !== null || child.signalCode !== null) throw new NotReady(`exited with ${child.exitCode ?? child.signalCode}`, output());
    if (performance.now() > deadline) throw new NotReady(`not ready within ${timeoutMs} ms`, output());
    const status = await fetch(`http://127.0.0.1:${port}/readyz`).then(
      async (r) => {
        await r.arrayBuffer();
        return r.status;
      },
      () => 0, // not listening yet
    );
    if (status === 200) return;
    await sleep(intervalMs);
  }
}

/**
 * Spawns `node ...args` (MEASURED_GATEWAY_ENV, then `env`, then PORT) and
 * resolves with `{ ms, cpuMs }` once it is ready (cpuMs null without /proc);
 * the process is stopped after. `onSpawn` sees the child first (the bench
 * makes sure it dies with the bench).
 */
export async function timeToReady({ args, env = {}, timeoutMs = 90_000, onSpawn }) {
  const port = await freePort();
  const started = performance.now();
  const child = spawn(process.execPath, args, {
    cwd: ROOT,
    env: { ...process.env, ...MEASURED_GATEWAY_ENV, ...env, PORT: String(port) },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  onSpawn?.(child);
  let output = '';
  child.stdout.on('data', (c) => (output += c));
  child.stderr.on('data', (c) => (output += c));
  try {
    await waitForReady(child, port, { timeoutMs, output: () => output });
    const ms = performance.now() - started;
    const cpuSeconds = processCpuSeconds(child.pid);
    return { ms, cpuMs: cpuSeconds === null ? null : cpuSeconds * 1000 };
  } finally {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGTERM');
      await once(child, 'exit');
    }
  }
}
