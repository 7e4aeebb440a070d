/**
 * auth.resendEmailVerification{email?} → ().
 * - With an email: works signed out, answers () whether or not an account has
 *   the address, and mails a new code only to an unverified account.
 * - Without: the signed-in caller's own address (401 signed out, 400 for an
 *   account without email, 409 when already verified).
 * At most 5 verification mails per address per hour, account or not (429).
 */
import { ErrorCode, RpcError } from '../protocol/errorCodes.js';
import { DONE, originOf, type Method } from './types.js';
import * as v from './validate.js';

export const resendEmailVerification: Method<'auth_resend_email_verification'> = {
  needsSession: false,
  peopleOnly: true,
  async handle(request, ctx) {
    const given = request.email !== undefined && request.email !== null && request.email.trim() !== '';
    if (given) {
      const email = v.email(request.email);
      await ctx.services.accountEmail.resendToAddress(email, originOf(ctx));
      return DONE;
    }
    const session = ctx.conn.session;
    if (!session) throw new RpcError(ErrorCode.UNAUTHENTICATED, 'auth_resend_email_verification needs an email or a signed-in session');
    await ctx.services.accountEmail.resendToUser(session.userId);
    return DONE;
  },
};
