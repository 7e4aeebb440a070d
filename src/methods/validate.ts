/**
 * Input validation shared by the method handlers. Every check runs before any
 * work and throws 400 with a message naming the field.
 */
import type Long from 'long';
import { canonicalEmail, EMAIL_MAX } from '../domain/email.js';
import { isSnowflake, type Id } from '../domain/ids.js';
import { idFromWire } from '../protocol/codec.js';
import { badRequest } from '../protocol/errorCodes.js';

const NAME_MAX = 64;
/** C0 and C1 control characters (\p{Cc}: U+0000–001F, U+007F–009F) and the line and paragraph separators. */
const CONTROL_RE = /[\p{Cc}\u2028\u2029]/u;

/**
 * An email address in its canonical form (src/domain/email.ts: a plain
 * `local@domain`, ASCII local part, IDNA domain, lowercase); the only form the
 * services ever see.
 */
export function email(value: string | null | undefined, field = 'email'): string {
  const given = (value ?? '').trim();
  if (!given) throw badRequest(`${field} is required`);
  if (given.length > EMAIL_MAX) throw badRequest(`${field} must be at most ${EMAIL_MAX} characters`);
  const canonical = canonicalEmail(given);
  if (canonical === null) {
    throw badRequest(`${field} is not a valid email address: a plain local@domain, the local part of ASCII letters, digits and !#$%&'*+-/=?^_\`{|}~ between dots`);
  }
  return canonical;
}

/**
 * Trims a display name: 1 to 64 characters, at least one visible, no control
 * characters, and nothing invisible that would let one name pass for another
 * (names show to strangers in invite previews): no bidirectional controls
 * (overrides, embeddings, isolates, marks), no zero-width or other
 * default-ignorable characters (U+200B, U+2060, U+FEFF, soft hyphen, Hangul
 * fillers, tag characters, variation selectors...) and no blank Braille
 * pattern. Kept: every emoji sequence (ZWJ sequences, skin tones, flags,
 * keycaps), and the joiners ZWJ / ZWNJ inside words of the scripts that need
 * them (Arabic, Persian, the Indic scripts...).
 */
export function displayName(value: string | null | undefined, field = 'name'): string {
  const trimmed = (value ?? '').normalize('NFC').trim();
  const length = [...trimmed].length;
  if (length === 0 || !/[\p{L}\p{N}\p{P}\p{S}]/u.test(trimmed)) throw badRequest(`${field} is required (1 to ${NAME_MAX} visible characters)`);
  if (length > NAME_MAX) throw badRequest(`${field} must be at most ${NAME_MAX} characters`);
  if (CONTROL_RE.test(trimmed)) throw badRequest(`${field} must not contain control characters`);
  if (hasDisguise(trimmed)) throw badRequest(`${field} must not contain invisible or text-direction characters`);
  return trimmed;
}

let rgiEmoji: RegExp | undefined;
/**
 * True when `segment` is one emoji (including ZWJ sequences). Built on first
 * use: compiling the pattern (every emoji sequence Unicode lists) takes
 * ~20 ms, too much for every start when few names ever need it. Built with
 * the constructor: the `v` flag (Unicode sets) is newer than the TypeScript
 * target.
 */
function isEmoji(segment: string): boolean {
  rgiEmoji ??= new RegExp('^\\p{RGI_Emoji}$', 'v');
  return rgiEmoji.test(segment);
}
const INVISIBLE = /[\p{Default_Ignorable_Code_Point}\u2800]/u;
const JOINER = /[\u200c\u200d]/u;
const VARIATION_SELECTOR = /[\ufe0e\ufe0f]/u;
/** Letters of scripts whose spelling needs ZWJ / ZWNJ inside words. */
const JOINING_SCRIPT_LETTER =
  /^[\p{Script=Arabic}\p{Script=Syriac}\p{Script=Nko}\p{Script=Mongolian}\p{Script=Devanagari}\p{Script=Bengali}\p{Script=Gurmukhi}\p{Script=Gujarati}\p{Script=Oriya}\p{Script=Tamil}\p{Script=Telugu}\p{Script=Kannada}\p{Script=Malayalam}\p{Script=Sinhala}\p{Script=Myanmar}\p{Script=Khmer}]/u;
let graphemes: Intl.Segmenter | undefined;

