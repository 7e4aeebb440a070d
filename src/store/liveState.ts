/**
 * Live session state: a cache of session validity and last activity, shared by
 * every instance. Postgres stays the record: losing all of this (FLUSHALL, a
 * restart without persistence) costs a cache miss, never a sign-out.
 * Implementations: liveStateRedis.ts (several instances), liveStateMemory.ts
 * (embedded single-instance mode and unit tests).
 */
import type { Id } from '../domain/ids.js';

/** What the cache knows of one session. */
export type CachedSession =
  /** Valid as of the last check; `lastActive` in Unix ms when known. */
  | { state: 'valid'; userId: Id; lastActive: number | null }
  /** Revoked: must not authorize, whatever Postgres said a moment ago. */
  | { state: 'revoked' }
  /** Not cached: ask Postgres. */
  | { state: 'unknown' };

export interface LiveState {
  getSession(sessionId: Id): Promise<CachedSession>;
  /**
   * Caches a session read from Postgres as valid. Never overwrites a revocation
   * tombstone, so a check racing with a revoke cannot resurrect the session.
   */
  cacheSession(sessionId: Id, userId: Id, lastActive: number): Promise<void>;
  /** Replaces the entries of these sessions by revocation tombstones. */
  markRevoked(sessionIds: readonly Id[]): Promise<void>;
  /** Records activity (Unix ms) for sessions. */
  touch(activity: ReadonlyMap<Id, number>): Promise<void>;
  /** Last activity known to the cache, for the sessions it knows. */
  lastActive(sessionIds: readonly Id[]): Promise<Map<Id, number>>;
  /** Resolves when the backing store answers. */
  ping(): Promise<void>;
  close(): Promise<void>;
}

/** How long a valid entry is trusted before Postgres is asked again. */
export const SESSION_CACHE_TTL_MS = 60 * 60 * 1000;
/** Tombstones outlive any valid entry that a racing check could write. */
export const REVOKED_TOMBSTONE_TTL_MS = 2 * SESSION_CACHE_TTL_MS;
