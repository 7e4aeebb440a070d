/**
 * Input validation shared by the method handlers. Every check runs before any
 * work and throws 400 with a message naming the field.
 */
import type Long from 'long';
import { isSnowflake, type Id } from '../domain/ids.js';
import { idFromWire } from '../protocol/codec.js';
import { badRequest } from '../protocol/errorCodes.js';

const EMAIL_MAX = 254;
const NAME_MAX = 64;

// Deliberately simple (RFC 5322 is far wider): one @, no spaces, a dot in the domain.
const EMAIL_RE = /^[^\s@]+@[^\s@.]+(\.[^\s@.]+)+$/u;
// eslint-disable-next-line no-control-regex
const CONTROL_RE = /[\u0000-\u001f\u007f-\u009f\u2028\u2029]/u;

/** Trims and checks an email address; returns it as given (case kept, compared case-insensitively). */
export function email(value: string | null | undefined, field = 'email'): string {
  const trimmed = (value ?? '').trim();
  if (!trimmed) throw badRequest(`${field} is required`);
  if (trimmed.length > EMAIL_MAX) throw badRequest(`${field} must be at most ${EMAIL_MAX} characters`);
  if (!EMAIL_RE.test(trimmed) || CONTROL_RE.test(trimmed)) throw badRequest(`${field} is not a valid email address`);
  return trimmed;
}

/** Trims a display name: 1 to 64 characters, at least one visible, no control characters. */
export function displayName(value: string | null | undefined, field = 'name'): string {
  const trimmed = (value ?? '').normalize('NFC').trim();
  const length = [...trimmed].length;
  if (length === 0 || !/[\p{L}\p{N}\p{P}\p{S}]/u.test(trimmed)) throw badRequest(`${field} is required (1 to ${NAME_MAX} visible characters)`);
  if (length > NAME_MAX) throw badRequest(`${field} must be at most ${NAME_MAX} characters`);
  if (CONTROL_RE.test(trimmed)) throw badRequest(`${field} must not contain control characters`);
  return trimmed;
}

/** A string field with a length bound (counted in UTF-16 units before any work). */
export function boundedString(value: string | null | undefined, field: string, max: number): string {
  const s = value ?? '';
  if (s.length > max) throw badRequest(`${field} must be at most ${max} characters`);
  return s;
}

/** A fixed64 id that must be a snowflake. */
export function snowflake(value: Long | number | null | undefined, field: string): Id {
  const id = idFromWire(value);
  if (!isSnowflake(id)) throw badRequest(`${field} is not a valid id`);
  return id;
}

/** A repeated field with a size bound. */
export function list<T>(values: T[] | null | undefined, field: string, min: number, max: number): T[] {
  const items = values ?? [];
  if (items.length < min) throw badRequest(min === 1 ? `${field} must not be empty` : `${field} needs at least ${min} items`);
  if (items.length > max) throw badRequest(`${field} takes at most ${max} items`);
  return items;
}

/** A code from a verification or reset mail: 6 digits (spaces around are forgiven). */
export function emailCode(value: string | null | undefined, field = 'code'): string {
  const trimmed = boundedString(value, field, 64).trim();
  if (!trimmed) throw badRequest(`${field} is required`);
  if (!/^[0-9]{6}$/.test(trimmed)) throw badRequest(`${field} must be the 6 digits from the mail`);
  return trimmed;
}
