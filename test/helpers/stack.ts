/**
 * Test helpers: a fresh database per gateway, in-process gateways on real
 * Postgres and Redis (started by scripts/test.mjs), and gateways in their own
 * processes for multi-instance tests.
 */
import { createDatabase as createStackDatabase } from '../../scripts/stack.mjs';
import type { ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmodSync, mkdtempSync } from 'node:fs';
import { Writable } from 'node:stream';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startApp, type App } from '../../src/app.js';
import { OsmiumClient } from '../../src/client/client.js';
import { LIMIT_SETTINGS, loadConfig } from '../../src/config.js';
import { createLogger } from '../../src/logger.js';
import { startEmbeddedPostgres, type EmbeddedPostgres } from '../../src/embedded/embeddedPostgres.js';
import { testClock, type TestClock } from './clock.js';
import { nodeArgs } from './entry.js';
import { startProcess, type Running } from './process.js';

export const DATABASE_URL = required('TEST_DATABASE_URL');
export const REDIS_URL = required('TEST_REDIS_URL');

/**
 * `TEST_REDIS_MODE=cluster`: gateways use the test stack's Redis Cluster
 * (REDIS_CLUSTER_NODES) instead of its single Redis node; the multi-instance
 * suites run both ways.
 */
export const TEST_REDIS_MODE: 'node' | 'cluster' = process.env.TEST_REDIS_MODE === 'cluster' ? 'cluster' : 'node';
export const REDIS_ENV: Record<string, string> =
  TEST_REDIS_MODE === 'cluster' ? { REDIS_CLUSTER_NODES: required('TEST_REDIS_CLUSTER_NODES') } : { REDIS_URL };

/**
 * `TEST_DATABASE_MODE=pgbouncer`: gateways reach Postgres through the test
 * stack's PgBouncer (transaction pooling), as a production deployment behind
 * one does: DATABASE_URL through the bouncer with DATABASE_PREPARED_STATEMENTS
 * off, DATABASE_DIRECT_URL straight to the server for migrations and LISTEN.
 * Tests still read and write the database directly (`TestGateway.databaseUrl`).
 */
export const TEST_DATABASE_MODE: 'direct' | 'pgbouncer' = process.env.TEST_DATABASE_MODE === 'pgbouncer' ? 'pgbouncer' : 'direct';

/** The gateway settings that reach the database at `directUrl` in this run's TEST_DATABASE_MODE. */
export function databaseEnv(directUrl: string): Record<string, string> {
  if (TEST_DATABASE_MODE === 'direct') return { DATABASE_URL: directUrl };
  const bouncer = new URL(required('TEST_PGBOUNCER_URL'));
  bouncer.pathname = new URL(directUrl).pathname;
  return { DATABASE_URL: bouncer.toString(), DATABASE_DIRECT_URL: directUrl, DATABASE_PREPARED_STATEMENTS: 'off' };
}

function required(name: string): string {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is not set: run the tests with \`npm test\`, which starts Postgres and Redis`);
  return value;
}

/**
 * Per-socket and per-IP limits have their own tests; everywhere else tests send
 * fast from one address on purpose, so those limits are lifted (not turned off:
 * the per-address mail caps still hold).
 */
export const LIFTED_LIMITS: Record<string, string> = {
  SOCKET_RATE: '100000',
  SOCKET_BURST: '100000',
  MAX_PENDING_CONNECTIONS_PER_IP: '100000',
  MAX_PENDING_CONNECTIONS_PER_NETWORK: '100000',
  ...Object.fromEntries(
    Object.keys(LIMIT_SETTINGS)
      .filter((name) => !name.endsWith('_MAIL_EMAIL'))
      .map((name) => [`LIMIT_${name}`, '1000000/1']),
  ),
};

/**
 * `TEST_MODE=embedded`: gateways from `startGateway` run as `npm start` does
 * with no DATABASE_URL / REDIS_URL: on an embedded Postgres (one per test
 * process, under a temporary DATA_DIR) with in-process live state.
 */
export const TEST_MODE: 'servers' | 'embedded' = process.env.TEST_MODE === 'embedded' ? 'embedded' : 'servers';

let embeddedServer: Promise<EmbeddedPostgres> | undefined;
/** The test process's embedded Postgres, started on first use and stopped when the process exits. */
function embeddedPostgres(): Promise<EmbeddedPostgres> {
  embeddedServer ??= (async () => {
    // Inside the test stack's folder when there is one: removed with it.
    const dir = mkdtempSync(join(process.env.TEST_STACK_DIR ?? tmpdir(), 'embedded-'));
    chmodSync(dir, 0o755); // as root the server runs as the user postgres, who must enter it
    const server = await startEmbeddedPostgres({ dataDir: join(dir, 'data'), log: createLogger({ level: 'warn', pretty: false }) });
    process.once('exit', () => {
      try {
        process.kill(server.pid, 'SIGINT');
      } catch {
        /* already gone */
      }
    });
    return server;
  })();
  return embeddedServer;
}

/** Creates an empty database on the test server (the embedded one when TEST_MODE=embedded) and returns its URL. */
export async function createDatabase(): Promise<string> {
  return createStackDatabase(TEST_MODE === 'embedded' ? (await embeddedPostgres()).adminUrl : DATABASE_URL, 't');
}

