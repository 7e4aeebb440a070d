/**
 * Named rate limits over `rate-limiter-flexible`: each limit allows `points`
 * per `durationSeconds` per key (an address, an IP, a user id).
 *
 * With Redis the counters live there (keys `<REDIS_PREFIX>rl:<name>:<key>`),
 * so every instance shares them; a per-process memory limiter with the same
 * numbers stands in while Redis is unreachable (the request is still limited,
 * only per instance). Without Redis the memory limiter is the only one.
 * `RATE_LIMITS=off` turns every limit into a no-op (trusted load tests).
 */
import type { Redis } from 'ioredis';
import { RateLimiterMemory, RateLimiterRedis, RateLimiterRes, type RateLimiterAbstract } from 'rate-limiter-flexible';
import { ErrorCode, RpcError } from '../protocol/errorCodes.js';

export interface LimitSpec {
  /** Requests allowed per window. */
  points: number;
  /** Window length in seconds (fixed window starting at the first request). */
  durationSeconds: number;
}

export interface RateLimitsOptions {
  /** The shared command client; unset: memory only (one instance). */
  redis?: Redis;
  /** REDIS_PREFIX. */
  prefix: string;
  /** false when RATE_LIMITS=off. */
  enabled: boolean;
}

/** The answer of a refused `consume`: how long until the key may try again. */
export class RateLimitedError extends RpcError {
  constructor(
    message: string,
    readonly retryAfterSeconds: number,
  ) {
    super(ErrorCode.RATE_LIMITED, message);
    this.name = 'RateLimitedError';
  }
}

/** Whole seconds until a refused key may retry (at least 1). */
export function retryAfterSeconds(msBeforeNext: number): number {
  return Math.max(1, Math.ceil(msBeforeNext / 1000));
}

/** One named limit. */
export class RateLimit {
  constructor(
    readonly name: string,
    readonly spec: LimitSpec,
    private readonly limiter: RateLimiterAbstract | null,
  ) {}

  /**
   * Takes one point for `key`. Throws RateLimitedError (429) when the key has
   * none left; `describe` words the message (it gets the seconds to wait).
   */
  async consume(key: string, describe: (seconds: number) => string = (s) => `too many requests; retry after ${s} seconds`): Promise<void> {
    if (!this.limiter) return;
    try {
      await this.limiter.consume(key);
    } catch (err) {
      if (err instanceof RateLimiterRes) {
        const seconds = retryAfterSeconds(err.msBeforeNext);
        throw new RateLimitedError(describe(seconds), seconds);
      }
      throw err;
    }
  }

  /** Forgets the key's counter (e.g. after a success that should not count). */
  async reset(key: string): Promise<void> {
    await this.limiter?.delete(key);
  }
}

export class RateLimits {
  private readonly limits = new Map<string, RateLimit>();

  constructor(private readonly options: RateLimitsOptions) {}

  /** Creates (or returns the existing) limit `name`; names are part of the Redis key, keep them stable. */
  define(name: string, spec: LimitSpec): RateLimit {
    const existing = this.limits.get(name);
    if (existing) return existing;
    if (!/^[a-z0-9_]+$/.test(name)) throw new Error(`rate limit name must be [a-z0-9_]+: ${name}`);
    const limit = new RateLimit(name, spec, this.options.enabled ? this.limiterFor(name, spec) : null);
    this.limits.set(name, limit);
    return limit;
  }

  private limiterFor(name: string, spec: LimitSpec): RateLimiterAbstract {
    const memory = new RateLimiterMemory({ keyPrefix: name, points: spec.points, duration: spec.durationSeconds });
    if (!this.options.redis) return memory;
    return new RateLimiterRedis({
      storeClient: this.options.redis,
      keyPrefix: `${this.options.prefix}rl:${name}`,
      points: spec.points,
      duration: spec.durationSeconds,
      // While Redis is down: limit per instance rather than not at all, and never fail the request.
      insuranceLimiter: memory,
    });
  }
}
