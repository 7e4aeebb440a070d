/**
 * auth.authorize{token} → Authorization: resumes the token's session on this
 * socket (no new session). Forged, malformed, expired or revoked: 403, as the
 * production Osmium server answers.
 */
import { idToWire } from '../protocol/codec.js';
import { ErrorCode, RpcError } from '../protocol/errorCodes.js';
import type { Method } from './types.js';
import { userView } from './views.js';

export const INVALID_TOKEN = 'invalid, expired or revoked token';

export const authorize: Method<'auth_authorize'> = {
  needsSession: false,
  async handle(request, ctx) {
    const token = request.token ?? '';
    const resumed = await ctx.services.sessions.resume(token);
    if (!resumed) throw new RpcError(ErrorCode.FORBIDDEN, INVALID_TOKEN);
    const user = await ctx.services.users.profile(resumed.userId);
    if (!user) throw new RpcError(ErrorCode.FORBIDDEN, INVALID_TOKEN);
    ctx.conn.bindSession(resumed);
    if (ctx.conn.device.clientId || ctx.conn.device.deviceType) {
      await ctx.services.sessions.updateDevice(resumed.sessionId, ctx.conn.device);
    }
    return { authorization: { token, user: userView(user), session_id: idToWire(resumed.sessionId) } };
  },
};
