/**
 * Invite codes: 10 characters of [A-Za-z0-9_-] (64 symbols, 6 bits each: 60
 * bits) from the operating system's CSPRNG. 256 is a multiple of 64, so
 * taking the low 6 bits of each random byte is unbiased.
 */
import { randomBytes } from 'node:crypto';

export const INVITE_CODE_ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-';
export const INVITE_CODE_LENGTH = 10;
const INVITE_CODE_RE = /^[A-Za-z0-9_-]{10}$/;

/** A fresh, unguessable invite code. */
export function generateInviteCode(): string {
  const bytes = randomBytes(INVITE_CODE_LENGTH);
  let code = '';
  for (const byte of bytes) code += INVITE_CODE_ALPHABET[byte & 63];
  return code;
}

/** True for a string that has the shape of an invite code (checked before any database work). */
export function isInviteCode(value: string): boolean {
  return value.length === INVITE_CODE_LENGTH && INVITE_CODE_RE.test(value);
}
