/**
 * Password hashing with bcrypt, off the event loop.
 *
 * bcrypt only reads the first 72 bytes of its input, so a long passphrase would
 * be silently truncated. We hash base64(SHA-256(NFKC(password))) instead: 44
 * ASCII bytes, every character of the password counts, and no NUL byte can
 * reach bcrypt. bcrypt's async API runs on libuv's thread pool; a semaphore
 * keeps at most BCRYPT_CONCURRENCY hashes there so that other thread-pool work
 * (DNS, files, crypto of other libraries) always finds a free thread.
 *
 * Hashes queue per client IP and the IPs take turns (JobQueue), so one
 * address flooding sign-ins waits behind its own hashes, not in front of
 * everyone's; the queue is bounded per IP (429) and in total (503), never
 * growing without end.
 */
import { createHash } from 'node:crypto';
import bcrypt from 'bcrypt';
import { badRequest, ErrorCode, RpcError } from '../protocol/errorCodes.js';
import { JobQueue, QueueFullError } from './jobQueue.js';
import { RateLimitedError } from './rateLimit.js';

const PASSWORD_MIN_CHARS = 8;
export const PASSWORD_MAX_CHARS = 128;

/** Normalises and checks a new password; throws 400 naming `field`. */
export function checkNewPassword(password: string, field: string): string {
  const normalized = password.normalize('NFKC');
  const length = [...normalized].length;
  if (length < PASSWORD_MIN_CHARS || length > PASSWORD_MAX_CHARS) {
    throw badRequest(`${field} must be ${PASSWORD_MIN_CHARS} to ${PASSWORD_MAX_CHARS} characters`);
  }
  if (normalized.trim().length === 0) throw badRequest(`${field} must not be only spaces`);
  if (/\p{Cc}/u.test(normalized)) throw badRequest(`${field} must not contain control characters`);
  return normalized;
}

function prehash(password: string): string {
  return createHash('sha256').update(password.normalize('NFKC'), 'utf8').digest('base64');
}

/** Counts hashes waiting and running, for the metrics. */
export interface HashingStats {
  running: number;
  queued: number;
}

export interface PasswordHasherDeps extends HashQueueBounds {
  /** BCRYPT_COST of new hashes. */
  cost: number;
  /** BCRYPT_CONCURRENCY: hashes running at once. */
  concurrency: number;
}

export interface HashQueueBounds {
  /** Hashes waiting at most, over all sources (then 503). */
  maxQueued: number;
  /** Hashes waiting at most per source, i.e. client IP (then 429); unset: no per-source bound. */
  maxQueuedPerSource?: number;
}

/** The bcrypt cost a hash was made with. */
export function costOf(hash: string): number {
  return bcrypt.getRounds(hash);
}

/**
 * What unknown accounts are compared against, one per cost (4 to 15): bcrypt
 * hashes of random bytes that were thrown away, so nothing ever matches them.
 * Only their cost matters (a comparison costs what its hash's cost says);
 * they are constants so that a start, and the first sign-in after it, never
 * pay for making one (about 260 ms of a core at cost 12).
 */
const DUMMY_HASHES: Readonly<Record<number, string>> = {
  4: '$2b$04$uU81ni5hSZC0Jp10X60N6u3fsp5drE6eGCFOEOMrm9aNWpX5qgxAq',
  5: '$2b$05$rPz/d6fooz/rJtx5oS3OC..SeqA8ks5kC6TqbolXVvHT.Y7s9CT5y',
  6: '$2b$06$8AcIZ48hYczx8/ML3SE8jufqc/LEwn6NMc/VhABQOt0mVdn2K/lcW',
  7: '$2b$07$VF3SssVUMvzS5BW14w/Mg.wGzsuP3u8vmw7rXZtOTGa6vlZV61yTa',
  8: '$2b$08$TcO4cdtnvcYZA03db0jdYefXYuDQPCYmRKc7Or9uEhxJ18So4rfRG',
  9: '$2b$09$C2jugjA7nXqkovV6osfPVu1KeCMXJjmRB9ViHnpqUrGgJKyInDuZm',
  10: '$2b$10$HVMlB9JGhxhf16kFuWM8UuqZOGCm9jDEqm8SpJFk7LU4lo6eVQdxu',
  11: '$2b$11$py6Y.CAkXKI5pWsdMhUyUO7kYfxprfZt25dYXaFpQ6XFqFn/9EpdC',
  12: '$2b$12$b9l4EMgkRYZqVPc1h.zT5.SbF9nw9GCX2nvDnk/aCcc56Wse5Aez2',
  13: '$2b$13$1sFc2GETc7M/3yfiG6VqP.kPO.J/upQOmVnkrMvsIipww1B8y.X0K',
  14: '$2b$14$.SaCI/cREpeVL9.c.JVBOeZaxUE9T2DtMg0rz5U1PiYKFX2xj01li',
  15: '$2b$15$qw/7rSU7vO6V7elM0yHelON1f3ho3JTyYpc/rBaju1rono0auR/.K',
};

export class PasswordHasher {
  private readonly jobs: JobQueue;
  private dummyHash: string;
  private dummyHashCost: number;

  private readonly cost: number;

  constructor(deps: PasswordHasherDeps) {
    const { cost, concurrency, ...bounds } = deps;
    this.cost = cost;
    this.jobs = new JobQueue({ concurrency, ...bounds });
    this.dummyHashCost = cost;
    this.dummyHash = dummyHash(cost);
  }

  get stats(): HashingStats {
    return { running: this.jobs.running, queued: this.jobs.queued };
  }

  /** The cost of the hash compared against for unknown accounts. */
  get dummyCost(): number {
    return this.dummyHashCost;
  }

  /**
   * Compares unknown accounts against a hash of this cost from now on. Set it
   * to the cost most stored hashes have (they keep the cost they were made
   * with until their owner signs in again), so that an unknown email costs
   * what a real account costs and timing does not tell them apart.
   */
  useDummyCost(cost: number): void {
    this.dummyHash = dummyHash(cost);
    this.dummyHashCost = cost;
  }

  /** True when `hash` was made with another cost than BCRYPT_COST (rehash it at the next successful sign-in). */
  needsRehash(hash: string): boolean {
    return costOf(hash) !== this.cost;
  }

  /** Hashes a new password; `source` (the client IP) is whose turn it waits for. */
  hash(password: string, source: string): Promise<string> {
    return this.run(() => bcrypt.hash(prehash(password), this.cost), source);
  }

  /** Compares against `hash`, or against the dummy hash when `hash` is null (same cost, always false). */
  async verify(password: string, hash: string | null, source: string): Promise<boolean> {
    if (hash === null) {
      const dummy = this.dummyHash;
      await this.run(() => bcrypt.compare(prehash(password), dummy), source);
      return false;
    }
    return this.run(() => bcrypt.compare(prehash(password), hash), source);
  }

  private async run<T>(work: () => Promise<T>, source: string): Promise<T> {
    try {
      return await this.jobs.run(work, source);
    } catch (err) {
      if (!(err instanceof QueueFullError)) throw err;
      if (err.scope === 'source') throw new RateLimitedError('too many password checks waiting from this address; retry after 1 seconds', 1);
      throw new RpcError(ErrorCode.UNAVAILABLE, 'too many password checks waiting; retry later');
    }
  }
}

/** The dummy hash of a cost (the nearest one for a cost outside 4 to 15, which bcrypt refuses anyway). */
function dummyHash(cost: number): string {
  return DUMMY_HASHES[Math.min(15, Math.max(4, cost))]!;
}
