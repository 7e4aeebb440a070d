/**
 * auth.signIn{email, password} → Authorization, a new session each time.
 * Unknown email and wrong password answer alike (401, same message, one bcrypt
 * comparison either way). For an account with TOTP on, and only once the
 * password was right: no `totp` → 401 `totp required`, a wrong one → 401
 * `invalid totp`; `totp` takes a TOTP code or an unused backup code.
 */
import { ErrorCode, RpcError } from '../protocol/errorCodes.js';
import { PASSWORD_MAX_CHARS } from '../services/passwords.js';
import { originOf, type Method } from './types.js';
import * as v from './validate.js';
import { authorizationView } from './views.js';

export const signIn: Method<'auth_sign_in'> = {
  needsSession: false,
  peopleOnly: true,
  async handle(request, ctx) {
    const email = v.email(request.email);
    const password = v.boundedString(request.password, 'password', PASSWORD_MAX_CHARS * 4);
    if (!password) throw badPassword();
    const totp = v.secondFactorCode(request.totp, 'totp');
    const signedIn = await ctx.services.accounts.signIn(email, password, totp, originOf(ctx));
    const session = { userId: signedIn.user.id, sessionId: signedIn.session.id, bot: false };
    return { result: authorizationView(signedIn.token, signedIn.user, session), change: { bind: session, proof: signedIn.proof } };
  },
};

const badPassword = () => new RpcError(ErrorCode.BAD_REQUEST, 'password is required');
