/**
 * LiveState in Redis, shared by every instance.
 * Keys (all under REDIS_PREFIX): `s:<sid>` = user id, or "r" for a revocation
 * tombstone; `la:<sid>` = last activity in Unix ms. Every key has a TTL, so
 * Redis never holds more than the recently active sessions.
 */
import type { Redis, Result } from 'ioredis';
import type { Id } from '../domain/ids.js';
import { REVOKED_TOMBSTONE_TTL_MS, SESSION_CACHE_TTL_MS, type CachedSession, type LiveState } from './liveState.js';

const REVOKED = 'r';

/**
 * Writes a session's activity unless the key already holds a later time, so
 * activity never moves backwards when instances flush batches out of order.
 * KEYS[1] = la:<sid>, ARGV = [Unix ms, TTL ms]. Returns 1 when written.
 */
const TOUCH_ACTIVITY_LUA = `
local current = tonumber(redis.call('GET', KEYS[1]))
if current and current >= tonumber(ARGV[1]) then return 0 end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
return 1`;

declare module 'ioredis' {
  interface RedisCommander<Context> {
    osmiumTouchActivity(key: string, at: string, ttlMs: string): Result<number, Context>;
  }
}

export class RedisLiveState implements LiveState {
  constructor(
    private readonly redis: Redis,
    private readonly prefix: string,
    /** Activity keys live as long as an idle session may. */
    private readonly activityTtlMs: number,
  ) {
    redis.defineCommand('osmiumTouchActivity', { numberOfKeys: 1, lua: TOUCH_ACTIVITY_LUA });
  }

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
    // One round trip for the batch: the script is sent once per connection, then by its SHA.
    const pipe = this.redis.pipeline();
    const ttl = String(this.activityTtlMs);
    for (const [id, at] of activity) pipe.osmiumTouchActivity(this.activityKey(id), String(at), ttl);
    const failed = (await pipe.exec())?.find(([err]) => err);
    if (failed) throw failed[0];
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
