/**
 * Ending sessions, and making every instance and the live state know it,
 * once each.
 *
 * - Postgres records a revocation first (in the caller's transaction when
 *   there is one); after COMMIT (Tx.afterCommit, so no caller can forget it)
 *   the live state gets tombstones, before anyone is told, so a racing
 *   Authorize anywhere is refused; then this instance's listeners (its
 *   sockets) and, through the bus, every other instance, whose confirmations
 *   the answer waits for (revocationBus.ts).
 * - Every instance hears another's revocation twice: from the bus, and from
 *   Postgres's NOTIFY (migrations 0007, 0010), which also carries what no
 *   gateway announced (the admin CLI, a user deleted by hand) and what the
 *   broker dropped. Whichever comes first is handled; the other is
 *   recognised and only confirmed.
 * - The live state catches up with Postgres from the revocation log
 *   (migration 0011) up to the watermark it keeps beside its tombstones: at
 *   start, after every lost connection (until then no valid entry is
 *   believed: liveStateHealth.ts), and every CATCH_UP_MS. So a Redis restored
 *   from an older snapshot cannot bring a revoked session back.
 */
import type { RevokeReason } from '../domain/events.js';
import type { Id } from '../domain/ids.js';
import type { Logger } from '../logger.js';
import type { LiveState } from '../store/liveState.js';
import type { SessionsRepo } from '../store/sessionsRepo.js';
import type { Tx } from '../store/transaction.js';
import type { LiveStateHealth } from './liveStateHealth.js';
import type { RevocationBus } from './revocationBus.js';
import type { SessionActivity } from './sessionActivity.js';

/**
 * Told of revoked sessions, whichever instance revoked them, once each.
 * `publishedAt` (Unix ms) is set for revocations heard from the broker (the
 * ids may then be empty: the NOTIFY was first, but the delivery still counts
 * for the fan-out metric).
 */
export type RevocationListener = (sessionIds: readonly Id[], publishedAt?: number) => void;

/** Which message brought a revocation here: this instance's own, the broker's, Postgres's NOTIFY, a reconciliation. */
type Via = 'here' | 'bus' | 'postgres' | 'reconciled';

/** How long a handled revocation is recognised when its second message arrives. */
const REMEMBER_HANDLED_MS = 5 * 60_000;
/** How often the live state catches up with the revocation log (and failed tombstones are retried: TOMBSTONE_RETRY_MS). */
const CATCH_UP_MS = 30_000;
const TOMBSTONE_RETRY_MS = 2_000;
/** How far back, before the broker lost its connection, revocations are re-read when it returns (clock skew, in-flight writes). */
const MISSED_MARGIN_MS = 60_000;
/** Log rows are kept this much longer than a cache entry can live. */
const LOG_KEEP_MARGIN_MS = 86_400_000;
const PRUNE_EVERY_MS = 3_600_000;

export interface RevocationsDeps {
  repo: SessionsRepo;
  live: LiveState;
  health: LiveStateHealth;
  bus: RevocationBus;
  activity: SessionActivity;
  /** The longest a valid cache entry lives (LiveStateTtls.entryMs): older log rows can matter to nobody. */
  entryTtlMs: number;
  log: Logger;
}

/** Ids seen within the last `keepMs` at least, in two generations swapped every `keepMs`. */
class RecentlySeen {
  private now = new Set<Id>();
  private before = new Set<Id>();
  private started = Date.now();

  constructor(private readonly keepMs: number) {}

  /** Adds the ids; returns those not seen before. */
  add(ids: readonly Id[]): Id[] {
    this.rotate();
    const fresh: Id[] = [];
    for (const id of ids) {
      if (this.now.has(id) || this.before.has(id)) continue;
      this.now.add(id);
      fresh.push(id);
    }
    return fresh;
  }

  private rotate(): void {
    const age = Date.now() - this.started;
    if (age < this.keepMs) return;
    this.before = age < 2 * this.keepMs ? this.now : new Set();
    this.now = new Set();
    this.started = Date.now();
  }
}

