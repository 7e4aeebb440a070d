/** auth.getSessions{} → Sessions{sessions, current}: the caller's live sessions, newest activity first. */
import { idToWire } from '../protocol/codec.js';
import type { ListedSession } from '../services/sessions.js';
import { sessionOf, type Method } from './types.js';

export const getSessions: Method<'auth_get_sessions'> = {
  needsSession: true,
  async handle(_request, ctx) {
    const caller = sessionOf(ctx);
    const sessions = await ctx.services.sessions.list(caller);
    return { result: { sessions: { sessions: sessions.map(sessionView), current: idToWire(caller.sessionId) } } };
  },
};

function sessionView(r: ListedSession) {
  return {
    id: idToWire(r.id),
    client_id: r.clientId,
    device_type: r.deviceType,
    device_version: r.deviceVersion,
    app_name: r.appName,
    app_version: r.appVersion,
    last_active: idToWire(r.lastActive),
    ...(r.country !== undefined ? { country: r.country } : {}),
    ...(r.region !== undefined ? { region: r.region } : {}),
  };
}
