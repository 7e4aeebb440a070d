/**
 * Entry point: `npm start`. Validates the configuration, then runs one of:
 * - embedded single-instance mode (no DATABASE_URL): a real Postgres under
 *   DATA_DIR and in-process live state, one process;
 * - server mode: `WORKERS` processes (node:cluster) sharing the port, which
 *   coordinate only through Postgres and Redis, as separate machines would.
 * Stops gracefully on SIGTERM / SIGINT; the cluster primary forwards the signal
 * and waits for its workers.
 */
import cluster, { type Worker } from 'node:cluster';
import { performance } from 'node:perf_hooks';
import { relative } from 'node:path';
import { ConfigError, loadConfig, type Config } from './config.js';
import { createLogger } from './logger.js';
import { startApp, type App } from './app.js';
import { serveClusterMetrics } from './cluster/metricsAggregation.js';
import { startEmbeddedPostgres, type EmbeddedPostgres } from './store/embeddedPostgres.js';

/** Delay before replacing a worker that died on its own. */
const RESPAWN_DELAY_MS = 1_000;
/** Workers dying before they were ready, in a row, after which the primary gives up (exit 1). */
const MAX_FAILED_STARTS = 3;
/** IPC message a worker sends its primary once it serves. */
const WORKER_READY = 'osmium:worker-ready';

let config: Config;
try {
  config = loadConfig();
} catch (err) {
  if (err instanceof ConfigError) {
    console.error(err.message);
    process.exit(2);
  }
  throw err;
}

const log = createLogger({ level: config.LOG_LEVEL, pretty: config.NODE_ENV !== 'production' && process.stdout.isTTY === true });

// bcrypt hashes and token checks (WebCrypto HMAC) share libuv's thread pool.
// The pool must keep threads free beside BCRYPT_CONCURRENCY hashes, or every
// Authorize waits behind a sign-in storm. Its size is read when the pool first
// starts, so it is set for cluster workers here and by `npm start` otherwise.
const threadPoolWanted = config.BCRYPT_CONCURRENCY + 2;
process.env.UV_THREADPOOL_SIZE ??= String(Math.max(4, threadPoolWanted));
if (Number(process.env.UV_THREADPOOL_SIZE) < threadPoolWanted) {
  log.warn(
    { UV_THREADPOOL_SIZE: process.env.UV_THREADPOOL_SIZE, BCRYPT_CONCURRENCY: config.BCRYPT_CONCURRENCY },
    'UV_THREADPOOL_SIZE leaves fewer than 2 threads beside bcrypt: token checks may wait during sign-in storms',
  );
}
// Workers coordinate only through Redis: without it, several processes would not see each other's revocations.
const workers = config.mode === 'embedded' || !config.REDIS_URL ? 1 : config.WORKERS;

if (workers > 1 && cluster.isPrimary) runPrimary(workers);
else await runGateway();

/** One gateway process: the whole gateway in embedded mode or with one worker, else a cluster worker. */
async function runGateway(): Promise<void> {
  let embedded: EmbeddedPostgres | undefined;
  let app: App | undefined;
  let stopping = false;
  let starting: Promise<unknown> = Promise.resolve();

  async function shutdown(signal: string): Promise<void> {
    if (stopping) return;
    stopping = true;
    log.info({ signal }, 'shutting down');
    const force = setTimeout(() => {
      log.error('shutdown grace period passed; exiting');
      process.exit(1);
    }, config.SHUTDOWN_GRACE_MS + 5_000);
    force.unref();
    try {
      await starting.catch(() => undefined); // a signal during start: finish starting, then stop what started
      await app?.close();
      await embedded?.stop();
      log.info('stopped');
      log.flush();
      process.exit(0);
    } catch (err) {
      log.error({ err }, 'shutdown failed');
      process.exit(1);
    }
  }
  process.on('SIGTERM', () => void shutdown('SIGTERM'));
  process.on('SIGINT', () => void shutdown('SIGINT'));

  try {
    starting = (async () => {
      let databaseUrl = config.DATABASE_URL;
      if (!databaseUrl) {
        embedded = await startEmbeddedPostgres({ dataDir: config.dataDir, log });
        databaseUrl = embedded.url;
      }
      app = await startApp(config, { log, databaseUrl });
    })();
    await starting;
  } catch (err) {
    log.fatal({ err }, 'gateway failed to start');
    await embedded?.stop().catch(() => undefined);
    log.flush();
    process.exit(1);
  }
  if (stopping) return; // a signal arrived during start; shutdown() stops what started

  const readyMs = Math.round(performance.now());
  if (embedded) {
    const where = relative(process.cwd(), embedded.dir).startsWith('..') ? embedded.dir : `./${relative(process.cwd(), embedded.dir)}`;
    log.info(
      { readyMs, postgresMs: embedded.startMs, created: embedded.created },
      `single-instance mode: embedded Postgres in ${where}, ${config.REDIS_URL ? 'live state in Redis' : 'in-process live state'}, ` +
        `1 process, ready in ${readyMs} ms; ` +
        'for production set DATABASE_URL and REDIS_URL (README: Running in production)',
    );
  } else if (!config.REDIS_URL) {
    log.info(
      { readyMs },
      'single-instance mode: REDIS_URL is not set, so live state is in process and WORKERS is ignored (1 process); ' +
        'set REDIS_URL to run several processes or machines',
    );
  } else {
    log.info({ readyMs, worker: cluster.isWorker ? cluster.worker?.id : undefined }, 'ready');
  }
  if (cluster.isWorker) process.send?.({ type: WORKER_READY });
}

/** The cluster primary: forks the workers, replaces those that die, aggregates metrics, forwards signals. */
function runPrimary(count: number): void {
  let stopping = false;
  serveClusterMetrics();
  const ready = new WeakSet<Worker>();
  let failedStarts = 0;
  const fork = () => cluster.fork();
  cluster.on('message', (worker: Worker, message: { type?: string }) => {
    if (message?.type !== WORKER_READY) return;
    ready.add(worker);
    failedStarts = 0;
  });
  cluster.on('exit', (worker: Worker, code, signal) => {
    if (stopping) return;
    // A worker that never got ready (database unreachable, port taken...) would fail again: stop retrying after a few.
    if (!ready.has(worker) && ++failedStarts >= MAX_FAILED_STARTS) {
      log.fatal({ exitCode: code, signal }, `${failedStarts} workers in a row died before they were ready; giving up`);
      stop('SIGTERM', 1);
      return;
    }
    log.error({ worker: worker.id, workerPid: worker.process.pid, exitCode: code, signal }, `worker died; starting another in ${RESPAWN_DELAY_MS} ms`);
    // Not unref'd: with every worker dead, this timer is what keeps the primary alive.
    setTimeout(() => !stopping && fork(), RESPAWN_DELAY_MS);
  });
  for (let i = 0; i < count; i++) fork();
  log.info({ workers: count }, `cluster primary started ${count} workers sharing port ${config.PORT}`);

  function stop(signal: NodeJS.Signals, exitCode = 0): void {
    if (stopping) return;
    stopping = true;
    log.info({ signal }, 'shutting down workers');
    const alive = Object.values(cluster.workers ?? {}).filter((w): w is Worker => !!w && !w.isDead());
    let failed = exitCode !== 0;
    let remaining = alive.length;
    const force = setTimeout(() => {
      log.error('workers did not stop within the grace period; killing them');
      for (const worker of alive) if (!worker.isDead()) worker.process.kill('SIGKILL');
      process.exit(1);
    }, config.SHUTDOWN_GRACE_MS + 8_000);
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
