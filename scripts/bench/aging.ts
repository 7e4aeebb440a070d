/**
 * Ages sessions for figures 1a and 1b: makes the gateway's Redis cache look
 * as it does for a session that was created long ago (more than the cache's
 * first TTL) and has stayed in use since, which is most sessions in a real
 * reconnect storm.
 *
 * This is the one place that knows the cache layout. Today (src/store/
 * liveStateRedis.ts): `s:<sid>` (validity, user id) is written with a 1 h
 * TTL when the session is created or first checked and never extended, so it
 * is gone after an hour however active the session is; `la:<sid>` (last
 * activity) is rewritten every 2 s while the session is active, so it stays.
 * Aging = letting every `s:` key expire. When the cache layout or its TTL
 * rules change, change `AGED_KEYS` (keys that expire by age despite use) and
 * leave keys that activity keeps alive out of it.
 */
import type { Redis } from 'ioredis';

/** Keys of one session that an hour of use does not keep alive, today. */
export const AGED_KEYS: ReadonlyArray<(prefix: string, sessionId: string) => string> = [(prefix, sid) => `${prefix}s:${sid}`];

/** One line for the bench notes: what aging did. */
export const AGING_NOTE = 'sessions aged past the cache TTL: their s:<sid> keys (1 h TTL set at first caching, never extended) expired, la:<sid> kept';

const BATCH = 1_000;

/**
 * Expires the aged keys of every session (PEXPIRE 1 ms, as if their TTL ran
 * out) and waits until none exists any more. Returns how many keys expired.
 */
export async function ageSessions(redis: Redis, prefix: string, sessionIds: readonly string[], timeoutMs = 10_000): Promise<number> {
  const keys = sessionIds.flatMap((sid) => AGED_KEYS.map((key) => key(prefix, sid)));
  let expired = 0;
  for (let i = 0; i < keys.length; i += BATCH) {
    const pipe = redis.pipeline();
    for (const key of keys.slice(i, i + BATCH)) pipe.pexpire(key, 1);
    for (const [err, set] of (await pipe.exec()) ?? []) {
      if (err) throw err;
      expired += Number(set);
    }
  }
  const deadline = performance.now() + timeoutMs;
  for (;;) {
    await new Promise((r) => setTimeout(r, 5));
    let left = 0;
    for (let i = 0; i < keys.length; i += BATCH) left += await redis.exists(...keys.slice(i, i + BATCH));
    if (left === 0) return expired;
    if (performance.now() > deadline) throw new Error(`${left} aged cache keys still exist after ${timeoutMs} ms`);
  }
}
