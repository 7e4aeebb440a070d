/**
 * settings.changeEmail{new_email} → (): mails a code to the new address and
 * a notice to the old one. The change applies when the code is confirmed with
 * auth.verifyEmail{email: new_email, code}. Needs a recent sign-in (403
 * `recent sign-in required`); 409 when another account has the address.
 */
import { callerOf, DONE, originOf, type Method } from './types.js';
import * as v from './validate.js';

export const changeEmail: Method<'settings_change_email'> = {
  needsSession: true,
  peopleOnly: true,
  async handle(request, ctx) {
    const newEmail = v.email(request.new_email, 'new_email');
    await ctx.services.accountSecurity.requestEmailChange(callerOf(ctx), newEmail, originOf(ctx));
    return DONE;
  },
};
