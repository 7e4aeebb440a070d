/**
 * A gateway behind PgBouncer before 1.21 in transaction pooling with
 * DATABASE_PREPARED_STATEMENTS left on (the default): named statements do not
 * survive a transaction there (the next one may run on another server
 * connection, which lacks the statement or already has it), yet no request
 * fails. The pool switches to unnamed statements at the first such error,
 * says so once, and retries the statement that failed. Then the same on one
 * connection straight to Postgres, where the test decides what it holds: both
 * errors (42P05, 26000) retried, the statement run once, any other error left
 * as it is.
 */
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import pg from 'pg';
import { OsmiumClient, type RpcResult } from '../../src/client/client.js';
import { createLogger } from '../../src/logger.js';
import { createPool, hotStatement, type Pool } from '../../src/store/postgres.js';
import { guest } from '../helpers/accounts.js';
import { code, codes, count } from '../helpers/results.js';
import { createDatabase, startGateway, type TestGateway } from '../helpers/stack.js';

const PGBOUNCER_URL = process.env.TEST_PGBOUNCER_URL;
const CONCURRENT = 200;

/** The same database, through the bouncer. */
function throughBouncer(databaseUrl: string): string {
  assert.ok(PGBOUNCER_URL, 'TEST_PGBOUNCER_URL is not set: run the tests with `npm test`, which starts PgBouncer');
  const url = new URL(PGBOUNCER_URL);
  url.pathname = new URL(databaseUrl).pathname;
  return url.toString();
}

/** The pool fallback's warning lines in a gateway's log. */
const fallbackWarnings = (gw: TestGateway) =>
  gw.logs.filter((l) => l.level === 40 && String(l.msg).includes('DATABASE_PREPARED_STATEMENTS=off'));

const internalErrors = (gw: TestGateway) => JSON.stringify(gw.logs.filter((l) => Number(l.level) >= 50).slice(0, 3));

describe('behind PgBouncer 1.18 (transaction pooling) with prepared statements left on', () => {
  let databaseUrl: string;
  /** Tokens of guest sessions signed up on an earlier gateway: in no later gateway's Redis cache (each has its own prefix). */
  let tokens: string[];
  /** Through the bouncer, for migrations and LISTEN straight to the server; DATABASE_PREPARED_STATEMENTS not set. */
  const pooled = () => ({ DATABASE_URL: throughBouncer(databaseUrl), DATABASE_DIRECT_URL: databaseUrl });
  const open: TestGateway[] = [];
  const start = async () => {
    const gw = await startGateway(pooled(), { databaseUrl });
    open.push(gw);
    assert.equal(gw.app.config.DATABASE_PREPARED_STATEMENTS, 'on', 'the setting is left at its default');
    return gw;
  };
  const stop = async (gw: TestGateway) => {
    open.splice(open.indexOf(gw), 1);
    await gw.close();
  };

  before(async () => {
    databaseUrl = await createDatabase();
    const issuer = await start();
    const client = await issuer.connect();
    tokens = [];
    for (let i = 0; i < CONCURRENT + 1; i++) tokens.push((await guest(issuer, `Guest ${i}`, { client })).authorization!.token!);
    await stop(issuer);
  });
  after(async () => {
    // What a failed test left running.
    for (const gw of open) await gw.close().catch(() => undefined);
  });

  it(`answers all of ${CONCURRENT} concurrent cold auth.authorize calls, and warns once`, async () => {
    const gw = await start();
    const sockets = await Promise.all(tokens.slice(0, CONCURRENT).map(() => OsmiumClient.connect(gw.url)));
    const results: RpcResult[] = await Promise.all(sockets.map((s, i) => s.request('auth_authorize', { token: tokens[i]! })));
    await Promise.all(sockets.map((s) => s.close()));
    const failed = CONCURRENT - count(results, 0);
    console.log(`${CONCURRENT} concurrent cold authorizes through PgBouncer: ${failed} failed, codes ${JSON.stringify([...new Set(codes(results))])}`);
    assert.equal(failed, 0, `every one is served; internal errors: ${internalErrors(gw)}`);
    assert.equal(fallbackWarnings(gw).length, 1, 'the switch to unnamed statements is logged once');
    await stop(gw);
  });

  it('accepts a token of an earlier start while the pooler still holds that start\'s named statements', async () => {
    // An earlier gateway's named statements stay on PgBouncer's server connections (transaction pooling resets
    // nothing). Put one on every server connection of this database's pool, so whichever one PgBouncer lends
    // the next start already has it: the next start's first prepare of that name fails with 42P05.
    await prepareOnEveryServerConnection(
      throughBouncer(databaseUrl),
      'session_for_authorize_v2',
      'SELECT s.*, u.name AS user_name, u.bot AS user_bot, u.email_verified AS user_email_verified FROM sessions s JOIN users u ON u.id = s.user_id WHERE s.id = $1',
    );
    const gw = await start();
    const client = await gw.connect();
    const result = await client.request('auth_authorize', { token: tokens[CONCURRENT]! });
    assert.equal(code(result), 0, `the earlier start's token is accepted; internal errors: ${internalErrors(gw)}`);
    assert.ok(result.authorization?.user?.id, 'authorized as its user');
    assert.equal(fallbackWarnings(gw).length, 1, 'the switch to unnamed statements is logged once');
    await stop(gw);
  });
});

