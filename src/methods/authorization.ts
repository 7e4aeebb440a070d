/** Builds the Authorization result shared by signUp and signIn, and binds the session. */
import { idToWire } from '../protocol/codec.js';
import type { SignedIn } from '../services/accounts.js';
import type { MethodContext, MethodResult } from './types.js';
import { userView } from './views.js';

export function authorizationResult(ctx: MethodContext, signedIn: SignedIn): MethodResult {
  ctx.conn.bindSession({ userId: signedIn.user.id, sessionId: signedIn.session.id });
  return {
    authorization: { token: signedIn.token, user: userView(signedIn.user), session_id: idToWire(signedIn.session.id) },
  };
}
