/**
 * Last activity of sessions, as this instance saw it (requests, heartbeats,
 * Authorize), on its way to the stores in batches: to the live state every
 * ACTIVITY_TO_LIVE_MS, so GetSessions on any instance shows it, and to
 * Postgres every `persistGranularityMs`, where a session's last_active is
 * rewritten only when it moved by at least that much: durable writes grow with
 * sessions that change, not with heartbeats. At shutdown every pending value
 * is written exactly.
 */
import type { Id } from '../domain/ids.js';
import type { Logger } from '../logger.js';
import type { LiveState } from '../store/liveState.js';
import type { SessionsRepo } from '../store/sessionsRepo.js';
import type { LiveStateHealth } from './liveStateHealth.js';

/** Activity is pushed to the live state this often (and read back by GetSessions on any instance). */
export const ACTIVITY_TO_LIVE_MS = 2_000;

export interface SessionActivityDeps {
  live: LiveState;
  repo: SessionsRepo;
  /** Told when the live state fails (Postgres still gets the activity). */
  health: LiveStateHealth;
  /** ACTIVITY_PERSIST_GRANULARITY in ms, at most a tenth of the idle window (so expiry read from Postgres stays close). */
  persistGranularityMs: number;
  log: Logger;
}

export class SessionActivity {
  /** Activity not yet in the live state / not yet in Postgres (session id → Unix ms). */
  private toLive = new Map<Id, number>();
  private toPostgres = new Map<Id, number>();

  /** Postgres gets a session's activity only when it moved by at least this much (ms). */
  readonly persistGranularityMs: number;

  constructor(private readonly deps: SessionActivityDeps) {
    this.persistGranularityMs = deps.persistGranularityMs;
  }

  /** A session was active at `at`: both stores get it with their next flush. */
  note(sessionId: Id, at: number): void {
    this.toLive.set(sessionId, at);
    this.toPostgres.set(sessionId, at);
  }

  /** A session was active at `at`, and the live state has it already (Authorize's read recorded it): Postgres only. */
  noteRecorded(sessionId: Id, at: number): void {
    this.toPostgres.set(sessionId, at);
  }

  /** The newest activity of a session that the stores may not have yet; 0 when none is pending. */
  pending(sessionId: Id): number {
    return Math.max(this.toLive.get(sessionId) ?? 0, this.toPostgres.get(sessionId) ?? 0);
  }

  /** Drops what is pending for sessions that ended (their activity no longer matters). */
  forget(sessionIds: readonly Id[]): void {
    for (const id of sessionIds) {
      this.toLive.delete(id);
      this.toPostgres.delete(id);
    }
  }

  async flushToLive(): Promise<void> {
    if (!this.toLive.size) return;
    const batch = this.toLive;
    this.toLive = new Map();
    try {
      await this.deps.live.touch(batch);
    } catch (err) {
      this.deps.health.failed(err); // Postgres still gets it
    }
  }

  /** `granularityMs` 0 writes every pending value exactly (at shutdown). */
  async flushToPostgres(granularityMs = this.persistGranularityMs): Promise<void> {
    if (!this.toPostgres.size) return;
    const batch = this.toPostgres;
    this.toPostgres = new Map();
    try {
      await this.deps.repo.recordActivity(batch, granularityMs);
    } catch (err) {
      this.deps.log.warn({ err, sessions: batch.size }, 'could not write session activity; will retry');
      for (const [id, at] of batch) if (!this.toPostgres.has(id)) this.toPostgres.set(id, at);
    }
  }
}
