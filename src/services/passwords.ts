/**
 * Password hashing with bcrypt, off the event loop.
 *
 * bcrypt only reads the first 72 bytes of its input, so a long passphrase would
 * be silently truncated. We hash base64(SHA-256(NFKC(password))) instead: 44
 * ASCII bytes, every character of the password counts, and no NUL byte can
 * reach bcrypt. bcrypt's async API runs on libuv's thread pool; a semaphore
 * keeps at most BCRYPT_CONCURRENCY hashes there so that other thread-pool work
 * (WebCrypto for tokens, DNS, files) always finds a free thread.
 */
import { createHash } from 'node:crypto';
import bcrypt from 'bcrypt';
import { badRequest } from '../protocol/errorCodes.js';
import { JobQueue } from './jobQueue.js';

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

export class PasswordHasher {
  private readonly jobs: JobQueue;
  private dummyHash: Promise<string>;

  constructor(
    private readonly cost: number,
    concurrency: number,
  ) {
    this.jobs = new JobQueue({ concurrency });
    // A hash of a random string at the same cost, compared against when the
    // account does not exist, so both paths cost one bcrypt comparison.
    this.dummyHash = this.hash(`dummy-${Math.random()}`);
  }

  get stats(): HashingStats {
    return { running: this.jobs.running, queued: this.jobs.queued };
  }

  hash(password: string): Promise<string> {
    return this.jobs.run(() => bcrypt.hash(prehash(password), this.cost));
  }

  /** Compares against `hash`, or against a dummy hash when `hash` is null (same cost, always false). */
  async verify(password: string, hash: string | null): Promise<boolean> {
    if (hash === null) {
      const dummy = await this.dummyHash;
      await this.jobs.run(() => bcrypt.compare(prehash(password), dummy));
      return false;
    }
    return this.jobs.run(() => bcrypt.compare(prehash(password), hash));
  }
}
