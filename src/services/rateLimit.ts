/**
 * The rate-limit mechanism over `rate-limiter-flexible`: each limit allows
 * `points` per `durationSeconds` per key (an address, an IP, a user id). Which
 * limits exist, their keys and their messages are the catalogue's
 * (limits.ts); this module only counts.
 *
 * With Redis the counters live there (keys `<REDIS_PREFIX>rl:<name>:<key>`),
 * so every instance shares them. While Redis is unreachable each limit fails
 * in the direction it was defined with (`whenStoreDown`):
 *  - `local`: a per-process memory limiter with the same numbers stands in
 *    (still limited, only per instance) — the default;
 *  - `closed`: refuse with 503 (credential checks: never unlimited guessing);
 *  - `open`: allow (cheap reads: never take the service down with Redis).
 * Without Redis the memory limiter is the only one. `RATE_LIMITS=off` turns
 * every limit into a no-op (trusted load tests).
 *
 * Guess limits (passwords, codes) reserve their point BEFORE the guess is
 * evaluated (`reserve`): Redis counts atomically (one Lua script per
 * consume), so however many guesses arrive at once, on however many
 * instances, at most `points` are evaluated per window. The reservation then
 * says how the guess went: a wrong guess keeps its point, a right one gives it
 * back or clears the key (`onSuccess`), and a guess that was never evaluated
 * (another limit refused, a dependency failed) gives it back.
 */
import type { Cluster, Redis } from 'ioredis';
import { RateLimiterMemory, RateLimiterRedis, RateLimiterRes, type RateLimiterAbstract } from 'rate-limiter-flexible';
import { ErrorCode, RpcError } from '../protocol/errorCodes.js';

export interface LimitSpec {
  /** Requests allowed per window. */
  points: number;
  /** Window length in seconds (fixed window starting at the first request). */
  durationSeconds: number;
  /** What to do while Redis is unreachable; default `local`. */
  whenStoreDown?: 'local' | 'closed' | 'open';
  /**
   * Failure-counting limits: once the points are spent the key is blocked for
   * this many seconds, doubling with each block within a day (growing delay),
   * up to `maxBlockSeconds`.
   */
  blockSeconds?: number;
  maxBlockSeconds?: number;
  /**
   * What a reservation's point becomes when the guess was right: `keep` it
   * (attempts count, success or not; the default), `refund` it (only failures
   * count), or `clear` the key (a success forgives earlier failures).
   */
  onSuccess?: 'keep' | 'refund' | 'clear';
  /** The refusal's message, given the seconds to wait. */
  refusal: (seconds: number) => string;
}

/** Thrown (as 503) when a fail-closed limit cannot reach its store. */
class LimitStoreDownError extends RpcError {
  constructor() {
    super(ErrorCode.UNAVAILABLE, 'rate limiting is unavailable; retry later');
    this.name = 'LimitStoreDownError';
  }
}

/** Observes refusals (metrics). */
export type RefusalObserver = (limit: string) => void;

export interface RateLimitBackendOptions {
  /** The shared command client; unset: memory only (one instance). */
  redis?: Redis | Cluster;
  /** REDIS_PREFIX. */
  prefix: string;
  /** false when RATE_LIMITS=off. */
  enabled: boolean;
  onRefused?: RefusalObserver;
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

/**
 * A point taken before a guess is evaluated. Exactly one of the three is
 * called once the outcome is known. None of them throws: a point that cannot
 * be given back stays spent, which errs on the side of fewer guesses.
 */
export interface Reservation {
  /** The guess was right. */
  succeeded(): Promise<void>;
  /** The guess was wrong: the point stays spent. */
  failed(): Promise<void>;
  /** The guess was not evaluated: the point goes back. */
  cancelled(): Promise<void>;
}

/**
 * Runs the check of a reserved guess and settles the reservation: a truthy
 * outcome succeeded, a falsy one failed; a check that could not run at all
 * (hash queue full, a dependency down) gives the point back and rethrows.
 */
export async function judged<T>(guess: Reservation, check: () => Promise<T>): Promise<T> {
  let outcome: T;
  try {
    outcome = await check();
  } catch (err) {
    await guess.cancelled();
    throw err;
  }
  if (outcome) await guess.succeeded();
  else await guess.failed();
  return outcome;
}

const NO_RESERVATION: Reservation = { succeeded: async () => {}, failed: async () => {}, cancelled: async () => {} };

/**
 * Reserves a point on each (limit, key) in order, as one reservation: when one
 * refuses, the points already taken go back and its refusal is thrown.
 */
export async function reserveAll(entries: ReadonlyArray<readonly [RateLimit, string]>): Promise<Reservation> {
  const taken: Reservation[] = [];
  try {
    for (const [limit, key] of entries) taken.push(await limit.reserve(key));
  } catch (err) {
    await Promise.all(taken.map((r) => r.cancelled()));
    throw err;
  }
  return combine(taken);
}

/** One reservation standing for several. */
export function combine(reservations: readonly Reservation[]): Reservation {
  return {
    succeeded: async () => void (await Promise.all(reservations.map((r) => r.succeeded()))),
    failed: async () => void (await Promise.all(reservations.map((r) => r.failed()))),
    cancelled: async () => void (await Promise.all(reservations.map((r) => r.cancelled()))),
  };
}

/** Whole seconds until a refused key may retry (at least 1). */
function retryAfterSeconds(msBeforeNext: number): number {
  return Math.max(1, Math.ceil(msBeforeNext / 1000));
}

/** One named limit. */
export class RateLimit {
  constructor(
    readonly name: string,
    readonly spec: LimitSpec,
    private readonly limiter: RateLimiterAbstract | null,
    /** Counts blocks per key for the growing delay (failure-counting limits only). */
    private readonly blocks: RateLimiterAbstract | null = null,
    private readonly onRefused: RefusalObserver = () => {},
  ) {}

