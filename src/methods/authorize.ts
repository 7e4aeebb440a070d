/**
 * auth.authorize{token} → Authorization: resumes the token's session on this
 * socket (no new session). Forged, malformed, expired or revoked: 403, as the
 * production Osmium server answers.
 */
import { ErrorCode, RpcError } from '../protocol/errorCodes.js';
import type { Method } from './types.js';
import { authorizationView } from './views.js';

const INVALID_TOKEN = 'invalid, expired or revoked token';

export const authorize: Method<'auth_authorize'> = {
  needsSession: false,
  async handle(request, ctx) {
    const token = request.token ?? '';
    const authorized = await ctx.services.sessions.authorize(token, ctx.conn.device);
    // A revocation that raced the check wins: the session is not bound.
    if (!authorized || !ctx.conn.bindSession(authorized.session)) throw new RpcError(ErrorCode.FORBIDDEN, INVALID_TOKEN);
    return authorizationView(token, authorized.user, authorized.session);
  },
};
