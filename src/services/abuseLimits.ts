/**
 * The catalogue of abuse limits, shared by every instance through Redis (see
 * rateLimits.ts). Each is configurable as `LIMIT_<NAME>=<points>/<seconds>`;
 * defaults and their sources are in README.md ("Rate limits and abuse").
 *
 * Sources for the defaults:
 *  - NIST SP 800-63B §5.2.2: limit consecutive failed attempts on one account
 *    (to no more than 100), and prefer delays that grow over hard lockouts.
 *  - OWASP Authentication Cheat Sheet: throttle per account and per source,
 *    with growing delays, without letting an attacker lock the owner out for long.
 *  - OWASP Forgot Password Cheat Sheet: rate-limit reset requests per address
 *    and per source; same answer whether or not the account exists.
 */
import type { Config } from '../config.js';
import type { LimitSpec, RateLimit, RateLimits } from './rateLimits.js';

/** Name → default `points/seconds`, how it fails while Redis is down, and extras. */
export const ABUSE_LIMITS = {
  /** Failed sign-ins per (email, IP); then a block of 60 s doubling per block up to 1 h. */
  SIGNIN_FAIL_EMAIL_IP: { default: '5/900', whenStoreDown: 'closed', blockSeconds: 60, maxBlockSeconds: 3600 },
  /** Failed sign-ins per email from any IP; then a fixed 15 min block (short, so a stranger cannot lock the owner out for long). */
  SIGNIN_FAIL_EMAIL: { default: '30/3600', whenStoreDown: 'closed', blockSeconds: 900, maxBlockSeconds: 900 },
  /** Sign-ups per IP. */
  SIGNUP_IP: { default: '10/3600', whenStoreDown: 'local' },
  /** Verification and reset mails requested per IP (on top of 5 per address per hour). */
  MAIL_IP: { default: '20/3600', whenStoreDown: 'local' },
  /** Email code checks (verify, reset confirm) per IP (on top of 5 tries per code). */
  CODE_CHECK_IP: { default: '30/900', whenStoreDown: 'closed' },
  /** Invite lookups per IP and per signed-in user (enumeration). */
  INVITE_LOOKUP_IP: { default: '60/60', whenStoreDown: 'open' },
  INVITE_LOOKUP_USER: { default: '60/60', whenStoreDown: 'open' },
  /** Invite uses per IP and per user. */
  INVITE_USE_IP: { default: '30/60', whenStoreDown: 'local' },
  INVITE_USE_USER: { default: '10/60', whenStoreDown: 'local' },
} as const satisfies Record<string, { default: string } & Pick<LimitSpec, 'whenStoreDown' | 'blockSeconds' | 'maxBlockSeconds'>>;

export type AbuseLimitName = keyof typeof ABUSE_LIMITS;

/** Parses `points/seconds`. */
export function parseLimit(value: string): { points: number; durationSeconds: number } | null {
  const match = /^(\d{1,9})\/(\d{1,9})$/.exec(value.trim());
  if (!match) return null;
  const points = Number(match[1]);
  const durationSeconds = Number(match[2]);
  return points >= 1 && durationSeconds >= 1 ? { points, durationSeconds } : null;
}

export type AbuseLimits = Record<AbuseLimitName, RateLimit>;

/** Defines every abuse limit from the configuration. */
export function defineAbuseLimits(limits: RateLimits, config: Config): AbuseLimits {
  const out = {} as AbuseLimits;
  for (const [name, entry] of Object.entries(ABUSE_LIMITS) as Array<[AbuseLimitName, (typeof ABUSE_LIMITS)[AbuseLimitName]]>) {
    const { default: _default, ...rest } = entry;
    const spec = parseLimit(config[`LIMIT_${name}`])!;
    out[name] = limits.define(name.toLowerCase(), { ...spec, ...rest });
  }
  return out;
}
