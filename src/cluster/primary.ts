/**
 * The cluster primary (server mode, WORKERS > 1): forks the gateway workers,
 * which share the port and coordinate only through Postgres and Redis;
 * replaces those that die; serves the machine-wide metrics; forwards
 * SIGTERM / SIGINT and waits for the workers to stop.
 */
import cluster, { type Worker } from 'node:cluster';
import type { Config } from '../config.js';
import { serveClusterMetrics } from './metricsAggregation.js';
import type { Logger } from '../logger.js';
import { isWorkerMessage } from './messages.js';

/** Delay before replacing a worker that died on its own. */
const RESPAWN_DELAY_MS = 1_000;
/** Workers dying before they were ready, in a row, after which the primary gives up (exit 1). */
const MAX_FAILED_STARTS = 3;
/** Beyond SHUTDOWN_GRACE_MS, for the workers' own forced exit, before the primary kills them. */
const STOP_MARGIN_MS = 8_000;

export function runPrimary(count: number, config: Pick<Config, 'PORT' | 'SHUTDOWN_GRACE_MS'>, log: Logger): void {
  let stopping = false;
  serveClusterMetrics();
  const ready = new WeakSet<Worker>();
  let everReady = false;
  let failedStarts = 0;
  /** What the last worker that could not start said. */
  let lastReason: string | undefined;
  const fork = () => cluster.fork();

  cluster.on('message', (worker: Worker, message: unknown) => {
    if (!isWorkerMessage(message)) return;
    if (message.type === 'osmium:worker-ready') {
      ready.add(worker);
      everReady = true;
      failedStarts = 0;
      return;
    }
    if (stopping) return;
    // The first start failing (port in use, database unreachable...) fails the same way again: say it once and stop.
    if (!everReady) {
      process.stderr.write(`cannot start: ${message.reason}\n`);
      stop('a worker could not start', 1);
      return;
    }
    lastReason = message.reason;
    log.error({ worker: worker.id, reason: message.reason }, 'a replacement worker could not start');
  });

  cluster.on('exit', (worker: Worker, code, signal) => {
    if (stopping) return;
    // A worker that never got ready would likely fail again: stop retrying after a few.
    if (!ready.has(worker) && ++failedStarts >= MAX_FAILED_STARTS) {
      log.fatal({ exitCode: code, signal, reason: lastReason }, `${failedStarts} workers in a row died before they were ready; giving up`);
      stop('workers keep dying', 1);
      return;
    }
    log.error({ worker: worker.id, workerPid: worker.process.pid, exitCode: code, signal }, `worker died; starting another in ${RESPAWN_DELAY_MS} ms`);
    // Not unref'd: with every worker dead, this timer is what keeps the primary alive.
    setTimeout(() => !stopping && fork(), RESPAWN_DELAY_MS);
  });

  for (let i = 0; i < count; i++) fork();
  log.info({ workers: count }, `cluster primary started ${count} workers sharing port ${config.PORT}`);

  /** Stops every worker; `why` is the signal received or what went wrong. */
  function stop(why: string, exitCode = 0): void {
    if (stopping) return;
    stopping = true;
    log.info({ why }, 'shutting down workers');
    const alive = Object.values(cluster.workers ?? {}).filter((w): w is Worker => !!w && !w.isDead());
    let failed = exitCode !== 0;
    let remaining = alive.length;
    const force = setTimeout(() => {
      log.error('workers did not stop within the grace period; killing them');
      for (const worker of alive) if (!worker.isDead()) worker.process.kill('SIGKILL');
      process.exit(1);
    }, config.SHUTDOWN_GRACE_MS + STOP_MARGIN_MS);
    force.unref();
    if (!remaining) process.exit(exitCode);
    for (const worker of alive) {
      worker.once('exit', (code) => {
        if (code !== 0) failed = true;
        if (--remaining === 0) {
          log.info({ failed }, 'all workers stopped');
          log.flush();
          process.exit(failed ? 1 : 0);
        }
      });
      // A terminal's Ctrl+C already reached the workers; a second signal is harmless.
      worker.process.kill('SIGTERM');
    }
  }
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
}
