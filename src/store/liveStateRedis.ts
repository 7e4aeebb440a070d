/**
 * LiveState in Redis, shared by every instance.
 * Keys (all under REDIS_PREFIX): `s:<sid>` = user id, or "r" for a revocation
 * tombstone; `la:<sid>` = last activity in Unix ms. Every key has a TTL, so
 * Redis never holds more than the recently active sessions.
 */
import type { Redis } from 'ioredis';
import type { Id } from '../domain/ids.js';
import { REVOKED_TOMBSTONE_TTL_MS, SESSION_CACHE_TTL_MS, type CachedSession, type LiveState } from './liveState.js';

const REVOKED = 'r';

export class RedisLiveState implements LiveState {
  constructor(
    private readonly redis: Redis,
    private readonly prefix: string,
    /** Activity keys live as long as an idle session may. */
    private readonly activityTtlMs: number,
  ) {}

  private sessionKey(id: Id): string {
    return `${this.prefix}s:${id}`;
  }

  private activityKey(id: Id): string {
    return `${this.prefix}la:${id}`;
  }

  async getSession(sessionId: Id): Promise<CachedSession> {
    const [userId, lastActive] = await this.redis.mget(this.sessionKey(sessionId), this.activityKey(sessionId));
    if (userId === null || userId === undefined) return { state: 'unknown' };
    if (userId === REVOKED) return { state: 'revoked' };
    return { state: 'valid', userId, lastActive: lastActive ? Number(lastActive) : null };
  }

  async cacheSession(sessionId: Id, userId: Id, lastActive: number): Promise<void> {
    await this.redis
      .multi()
      .set(this.sessionKey(sessionId), userId, 'PX', SESSION_CACHE_TTL_MS, 'NX')
      .set(this.activityKey(sessionId), String(lastActive), 'PX', this.activityTtlMs, 'NX')
      .exec();
  }

  async markRevoked(sessionIds: readonly Id[]): Promise<void> {
    if (!sessionIds.length) return;
    const tx = this.redis.multi();
    for (const id of sessionIds) {
      tx.set(this.sessionKey(id), REVOKED, 'PX', REVOKED_TOMBSTONE_TTL_MS);
      tx.del(this.activityKey(id));
    }
    await tx.exec();
  }

  async touch(activity: ReadonlyMap<Id, number>): Promise<void> {
    if (!activity.size) return;
    const pipe = this.redis.pipeline();
    for (const [id, at] of activity) pipe.set(this.activityKey(id), String(at), 'PX', this.activityTtlMs);
    await pipe.exec();
  }

  async lastActive(sessionIds: readonly Id[]): Promise<Map<Id, number>> {
    const out = new Map<Id, number>();
    if (!sessionIds.length) return out;
    const values = await this.redis.mget(sessionIds.map((id) => this.activityKey(id)));
    sessionIds.forEach((id, i) => {
      const value = values[i];
      if (value) out.set(id, Number(value));
    });
    return out;
  }

  async ping(): Promise<void> {
    await this.redis.ping();
  }

  async close(): Promise<void> {
    this.redis.disconnect();
  }
}
