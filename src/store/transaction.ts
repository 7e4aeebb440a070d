/** Runs work in one Postgres transaction on a dedicated client. */
import type { Pool, PoolClient } from './postgres.js';

/**
 * BEGIN, run `work`, COMMIT; ROLLBACK when it throws (the error is rethrown).
 * Nothing `work` wrote survives a failure.
 */
export async function withTransaction<T>(pool: Pool, work: (client: PoolClient) => Promise<T>): Promise<T> {
  const client = await pool.connect();
  try {
    await client.query('BEGIN');
    const result = await work(client);
    await client.query('COMMIT');
    return result;
  } catch (err) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw err;
  } finally {
    client.release();
  }
}
