/**
 * Ages sessions for figures 1a and 1b: makes the gateway's Redis cache look
 * as it does for a session that was created long ago (more than the cache's
 * first TTL) and has stayed in use since, which is most sessions in a real
 * reconnect storm.
 *
 * This is the one place that knows the cache layout. Before issue 13
 * (src/store/liveStateRedis.ts then): `s:<sid>` was written with a 1 h TTL
 * when the session was created or first checked and never extended, so it
 * was gone after an hour however active the session was, and aging expired
 * it. Since issue 13: `s:{<sid>}` holds what Authorize needs and lives for
 * the idle-expiry window (at most 30 days) from its last use, every Authorize
 * extending it (GETEX); `la:{<sid>}` is rewritten while the session is
 * active. An hour or a day of use expires neither, so there is nothing to
 * expire: `AGED_KEYS` is empty and aging only checks that. When the layout or
 * its TTL rules change again, list here the keys that expire by age despite
 * use, and leave out the keys that use keeps alive.
 */
import type { Redis } from 'ioredis';

/** Keys of one session that time expires despite use, today: none (see above). */
export const AGED_KEYS: ReadonlyArray<(prefix: string, sessionId: string) => string> = [];

/** One line for the bench notes: what aging did. */
export const AGING_NOTE = AGED_KEYS.length
  ? 'sessions aged past the cache TTL: their cache keys that expire by age despite use expired'
  : 'sessions aged past the cache\'s first TTL: nothing to expire, since every use extends the s:{sid} entry for the idle window (issue 13)';

const BATCH = 1_000;

/**
 * Expires the aged keys of every session (PEXPIRE 1 ms, as if their TTL ran
 * out) and waits until none exists any more. Returns how many keys expired.
 */
export async function ageSessions(
  redis: Redis,
  prefix: string,
  sessionIds: readonly string[],
  agedKeys: ReadonlyArray<(prefix: string, sessionId: string) => string> = AGED_KEYS,
  timeoutMs = 10_000,
): Promise<number> {
  const keys = sessionIds.flatMap((sid) => agedKeys.map((key) => key(prefix, sid)));
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
