/**
 * auth.authorize{token} → Authorization: resumes the token's session on this
 * socket (no new session). Forged, malformed, expired or revoked: 403, as the
 * production Osmium server answers.
 */
import { invalidToken, type Method } from './types.js';
import { authorizationView } from './views.js';

export const authorize: Method<'auth_authorize'> = {
  needsSession: false,
  async handle(request, ctx) {
    const token = request.token ?? '';
    const authorized = await ctx.services.sessionCache.authorize(token, ctx.conn.device);
    // A refusal, or a revocation racing the bind (the gateway then answers this same 403).
    if (!authorized) throw invalidToken();
    return {
      result: authorizationView(token, authorized.user, authorized.session),
      // A resumed token proves nothing about who holds it: the socket has no sign-in proof.
      change: { bind: authorized.session, proof: null },
    };
  },
};