export class Revocations {
  private readonly listeners: RevocationListener[] = [];
  private readonly handled = new RecentlySeen(REMEMBER_HANDLED_MS);
  /** Revocations Postgres has but the live state could not be told of yet; refused here meanwhile, retried. */
  private readonly untombstoned = new Set<Id>();
  private timers: NodeJS.Timeout[] = [];
  private catchingUp: Promise<void> | null = null;
  private catchUpAgain = false;
  private lastPrune = 0;

  constructor(private readonly deps: RevocationsDeps) {}

  /** Listens to the bus and the live state's connection, and catches the live state up before anything is served. */
  async start(): Promise<void> {
    await this.deps.bus.start({
      heard: (ids, publishedAt) => this.tell(this.recognise(ids, 'bus'), 'bus', publishedAt),
      missed: (lostAt) => void this.missed(lostAt),
    });
    this.deps.live.onConnection({ lost: () => this.deps.health.lost(), restored: () => void this.catchUp() });
    await this.catchUp();
    this.timers.push(
      setInterval(() => void this.retryTombstones(), TOMBSTONE_RETRY_MS),
      setInterval(() => void this.maintain(), CATCH_UP_MS),
    );
    for (const t of this.timers) t.unref();
  }

  stop(): void {
    for (const t of this.timers) clearInterval(t);
  }

  onRevoked(listener: RevocationListener): void {
    this.listeners.push(listener);
  }

  /** True while a session revoked here waits for its tombstone (Authorize refuses it meanwhile). */
  awaitingTombstone(sessionId: Id): boolean {
    return this.untombstoned.has(sessionId);
  }

  /** auth.revokeSessions: ends the caller's listed sessions (others' ids are ignored); returns those ended, once every instance closed their sockets. */
  async revoke(userId: Id, sessionIds: readonly Id[], reason: RevokeReason | ((id: Id) => RevokeReason)): Promise<Id[]> {
    const revoked = await this.deps.repo.revoke(userId, sessionIds, reason);
    await this.announce(revoked);
    return revoked;
  }

  /** Ends every session of a user in `tx` (password reset, account purge); announced once it committed. */
  async revokeAll(userId: Id, reason: RevokeReason, tx: Tx): Promise<Id[]> {
    const ids = await this.deps.repo.revokeAll(userId, reason, tx.db);
    this.announceAfterCommit(tx, ids);
    return ids;
  }

  /** Ends every session of a user but `keepSessionId` in `tx` (a password change, a deletion request); announced once it committed. */
  async revokeAllExcept(userId: Id, keepSessionId: Id, reason: RevokeReason, tx: Tx): Promise<Id[]> {
    const ids = await this.deps.repo.revokeAllExcept(userId, keepSessionId, reason, tx.db);
    this.announceAfterCommit(tx, ids);
    return ids;
  }

  /** Sessions `tx` ended by other statements (the purge's): announced once it committed. */
  announceAfterCommit(tx: Tx, sessionIds: readonly Id[]): void {
    if (sessionIds.length) tx.afterCommit(() => this.announce(sessionIds));
  }

  /**
   * Sessions Postgres announced as ended (NOTIFY: any revocation, a user
   * removed): tombstoned and this instance's sockets closed, unless the bus
   * or this instance's own announcement got here first.
   */
  async heardFromPostgres(sessionIds: readonly Id[]): Promise<void> {
    const fresh = this.recognise(sessionIds, 'postgres');
    if (!fresh.length) return;
    this.tell(fresh, 'postgres');
    await this.tombstone(fresh);
  }

  /** Of these sessions, those Postgres no longer has as valid (removed or revoked), checked in batches. */
  async endedAmong(sessionIds: readonly Id[]): Promise<Id[]> {
    const ended: Id[] = [];
    for (let i = 0; i < sessionIds.length; i += 10_000) {
      const batch = sessionIds.slice(i, i + 10_000);
      const valid = await this.deps.repo.unrevoked(batch);
      for (const id of batch) if (!valid.has(id)) ended.push(id);
    }
    return ended;
  }

