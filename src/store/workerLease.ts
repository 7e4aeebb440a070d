/**
 * Leases a snowflake worker id in Postgres so that instances sharing a
 * database never generate ids with the same worker id. A lease lasts
 * LEASE_MS and is renewed at a third of that; an instance that dies frees its
 * id when the lease runs out.
 */
import { randomUUID } from 'node:crypto';
import { MAX_WORKER_ID } from '../domain/ids.js';
import type { Logger } from '../logger.js';
import type { Pool } from './postgres.js';

const LEASE_MS = 60_000;

export class WorkerLease {
  private timer: NodeJS.Timeout | undefined;

  private constructor(
    private readonly pool: Pool,
    readonly workerId: number,
    /** This lease's own mark, so a renewal or release never touches another holder's lease of the id. */
    private readonly holder: string,
    private readonly log: Logger,
  ) {}

  static async acquire(pool: Pool, log: Logger): Promise<WorkerLease> {
    const holder = randomUUID();
    // Take the lowest id that is free or whose lease ran out, atomically.
    const { rows } = await pool.query<{ worker_id: number }>(
      `WITH candidate AS (
         SELECT g.id FROM generate_series(0, $3::int) AS g(id)
         LEFT JOIN worker_leases l ON l.worker_id = g.id
         WHERE l.worker_id IS NULL OR l.expires_at < now()
         ORDER BY g.id LIMIT 1
       )
       INSERT INTO worker_leases (worker_id, holder, expires_at)
       SELECT id, $1, now() + $2 * interval '1 millisecond' FROM candidate
       ON CONFLICT (worker_id) DO UPDATE SET holder = EXCLUDED.holder, expires_at = EXCLUDED.expires_at
         WHERE worker_leases.expires_at < now()
       RETURNING worker_id`,
      [holder, LEASE_MS, MAX_WORKER_ID],
    );
    if (!rows[0]) {
      // Either every id is leased, or another instance took the same free id a moment before us.
      if (await WorkerLease.allTaken(pool)) {
        throw new Error(`all ${MAX_WORKER_ID + 1} snowflake worker ids are leased by running instances; stop one, or wait ${LEASE_MS / 1000} s for a dead one's lease to run out`);
      }
      return WorkerLease.acquire(pool, log);
    }
    const lease = new WorkerLease(pool, rows[0].worker_id, holder, log);
    lease.timer = setInterval(() => void lease.renew(), LEASE_MS / 3);
    lease.timer.unref();
    return lease;
  }

  /** True when no worker id is free or expired. */
  private static async allTaken(pool: Pool): Promise<boolean> {
    const { rows } = await pool.query<{ taken: number }>(`SELECT count(*)::int AS taken FROM worker_leases WHERE expires_at >= now()`);
    return (rows[0]?.taken ?? 0) > MAX_WORKER_ID;
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