/** True when `name` holds an invisible or direction-changing character outside the uses above. */
function hasDisguise(name: string): boolean {
  if (!INVISIBLE.test(name)) return false;
  graphemes ??= new Intl.Segmenter('und', { granularity: 'grapheme' });
  for (const { segment, index } of graphemes.segment(name)) {
    if (!INVISIBLE.test(segment) || isEmoji(segment)) continue;
    let at = index;
    for (const char of segment) {
      at += char.length;
      if (!INVISIBLE.test(char)) continue;
      // A joiner works between two letters: never the last character of the name.
      if (JOINER.test(char) && JOINING_SCRIPT_LETTER.test(segment) && at < name.length) continue;
      if (VARIATION_SELECTOR.test(char) && /^\p{Emoji}/u.test(segment)) continue;
      return true;
    }
  }
  return false;
}

/**
 * Fields holding a password: never stored or shown (only a hash of them is),
 * so they are exempt from the control-character rule, which would otherwise
 * lock out an existing password that has one. New passwords are refused
 * control characters by the password policy (checkNewPassword).
 */
const PASSWORD_FIELDS = new Set(['password', 'new_password', 'current_password']);
/** Deeper than any request message of the protocol; a bound on the walk. */
const MAX_DEPTH = 16;

/**
 * Refuses (400, naming the field) a request with a NUL or any other control
 * character (C0, DEL, C1, line and paragraph separators) in any string field,
 * at any depth. The dispatcher runs it on every request before its method, so
 * no such character reaches a log, a database or another client.
 */
export function refuseControlCharacters(message: unknown, path: string, depth = 0): void {
  if (typeof message === 'string') {
    if (CONTROL_RE.test(message)) throw badRequest(`${path} must not contain control characters`);
    return;
  }
  if (message === null || typeof message !== 'object' || ArrayBuffer.isView(message) || depth > MAX_DEPTH) return;
  if (Array.isArray(message)) {
    message.forEach((item, i) => refuseControlCharacters(item, `${path}[${i}]`, depth + 1));
    return;
  }
  for (const [key, value] of Object.entries(message)) {
    if (PASSWORD_FIELDS.has(key)) continue;
    refuseControlCharacters(value, path ? `${path}.${key}` : key, depth + 1);
  }
}

/** A string field with a length bound (counted in UTF-16 units before any work). */
export function boundedString(value: string | null | undefined, field: string, max: number): string {
  const s = value ?? '';
  if (s.length > max) throw badRequest(`${field} must be at most ${max} characters`);
  return s;
}

/**
 * Device fields of core.Initialize (device_type, device_version,
 * app_version) come from real clients as they are: a browser sends its whole
 * navigator.userAgent (70 to 160 characters today, some embedded browsers
 * far more), a Python client its interpreter's version string. So up to
 * DEVICE_FIELD_IN_MAX UTF-16 units are accepted (control characters are
 * still refused, by refuseControlCharacters), and the first
 * DEVICE_FIELD_KEPT are kept, cut at a grapheme boundary: never inside a
 * surrogate pair, a combining sequence or an emoji sequence.
 */
export const DEVICE_FIELD_IN_MAX = 2048;
export const DEVICE_FIELD_KEPT = 256;

export function deviceField(value: string | null | undefined, field: string): string {
  return cutAtGrapheme(boundedString(value, field, DEVICE_FIELD_IN_MAX).trim(), DEVICE_FIELD_KEPT);
}

/** The longest prefix of `text` of at most `maxUnits` UTF-16 units that ends on a grapheme boundary. */
export function cutAtGrapheme(text: string, maxUnits: number): string {
  if (text.length <= maxUnits) return text;
  graphemes ??= new Intl.Segmenter('und', { granularity: 'grapheme' });
  let end = 0;
  for (const { segment, index } of graphemes.segment(text)) {
    if (index + segment.length > maxUnits) break;
    end = index + segment.length;
  }
  return text.slice(0, end).trimEnd();
}

/** A TOTP code is 6 digits, a backup code 12 symbols (dashes and spaces forgiven): anything longer is not one. */
const SECOND_FACTOR_MAX_CHARS = 32;

/** An optional TOTP or backup code (sign-in `totp`, setupTotp `code`): trimmed, null when absent or blank. */
export function secondFactorCode(value: string | null | undefined, field: string): string | null {
  return boundedString(value, field, SECOND_FACTOR_MAX_CHARS).trim() || null;
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
