/**
 * auth.resetPassword{email, confirm?} → ().
 * - Without confirm: mails a reset code if an account has the address. The
 *   answer, and about its time, are the same either way. At most 5 reset
 *   mails per address per hour (429, account or not).
 * - With confirm{code, new_password}: checks the password length, then the
 *   code, then the strength policy (a refused password leaves the code
 *   usable); sets the password, marks the address verified and revokes every
 *   session of the account (live sockets get session_deleted, then 4001).
 */
import { checkNewPassword, PASSWORD_MAX_CHARS } from '../services/passwords.js';
import { DONE, originOf, type Method } from './types.js';
import * as v from './validate.js';

export const resetPassword: Method<'auth_reset_password'> = {
  needsSession: false,
  peopleOnly: true,
  async handle(request, ctx) {
    const email = v.email(request.email);
    const confirm = request.confirm;
    if (!confirm) {
      await ctx.services.accountEmail.requestReset(email, originOf(ctx));
      return DONE;
    }
    const code = v.emailCode(confirm.code, 'confirm.code');
    const newPassword = checkNewPassword(
      v.boundedString(confirm.new_password, 'confirm.new_password', PASSWORD_MAX_CHARS * 4),
      'confirm.new_password',
    );
    await ctx.services.accountEmail.confirmReset(email, code, newPassword, originOf(ctx));
    return DONE;
  },
};
