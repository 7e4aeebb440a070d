/**
 * POST /v1/sessions/introspect on the internal API: `{"token": "…"}` in,
 * whether it is valid now and whose session it is out (docs/events.md,
 * "Introspection"). `active: false` for a forged, malformed, idle-expired or
 * revoked token, or one whose account is gone: nothing else is said of it.
 */
import type { SessionCache } from '../../services/sessionCache.js';
import { ApiError, jsonBody, type ApiListener } from '../apiListener.js';

/** Longest token read (ours are a few hundred bytes). */
const MAX_TOKEN_LENGTH = 4_096;

export function registerIntrospection(api: ApiListener, sessionCache: Pick<SessionCache, 'introspect'>): void {
  api.route('POST', '/v1/sessions/introspect', async (req) => {
    const body = jsonBody(req) as { token?: unknown } | null;
    if (!body || typeof body !== 'object' || typeof body.token !== 'string') throw new ApiError(400, 'expected a JSON body {"token": "<token>"}');
    if (body.token.length === 0 || body.token.length > MAX_TOKEN_LENGTH) return { status: 200, json: { active: false } };
    const found = await sessionCache.introspect(body.token);
    if (!found) return { status: 200, json: { active: false } };
    const { session, user, emailVerified, device } = found;
    return {
      status: 200,
      json: {
        active: true,
        user_id: session.userId,
        session_id: session.sessionId,
        bot: session.bot,
        name: user.name,
        email_verified: emailVerified,
        device: { client_id: device.clientId, device_type: device.deviceType, device_version: device.deviceVersion, app_version: device.appVersion },
      },
    };
  });
}
