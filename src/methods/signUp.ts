/**
 * auth.signUp{email?, password?, name} → Authorization.
 * With an email a password is required; with neither, a guest account.
 */
import { badRequest } from '../protocol/errorCodes.js';
import { checkNewPassword, PASSWORD_MAX_CHARS } from '../services/passwords.js';
import { originOf, type Method } from './types.js';
import * as v from './validate.js';
import { authorizationView } from './views.js';

export const signUp: Method<'auth_sign_up'> = {
  needsSession: false,
  peopleOnly: true,
  async handle(request, ctx) {
    const name = v.displayName(v.boundedString(request.name, 'name', 1024));
    const hasEmail = request.email !== undefined && request.email !== null && request.email !== '';
    const hasPassword = request.password !== undefined && request.password !== null && request.password !== '';
    if (hasPassword && !hasEmail) throw badRequest('email is required with a password');
    if (hasEmail && !hasPassword) throw badRequest('password is required with an email');
    const email = hasEmail ? v.email(request.email) : null;
    const password = hasPassword
      ? checkNewPassword(v.boundedString(request.password, 'password', PASSWORD_MAX_CHARS * 4), 'password')
      : null;
    const signedIn = await ctx.services.accounts.signUp({ name, email, password }, originOf(ctx));
    const session = { userId: signedIn.user.id, sessionId: signedIn.session.id, bot: false };
    return { result: authorizationView(signedIn.token, signedIn.user, session), change: { bind: session, proof: signedIn.proof } };
  },
};
