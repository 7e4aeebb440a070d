/** Snowflake worker ids leased in Postgres: distinct per instance, and a clear error when none is left. */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { createLogger } from '../../src/logger.js';
import { createPool, migrate, type Pool } from '../../src/store/postgres.js';
import { WorkerLease } from '../../src/store/workerLease.js';
import { createDatabase } from '../helpers/stack.js';

describe('worker id leases', () => {
  const log = createLogger({ level: 'silent', pretty: false });
  let pool: Pool;
  before(async () => {
    const url = await createDatabase();
    await migrate(url, log);
    pool = createPool(url, log);
  });
  after(() => pool.end());

  it('gives racing instances distinct ids', async () => {
    const leases = await Promise.all(Array.from({ length: 20 }, () => WorkerLease.acquire(pool, log)));
    assert.equal(new Set(leases.map((l) => l.workerId)).size, 20);
    await Promise.all(leases.map((l) => l.release()));
  });

  it('fails with a clear error when all 1024 ids are leased, instead of waiting forever', async () => {
    await pool.query(
      `INSERT INTO worker_leases (worker_id, holder, expires_at)
       SELECT g, 'someone-else', now() + interval '1 minute' FROM generate_series(0, 1023) g
       ON CONFLICT (worker_id) DO UPDATE SET holder = EXCLUDED.holder, expires_at = EXCLUDED.expires_at`,
    );
    await assert.rejects(WorkerLease.acquire(pool, log), /all 1024 snowflake worker ids are leased/);
    await pool.query(`DELETE FROM worker_leases`);
  });
});
