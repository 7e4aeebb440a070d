/**
 * Passwords people can't guess (NIST SP 800-63B §5.1.1.2: refuse passwords
 * found in lists of common or compromised passwords, and ones derived from
 * the account itself). New passwords (sign-up, reset, change) are scored with
 * zxcvbn (`@zxcvbn-ts/core` and the common-password and diceware lists of
 * `@zxcvbn-ts/language-common`), with the user's own email (whole, local part
 * and domain labels) and name as extra dictionary words, and refused below
 * PASSWORD_MIN_SCORE (default 3: an estimated 10^8 guesses or more).
 *
 * The check runs on a thread of its own (passwordStrength.ts), so neither
 * building the dictionaries nor a slow check holds up the sockets. Checks
 * wait for each other there, so they queue in front of it fairly and
 * boundedly, as password hashes do (jobQueue.ts): networks and accounts take
 * turns, and each may have only a few checks waiting (429 beyond), so twenty
 * sockets of one account cannot hold up everyone's sign-up. Callers apply
 * their rate limits before they ask. The worst case of one check is bounded: only the
 * first EVALUATED_CHARS characters are scored (a longer password only gets
 * stronger; a weak prefix with a strong tail is the one case refused wrongly,
 * and unlikely), and l33t substitutions are tried at most
 * L33T_MAX_SUBSTITUTIONS at a time (the library's default of 100 took seconds
 * on crafted inputs). README "Passwords" gives the measured cost.
 */
import type { Id } from '../domain/ids.js';
import { ErrorCode, RpcError, badRequest } from '../protocol/errorCodes.js';
import { JobQueue, QueueFullError } from './jobQueue.js';
import { StrengthChecker, type StrengthVerdict } from './passwordStrength.js';
import { RateLimitedError } from './rateLimit.js';

const EVALUATED_CHARS = 64;
const L33T_MAX_SUBSTITUTIONS = 2;
/** Checks asked of the thread at once (it answers one after another: a second one in flight keeps it busy). */
const CHECKS_IN_FLIGHT = 2;
/** Checks waiting at most per network and per account, and in all. */
const MAX_WAITING_PER_SOURCE = 16;
const MAX_WAITING = 256;

/** Why a password was refused, by the library's warning key: the reason a person can act on. */
const WARNINGS: Record<string, string> = {
  topTen: 'is one of the most common passwords',
  topHundred: 'is one of the most common passwords',
  common: 'is too common',
  similarToCommon: 'is too similar to a common password',
  wordByItself: 'is a single word, which is easy to guess',
  namesByThemselves: 'is a name, which is easy to guess',
  commonNames: 'is based on a common name',
  userInputs: 'contains your email address or name',
  straightRow: 'is a row of keys on the keyboard',
  keyPattern: 'is a keyboard pattern',
  simpleRepeat: 'repeats characters (like "aaa")',
  extendedRepeat: 'repeats a pattern (like "abcabc")',
  sequences: 'is a sequence (like "abcd" or "1234")',
  recentYears: 'contains a recent year',
  dates: 'contains a date',
};

/** Who the password is for: these words count as already known to an attacker. */
export interface PasswordOwner {
  email: string | null;
  name: string | null;
}

/** The words an attacker would try first for this owner. */
function ownerWords(owner: PasswordOwner): string[] {
  const words = new Set<string>();
  if (owner.email) {
    const email = owner.email.toLowerCase();
    const [local = '', domain = ''] = email.split('@');
    words.add(email).add(local);
    for (const part of [...local.split(/[._+-]+/), ...domain.split('.')]) if (part.length >= 3) words.add(part);
  }
  if (owner.name) {
    const name = owner.name.toLowerCase();
    words.add(name).add(name.replace(/\s+/g, ''));
    for (const part of name.split(/\s+/)) if (part.length >= 3) words.add(part);
  }
  return [...words].filter(Boolean);
}

/**
 * One thread for the whole process, as the library's dictionaries are the
 * same for every policy (tests start several gateways in one process). Idle,
 * it does not keep the process alive.
 */
const checker = new StrengthChecker({ maxLength: EVALUATED_CHARS, l33tMaxSubstitutions: L33T_MAX_SUBSTITUTIONS });

/** Whose turn a check waits for: the client's network, and the account when there is one. */
export interface CheckRequester {
  network: string;
  userId?: Id | null;
}

export interface PasswordPolicyDeps {
  /** PASSWORD_MIN_SCORE; 0 turns the check off. */
  minScore: number;
}

export class PasswordPolicy {
  readonly minScore: number;
  private readonly queue = new JobQueue({ concurrency: CHECKS_IN_FLIGHT, maxQueued: MAX_WAITING, maxQueuedPerSource: MAX_WAITING_PER_SOURCE });

  constructor(deps: PasswordPolicyDeps) {
    this.minScore = deps.minScore;
  }

  /**
   * Starts the checker's thread, which builds its dictionaries (~120 ms of
   * CPU) beside the event loop; without it, the first check starts it.
   */
  start(): void {
    if (this.minScore > 0) checker.start();
  }

  /** zxcvbn's verdict (for the measurement script and the tests). */
  evaluate(password: string, owner: PasswordOwner): Promise<StrengthVerdict> {
    return checker.check(password, ownerWords(owner));
  }

  /**
   * Throws 400 naming `field` and saying why, when `password` (already
   * length-checked and normalised) scores below the minimum; 429 when the
   * requester has too many checks waiting, 503 when everyone has.
   */
  async check(password: string, owner: PasswordOwner, field: string, requester: CheckRequester): Promise<void> {
    if (this.minScore === 0) return;
    const sources = [`net:${requester.network}`, ...(requester.userId ? [`user:${requester.userId}`] : [])];
    let result: StrengthVerdict;
    try {
      result = await this.queue.run(() => this.evaluate(password, owner), sources);
    } catch (err) {
      if (!(err instanceof QueueFullError)) throw err;
      if (err.scope === 'source') throw new RateLimitedError('too many password checks waiting for this account or address; retry after 1 seconds', 1);
      throw new RpcError(ErrorCode.UNAVAILABLE, 'too many password checks waiting; retry later');
    }
    if (result.score >= this.minScore) return;
    const why = WARNINGS[result.warning ?? ''] ?? 'is too easy to guess';
    throw badRequest(`${field} ${why}; choose a longer password, for example a few unrelated words`);
  }
}
