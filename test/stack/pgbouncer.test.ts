/**
 * The test stack's PgBouncer (TEST_PGBOUNCER_URL) works as later suites need
 * it: a database created directly on the server is reachable through the
 * bouncer at once, queries and transactions run through it, and it pools in
 * transaction mode.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import pg from 'pg';
import { createDatabase } from '../helpers/stack.js';

const PGBOUNCER_URL = process.env.TEST_PGBOUNCER_URL;

/** The same database, through the bouncer. */
function throughBouncer(databaseUrl: string): string {
  assert.ok(PGBOUNCER_URL, 'TEST_PGBOUNCER_URL is not set: run the tests with `npm test`, which starts PgBouncer');
  const url = new URL(PGBOUNCER_URL);
  url.pathname = new URL(databaseUrl).pathname;
  return url.toString();
}

describe('test stack: PgBouncer', () => {
  it('reaches a database created directly on the server, and runs queries and transactions through it', async () => {
    const direct = await createDatabase();
    const setup = new pg.Client({ connectionString: direct });
    await setup.connect();
    await setup.query('CREATE TABLE notes (id int PRIMARY KEY, body text NOT NULL)');
    await setup.end();

    const pool = new pg.Pool({ connectionString: throughBouncer(direct), max: 4 });
    try {
      const { rows } = await pool.query<{ db: string; sum: number }>('SELECT current_database() AS db, 1 + 1 AS sum');
      assert.deepEqual(rows[0], { db: new URL(direct).pathname.slice(1), sum: 2 });
      const client = await pool.connect();
      try {
        await client.query('BEGIN');
        await client.query('INSERT INTO notes VALUES ($1, $2)', [1, 'through the bouncer']);
        await client.query('COMMIT');
      } finally {
        client.release();
      }
      const again = await pool.query('SELECT body FROM notes WHERE id = $1', [1]);
      assert.equal(again.rows[0]?.body, 'through the bouncer');
    } finally {
      await pool.end();
    }
  });

  it('is a PgBouncer pooling transactions (its admin console says so)', async () => {
    const admin = new pg.Client({ connectionString: throughBouncer('postgres://x/pgbouncer') });
    await admin.connect();
    try {
      // Without parameters pg uses the simple query protocol, the only one the admin console takes.
      const { rows } = await admin.query('SHOW CONFIG');
      const setting = (key: string) => rows.find((r: { key: string }) => r.key === key)?.value;
      assert.equal(setting('pool_mode'), 'transaction');
      assert.equal(setting('listen_addr'), '127.0.0.1');
    } finally {
      await admin.end();
    }
  });
});
