/**
 * Passwords people can't guess (NIST SP 800-63B §5.1.1.2: refuse passwords
 * found in lists of common or compromised passwords, and ones derived from
 * the account itself). New passwords (sign-up, reset, change) are scored with
 * zxcvbn (`@zxcvbn-ts/core` and the common-password and diceware lists of
 * `@zxcvbn-ts/language-common`), with the user's own email (whole, local part
 * and domain labels) and name as extra dictionary words, and refused below
 * PASSWORD_MIN_SCORE (default 3: an estimated 10^8 guesses or more).
 *
 * The check is synchronous CPU work on the event loop, so its worst case is
 * bounded: only the first EVALUATED_CHARS characters are scored (a longer
 * password only gets stronger; a weak prefix with a strong tail is the one
 * case refused wrongly, and unlikely), and l33t substitutions are tried at
 * most L33T_MAX_SUBSTITUTIONS at a time (the library's default of 100 took
 * seconds on crafted inputs). README "Passwords" gives the measured cost.
 */
import type { ZxcvbnFactory, ZxcvbnResult } from '@zxcvbn-ts/core';
import { badRequest } from '../protocol/errorCodes.js';

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
 * A dynamically imported package's exports: node and tsx give these CommonJS
 * packages' named exports; an esbuild bundle in ES module form (the admin
 * CLI's) hands them over as `default` only.
 */
function namedExports<M extends object>(module: M, name: keyof M): M {
  return name in module ? module : (module as unknown as { default: M }).default;
}

let factory: Promise<ZxcvbnFactory> | undefined;
/**
 * Loaded on first use and shared by the whole process. Building the
 * dictionaries blocks the event loop for ~100 ms once: at the first new
 * password rather than at start, where it held back the first readiness
 * answer, and never in a process that serves no sign-ups.
 */
function estimator(): Promise<ZxcvbnFactory> {
  factory ??= (async () => {
    const [coreModule, commonModule] = await Promise.all([import('@zxcvbn-ts/core'), import('@zxcvbn-ts/language-common')]);
    const { ZxcvbnFactory } = namedExports(coreModule, 'ZxcvbnFactory');
    const common = namedExports(commonModule, 'dictionary');
    return new ZxcvbnFactory({
      dictionary: { ...common.dictionary },
      graphs: common.adjacencyGraphs,
      maxLength: EVALUATED_CHARS,
      l33tMaxSubstitutions: L33T_MAX_SUBSTITUTIONS,
    });
  })();
  return factory;
}

export class PasswordPolicy {
  constructor(
    /** PASSWORD_MIN_SCORE. */
    readonly minScore: number,
  ) {}

  /** zxcvbn's verdict (for the measurement script and the tests). */
  async evaluate(password: string, owner: PasswordOwner): Promise<ZxcvbnResult> {
    return (await estimator()).check(password, ownerWords(owner));
  }

  /**
   * Throws 400 naming `field` and saying why, when `password` (already
   * length-checked and normalised) scores below the minimum.
   */
  async check(password: string, owner: PasswordOwner, field: string): Promise<void> {
    if (this.minScore === 0) return;
    const result = await this.evaluate(password, owner);
    if (result.score >= this.minScore) return;
    const why = WARNINGS[result.feedback.warning ?? ''] ?? 'is too easy to guess';
    throw badRequest(`${field} ${why}; choose a longer password, for example a few unrelated words`);
  }
}
