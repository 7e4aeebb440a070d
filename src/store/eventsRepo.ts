/**
 * The outbox of account events (migration 0013): written by every change in
 * its own transaction (addEvents), numbered, delivered, listed and pruned by
 * the one dispatcher (services/webhooks.ts), read by the feed and the admin
 * CLI.
 */
import { withTransaction } from './transaction.js';
import type { AccountEvent, EventType, NewEvent } from '../domain/events.js';
import type { Id } from '../domain/ids.js';
import { hotStatement, type Pool, type PoolClient } from './postgres.js';

type Db = Pool | PoolClient;

/**
 * Writes events in the caller's transaction (or, given the pool, in a
 * statement of their own): one statement, whatever their number.
 */
export async function addEvents(db: Db, events: readonly NewEvent[]): Promise<void> {
  if (!events.length) return;
  await db.query(
    `INSERT INTO events (type, user_id, data)
     SELECT t, u, d FROM unnest($1::text[], $2::bigint[], $3::jsonb[]) WITH ORDINALITY AS v(t, u, d, o) ORDER BY o`,
    [events.map((e) => e.type), events.map((e) => e.userId), events.map((e) => JSON.stringify(e.data))],
  );
}

/** The SQL of a CTE that inserts `event` (given as $i, $i+1, $i+2) once per row of `from`: one statement with the change it joins. */
export function eventInsertFrom(from: string, first: number): string {
  return `INSERT INTO events (type, user_id, data) SELECT $${first}::text, $${first + 1}::bigint, $${first + 2}::jsonb FROM ${from}`;
}

export type EventState = 'pending' | 'delivered' | 'failed';

/** An event as the dispatcher and the admin CLI see it. */
export interface StoredEvent extends AccountEvent {
  userId: Id;
  state: EventState;
  attempts: number;
  createdAt: Date;
  nextAttemptAt: Date;
  /** Retries go on until WEBHOOK_RETRY_HOURS after this. */
  retryFrom: Date;
  deliveredAt: Date | null;
  lastError: string | null;
}

interface EventRow {
  id: string;
  type: string;
  user_id: string;
  data: Record<string, unknown>;
  created_at: Date;
  state: EventState;
  attempts: number;
  next_attempt_at: Date;
  retry_from: Date;
  delivered_at: Date | null;
  last_error: string | null;
}

const toEvent = (r: EventRow): StoredEvent => ({
  id: r.id,
  type: r.type as EventType,
  timestamp: r.created_at.toISOString(),
  data: r.data,
  userId: r.user_id,
  state: r.state,
  attempts: r.attempts,
  createdAt: r.created_at,
  nextAttemptAt: r.next_attempt_at,
  retryFrom: r.retry_from,
  deliveredAt: r.delivered_at,
  lastError: r.last_error,
});

export class EventsRepo {
  constructor(private readonly pool: Pool) {}

  /**
   * Whether a committed event waits for its id: one read of the partial index
   * (no transaction, no row lock), what the dispatcher asks while idle before
   * it opens the numbering transaction.
   */
  async anyUnnumbered(): Promise<boolean> {
    const { rows } = await this.pool.query<{ pending: boolean }>(
      hotStatement(this.pool, 'events_any_unnumbered', `SELECT EXISTS (SELECT 1 FROM events WHERE id IS NULL) AS pending`, []),
    );
    return rows[0]?.pending === true;
  }

  /**
   * Gives ids to committed events without one, in insert order, up to
   * `limit`; returns how many. Only the dispatcher calls it (one at a time
   * across instances), so ids increase in the order events became visible.
   */
  async number(limit: number): Promise<number> {
    // withTransaction: a server gone mid-transaction (the chaos suite's kill -9, a terminated backend) is a
    // failed call, not an unhandled 'error' of a lent client.
    return withTransaction(this.pool, async ({ db }) => {
      const { rows } = await db.query<{ last: string }>(`SELECT last FROM event_ids FOR UPDATE`);
      const last = rows[0]!.last;
      const numbered = await db.query(
        `UPDATE events e SET id = $1::bigint + t.rn
         FROM (SELECT n, row_number() OVER (ORDER BY n) AS rn FROM events WHERE id IS NULL ORDER BY n LIMIT $2) t
         WHERE e.n = t.n`,
        [last, limit],
      );
      const count = numbered.rowCount ?? 0;
      if (count) await db.query(`UPDATE event_ids SET last = last + $1`, [count]);
      return count;
    });
  }

  /**
   * The next batch to deliver, fair between users: at most `perUser` events
   * of each user whose oldest pending event is due (a user whose earlier
   * event waits for a retry waits whole, so delivery stays in order per
   * user), taken round-robin: every such user's first event, then every
   * user's second, ..., oldest first within a round, up to `limit`. A user
   * with thousands queued thus gets `perUser` of a batch, and everyone else's
   * events go beside them instead of after them. Each user's share is a
   * prefix of their pending events, in id order.
   */
  async due(limit: number, perUser: number): Promise<StoredEvent[]> {
    const { rows } = await this.pool.query<EventRow>(
      `WITH ranked AS (
         SELECT e.*, row_number() OVER w AS rn, first_value(next_attempt_at) OVER w AS head_due FROM events e
         WHERE state = 'pending' AND id IS NOT NULL
         WINDOW w AS (PARTITION BY user_id ORDER BY id)
       )
       SELECT * FROM ranked WHERE rn <= $2 AND head_due <= now() ORDER BY rn, id LIMIT $1`,
      [limit, perUser],
    );
    return rows.map(toEvent);
  }

