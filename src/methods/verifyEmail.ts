/**
 * auth.verifyEmail{email, code} → (): marks the address verified when the
 * code mailed to it is right. Works without signing in. A wrong, expired,
 * used or dead code answers 400 with one message for all (no account oracle).
 * The code of an email change (settings.changeEmail) is confirmed here too,
 * with the new address: it becomes the account's verified address (409 when
 * another account took it meanwhile).
 */
import { DONE, originOf, type Method } from './types.js';
import * as v from './validate.js';

export const verifyEmail: Method<'auth_verify_email'> = {
  needsSession: false,
  peopleOnly: true,
  async handle(request, ctx) {
    const email = v.email(request.email);
    const code = v.emailCode(request.code);
    await ctx.services.accountEmail.verifyEmail(email, code, originOf(ctx), ctx.conn.session);
    return DONE;
  },
};
