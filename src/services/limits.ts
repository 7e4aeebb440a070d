/**
 * The catalogue of abuse limits: every limit the gateway applies, what it is
 * keyed by, how it fails while Redis is down, and what a refusal says. Limits
 * are applied in the services (never in the method handlers), each with the
 * message beside it here. Points and windows are settings
 * (`LIMIT_<NAME>=<points>/<seconds>`, defaults in config.ts); README.md
 * ("Rate limits and abuse") gives the sources of the defaults:
 *  - NIST SP 800-63B §5.2.2: limit consecutive failed attempts on one account
 *    (to no more than 100), and prefer delays that grow over hard lockouts.
 *  - OWASP Authentication Cheat Sheet: throttle per account and per source,
 *    with growing delays, without letting an attacker lock the owner out for long.
 *  - OWASP Forgot Password Cheat Sheet: rate-limit reset requests per address
 *    and per source; same answer whether or not the account exists.
 */
import { parseLimit, type Config, type LimitName } from '../config.js';
import type { LimitSpec, RateLimit, RateLimitBackend } from './rateLimit.js';

/**
 * How long a network an account signed in from counts as the owner's
 * (see SIGNIN_FAIL_EMAIL and RESET_MAIL_EMAIL below).
 */
export const KNOWN_SOURCE_DAYS = 90;

type CatalogueEntry = Omit<LimitSpec, 'points' | 'durationSeconds'>;

const retry = (what: string) => (seconds: number) => `${what}; retry after ${seconds} seconds`;

const LIMITS = {
  /**
   * Key: `<email>|<ip>`; reserved before the password is checked. Then a block
   * of 60 s doubling per block up to 1 h; a success from that IP clears it.
   */
  SIGNIN_FAIL_EMAIL_IP: {
    whenStoreDown: 'closed', blockSeconds: 60, maxBlockSeconds: 3600, onSuccess: 'clear', refusal: retry('too many failed sign-ins'),
  },
  /**
   * Key: email; reserved before the password is checked, given back on
   * success. Then a fixed 15 min block (short, so a stranger cannot lock the
   * owner out for long). Not applied from an IP the account signed in from
   * before (the owner's own network is not locked out by a stranger's guesses).
   */
  SIGNIN_FAIL_EMAIL: {
    whenStoreDown: 'closed', blockSeconds: 900, maxBlockSeconds: 900, onSuccess: 'refund', refusal: retry('too many failed sign-ins'),
  },
  /** Key: IP; every sign-in attempt, success or not: bounds the bcrypt work one address can cause. */
  SIGNIN_IP: { whenStoreDown: 'closed', onSuccess: 'keep', refusal: retry('too many sign-ins from this address') },
  /** Key: IP. */
  SIGNUP_IP: { whenStoreDown: 'local', refusal: retry('too many sign-ups from this address') },
  /** Key: IP; verification and reset mails alike. */
  MAIL_IP: { whenStoreDown: 'local', refusal: retry('too many mail requests from this address') },
  /**
   * Key: the address mailed, whether or not an account has it (a 429 reveals
   * nothing). Reset mails have a second bucket per (address, IP) for IPs the
   * account signed in from before, so a stranger spending the address's
   * share does not lock the owner out of resetting.
   */
  VERIFY_MAIL_EMAIL: { whenStoreDown: 'local', refusal: retry('too many verification mails to this address') },
  RESET_MAIL_EMAIL: { whenStoreDown: 'local', refusal: retry('too many password reset mails to this address') },
  /** Key: IP; email code checks (verify, reset confirm), reserved before the code is compared; on top of 5 tries per code. */
  CODE_CHECK_IP: { whenStoreDown: 'closed', refusal: retry('too many code checks from this address') },
  /** Key: IP / user id (enumeration of invite codes). Cheap reads: open while Redis is down. */
  INVITE_LOOKUP_IP: { whenStoreDown: 'open', refusal: retry('too many invite lookups') },
  INVITE_LOOKUP_USER: { whenStoreDown: 'open', refusal: retry('too many invite lookups') },
  /** Key: IP / user id. */
  INVITE_USE_IP: { whenStoreDown: 'local', refusal: retry('too many invite uses') },
  INVITE_USE_USER: { whenStoreDown: 'local', refusal: retry('too many invite uses') },
  /**
   * Key: user id / IP. Every TOTP or backup code check (sign-in, turning TOTP
   * on or off) is reserved BEFORE the code is compared, so concurrent guesses
   * never get more than the allowance evaluated; a right code clears the
   * account's count (the owner got in) and gives the address's point back.
   * Closed while Redis is down: never unlimited guessing of a 6-digit code.
   */
  TOTP_GUESS_USER: { whenStoreDown: 'closed', onSuccess: 'clear', refusal: retry('too many two-factor code attempts') },
  TOTP_GUESS_IP: { whenStoreDown: 'closed', onSuccess: 'refund', refusal: retry('too many two-factor code attempts from this address') },
  /**
   * settings.changePassword's current password, reserved before bcrypt
   * compares; a right password clears it. Key: session id, always (a thief's
   * copied token spends its own session's share); and user id, only from a
   * socket that did not sign in itself (resumed a token), so the owner
   * proving the password on a socket where they signed in is never locked
   * out by a thief's guesses.
   */
  PASSWORD_CHECK_SESSION: { whenStoreDown: 'closed', onSuccess: 'clear', refusal: retry('too many wrong current passwords') },
  PASSWORD_CHECK_USER: { whenStoreDown: 'closed', onSuccess: 'clear', refusal: retry('too many wrong current passwords from sessions resumed by token; sign in again') },
} as const satisfies Record<LimitName, CatalogueEntry>;

export type Limits = Record<LimitName, RateLimit>;

/** Every limit of the catalogue, with the points and windows of the configuration. */
export function defineLimits(backend: RateLimitBackend, config: Config): Limits {
  const out = {} as Limits;
  for (const [name, entry] of Object.entries(LIMITS) as Array<[LimitName, CatalogueEntry]>) {
    const value = parseLimit(config[`LIMIT_${name}`])!; // validated by loadConfig
    out[name] = backend.define(name.toLowerCase(), { ...value, ...entry });
  }
  return out;
}
