/**
 * The cluster primary (server mode, WORKERS > 1): forks the gateway workers,
 * which share the port and coordinate only through Postgres and Redis; each
 * worker listens on the port itself with SO_REUSEPORT (src/app.ts), so the
 * kernel hands connections straight to the workers and the primary is off
 * the connection path (it still shares the metrics and API ports, which
 * node:cluster routes through it);
 * replaces those that die; serves the machine-wide metrics; forwards
 * SIGTERM / SIGINT and waits for the workers to stop.
 */
import cluster, { type Worker } from 'node:cluster';
import { createServer, type AddressInfo } from 'node:net';
import type { Config } from '../config.js';
import { explainStartFailure } from '../startFailure.js';
import { serveClusterMetrics } from './metricsAggregation.js';
import type { Logger } from '../logger.js';
import { isWorkerMessage } from './messages.js';

/** Delay before replacing a worker that died on its own. */
const RESPAWN_DELAY_MS = 1_000;
/** Workers dying before they were ready, in a row, after which the primary gives up (exit 1). */
const MAX_FAILED_STARTS = 3;
/** Beyond SHUTDOWN_GRACE_MS, for the workers' own forced exit, before the primary kills them. */
const STOP_MARGIN_MS = 8_000;

type PrimaryConfig = Pick<Config, 'PORT' | 'HOST' | 'SHUTDOWN_GRACE_MS' | 'DATABASE_URL' | 'DATABASE_DIRECT_URL' | 'METRICS_PORT' | 'METRICS_HOST'>;

/**
 * Binds PORT on HOST for a moment without SO_REUSEPORT, and resolves with the
 * port. The workers' sockets have SO_REUSEPORT, so they would share the port
 * with another gateway's workers listening there (same user) instead of
 * failing: this bind fails then, as it does for any other listener. With
 * PORT=0 the port the system picked is the one every worker then takes.
 */
function claimPort(config: PrimaryConfig): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = createServer();
    probe.once('error', reject);
    probe.listen({ port: config.PORT, host: config.HOST, exclusive: true }, () => {
      const { port } = probe.address() as AddressInfo;
      probe.close(() => resolve(port));
    });
  });
}

export async function runPrimary(count: number, config: PrimaryConfig, log: Logger): Promise<void> {
  try {
    // Forked workers read their configuration from this environment.
    process.env.PORT = String(await claimPort(config));
  } catch (err) {
    process.stderr.write(`cannot start: ${explainStartFailure(err, config) ?? String((err as Error).message)}\n`);
    process.exit(1);
  }
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
  log.info({ workers: count }, `cluster primary started ${count} workers, each listening on port ${process.env.PORT}`);

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
