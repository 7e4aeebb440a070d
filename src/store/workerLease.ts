/**
 * Leases a snowflake worker id in Postgres so that instances sharing a
 * database never generate ids with the same worker id. A lease lasts
 * LEASE_MS and is renewed at a third of that; an instance that dies frees its
 * id when the lease runs out.
 */
import { randomUUID } from 'node:crypto';
import type { Logger } from '../logger.js';
import type { Pool } from './postgres.js';

const LEASE_MS = 60_000;

export class WorkerLease {
  private timer: NodeJS.Timeout | undefined;
  readonly holder = randomUUID();

  private constructor(
    private readonly pool: Pool,
    readonly workerId: number,
    private readonly log: Logger,
  ) {}

  static async acquire(pool: Pool, log: Logger): Promise<WorkerLease> {
    const holder = randomUUID();
    // Take the lowest id that is free or whose lease ran out, atomically.
    const { rows } = await pool.query<{ worker_id: number }>(
      `WITH candidate AS (
         SELECT g.id FROM generate_series(0, 1023) AS g(id)
         LEFT JOIN worker_leases l ON l.worker_id = g.id
         WHERE l.worker_id IS NULL OR l.expires_at < now()
         ORDER BY g.id LIMIT 1
       )
       INSERT INTO worker_leases (worker_id, holder, expires_at)
       SELECT id, $1, now() + $2 * interval '1 millisecond' FROM candidate
       ON CONFLICT (worker_id) DO UPDATE SET holder = EXCLUDED.holder, expires_at = EXCLUDED.expires_at
         WHERE worker_leases.expires_at < now()
       RETURNING worker_id`,
      [holder, LEASE_MS],
    );
    if (!rows[0]) {
      // Lost a race for the same id; try again.
      return WorkerLease.acquire(pool, log);
    }
    const lease = new WorkerLease(pool, rows[0].worker_id, log);
    (lease as { holder: string }).holder = holder;
    lease.timer = setInterval(() => void lease.renew(), LEASE_MS / 3);
    lease.timer.unref();
    return lease;
  }

  private async renew(): Promise<void> {
    try {
      await this.pool.query(
        `UPDATE worker_leases SET expires_at = now() + $3 * interval '1 millisecond' WHERE worker_id = $1 AND holder = $2`,
        [this.workerId, this.holder, LEASE_MS],
      );
    } catch (err) {
      this.log.warn({ err }, 'could not renew the snowflake worker lease');
    }
  }

  async release(): Promise<void> {
    clearInterval(this.timer);
    await this.pool
      .query(`DELETE FROM worker_leases WHERE worker_id = $1 AND holder = $2`, [this.workerId, this.holder])
      .catch(() => undefined);
  }
}