describe('a pool whose named statement the connection does not have as pg thinks (one connection, straight to Postgres)', () => {
  /** A pool of one connection, so the test decides what that connection holds; its log lines and reported failures. */
  async function onePool() {
    const lines: Array<Record<string, unknown>> = [];
    const log = createLogger({ level: 'info', pretty: false, destination: new Writable({ write: (c, _e, done) => (lines.push(JSON.parse(String(c))), done()) }) });
    const failures: string[] = [];
    const pool = createPool(await createDatabase(), log, { max: 1, onError: (code) => failures.push(code) });
    await pool.query('CREATE TABLE hits (n int NOT NULL)');
    const warnings = () => lines.filter((l) => l.level === 40 && String(l.msg).includes('DATABASE_PREPARED_STATEMENTS=off'));
    return { pool, warnings, failures };
  }
  const hits = async (pool: Pool) => (await pool.query<{ n: number }>('SELECT count(*)::int AS n FROM hits')).rows[0]!.n;

  it('runs a statement whose name the connection has already (42P05) once, unnamed, and names the setting once', async () => {
    const { pool, warnings, failures } = await onePool();
    try {
      const insert = (n: number) => hotStatement(pool, 'add_hit', 'INSERT INTO hits VALUES ($1) RETURNING n', [n]);
      const [first, second] = [insert(1), insert(2)]; // both named: built before the switch
      assert.equal(first.name, 'add_hit');
      await pool.query('PREPARE add_hit AS SELECT 1'); // what another client left on this server connection
      assert.deepEqual((await pool.query(first)).rows, [{ n: 1 }]);
      assert.deepEqual((await pool.query(second)).rows, [{ n: 2 }]);
      assert.equal(await hits(pool), 2, 'each ran exactly once');
      assert.equal(insert(3).name, undefined, 'hot statements are unnamed from now on');
      assert.equal(warnings().length, 1);
      assert.deepEqual(failures, [], 'a statement retried and answered is no failure');
    } finally {
      await pool.end();
    }
  });

  it('runs a statement the connection lost after pg parsed it (26000) unnamed', async () => {
    const { pool, warnings, failures } = await onePool();
    try {
      const count = () => hotStatement(pool, 'count_hits', 'SELECT count(*)::int AS n FROM hits', []);
      await pool.query(count()); // parsed on this connection, and pg remembers it
      await pool.query('DEALLOCATE count_hits'); // as if the next transaction ran on another server connection
      assert.deepEqual((await pool.query(count())).rows, [{ n: 0 }]);
      assert.equal(warnings().length, 1);
      assert.deepEqual(failures, []);
    } finally {
      await pool.end();
    }
  });

  it('leaves any other failure of a named statement as it is, and keeps statements named', async () => {
    const { pool, warnings, failures } = await onePool();
    try {
      const divide = (d: number) => hotStatement(pool, 'divide', 'SELECT 1 / $1::int AS q', [d]);
      await assert.rejects(pool.query(divide(0)), (err: { code?: string }) => err.code === '22012');
      assert.equal(divide(1).name, 'divide');
      assert.deepEqual((await pool.query(divide(1))).rows, [{ q: 1 }]);
      assert.equal(warnings().length, 0);
      assert.deepEqual(failures, ['22012']);
    } finally {
      await pool.end();
    }
  });
});

/**
 * `PREPARE name AS text` on each server connection of the bouncer's pool for
 * this database: as many clients as the pool has server connections, each
 * holding one inside a transaction, so that together they hold them all.
 */
async function prepareOnEveryServerConnection(bouncerUrl: string, name: string, text: string): Promise<void> {
  const poolSize = await bouncerPoolSize();
  const clients = Array.from({ length: poolSize }, () => new pg.Client({ connectionString: bouncerUrl }));
  await Promise.all(clients.map((c) => c.connect()));
  try {
    const backends = await Promise.all(
      clients.map(async (c) => {
        await c.query('BEGIN');
        const { rows } = await c.query<{ pid: number }>('SELECT pg_backend_pid() AS pid');
        // 42P05: that connection has it already (a test before this one prepared it there).
        await c.query(`PREPARE ${name} AS ${text}`).catch((err: { code?: string }) => {
          if (err.code !== '42P05') throw err;
        });
        return rows[0]!.pid;
      }),
    );
    assert.equal(new Set(backends).size, poolSize, 'each client holds a server connection of its own');
    // After a 42P05 the transaction is aborted and COMMIT ends it all the same.
    await Promise.all(clients.map((c) => c.query('COMMIT')));
  } finally {
    await Promise.all(clients.map((c) => c.end()));
  }
}

/** The bouncer's default_pool_size: how many server connections one database's pool has at most. */
async function bouncerPoolSize(): Promise<number> {
  const admin = new pg.Client({ connectionString: throughBouncer('postgres://x/pgbouncer') });
  await admin.connect();
  try {
    // Without parameters pg uses the simple query protocol, the only one the admin console takes.
    const { rows } = await admin.query<{ key: string; value: string }>('SHOW CONFIG');
    return Number(rows.find((r) => r.key === 'default_pool_size')!.value);
  } finally {
    await admin.end();
  }
}
