/**
 * auth.signIn{email, password} → Authorization, a new session each time.
 * Unknown email and wrong password answer alike (401, same message, one bcrypt
 * comparison either way). `totp` is ignored: TOTP accounts are out of scope.
 */
import { ErrorCode, RpcError } from '../protocol/errorCodes.js';
import { PASSWORD_MAX_CHARS } from '../services/passwords.js';
import type { Method } from './types.js';
import * as v from './validate.js';
import { authorizationView } from './views.js';

export const signIn: Method<'auth_sign_in'> = {
  needsSession: false,
  async handle(request, ctx) {
    const email = v.email(request.email);
    const password = v.boundedString(request.password, 'password', PASSWORD_MAX_CHARS * 4);
    if (!password) throw badPassword();
    const signedIn = await ctx.services.accounts.signIn(email, password, ctx.conn.device, ctx.conn.geo, ctx.conn.ip);
    const session = { userId: signedIn.user.id, sessionId: signedIn.session.id };
    ctx.conn.bindSession(session);
    return authorizationView(signedIn.token, signedIn.user, session);
  },
};

const badPassword = () => new RpcError(ErrorCode.BAD_REQUEST, 'password is required');
