/**
 * One-time codes mailed for email verification and password reset (the
 * codes themselves: issuing, hashing, checking; the flows are accountEmail.ts).
 *
 * - 6 digits from `crypto.randomInt` (uniform, no modulo bias).
 * - Stored as SHA-256(salt ‖ purpose ‖ code) with a fresh 16-byte salt per
 *   code; the plain code exists only in the mail. (A million possible codes
 *   means a stolen hash can be brute-forced offline; the short validity is
 *   what bounds that, a slow hash would not.)
 * - Valid 30 minutes (verification) or 15 minutes (reset), single use, dead
 *   after 5 wrong tries; a new code for the same purpose retires the previous.
 * - Compared with `timingSafeEqual`, and a hash is computed and compared even
 *   when there is no code, so the answer time does not say which case it was.
 */
import { createHash, randomBytes, randomInt, timingSafeEqual } from 'node:crypto';
import type { Clock } from '../domain/clock.js';
import type { Id } from '../domain/ids.js';
import type { BoundSession } from '../domain/session.js';
import type { CodePurpose, CodeTarget, EmailCodeRecord, EmailCodesRepo } from '../store/emailCodesRepo.js';
import type { Pool, PoolClient } from '../store/postgres.js';

export type { CodePurpose } from '../store/emailCodesRepo.js';

const CODE_DIGITS = 6;
export const CODE_TTL_MS: Readonly<Record<CodePurpose, number>> = {
  verify_email: 30 * 60_000,
  reset_password: 15 * 60_000,
  change_email: 30 * 60_000,
};
/** Wrong tries a code survives; the next check after this many is refused even with the right code. */
const MAX_WRONG_TRIES = 5;

/** Why a code was refused (for the log; the client gets one message for all). */
type CodeRefusal = 'none' | 'wrong' | 'expired' | 'used' | 'dead';
export type CodeCheck = { ok: true; userId: Id } | { ok: false; reason: CodeRefusal };

/** A new random code, zero-padded to 6 digits. */
function newCode(): string {
  return randomInt(0, 10 ** CODE_DIGITS).toString().padStart(CODE_DIGITS, '0');
}

function hashCode(purpose: CodePurpose, salt: Buffer, code: string): Buffer {
  return createHash('sha256').update(salt).update(`${purpose}:${code}`, 'utf8').digest();
}

const DUMMY_SALT = randomBytes(16);
const DUMMY_HASH = hashCode('verify_email', DUMMY_SALT, newCode());

/** Checks a candidate against a stored code (or none); pure apart from the clock. */
function checkCode(record: EmailCodeRecord | null, purpose: CodePurpose, candidate: string, now: number): CodeCheck {
  // Hash and compare first, in every case, so every path does the same work.
  const expected = record?.codeHash ?? DUMMY_HASH;
  const actual = hashCode(purpose, record?.salt ?? DUMMY_SALT, candidate);
  const matches = expected.length === actual.length && timingSafeEqual(expected, actual);
  if (!record) return { ok: false, reason: 'none' };
  if (record.usedAt) return { ok: false, reason: 'used' };
  if (record.failedAttempts >= MAX_WRONG_TRIES) return { ok: false, reason: 'dead' };
  if (record.expiresAt.getTime() <= now) return { ok: false, reason: 'expired' };
  return matches ? { ok: true, userId: record.userId } : { ok: false, reason: 'wrong' };
}

export interface EmailCodeServiceDeps {
  repo: EmailCodesRepo;
  clock: Clock;
}

export class EmailCodeService {
  private readonly repo: EmailCodesRepo;

  constructor(private readonly deps: EmailCodeServiceDeps) {
    this.repo = deps.repo;
  }

  /**
   * Creates a code for the target account and stores its hash (retiring the
   * previous code of that purpose). Returns the plain code with the account
   * and the address to mail, or null when no account qualifies. Costs one
   * statement either way.
   */
  async issue(
    target: CodeTarget,
    purpose: CodePurpose,
    options: { onlyUnverified: boolean },
    db?: Pool | PoolClient,
  ): Promise<{ userId: Id; email: string; code: string } | null> {
    const code = newCode();
    const salt = randomBytes(16);
    const issued = await this.repo.issue(
      target,
      { purpose, salt, codeHash: hashCode(purpose, salt, code), ttlMs: CODE_TTL_MS[purpose], onlyUnverified: options.onlyUnverified },
      db,
    );
    return issued ? { ...issued, code } : null;
  }

  /**
   * Creates a code confirming an email change of `change.userId` to
   * `change.email`, asked from `change.sessionId` (replacing an earlier
   * request); returns the plain code.
   */
  async issueForChange(change: { userId: Id; sessionId: Id; email: string }, db?: Pool | PoolClient): Promise<string> {
    const code = newCode();
    const salt = randomBytes(16);
    await this.repo.issueForChange(change, { salt, codeHash: hashCode('change_email', salt, code), ttlMs: CODE_TTL_MS.change_email }, db);
    return code;
  }

  /** Drops the account's pending email change (the owner reacted); true when there was one. */
  cancelChange(userId: Id, db?: Pool | PoolClient): Promise<boolean> {
    return this.repo.cancelChange(userId, db);
  }

  /**
   * Inside the caller's transaction: checks `candidate` against the caller's
   * pending change to `email`, which only the session that asked for it may
   * confirm (a code alone, or another session of the account, is refused as
   * if there were no change), and records the outcome (a right code is
   * marked used, a wrong one counts as a wrong try). Commit even when the
   * check fails.
   */
  async consumeChange(client: PoolClient, caller: BoundSession, email: string, candidate: string): Promise<CodeCheck> {
    const record = await this.repo.lockChange(caller.userId, email, client);
    const asked = record && record.sessionId === caller.sessionId ? record : null;
    const check = checkCode(asked, 'change_email', candidate, this.deps.clock());
    if (asked && check.ok) await this.repo.markUsed(asked.userId, 'change_email', client);
    else if (asked && !check.ok && check.reason === 'wrong') await this.repo.recordFailure(asked.userId, 'change_email', client);
    return check;
  }

  /**
   * Inside the caller's transaction: locks the code of `purpose` for the
   * account with `email`, checks `candidate`, and records the outcome (a wrong
   * try counts, a right one marks the code used). The caller must COMMIT even
   * when the check fails, or the wrong try is not counted.
   */
  async consume(client: PoolClient, purpose: CodePurpose, email: string, candidate: string): Promise<CodeCheck> {
    const record = await this.repo.lockForEmail(purpose, email, client);
    const check = checkCode(record, purpose, candidate, this.deps.clock());
    if (record && check.ok) await this.repo.markUsed(record.userId, purpose, client);
    else if (record && !check.ok && check.reason === 'wrong') await this.repo.recordFailure(record.userId, purpose, client);
    return check;
  }
}
