/**
 * settings.setupTotp{enabled, code?} → Totp{enabled, url?, backup_codes}.
 * - enabled, no code, TOTP off: a new pending secret; `url` is its otpauth:// URL.
 * - enabled, no code, TOTP on: the backup codes, masked, with their used flags.
 * - enabled, code: a right code for the pending secret turns TOTP on and
 *   answers the 10 backup codes, this once (400 wrong code, 409 already on).
 * - not enabled, code: a right TOTP or unused backup code turns TOTP off
 *   (400 otherwise; needs a recent sign-in: 403 `recent sign-in required`).
 */
import { callerOf, originOf, type Method } from './types.js';
import * as v from './validate.js';
import { totpView } from './views.js';

export const setupTotp: Method<'settings_setup_totp'> = {
  needsSession: true,
  peopleOnly: true,
  async handle(request, ctx) {
    const code = v.secondFactorCode(request.code, 'code');
    const state = await ctx.services.accountSecurity.setupTotp(callerOf(ctx), request.enabled === true, code, originOf(ctx));
    return { result: totpView(state), ...(state.proof ? { change: { proof: state.proof } } : {}) };
  },
};