  /** Takes one point for `key`. Throws RateLimitedError (429) when the key has none left. */
  async consume(key: string): Promise<void> {
    if (!this.limiter) return;
    try {
      await this.limiter.consume(key);
    } catch (err) {
      throw this.refusal(err);
    }
  }

  /**
   * Takes one point for `key` before a guess is evaluated; throws 429 when
   * none is left (or 503 for a fail-closed limit whose store is down). Tell
   * the reservation how the guess went.
   */
  async reserve(key: string): Promise<Reservation> {
    if (!this.limiter) return NO_RESERVATION;
    let consumed: number;
    try {
      consumed = (await this.limiter.consume(key)).consumedPoints;
    } catch (err) {
      throw this.refusal(err);
    }
    return {
      succeeded: async () => {
        const onSuccess = this.spec.onSuccess ?? 'keep';
        if (onSuccess === 'clear') await this.reset(key);
        else if (onSuccess === 'refund') await this.refund(key);
      },
      // The failure that spent the last point starts the (growing) block.
      failed: async () => {
        if (consumed >= this.spec.points) await this.startBlock(key).catch(() => undefined);
      },
      cancelled: () => this.refund(key),
    };
  }

  /** Gives one point back to `key` (a reservation whose guess was not evaluated, or should not count). */
  private async refund(key: string): Promise<void> {
    await this.limiter?.reward(key, 1).catch(() => undefined);
  }

  private async startBlock(key: string): Promise<void> {
    const { blockSeconds, maxBlockSeconds } = this.spec;
    if (!blockSeconds || !this.limiter) return;
    let nth = 1;
    if (this.blocks) nth = (await this.blocks.penalty(key, 1)).consumedPoints;
    const seconds = Math.min(maxBlockSeconds ?? blockSeconds, blockSeconds * 2 ** (nth - 1));
    await this.limiter.block(key, seconds);
  }

  /** Forgets the key's counter. */
  async reset(key: string): Promise<void> {
    await this.limiter?.delete(key).catch(() => undefined);
  }

  private refusal(err: unknown): Error {
    if (err instanceof RateLimiterRes) {
      this.onRefused(this.name);
      const seconds = retryAfterSeconds(err.msBeforeNext);
      return new RateLimitedError(this.spec.refusal(seconds), seconds);
    }
    if (this.spec.whenStoreDown === 'closed') return new LimitStoreDownError();
    return err as Error;
  }
}

/** Where limits count: Redis when there is one, else this process's memory. */
export class RateLimitBackend {
  constructor(private readonly options: RateLimitBackendOptions) {}

  /** A limit named `name`; names are part of the Redis key, keep them stable. */
  define(name: string, spec: LimitSpec): RateLimit {
    if (!/^[a-z0-9_]+$/.test(name)) throw new Error(`rate limit name must be [a-z0-9_]+: ${name}`);
    const enabled = this.options.enabled;
    const blocks = enabled && spec.blockSeconds ? this.limiterFor(`${name}_blocks`, { points: 1_000_000, durationSeconds: 86_400, whenStoreDown: spec.whenStoreDown }) : null;
    return new RateLimit(name, spec, enabled ? this.limiterFor(name, spec) : null, blocks, this.options.onRefused);
  }

  private limiterFor(name: string, spec: Pick<LimitSpec, 'points' | 'durationSeconds' | 'whenStoreDown'>): RateLimiterAbstract {
    const memory = new RateLimiterMemory({ keyPrefix: name, points: spec.points, duration: spec.durationSeconds });
    if (!this.options.redis) return memory;
    const whenDown = spec.whenStoreDown ?? 'local';
    return new RateLimiterRedis({
      storeClient: this.options.redis,
      keyPrefix: `${this.options.prefix}rl:${name}`,
      points: spec.points,
      duration: spec.durationSeconds,
      // local: limit per instance while Redis is down; open: allow everything;
      // closed: no insurance, so the store error reaches refusal() as a 503.
      ...(whenDown === 'local' ? { insuranceLimiter: memory } : {}),
      ...(whenDown === 'open'
        ? { insuranceLimiter: new RateLimiterMemory({ keyPrefix: `${name}_open`, points: Number.MAX_SAFE_INTEGER, duration: 1 }) }
        : {}),
    });
  }
}
