/**
 * The Postgres pool, migrations and readiness check. Postgres is the record of
 * every account, session and key; nothing above this module builds SQL
 * connections itself.
 */
import { readdir } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import type { Logger } from '../logger.js';
import { finishEmailCanonicalisation } from './legacyEmails.js';

// bigint columns arrive as decimal strings (pg's default), which is exactly our Id type.
export type Pool = pg.Pool;
export type PoolClient = pg.PoolClient;

const MIGRATIONS_DIR = join(dirname(fileURLToPath(import.meta.url)), 'migrations');
const MIGRATIONS_TABLE = 'schema_migrations';

/** How long opening one connection may take: an attempt Postgres never answers fails rather than waits forever. */
export const CONNECT_TIMEOUT_MS = 5_000;
/**
 * How long one statement may wait for its answer: on a connection whose
 * packets vanish (a partition, a dead host) nothing else ends the wait, and
 * the request would hang until TCP gives up (minutes). The connection is
 * then closed, not lent again, and the request answers 503.
 */
export const QUERY_TIMEOUT_MS = 8_000;

export interface PoolOptions {
  /** Connections at most (default 10). */
  max?: number;
  /**
   * Named (server-side prepared) statements for the hot queries (default
   * true): parsed and planned once per connection instead of per call. Off
   * behind a pooler that cannot keep them across transactions (PgBouncer
   * before 1.21 in transaction mode); left on there, the pool turns them off
   * itself at the first statement the pooler lost (see createPool).
   */
  preparedStatements?: boolean;
  /**
   * Told of each failed query (by SQLSTATE, or the driver's error code) and of
   * each idle connection lost; integrity violations (SQLSTATE class 23, which
   * callers expect, e.g. a taken email) are not failures.
   */
  onError?: (code: string) => void;
}

export function createPool(url: string, log: Logger, options: PoolOptions = {}): Pool {
  const pool = new pg.Pool({
    connectionString: url, max: options.max ?? 10, connectionTimeoutMillis: CONNECT_TIMEOUT_MS, idleTimeoutMillis: 30_000, query_timeout: QUERY_TIMEOUT_MS,
  });
  const { onError } = options;
  if (options.preparedStatements ?? true) preparedPools.add(pool);
  // An idle client losing its connection must not crash the process.
  pool.on('error', (err: Error & { code?: string }) => {
    log.warn({ err }, 'postgres idle client error');
    onError?.(err.code ?? 'connection');
  });
  // pg has no query event: query() is wrapped to retry a named statement a pooler lost and to see failures.
  const query = pool.query.bind(pool) as (...args: unknown[]) => unknown;
  (pool as { query: unknown }).query = (...args: unknown[]) => {
    const [config, ...rest] = args;
    if (isNamed(config) && typeof rest[rest.length - 1] !== 'function') {
      const result = namedOnOneClient(pool, config, rest, log);
      if (onError) result.catch((err: { code?: string }) => reportFailure(onError, err));
      return result;
    }
    const answer = query(...args);
    if (!isPromise(answer)) return answer; // a callback was given: nothing here uses that form
    if (onError) answer.catch((err: { code?: string }) => reportFailure(onError, err));
    return answer;
  };
  return pool;
}

function reportFailure(onError: (code: string) => void, err: { code?: string }): void {
  const code = typeof err?.code === 'string' ? err.code : 'unknown';
  if (!code.startsWith('23')) onError(code);
}

/**
 * A named statement on one lent client, retried unnamed on that same client
 * when a pooler lost the name (so the retry does not queue for a connection a
 * second time behind every other request: under a burst, that second wait is
 * what ran into CONNECT_TIMEOUT_MS). Releases the client as pool.query does:
 * destroyed after any other error (a timed-out or broken connection is never
 * lent again), kept after a lost name, which leaves the connection sound.
 */
async function namedOnOneClient(pool: Pool, config: pg.QueryConfig & { name: string }, rest: unknown[], log: Logger): Promise<pg.QueryResult> {
  const client = await pool.connect();
  let broken: Error | undefined;
  // A connection that dies while lent emits 'error' on the client: without a listener that would crash the process.
  const onClientError = (err: Error) => { broken = err; };
  client.on('error', onClientError);
  try {
    try {
      return await client.query(config, ...(rest as [unknown[]?]));
    } catch (err) {
      const code = (err as { code?: string })?.code ?? '';
      if (!NAMED_STATEMENT_LOST.has(code)) throw err;
      // Once lost, always at risk: the connection a pooler lends changes per transaction. Hot statements go unnamed for good.
      if (preparedPools.delete(pool)) {
        log.warn(
          { code, statement: config.name },
          'named statements do not survive the connection pooler (PgBouncer before 1.21 in transaction mode?): unnamed from now on; set DATABASE_PREPARED_STATEMENTS=off',
        );
      }
      const { name: _name, ...unnamed } = config;
      return await client.query(unnamed, ...(rest as [unknown[]?]));
    }
  } catch (err) {
    broken ??= err as Error;
    throw err;
  } finally {
    client.removeListener('error', onClientError);
    client.release(broken);
  }
}

