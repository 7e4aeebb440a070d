/**
 * The Postgres pool, migrations and readiness check. Postgres is the record of
 * every account, session and key; nothing above this module builds SQL
 * connections itself.
 */
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { runner } from 'node-pg-migrate';
import type { Logger } from '../logger.js';
import { finishEmailCanonicalisation } from './legacyEmails.js';

// bigint columns arrive as decimal strings (pg's default), which is exactly our Id type.
export type Pool = pg.Pool;
export type PoolClient = pg.PoolClient;

const MIGRATIONS_DIR = join(dirname(fileURLToPath(import.meta.url)), 'migrations');
const MIGRATIONS_TABLE = 'schema_migrations';

export interface PoolOptions {
  /** Connections at most (default 10). */
  max?: number;
  /**
   * Named (server-side prepared) statements for the hot queries (default
   * true): parsed and planned once per connection instead of per call. Off
   * behind a pooler that cannot keep them across transactions (PgBouncer
   * before 1.21 in transaction mode).
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
  const pool = new pg.Pool({ connectionString: url, max: options.max ?? 10, connectionTimeoutMillis: 5_000, idleTimeoutMillis: 30_000 });
  const { onError } = options;
  if (options.preparedStatements ?? true) preparedPools.add(pool);
  // An idle client losing its connection must not crash the process.
  pool.on('error', (err: Error & { code?: string }) => {
    log.warn({ err }, 'postgres idle client error');
    onError?.(err.code ?? 'connection');
  });
  if (onError) {
    // pg has no query event: wrap query() to see failures without changing results.
    const query = pool.query.bind(pool) as (...args: unknown[]) => unknown;
    (pool as { query: unknown }).query = (...args: unknown[]) => {
      const result = query(...args);
      if (result && typeof (result as Promise<unknown>).then === 'function') {
        (result as Promise<unknown>).catch((err: { code?: string }) => {
          const code = typeof err?.code === 'string' ? err.code : 'unknown';
          if (!code.startsWith('23')) onError(code);
        });
      }
      return result;
    };
  }
  return pool;
}

const preparedPools = new WeakSet<Pool>();

/**
 * A hot statement: named, so Postgres parses and plans it once per
 * connection, unless the pool was made without prepared statements.
 */
export function hotStatement(pool: Pool, name: string, text: string, values: unknown[]): pg.QueryConfig {
  return preparedPools.has(pool) ? { name, text, values } : { text, values };
}

/**
 * Applies pending migrations. Safe when several instances start at once:
 * node-pg-migrate takes an advisory lock and the others wait for it.
 */
export async function migrate(url: string, log: Logger): Promise<void> {
  const applied = await runner({
    databaseUrl: url,
    dir: MIGRATIONS_DIR,
    direction: 'up',
    migrationsTable: MIGRATIONS_TABLE,
    advisoryLockMode: 'wait',
    singleTransaction: true,
    log: (msg: string) => log.debug({ migration: msg }, 'migration'),
  });
  if (applied.length) log.info({ migrations: applied.map((m) => m.name) }, 'applied migrations');
  await finishEmailCanonicalisation(url, log);
}

/** The migration files present in this build. */
let expected: Promise<string[]> | undefined;
function expectedMigrations(): Promise<string[]> {
  // Read once: the files of a build do not change while it runs, and /readyz is polled often.
  expected ??= import('node:fs/promises').then(async ({ readdir }) =>
    (await readdir(MIGRATIONS_DIR)).filter((f) => f.endsWith('.sql')).map((f) => f.replace(/\.sql$/, '')).sort(),
  );
  return expected;
}

/** True when Postgres answers and every migration of this build is applied. */
export async function isMigrated(pool: Pool): Promise<boolean> {
  const expected = await expectedMigrations();
  const { rows } = await pool.query<{ name: string }>(`SELECT name FROM ${MIGRATIONS_TABLE}`);
  const done = new Set(rows.map((r) => r.name));
  return expected.every((name) => done.has(name));
}
