/**
 * Migrations when several instances start at once on a fresh database, some
 * migrating through their pool (no pooler in between), some on a connection
 * of their own: every start succeeds, each migration is applied once, and a
 * start afterwards finds nothing to do.
 */
import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { createLogger } from '../../src/logger.js';
import { createPool, isMigrated, migrate } from '../../src/store/postgres.js';
import { createDatabase } from '../helpers/stack.js';

const log = createLogger({ level: 'silent', pretty: false });
const MIGRATIONS = readdirSync(join(import.meta.dirname, '..', '..', 'src', 'store', 'migrations')).filter((f) => f.endsWith('.sql'));

describe('migrate', () => {
  it('8 instances starting at once on a fresh database: all start, each migration applied once', async () => {
    const url = await createDatabase();
    const pools = Array.from({ length: 4 }, () => createPool(url, log));
    try {
      const starts = await Promise.allSettled([...pools.map((pool) => migrate(pool, log)), ...pools.map(() => migrate(url, log))]);
      assert.deepEqual(starts.filter((s) => s.status === 'rejected'), []);
      const { rows } = await pools[0]!.query<{ name: string; n: number }>(`SELECT name, count(*)::int AS n FROM schema_migrations GROUP BY name`);
      assert.equal(rows.length, MIGRATIONS.length);
      assert.ok(rows.every((r) => r.n === 1), 'no migration applied twice');
      assert.equal(await isMigrated(pools[0]!), true);
      await migrate(pools[1]!, log); // a restart: nothing to apply
      assert.equal((await pools[0]!.query(`SELECT count(*)::int AS n FROM schema_migrations`)).rows[0].n, MIGRATIONS.length);
      // Every connection the pools lent to the migrations came back to them, open.
      assert.ok(pools.every((pool) => pool.waitingCount === 0 && pool.totalCount === pool.idleCount));
    } finally {
      await Promise.all(pools.map((pool) => pool.end()));
    }
  });
});
