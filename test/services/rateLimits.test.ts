/** Named rate limits: memory and Redis backends, shared counters across instances, RATE_LIMITS=off. */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { Redis } from 'ioredis';
import { ErrorCode } from '../../src/protocol/errorCodes.js';
import { RateLimitBackend, RateLimitedError } from '../../src/services/rateLimit.js';
import { REDIS_URL } from '../helpers/stack.js';

async function refusal(work: Promise<void>): Promise<RateLimitedError> {
  try {
    await work;
  } catch (err) {
    if (err instanceof RateLimitedError) return err;
    throw err;
  }
  assert.fail('expected a 429');
}

const wait = (s: number) => `retry after ${s} seconds`;

describe('rate limits', () => {
  let redis: Redis;
  before(() => {
    redis = new Redis(REDIS_URL);
  });
  after(() => redis.quit());

  it('memory: allows `points` per window per key, then 429 with the seconds to wait', async () => {
    const limit = new RateLimitBackend({ prefix: 'x:', enabled: true }).define('mem_test', { points: 3, durationSeconds: 60, refusal: (s) => `wait ${s} s` });
    for (let i = 0; i < 3; i++) await limit.consume('a');
    const err = await refusal(limit.consume('a'));
    assert.equal(err.code, ErrorCode.RATE_LIMITED);
    assert.ok(err.retryAfterSeconds >= 59 && err.retryAfterSeconds <= 60, String(err.retryAfterSeconds));
    assert.equal(err.message, `wait ${err.retryAfterSeconds} s`);
    await limit.consume('b');
  });

  it('redis: two instances with the same prefix share one counter, under the prefix', async () => {
    const prefix = `t${randomBytes(4).toString('hex')}:`;
    const one = new RateLimitBackend({ redis, prefix, enabled: true }).define('shared_test', { points: 2, durationSeconds: 60, refusal: wait });
    const two = new RateLimitBackend({ redis, prefix, enabled: true }).define('shared_test', { points: 2, durationSeconds: 60, refusal: wait });
    await one.consume('k');
    await two.consume('k');
    await refusal(one.consume('k'));
    await refusal(two.consume('k'));
    assert.deepEqual(await redis.keys(`${prefix}*`), [`${prefix}rl:shared_test:k`]);
  });

  it('redis down: still limits, per instance, and never fails the request', async () => {
    const down = new Redis('redis://127.0.0.1:1', { lazyConnect: true, enableOfflineQueue: false, maxRetriesPerRequest: 0 });
    down.on('error', () => {});
    try {
      const limit = new RateLimitBackend({ redis: down, prefix: 'down:', enabled: true }).define('down_test', { points: 2, durationSeconds: 60, refusal: wait });
      await limit.consume('k');
      await limit.consume('k');
      await refusal(limit.consume('k'));
    } finally {
      down.disconnect();
    }
  });

  it('RATE_LIMITS=off: never refuses', async () => {
    const limit = new RateLimitBackend({ redis, prefix: 'off:', enabled: false }).define('off_test', { points: 1, durationSeconds: 60, refusal: wait });
    for (let i = 0; i < 10; i++) await limit.consume('k');
    assert.deepEqual(await redis.keys('off:*'), []);
  });

  it('rejects names that would make odd Redis keys', () => {
    assert.throws(() => new RateLimitBackend({ prefix: 'x:', enabled: true }).define('Bad Name', { points: 1, durationSeconds: 1, refusal: wait }));
  });
});
