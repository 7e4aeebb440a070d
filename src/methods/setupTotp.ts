/**
 * settings.setupTotp{enabled, code?} → Totp{enabled, url?, backup_codes}.
 * - enabled, no code, TOTP off: a new pending secret; `url` is its otpauth:// URL.
 * - enabled, no code, TOTP on: the backup codes, masked, with their used flags.
 * - enabled, code: a right code for the pending secret turns TOTP on and
 *   answers the 10 backup codes, this once (400 wrong code, 409 already on).
 * - not enabled, code: a right TOTP or unused backup code turns TOTP off
 *   (400 otherwise; needs a recent sign-in: 403 `recent sign-in required`).
 */
import { sessionOf, originOf, type Method } from './types.js';
import * as v from './validate.js';
import { totpView } from './views.js';

/** Longer than any TOTP or backup code with separators. */
const CODE_MAX_CHARS = 32;

export const setupTotp: Method<'settings_setup_totp'> = {
  needsSession: true,
  peopleOnly: true,
  async handle(request, ctx) {
    const given = request.code !== undefined && request.code !== null;
    const code = given ? v.boundedString(request.code, 'code', CODE_MAX_CHARS).trim() : '';
    const state = await ctx.services.accountSecurity.setupTotp(sessionOf(ctx), request.enabled === true, code || null, ctx.conn.ip, originOf(ctx));
    return totpView(state);
  },
};
