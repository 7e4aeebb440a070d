/**
 * Live session state, shared by every instance: what auth.authorize needs to
 * resume a session without Postgres (who it belongs to, their public profile,
 * the device it was last used from, or that it was revoked), and each
 * session's last activity. Postgres stays the record: losing all of this
 * (FLUSHALL, a restart without persistence) costs a cache miss, never a
 * sign-out. Implementations: liveStateRedis.ts (Redis or Redis Cluster, several
 * instances), liveStateMemory.ts (the embedded single-instance mode); one
 * contract suite (test/store/liveStateContract.ts) runs against each.
 */
import type { DeviceInfo } from '../domain/device.js';
import type { Id } from '../domain/ids.js';

/** What Authorize needs of a valid session. */
export interface SessionEntry {
  userId: Id;
  /** types.User.name of the owner. */
  name: string;
  /** types.User.bot of the owner. */
  bot: boolean;
  /** Fingerprint of the device last recorded for the session (services/sessions.ts deviceFingerprint). */
  device: string;
  /**
   * What token introspection answers besides (POST /v1/sessions/introspect):
   * whether the owner's address is verified, and the device itself. Absent
   * in entries cached by an older release: introspection then reads Postgres.
   */
  emailVerified?: boolean;
  deviceInfo?: DeviceInfo;
}

/** What the cache knows of one session. */
export type CachedSession =
  /** Valid as of the last check. */
  | { state: 'valid'; entry: SessionEntry }
  /** Revoked (or gone): must not authorize, whatever Postgres said a moment ago. */
  | { state: 'revoked' }
  /** Not cached: ask Postgres. */
  | { state: 'unknown' };

export interface LiveState {
  /**
   * A session's entry, its life extended by a full TTL (one round trip), so a
   * session in use never falls out of the cache. A tombstone's life is
   * extended too: a revoked token presented again and again stays cheap to refuse.
   * With `activeAt` (Unix ms), a valid entry's activity is recorded in the same
   * round trip, as `touch` would (Authorize then needs one command, not two).
   */
  readSession(sessionId: Id, activeAt?: number): Promise<CachedSession>;
  /**
   * Caches a session as valid. Never overwrites a revocation tombstone, so a
   * check racing with a revoke cannot resurrect the session.
   */
  cacheSession(sessionId: Id, entry: SessionEntry): Promise<void>;
  /** Replaces the entries of these sessions by revocation tombstones, and forgets their activity. */
  markRevoked(sessionIds: readonly Id[]): Promise<void>;
  /** Drops the valid entries of these sessions (their owner's profile changed); tombstones stay. */
  forget(sessionIds: readonly Id[]): Promise<void>;
  /** Records activity (Unix ms) for sessions; a session's activity never moves backwards. */
  touch(activity: ReadonlyMap<Id, number>): Promise<void>;
  /** Last activity known to the cache, for the sessions it knows. */
  lastActive(sessionIds: readonly Id[]): Promise<Map<Id, number>>;
  /**
   * The point of the revocation log (sessionsRepo.ts `endedSince`) up to
   * which every ended session is tombstoned here; null when none was ever
   * written (an empty store). It lives and is lost with the tombstones: a
   * store restored from an older snapshot brings back the older mark.
   */
  readWatermark(): Promise<string | null>;
  /** Raises the mark to `horizon` (a decimal transaction id); never lowers it. */
  raiseWatermark(horizon: string): Promise<void>;
  /**
   * `lost` when the connection to the store drops (what it says afterwards
   * may come from a restarted, older store), `restored` when it is back.
   * Never called in process memory, which cannot be lost without the process.
   */
  onConnection(listener: ConnectionListener): void;
  /** Resolves when the backing store answers. */
  ping(): Promise<void>;
  close(): Promise<void>;
}

export interface ConnectionListener {
  lost(): void;
  restored(): void;
}

export interface LiveStateTtls {
  /**
   * How long an entry lives after its last use. At most the idle-expiry
   * window: an entry that exists was used within it, so Authorize need not
   * read the activity to know the session has not idled out.
   */
  entryMs: number;
  /** How long a tombstone lives after it was written or last presented. */
  tombstoneMs: number;
  /** How long an activity record lives after its last write (the idle-expiry window). */
  activityMs: number;
}

/** The TTLs for an idle-expiry window: entries for the whole window (capped at 30 days), tombstones for a day. */
export function liveStateTtls(idleMs: number): LiveStateTtls {
  return { entryMs: Math.min(idleMs, 30 * 86_400_000), tombstoneMs: 86_400_000, activityMs: idleMs };
}
