/** Runs work in one Postgres transaction on a dedicated client, with work to do once it committed. */
import type { Pool, PoolClient } from './postgres.js';

/** What a transaction's work gets: its client, and a place for what must wait until COMMIT. */
export interface Tx {
  /** The transaction's connection: every statement of the work goes through it. */
  readonly db: PoolClient;
  /**
   * Runs `effect` after COMMIT, before withTransaction resolves (in the order
   * registered); never after a ROLLBACK. For what other parties must not see
   * before the change is durable, such as announcing a revocation: a
   * repository that writes inside the transaction registers it here, so no
   * caller can forget it. An effect that throws fails the call, but the
   * change stays committed.
   */
  afterCommit(effect: () => Promise<void> | void): void;
}

/**
 * BEGIN, run `work`, COMMIT, then the effects `work` registered; ROLLBACK
 * when it throws (the error is rethrown). Nothing `work` wrote survives a
 * failure, and no effect of a rolled-back transaction runs.
 */
/** pg's error when a statement outlived `query_timeout` (QUERY_TIMEOUT_MS). */
const QUERY_TIMED_OUT = 'Query read timeout';

export async function withTransaction<T>(pool: Pool, work: (tx: Tx) => Promise<T>): Promise<T> {
  const effects: Array<() => Promise<void> | void> = [];
  const client = await pool.connect();
  // A lent client has no 'error' listener of the pool's: a server gone between two statements (Postgres
  // killed, PgBouncer restarted) would emit one unhandled and crash the process. Caught here, the next
  // statement fails instead (503), and the broken connection is closed rather than lent again.
  let broken: Error | undefined;
  const onError = (err: Error) => void (broken ??= err);
  client.on('error', onError);
  let result: T;
  try {
    await client.query('BEGIN');
    result = await work({ db: client, afterCommit: (effect) => void effects.push(effect) });
    await client.query('COMMIT');
  } catch (err) {
    // After a statement timed out the connection is in an unknown state: closed, not rolled back and lent again.
    if ((err as Error)?.message === QUERY_TIMED_OUT) broken ??= err as Error;
    else await client.query('ROLLBACK').catch(() => undefined);
    throw err;
  } finally {
    client.removeListener('error', onError);
    client.release(broken);
  }
  for (const effect of effects) await effect();
  return result;
}

/** Where a repository statement runs: the pool (its own transaction) or an open transaction's client. */
export type Db = Pool | PoolClient;
