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
 * building the dictionaries nor a slow check holds up the sockets. Its worst
 * case is still bounded, since checks wait for each other there: only the
 * first EVALUATED_CHARS characters are scored (a longer password only gets
 * stronger; a weak prefix with a strong tail is the one case refused wrongly,
 * and unlikely), and l33t substitutions are tried at most
 * L33T_MAX_SUBSTITUTIONS at a time (the library's default of 100 took seconds
 * on crafted inputs). README "Passwords" gives the measured cost.
 */
import { badRequest } from '../protocol/errorCodes.js';
import { StrengthChecker, type StrengthVerdict } from './passwordStrength.js';

const EVALUATED_CHARS = 64;
const L33T_MAX_SUBSTITUTIONS = 2;

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

export class PasswordPolicy {
  constructor(
    /** PASSWORD_MIN_SCORE. */
    readonly minScore: number,
  ) {}

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
   * length-checked and normalised) scores below the minimum.
   */
  async check(password: string, owner: PasswordOwner, field: string): Promise<void> {
    if (this.minScore === 0) return;
    const result = await this.evaluate(password, owner);
    if (result.score >= this.minScore) return;
    const why = WARNINGS[result.warning ?? ''] ?? 'is too easy to guess';
    throw badRequest(`${field} ${why}; choose a longer password, for example a few unrelated words`);
  }
}