export interface TestGateway {
  app: App;
  url: string;
  databaseUrl: string;
  /** Log lines written by this gateway (JSON objects). */
  logs: Array<Record<string, unknown>>;
  /** The clock its services read: a test moves it forward instead of waiting. */
  clock: TestClock;
  connect(headers?: Record<string, string>): Promise<OsmiumClient>;
  close(): Promise<void>;
}

/**
 * Starts a gateway in this process on a fresh database (unless one is given)
 * and the test Redis (none when TEST_MODE=embedded; a test that names a Redis
 * of its own, REDIS_URL or REDIS_CLUSTER_NODES, gets that one alone).
 */
export async function startGateway(env: Record<string, string> = {}, options: { databaseUrl?: string; clock?: TestClock } = {}): Promise<TestGateway> {
  const databaseUrl = options.databaseUrl ?? (await createDatabase());
  const ownRedis = 'REDIS_URL' in env || 'REDIS_CLUSTER_NODES' in env;
  const config = loadConfig({
    PORT: '0',
    HOST: '127.0.0.1',
    ...databaseEnv(databaseUrl),
    ...(TEST_MODE === 'embedded' || ownRedis ? {} : REDIS_ENV),
    REDIS_PREFIX: `t${randomBytes(4).toString('hex')}:`,
    BCRYPT_COST: '4',
    LOG_LEVEL: 'debug',
    SHUTDOWN_GRACE_MS: '2000',
    ...LIFTED_LIMITS,
    // Mail without SMTP_URL goes to .eml files: keep them out of the working tree.
    MAIL_OUTBOX_DIR: join(process.env.TEST_STACK_DIR ?? tmpdir(), `outbox-${process.pid}`),
    METRICS_PORT: '0',
    ...env,
  });
  const logs: Array<Record<string, unknown>> = [];
  const destination = new Writable({
    write(chunk, _enc, done) {
      for (const line of String(chunk).split('\n')) if (line) logs.push(JSON.parse(line));
      done();
    },
  });
  const log = createLogger({ level: config.LOG_LEVEL, pretty: false, destination });
  const clock = options.clock ?? testClock();
  const app = await startApp(config, { log, databaseUrl: config.DATABASE_URL ?? databaseUrl, clock });
  const url = `ws://127.0.0.1:${app.port}`;
  const clients: OsmiumClient[] = [];
  return {
    app,
    url,
    databaseUrl,
    logs,
    clock,
    async connect(headers) {
      const client = await OsmiumClient.connect(url, { headers });
      clients.push(client);
      return client;
    },
    async close() {
      await Promise.all(clients.map((c) => c.close()));
      await app.close();
    },
  };
}

export interface SpawnedGateway {
  process: ChildProcess;
  /** The process as test/helpers/process.ts runs it: wait for a line with `running.line(/.../)`. */
  running: Running;
  port: number;
  /** The /metrics listener's port (METRICS_PORT=0 unless the test sets it). */
  metricsPort: number;
  url: string;
  /** Its stdout and stderr, line by line. */
  output: string[];
  /** Sends `signal` (SIGKILL after a bound if it still runs) and resolves with the exit code. */
  stop(signal?: NodeJS.Signals): Promise<number | null>;
}

/**
 * Starts `src/main.ts` in its own process and waits until it listens (or
 * exits). The deadline is generous: several processes loading TypeScript on a
 * loaded 2-core machine take a while; a gateway that misses it is killed.
 */
export async function spawnGateway(given: Record<string, string>): Promise<SpawnedGateway> {
  // A database the test named directly is reached as this run's TEST_DATABASE_MODE says.
  const env = given.DATABASE_URL && !given.DATABASE_DIRECT_URL ? { ...given, ...databaseEnv(given.DATABASE_URL) } : given;
  const running = startProcess(process.execPath, nodeArgs('src/main.ts'), {
    env: { ...process.env, NODE_ENV: 'production', LOG_LEVEL: 'info', PORT: '0', HOST: '127.0.0.1', BCRYPT_COST: '4', WORKERS: '1',
      ...LIFTED_LIMITS, MAIL_OUTBOX_DIR: join(process.env.TEST_STACK_DIR ?? tmpdir(), `outbox-${process.pid}`), METRICS_PORT: '0', ...env },
  });
  let listening: { port: number; metricsPort?: number };
  try {
    listening = JSON.parse(await running.line(/^(?=.*"msg":"gateway listening")(?=.*"port":[1-9])/, 90_000)) as { port: number; metricsPort?: number };
  } catch (error) {
    running.child.kill('SIGKILL');
    throw new Error(`gateway did not start: ${(error as Error).message}`, { cause: error });
  }
  return {
    process: running.child,
    running,
    port: listening.port,
    metricsPort: listening.metricsPort ?? 0,
    url: `ws://127.0.0.1:${listening.port}`,
    output: running.lines,
    stop: (signal = 'SIGTERM') => running.stop(signal),
  };
}

let counter = 0;
/** A unique email address for a test account (unique across the test processes running at once, too). */
export function uniqueEmail(tag = 'user'): string {
  return `${tag}.${Date.now().toString(36)}.${process.pid.toString(36)}.${(counter++).toString(36)}@example.test`;
}
