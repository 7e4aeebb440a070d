/** Conversions from records to protocol messages. */
import type { BoundSession } from '../domain/session.js';
import type { UserProfile } from '../domain/user.js';
import type { osmium } from '../gen/osmium.js';
import { idToWire } from '../protocol/codec.js';
import type { MethodResult } from './types.js';

export function userView(user: UserProfile): osmium.client.types.User.$Properties {
  return { id: idToWire(user.id), name: user.name, bot: user.bot };
}

/** The Authorization result of sign-up, sign-in and authorize. */
export function authorizationView(token: string, user: UserProfile, session: BoundSession): MethodResult {
  return { authorization: { token, user: userView(user), session_id: idToWire(session.sessionId) } };
}
