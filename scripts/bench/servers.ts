/**
 * What the benchmark reads from the stack's Postgres and Redis besides CPU:
 * their process ids, Postgres work per database (pg_stat_database), row
 * writes per table (pg_stat_user_tables), statements (pg_stat_statements when
 * the server preloads it), storage per row, and Redis commands and memory
 * (INFO). Reads go through a connection to the `postgres` database, so they
 * are not counted in the measured database.
 */
import pg from 'pg';
import { Redis } from 'ioredis';
import { readProcStat } from '../procfs.mjs';

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

function adminUrl(databaseUrl: string): string {
  const url = new URL(databaseUrl);
  url.pathname = '/postgres';
  return url.toString();
}

function databaseName(databaseUrl: string): string {
  return decodeURIComponent(new URL(databaseUrl).pathname.slice(1));
}

async function withClient<T>(url: string, fn: (c: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}

/** The postmaster's pid: the parent of any backend. */
export async function postgresPid(databaseUrl: string): Promise<number> {
  // Read while the backend lives: it exits with the connection.
  const stat = await withClient(adminUrl(databaseUrl), async (c) => {
    const backend = (await c.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')).rows[0]!.pid;
    return readProcStat(backend);
  });
  if (!stat) throw new Error('no /proc entry for a Postgres backend (Linux only)');
  return stat.ppid;
}

/** Whether pg_stat_statements answers on this server (null: not asked yet). */
let statementsAvailable: boolean | null = null;

/** Work Postgres did for one database, as counted by its statistics. */
export interface DatabaseCounters {
  /** Committed + rolled back transactions: every statement outside an explicit transaction is one. */
  transactions: number;
  /** Statements from pg_stat_statements; null when the server does not preload it. */
  statements: number | null;
  tuplesReturned: number;
  tuplesFetched: number;
  tuplesInserted: number;
  tuplesUpdated: number;
  tuplesDeleted: number;
}

async function readCounters(c: pg.Client, name: string): Promise<DatabaseCounters> {
  const { rows } = await c.query(
    `SELECT xact_commit + xact_rollback AS transactions, tup_returned, tup_fetched, tup_inserted, tup_updated, tup_deleted
       FROM pg_stat_database WHERE datname = $1`,
    [name],
  );
  const r = rows[0] ?? {};
  let statements: number | null = null;
  if (statementsAvailable !== false) {
    try {
      await c.query('CREATE EXTENSION IF NOT EXISTS pg_stat_statements');
      const s = await c.query(`SELECT coalesce(sum(calls), 0)::bigint AS calls FROM pg_stat_statements WHERE dbid = (SELECT oid FROM pg_database WHERE datname = $1)`, [name]);
      statements = Number(s.rows[0].calls);
      statementsAvailable = true;
    } catch {
      // Not in shared_preload_libraries (the stack's Postgres does not load it): transactions stand in.
      statementsAvailable = false;
    }
  }
  return {
    transactions: Number(r.transactions ?? 0),
    statements,
    tuplesReturned: Number(r.tup_returned ?? 0),
    tuplesFetched: Number(r.tup_fetched ?? 0),
    tuplesInserted: Number(r.tup_inserted ?? 0),
    tuplesUpdated: Number(r.tup_updated ?? 0),
    tuplesDeleted: Number(r.tup_deleted ?? 0),
  };
}

/**
 * Reads the counters of the database of `databaseUrl` (from the `postgres`
 * database, so the reading is not counted). Backends publish their
 * statistics at most once a second and when idle, so callers `settle` first.
 */
export function databaseCounters(databaseUrl: string): Promise<DatabaseCounters> {
  return withClient(adminUrl(databaseUrl), (c) => readCounters(c, databaseName(databaseUrl)));
}

/**
 * Rows updated in one table of the measured database, read often without
 * being counted there: one connection holds one open transaction for all its
 * readings (no commit until `close`), with stats_fetch_consistency = none so
 * each reading is fresh (Postgres 15+).
 */
export class TableUpdatesWatch {
  private readonly client: pg.Client;
  private readonly ready: Promise<unknown>;
  constructor(databaseUrl: string, private readonly table: string) {
    this.client = new pg.Client({ connectionString: databaseUrl });
    this.ready = this.client
      .connect()
      .then(() => this.client.query(`SET stats_fetch_consistency = 'none'`))
      .then(() => this.client.query('BEGIN'));
  }

  async updated(): Promise<number> {
    await this.ready;
    const { rows } = await this.client.query(`SELECT n_tup_upd FROM pg_stat_user_tables WHERE relname = $1`, [this.table]);
    return Number(rows[0]?.n_tup_upd ?? 0);
  }

  async close(): Promise<void> {
    await this.client.query('ROLLBACK').catch(() => undefined);
    await this.client.end().catch(() => undefined);
  }
}

/** Row writes counted for each user table of the database. */
export async function tableWrites(databaseUrl: string): Promise<Record<string, { inserted: number; updated: number; hotUpdated: number; deleted: number }>> {
  return withClient(databaseUrl, async (c) => {
    const { rows } = await c.query(`SELECT relname, n_tup_ins, n_tup_upd, n_tup_hot_upd, n_tup_del FROM pg_stat_user_tables`);
    return Object.fromEntries(
      rows.map((r) => [r.relname, { inserted: Number(r.n_tup_ins), updated: Number(r.n_tup_upd), hotUpdated: Number(r.n_tup_hot_upd), deleted: Number(r.n_tup_del) }]),
    );
  });
}

/**
 * A backend that ran a statement less than a second after its last statistics
 * flush publishes that statement's counts only when it has been idle for
 * PGSTAT_IDLE_INTERVAL (10 s, Postgres 15+). Counters read this long after
 * the last work of the measured database hold all of it.
 */
export const STATS_QUIET_MS = 11_000;

/** Reads the database's counters once `STATS_QUIET_MS` have passed since `lastWorkAt` (performance.now() time). */
export async function quietCounters(databaseUrl: string, lastWorkAt: number): Promise<DatabaseCounters> {
  const wait = lastWorkAt + STATS_QUIET_MS - performance.now();
  if (wait > 0) await sleep(wait);
  return databaseCounters(databaseUrl);
}

/** Difference of two counter readings, per unit of work. */
export function countersPerUnit(before: DatabaseCounters, after: DatabaseCounters, units: number) {
  const per = (a: number, b: number) => (b - a) / units;
  return {
    transactions: per(before.transactions, after.transactions),
    statements: before.statements !== null && after.statements !== null ? per(before.statements, after.statements) : null,
    tuplesRead: per(before.tuplesReturned + before.tuplesFetched, after.tuplesReturned + after.tuplesFetched),
    tuplesWritten: per(
      before.tuplesInserted + before.tuplesUpdated + before.tuplesDeleted,
      after.tuplesInserted + after.tuplesUpdated + after.tuplesDeleted,
    ),
  };
}

/** Bytes on disk per row (heap, TOAST and indexes) of the given tables, and their row counts. */
export async function storagePerRow(databaseUrl: string, tables: string[]): Promise<Record<string, { rows: number; bytesPerRow: number }>> {
  return withClient(databaseUrl, async (c) => {
    const out: Record<string, { rows: number; bytesPerRow: number }> = {};
    for (const table of tables) {
      await c.query(`VACUUM ANALYZE ${table}`);
      const { rows } = await c.query(`SELECT count(*)::bigint AS n, pg_total_relation_size($1::regclass) AS bytes FROM ${table}`, [table]);
      const n = Number(rows[0].n);
      out[table] = { rows: n, bytesPerRow: n ? Number(rows[0].bytes) / n : 0 };
    }
    return out;
  });
}

/** Average stored width of a user row with and without an email and password (accounts vs guests). */
export async function userRowWidths(databaseUrl: string): Promise<{ account: number | null; guest: number | null }> {
  return withClient(databaseUrl, async (c) => {
    const { rows } = await c.query(
      `SELECT avg(pg_column_size(u.*)) FILTER (WHERE password_hash IS NOT NULL) AS account,
              avg(pg_column_size(u.*)) FILTER (WHERE password_hash IS NULL) AS guest FROM users u`,
    );
    const num = (v: unknown) => (v === null || v === undefined ? null : Number(v));
    return { account: num(rows[0].account), guest: num(rows[0].guest) };
  });
}

/** Redis INFO as a flat map of field -> value. */
export function parseInfo(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const line of text.split('\r\n')) {
    const colon = line.indexOf(':');
    if (colon > 0 && !line.startsWith('#')) out[line.slice(0, colon)] = line.slice(colon + 1);
  }
  return out;
}

export interface RedisCounters {
  commands: number;
  usedMemory: number;
  keys: number;
}

/** A small view of the bench's Redis: pid, command count, memory. */
export class RedisWatch {
  private readonly redis: Redis;
  constructor(url: string) {
    this.redis = new Redis(url, { lazyConnect: false, maxRetriesPerRequest: 2 });
  }

  async pid(): Promise<number> {
    return Number(parseInfo(await this.redis.info('server')).process_id);
  }

  async counters(): Promise<RedisCounters> {
    const info = parseInfo(await this.redis.info());
    const keys = Object.entries(info)
      .filter(([k]) => /^db\d+$/.test(k))
      .reduce((n, [, v]) => n + Number(/keys=(\d+)/.exec(v)?.[1] ?? 0), 0);
    // Includes this watch's own earlier INFO calls (one per reading).
    return { commands: Number(info.total_commands_processed), usedMemory: Number(info.used_memory), keys };
  }

  get client(): Redis {
    return this.redis;
  }

  close(): void {
    this.redis.disconnect();
  }
}
