/**
 * Presence for the internal API (POST /v1/presence): which sessions of a user
 * hold an authorized socket on some instance. Each instance refreshes an
 * entry per (user, session) it holds, valid until a time it sets (now +
 * twice PRESENCE_REFRESH_MS); a session counts as online while an entry is
 * valid. Nothing is removed when a socket closes (another instance may hold
 * the same session): an entry lapses by itself, so presence lags a
 * disconnect by at most that grace.
 *
 * In Redis: one sorted set per user, `<prefix>presence:<user id>`, member =
 * session id, score = valid-until (Unix ms); every command names one key, so
 * it works on a Redis Cluster too.
 */
import type { Cluster, Redis } from 'ioredis';
import type { Id } from '../domain/ids.js';

export interface PresenceStore {
  /** Marks these (user, session) pairs online until `untilMs`. */
  refresh(pairs: ReadonlyArray<readonly [userId: Id, sessionId: Id]>, untilMs: number): Promise<void>;
  /** For each user, how many sessions are online at `nowMs` (in the order given). */
  sessionsOnline(userIds: readonly Id[], nowMs: number): Promise<number[]>;
}

function byUser(pairs: ReadonlyArray<readonly [Id, Id]>): Map<Id, Id[]> {
  const users = new Map<Id, Id[]>();
  for (const [userId, sessionId] of pairs) {
    const sessions = users.get(userId);
    if (sessions) sessions.push(sessionId);
    else users.set(userId, [sessionId]);
  }
  return users;
}

export class RedisPresence implements PresenceStore {
  constructor(
    private readonly redis: Redis | Cluster,
    private readonly prefix: string,
  ) {}

  async refresh(pairs: ReadonlyArray<readonly [Id, Id]>, untilMs: number): Promise<void> {
    const now = Date.now();
    const ttl = Math.max(1, untilMs - now);
    const writes: Array<Promise<unknown>> = [];
    for (const [userId, sessions] of byUser(pairs)) {
      const key = `${this.prefix}presence:${userId}`;
      const args: Array<string | number> = [];
      for (const s of sessions) args.push(untilMs, s);
      // Every instance sets the same grace, so the latest refresh's TTL is the longest one needed.
      writes.push(this.redis.zadd(key, 'GT', ...args), this.redis.zremrangebyscore(key, '-inf', now), this.redis.pexpire(key, ttl));
    }
    await Promise.all(writes);
  }

  async sessionsOnline(userIds: readonly Id[], nowMs: number): Promise<number[]> {
    return Promise.all(userIds.map((u) => this.redis.zcount(`${this.prefix}presence:${u}`, nowMs, '+inf')));
  }
}

export class MemoryPresence implements PresenceStore {
  private readonly users = new Map<Id, Map<Id, number>>();

  async refresh(pairs: ReadonlyArray<readonly [Id, Id]>, untilMs: number): Promise<void> {
    const now = Date.now();
    for (const [userId, sessions] of byUser(pairs)) {
      let entry = this.users.get(userId);
      if (!entry) this.users.set(userId, (entry = new Map()));
      for (const s of sessions) entry.set(s, Math.max(untilMs, entry.get(s) ?? 0));
      for (const [s, until] of entry) if (until < now) entry.delete(s);
    }
  }

  async sessionsOnline(userIds: readonly Id[], nowMs: number): Promise<number[]> {
    return userIds.map((u) => {
      let online = 0;
      for (const until of this.users.get(u)?.values() ?? []) if (until >= nowMs) online++;
      return online;
    });
  }
}