  /** The backlog: committed events not delivered yet (numbered or not), and the age of the oldest in seconds (0: none). */
  async backlog(): Promise<{ pending: number; oldestSeconds: number }> {
    const { rows } = await this.pool.query<{ pending: string; oldest: number | null }>(
      `SELECT count(*) AS pending, extract(epoch FROM now() - min(created_at))::float8 AS oldest FROM events WHERE state = 'pending'`,
    );
    return { pending: Number(rows[0]!.pending), oldestSeconds: Math.max(0, rows[0]!.oldest ?? 0) };
  }

  /** When the next pending event is due (null: none pending). */
  async nextDue(): Promise<Date | null> {
    const { rows } = await this.pool.query<{ at: Date | null }>(`SELECT min(next_attempt_at) AS at FROM events WHERE state = 'pending' AND id IS NOT NULL`);
    return rows[0]?.at ?? null;
  }

  async markDelivered(ids: readonly Id[]): Promise<void> {
    if (!ids.length) return;
    await this.pool.query(
      `UPDATE events SET state = 'delivered', delivered_at = now(), attempts = attempts + 1, last_error = NULL WHERE id = ANY($1::bigint[])`,
      [ids],
    );
  }

  /** A failed attempt: retried at `retryAt`, or marked failed when `retryAt` is null. */
  async markAttemptFailed(id: Id, error: string, retryAt: Date | null): Promise<void> {
    await this.pool.query(
      `UPDATE events SET attempts = attempts + 1, last_error = $2,
         state = CASE WHEN $3::timestamptz IS NULL THEN 'failed' ELSE state END,
         next_attempt_at = coalesce($3::timestamptz, next_attempt_at)
       WHERE id = $1`,
      [id, error.slice(0, 500), retryAt],
    );
  }

  /** Numbered events after `after`, by id (the feed: GET /v1/events). */
  async after(after: Id, limit: number): Promise<StoredEvent[]> {
    const { rows } = await this.pool.query<EventRow>(`SELECT * FROM events WHERE id > $1 ORDER BY id LIMIT $2`, [after, limit]);
    return rows.map(toEvent);
  }

  /** Events for the admin CLI: numbered ones since a time, optionally of one state, by id. */
  async list(options: { since: Date; state?: EventState; limit: number }): Promise<StoredEvent[]> {
    const { rows } = await this.pool.query<EventRow>(
      `SELECT * FROM events WHERE id IS NOT NULL AND created_at >= $1 AND ($2::text IS NULL OR state = $2) ORDER BY id LIMIT $3`,
      [options.since, options.state ?? null, options.limit],
    );
    return rows.map(toEvent);
  }

  /** Failed events since a time (or one id) pending again, due now, with a fresh retry budget; returns how many. */
  async retry(options: { since: Date; id?: Id }): Promise<number> {
    const { rowCount } = await this.pool.query(
      `UPDATE events SET state = 'pending', next_attempt_at = now(), attempts = 0, last_error = NULL, retry_from = now()
       WHERE state = 'failed' AND created_at >= $1 AND ($2::bigint IS NULL OR id = $2)`,
      [options.since, options.id ?? null],
    );
    return rowCount ?? 0;
  }

  /** Every event since a time, delivered or failed, sent again (same ids: receivers deduplicate); returns how many. */
  async replay(options: { since: Date }): Promise<number> {
    const { rowCount } = await this.pool.query(
      `UPDATE events SET state = 'pending', next_attempt_at = now(), attempts = 0, last_error = NULL, retry_from = now()
       WHERE state <> 'pending' AND id IS NOT NULL AND created_at >= $1`,
      [options.since],
    );
    return rowCount ?? 0;
  }

  /** Deletes delivered and failed events older than `before`; returns how many. */
  async prune(before: Date, alsoPending: boolean): Promise<number> {
    const { rowCount } = await this.pool.query(
      `DELETE FROM events WHERE created_at < $1 AND id IS NOT NULL AND (state <> 'pending' OR $2)`,
      [before, alsoPending],
    );
    return rowCount ?? 0;
  }

  /** Counts by state (the backlog the bench and the metrics report). */
  async counts(): Promise<Record<EventState | 'unnumbered', number>> {
    const { rows } = await this.pool.query<{ state: string; count: string }>(
      `SELECT CASE WHEN id IS NULL THEN 'unnumbered' ELSE state END AS state, count(*) FROM events GROUP BY 1`,
    );
    const counts = { pending: 0, delivered: 0, failed: 0, unnumbered: 0 };
    for (const r of rows) counts[r.state as keyof typeof counts] = Number(r.count);
    return counts;
  }
}
