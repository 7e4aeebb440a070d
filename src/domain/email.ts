/**
 * The one canonical form of an email address, computed once where a request
 * enters (the method's validation) and used for everything after it: the
 * rate-limit keys, the account lookup, the stored address and the address
 * mailed. Two spellings of one mailbox get one form; anything that could be
 * read two ways is refused.
 *
 * Accepted: `local@domain` and nothing else (no display name, no `<...>`, no
 * comments, no quoted local part, no list).
 * - local part: an RFC 5321 dot-string of ASCII: letters, digits and
 *   ! # $ % & ' * + - / = ? ^ _ ` { | } ~, in dot-separated runs (no leading,
 *   trailing or double dot), at most 64 characters. Non-ASCII local parts
 *   (internationalised mailboxes) are refused: they need SMTPUTF8 and are
 *   where Unicode lookalikes (Cyrillic `а`, fullwidth `ａ`, decomposed `é`)
 *   would make one address look like another.
 * - domain: converted by `url.domainToASCII` (IDNA / UTS #46: fullwidth and
 *   case are folded, `münchen.de` becomes `xn--mnchen-3ya.de`), then it must
 *   be at least two LDH labels (letters, digits, hyphens; 1-63 characters,
 *   no hyphen at either end), the last not all digits (no IP literals).
 * - the form is lowercase (mailbox names are compared case-insensitively, as
 *   every account lookup here always did) and at most 254 characters.
 */
import { domainToASCII } from 'node:url';

export const EMAIL_MAX = 254;
const LOCAL_MAX = 64;

const ATOM = "[a-z0-9!#$%&'*+/=?^_`{|}~-]+";
// Case-insensitive, and tested BEFORE lowercasing: toLowerCase maps some
// non-ASCII letters to ASCII ones (KELVIN SIGN to `k`), which would fold a
// lookalike into someone else's address.
const LOCAL_RE = new RegExp(`^${ATOM}(?:\\.${ATOM})*$`, 'i');
const LABEL_RE = /^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/;

/** The canonical form of `input`, or null when it is not a plain address by the rule above. */
export function canonicalEmail(input: string): string | null {
  const trimmed = input.trim();
  if (trimmed.length > EMAIL_MAX * 4) return null; // bound the work before any conversion
  const at = trimmed.indexOf('@');
  if (at <= 0 || at !== trimmed.lastIndexOf('@')) return null;
  const givenLocal = trimmed.slice(0, at);
  if (givenLocal.length > LOCAL_MAX || !LOCAL_RE.test(givenLocal)) return null;
  const local = givenLocal.toLowerCase();
  const domain = canonicalDomain(trimmed.slice(at + 1));
  if (domain === null) return null;
  const email = `${local}@${domain}`;
  return email.length <= EMAIL_MAX ? email : null;
}

function canonicalDomain(input: string): string | null {
  if (!input) return null;
  const ascii = domainToASCII(input); // '' when IDNA refuses it
  if (!ascii || ascii.length > 253) return null;
  const labels = ascii.split('.');
  if (labels.length < 2 || !labels.every((label) => LABEL_RE.test(label))) return null;
  if (/^[0-9]+$/.test(labels[labels.length - 1]!)) return null;
  return ascii;
}