  /**
   * Re-applies to the live state every revocation of the log past its
   * watermark, then raises the watermark; valid entries are believed again
   * only when no connection was lost meanwhile. An empty store (no
   * watermark) holds no entry to doubt: it starts from now.
   */
  catchUp(): Promise<void> {
    if (this.catchingUp) {
      this.catchUpAgain = true;
      return this.catchingUp;
    }
    this.catchingUp = this.runCatchUp().finally(() => {
      this.catchingUp = null;
      if (this.catchUpAgain) {
        this.catchUpAgain = false;
        void this.catchUp();
      }
    });
    return this.catchingUp;
  }

  private async runCatchUp(): Promise<void> {
    const { live, repo, health, log } = this.deps;
    const generation = health.generation;
    try {
      const mark = await live.readWatermark();
      const { sessionIds, horizon } = await repo.endedSince(mark ?? (await repo.horizonNow()));
      if (sessionIds.length) await live.markRevoked(sessionIds);
      await live.raiseWatermark(horizon);
      health.caughtUpAt(generation);
      if (mark !== null && sessionIds.length) log.info({ revoked: sessionIds.length, from: mark, to: horizon }, 'live state caught up with the revocation log');
    } catch (err) {
      health.failed(err); // still doubted: the next catch-up tries again
    }
  }

  /** Tombstones, then this instance's sockets, then every other instance (waiting for their confirmations). */
  private async announce(sessionIds: readonly Id[]): Promise<void> {
    if (!sessionIds.length) return;
    await this.tombstone(sessionIds);
    this.tell(this.recognise(sessionIds, 'here'), 'here', Date.now());
    await this.deps.bus.announce(sessionIds);
  }

  /** After the broker lost messages: the sessions ended since it lost its connection, for this instance's sockets. */
  private async missed(lostAt: number): Promise<void> {
    try {
      const ids = await this.deps.repo.endedSinceTime(new Date(lostAt - MISSED_MARGIN_MS));
      this.tell(this.recognise(ids, 'reconciled'), 'reconciled');
      this.deps.log.info({ revoked: ids.length }, 'reconciled revocations after the broker reconnected');
    } catch (err) {
      this.deps.log.warn({ err }, 'could not reconcile revocations after the broker reconnected');
    }
  }

  /** Marks the ids handled here; returns those not handled before (their activity is dropped). */
  private recognise(sessionIds: readonly Id[], via: Via): Id[] {
    const fresh = this.handled.add(sessionIds);
    this.deps.activity.forget(fresh);
    if (fresh.length < sessionIds.length) {
      const again = sessionIds.filter((id) => !fresh.includes(id));
      this.deps.log.debug({ sessions: again, via }, 'revocation already handled');
    }
    return fresh;
  }

  /** Tells the listeners; `via` says which message was first here (logged at debug: a test counts them). */
  private tell(sessionIds: readonly Id[], via: Via, publishedAt?: number): void {
    if (sessionIds.length) this.deps.log.debug({ sessions: sessionIds, via }, 'revocation handled');
    if (!sessionIds.length && publishedAt === undefined) return;
    for (const listener of this.listeners) listener(sessionIds, publishedAt);
  }

  /**
   * Postgres already says revoked. Until the live state takes the
   * tombstones, this instance refuses the sessions itself and keeps
   * retrying; other instances catch up from the log.
   */
  private async tombstone(sessionIds: readonly Id[]): Promise<void> {
    try {
      await this.deps.live.markRevoked(sessionIds);
    } catch (err) {
      for (const id of sessionIds) this.untombstoned.add(id);
      this.deps.health.failed(err);
    }
  }

  private async retryTombstones(): Promise<void> {
    if (!this.untombstoned.size) return;
    const ids = [...this.untombstoned];
    try {
      await this.deps.live.markRevoked(ids);
      for (const id of ids) this.untombstoned.delete(id);
    } catch (err) {
      this.deps.health.failed(err);
    }
  }

  /** The periodic catch-up, and the hourly prune of log rows no cache entry can still need. */
  private async maintain(): Promise<void> {
    await this.catchUp();
    if (Date.now() - this.lastPrune < PRUNE_EVERY_MS) return;
    this.lastPrune = Date.now();
    try {
      await this.deps.repo.pruneEndedBefore(new Date(Date.now() - this.deps.entryTtlMs - LOG_KEEP_MARGIN_MS));
    } catch (err) {
      this.deps.log.warn({ err }, 'could not prune the revocation log');
    }
  }
}
