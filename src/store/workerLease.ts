/**
 * Leases a snowflake worker id in Postgres so that instances sharing a
 * database never generate ids with the same worker id. A lease lasts
 * WORKER_LEASE_MS (60 s) and is renewed at a third of that; an instance that
 * dies frees its id when the lease runs out.
 *
 * An instance that was paused (SIGSTOP, a frozen VM) past its lease may find
 * its id taken by another when it wakes: `holds()` is false from the moment
 * the lease could have run out (counted from when the last renewal was sent)
 * until a renewal succeeds, and the id generator refuses (503) meanwhile; a
 * renewal that finds the id taken leases another one.
 */
import { performance } from 'node:perf_hooks';
import { randomUUID } from 'node:crypto';
import { MAX_WORKER_ID } from '../domain/ids.js';
import type { Logger } from '../logger.js';
import type { Pool } from './postgres.js';

export const DEFAULT_LEASE_MS = 60_000;

export class WorkerLease {
  private timer: NodeJS.Timeout | undefined;
  /** performance.now() until which the id is surely ours (the lease was renewed no earlier than leaseMs before). */
  private validUntil: number;
  private renewing: Promise<void> | undefined;

  private constructor(
    private readonly pool: Pool,
    public workerId: number,
    /** This lease's own mark, so a renewal or release never touches another holder's lease of the id. */
    private holder: string,
    private readonly log: Logger,
    private readonly leaseMs: number,
    sentAt: number,
  ) {
    this.validUntil = sentAt + leaseMs;
  }

  /** True while no other instance can hold this worker id; when false, a renewal is started. */
  holds(): boolean {
    if (performance.now() < this.validUntil) return true;
    void this.renew();
    return false;
  }

  static async acquire(pool: Pool, log: Logger, leaseMs = DEFAULT_LEASE_MS): Promise<WorkerLease> {
    const sentAt = performance.now();
    const { holder, workerId } = await WorkerLease.take(pool, leaseMs);
    const lease = new WorkerLease(pool, workerId, holder, log, leaseMs, sentAt);
    lease.timer = setInterval(() => void lease.renew(), leaseMs / 3);
    lease.timer.unref();
    return lease;
  }

  /** Leases the lowest free (or expired) worker id. */
  private static async take(pool: Pool, leaseMs: number): Promise<{ holder: string; workerId: number }> {
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
      [holder, leaseMs, MAX_WORKER_ID],
    );
    if (!rows[0]) {
      // Either every id is leased, or another instance took the same free id a moment before us.
      if (await WorkerLease.allTaken(pool)) {
        throw new Error(`all ${MAX_WORKER_ID + 1} snowflake worker ids are leased by running instances; stop one, or wait ${leaseMs / 1000} s for a dead one's lease to run out`);
      }
      return WorkerLease.take(pool, leaseMs);
    }
    return { holder, workerId: rows[0].worker_id };
  }

  /** True when no worker id is free or expired. */
  private static async allTaken(pool: Pool): Promise<boolean> {
    const { rows } = await pool.query<{ taken: number }>(`SELECT count(*)::int AS taken FROM worker_leases WHERE expires_at >= now()`);
    return (rows[0]?.taken ?? 0) > MAX_WORKER_ID;
  }

  /** One renewal at a time; a lease another instance took meanwhile is replaced by a fresh one. */
  private renew(): Promise<void> {
    this.renewing ??= this.renewOnce().finally(() => (this.renewing = undefined));
    return this.renewing;
  }

  private async renewOnce(): Promise<void> {
    const sentAt = performance.now();
    try {
      const { rowCount } = await this.pool.query(
        `UPDATE worker_leases SET expires_at = now() + $3 * interval '1 millisecond' WHERE worker_id = $1 AND holder = $2`,
        [this.workerId, this.holder, this.leaseMs],
      );
      if (rowCount) {
        this.validUntil = sentAt + this.leaseMs;
        return;
      }
      const lost = this.workerId;
      const { holder, workerId } = await WorkerLease.take(this.pool, this.leaseMs);
      this.holder = holder;
      this.workerId = workerId;
      this.validUntil = sentAt + this.leaseMs;
      this.log.warn({ lost, workerId }, 'the snowflake worker lease ran out and another instance took the id (was this process paused?): leased another');
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
