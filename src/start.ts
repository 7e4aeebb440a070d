/**
 * Starting a gateway process, as `start()`: validates the configuration,
 * then runs one of:
 * - the cluster primary (src/cluster/primary.ts): server mode with Redis (REDIS_URL or REDIS_CLUSTER_NODES)
 *   and WORKERS > 1; it forks the same entry point as its workers;
 * - one gateway process (src/gatewayProcess.ts): embedded single-instance
 *   mode (no DATABASE_URL), a single process, or a cluster worker.
 *
 * A function rather than a module's top level, so that loading the
 * production bundle starts nothing: the build loads it to write its code
 * cache. src/main.ts calls it in development, dist/main.js in production
 * (scripts/bundleLoader.mjs).
 */
import cluster from 'node:cluster';
import { runPrimary } from './cluster/primary.js';
import { ConfigError, loadConfig, type Config } from './config.js';
import { runGatewayProcess, type Launch } from './gatewayProcess.js';
import { createLogger } from './logger.js';

export async function start(launch: Launch = {}): Promise<void> {
  let config: Config;
  try {
    config = loadConfig();
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`cannot start: invalid configuration: ${err.problems.join('; ')}\n`);
      process.exit(2);
    }
    throw err;
  }

  const log = createLogger({ level: config.LOG_LEVEL, pretty: config.NODE_ENV !== 'production' && process.stdout.isTTY === true });
  if (launch.codeCache === 'rejected' || launch.codeCache === 'missing') {
    log.warn(
      { codeCache: launch.codeCache },
      `the build's code cache was ${launch.codeCache === 'rejected' ? 'refused by V8 (built by another node version, or other node flags)' : 'not found'}: ` +
        'the start compiles from source and is slower; run npm run build with this node',
    );
  }

  // bcrypt hashes share libuv's thread pool with DNS, files and async crypto.
  // The pool must keep threads free beside BCRYPT_CONCURRENCY hashes, or that
  // work (jose's WebCrypto for a token of a key not yet loaded, DNS lookups)
  // waits behind a sign-in storm. Its size is read when the pool first
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
  const workers = config.mode === 'embedded' || !config.redis ? 1 : config.WORKERS;

  if (workers > 1 && cluster.isPrimary) await runPrimary(workers, config, log);
  else await runGatewayProcess(config, log, launch);
}