const preparedPools = new WeakSet<Pool>();

/**
 * A named statement failing with one of these was lost by a pooler between
 * transactions, and did not run: 42P05 (duplicate_prepared_statement) is
 * Parse's answer when the server connection lent has the name already, 26000
 * (invalid_sql_statement_name) is Bind's when it lacks a name this client
 * parsed on another; the server executes nothing of the statement after
 * either. pool.query runs each statement on a connection of its own outside
 * any transaction of the caller, so retrying it unnamed is safe.
 */
const NAMED_STATEMENT_LOST = new Set(['42P05', '26000']);

const isPromise = (value: unknown): value is Promise<unknown> => typeof (value as Promise<unknown> | undefined)?.then === 'function';

const isNamed = (config: unknown): config is pg.QueryConfig & { name: string } =>
  typeof config === 'object' && config !== null && typeof (config as pg.QueryConfig).name === 'string';

/**
 * A hot statement: named, so Postgres parses and plans it once per
 * connection, unless the pool was made without prepared statements or turned
 * them off. Run it with the pool's query() (which retries it unnamed when a
 * pooler lost it), not a lent client's; `text` is a plain query (no PREPARE,
 * EXECUTE or DEALLOCATE of its own).
 */
export function hotStatement(pool: Pool, name: string, text: string, values: unknown[]): pg.QueryConfig {
  return preparedPools.has(pool) ? { name, text, values } : { text, values };
}

/**
 * Applies pending migrations, then finishes what migration 0006 left to
 * JavaScript (legacyEmails.ts). Safe when several instances start at once:
 * node-pg-migrate takes an advisory lock and the others wait for it.
 *
 * A start with nothing to apply (every restart, every instance added) asks
 * Postgres which migrations it has and never loads node-pg-migrate: the
 * library, its TypeScript loader (jiti) and its lock took a tenth of such a
 * start.
 */
export async function migrate(target: string | Pool, log: Logger): Promise<void> {
  // A URL gets a connection of its own; a pool lends one (a session of its own while held) and keeps it open after.
  const lent = typeof target === 'string' ? undefined : await target.connect();
  const client = lent ?? new pg.Client({ connectionString: target as string });
  if (!lent) await client.connect();
  // Migrations (and the advisory lock other starting instances wait on) may take longer than QUERY_TIMEOUT_MS.
  const parameters = (client as unknown as { connectionParameters: { query_timeout?: number } }).connectionParameters;
  const queryTimeout = parameters.query_timeout;
  parameters.query_timeout = undefined;
  let done = false;
  try {
    if (await hasPendingMigrations(client)) {
      const { runner } = await import('node-pg-migrate');
      const applied = await runner({
        dbClient: client,
        dir: MIGRATIONS_DIR,
        direction: 'up',
        migrationsTable: MIGRATIONS_TABLE,
        advisoryLockMode: 'wait',
        singleTransaction: true,
        log: (msg: string) => log.debug({ migration: msg }, 'migration'),
      });
      if (applied.length) log.info({ migrations: applied.map((m) => m.name) }, 'applied migrations');
    }
    await finishEmailCanonicalisation(client, log);
    done = true;
  } finally {
    // A lent connection goes back to its pool, unless something failed on it (then it is closed, not reused).
    parameters.query_timeout = queryTimeout;
    if (lent) lent.release(!done);
    else await client.end();
  }
}

/** True unless the migrations table lists every migration of this build. */
async function hasPendingMigrations(db: Pool | pg.ClientBase): Promise<boolean> {
  let done: Set<string>;
  try {
    // One query (readiness probes ask this too); a database never migrated has no table yet.
    const { rows } = await db.query<{ name: string }>(`SELECT name FROM ${MIGRATIONS_TABLE}`);
    done = new Set(rows.map((r) => r.name));
  } catch (err) {
    if ((err as { code?: string }).code !== UNDEFINED_TABLE) throw err;
    return true;
  }
  return (await expectedMigrations()).some((name) => !done.has(name));
}

/** SQLSTATE 42P01: the relation does not exist. */
const UNDEFINED_TABLE = '42P01';

/** The migration files present in this build. */
let expected: Promise<string[]> | undefined;
function expectedMigrations(): Promise<string[]> {
  // Read once: the files of a build do not change while it runs, and /readyz is polled often.
  expected ??= readdir(MIGRATIONS_DIR).then((files) => files.filter((f) => f.endsWith('.sql')).map((f) => f.replace(/\.sql$/, '')).sort());
  return expected;
}

/** True when Postgres answers and every migration of this build is applied. */
export async function isMigrated(pool: Pool): Promise<boolean> {
  return !(await hasPendingMigrations(pool));
}
