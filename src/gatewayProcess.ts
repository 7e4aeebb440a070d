/**
 * One gateway process: the whole gateway in embedded mode or with one
 * worker, else one cluster worker. Starts the embedded Postgres when there is
 * no DATABASE_URL, then the app; says it is ready (and, in embedded mode,
 * where to connect, the console, and how to try it); stops gracefully on
 * SIGTERM / SIGINT.
 * A failed start ends the process at once with exit code 1 and one line
 * saying what failed (src/startFailure.ts).
 */
import cluster from 'node:cluster';
import { relative } from 'node:path';
import { performance } from 'node:perf_hooks';
import { startApp, type App } from './app.js';
import type { WorkerMessage } from './cluster/messages.js';
import type { Config } from './config.js';
import { startEmbeddedPostgres, type EmbeddedPostgres } from './embedded/embeddedPostgres.js';
import type { Logger } from './logger.js';
import { consoleEnabled } from './gateway/consoleRoutes.js';
import { explainStartFailure } from './startFailure.js';

/** How the process was launched: dist/main.js says whether its code cache served (scripts/bundleLoader.mjs). */
export interface Launch {
  codeCache?: 'used' | 'rejected' | 'missing';
}

/** Beyond SHUTDOWN_GRACE_MS before a stuck shutdown is cut short. */
const SHUTDOWN_MARGIN_MS = 5_000;

export async function runGatewayProcess(config: Config, log: Logger, launch: Launch = {}): Promise<void> {
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
    }, config.SHUTDOWN_GRACE_MS + SHUTDOWN_MARGIN_MS);
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
    let reason = explainStartFailure(err, config);
    if (!reason) {
      log.fatal({ err }, 'gateway failed to start');
      log.flush();
      reason = `${String((err as Error)?.message ?? err).split('\n')[0]} (an unexpected error: the log line before this one has the details)`;
    }
    // What half started (pools, timers) only has complaints left as its servers go: the one line says it all.
    log.level = 'silent';
    await embedded?.stop().catch(() => undefined);
    failStart(reason);
    return;
  }
  if (stopping) return; // a signal arrived during start; shutdown() stops what started

  const readyMs = Math.round(performance.now());
  const { codeCache } = launch; // how the production bundle compiled: undefined under tsx
  if (embedded) {
    const where = relative(process.cwd(), embedded.dir).startsWith('..') ? embedded.dir : `./${relative(process.cwd(), embedded.dir)}`;
    log.info(
      { readyMs, codeCache, postgresMs: embedded.startMs, created: embedded.created },
      `single-instance mode: embedded Postgres in ${where}, ${config.redis ? 'live state in Redis' : 'in-process live state'}, ` +
        `1 process, ready in ${readyMs} ms; ` +
        'for production set DATABASE_URL and REDIS_URL (README: Running in production)',
    );
    // A newcomer's first minute: where to connect, and what talks to it.
    const url = webSocketUrl(config.HOST, app!.port);
    log.info({ url }, `WebSocket URL: ${url}`);
    if (consoleEnabled(config)) log.info(`web console: ${url.replace(/^ws:/, 'http:')}/console`);
    log.info(`try it: npm run loadtest -- --url ${url} --scenario authorize --duration 5   (10 sockets sign up as guests, then reconnect and resume their tokens)`);
  } else if (!config.redis) {
    log.info(
      { readyMs, codeCache },
      'single-instance mode: neither REDIS_URL nor REDIS_CLUSTER_NODES is set, so live state is in process and WORKERS is ignored (1 process); ' +
        'set one of them to run several processes or machines',
    );
  } else {
    log.info({ readyMs, codeCache, worker: cluster.isWorker ? cluster.worker?.id : undefined }, 'ready');
  }
  if (cluster.isWorker) process.send?.({ type: 'osmium:worker-ready' } satisfies WorkerMessage);
}

/** Ends a failed start: a worker tells its primary (which says it once for all workers); a lone process says it itself. */
function failStart(reason: string): void {
  if (cluster.isWorker && process.send) {
    process.send({ type: 'osmium:worker-start-failed', reason } satisfies WorkerMessage, () => process.exit(1));
    return;
  }
  process.stderr.write(`cannot start: ${reason}\n`);
  process.exit(1);
}

/** The URL a client on this machine connects to: a wildcard HOST is reached through localhost. */
function webSocketUrl(host: string, port: number): string {
  const reachable = host === '0.0.0.0' || host === '::' || host === '' ? 'localhost' : host;
  return `ws://${reachable.includes(':') ? `[${reachable}]` : reachable}:${port}`;
}
