/**
 * Entry point: `npm start`. Validates the configuration, starts the gateway,
 * and stops it gracefully on SIGTERM / SIGINT.
 */
import { ConfigError, loadConfig, type Config } from './config.js';
import { createLogger } from './logger.js';
import { startApp } from './app.js';

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

const log = createLogger({ level: config.LOG_LEVEL, pretty: config.NODE_ENV !== 'production' && process.stdout.isTTY });

if (!config.DATABASE_URL) {
  log.fatal('DATABASE_URL is not set (embedded mode is not available yet)');
  process.exit(2);
}

const app = await startApp(config, { log, databaseUrl: config.DATABASE_URL });

let stopping = false;
async function shutdown(signal: string): Promise<void> {
  if (stopping) return;
  stopping = true;
  log.info({ signal }, 'shutting down');
  const force = setTimeout(() => {
    log.error('shutdown grace period passed; exiting');
    process.exit(1);
  }, config.SHUTDOWN_GRACE_MS + 2_000);
  force.unref();
  try {
    await app.close();
    log.info('stopped');
    process.exit(0);
  } catch (err) {
    log.error({ err }, 'shutdown failed');
    process.exit(1);
  }
}
process.on('SIGTERM', () => void shutdown('SIGTERM'));
process.on('SIGINT', () => void shutdown('SIGINT'));
