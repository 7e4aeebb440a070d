/** Conversions from records to protocol messages. */
import type { BoundSession } from '../domain/session.js';
import type { UserProfile } from '../domain/user.js';
import type { osmium } from '../gen/osmium.js';
import { idToWire, proto } from '../protocol/codec.js';
import type { MethodResult } from './types.js';

/** A types.User (an instance: cheaper to encode than a plain object, see protocol/codec.ts). */
export function userView(user: UserProfile): osmium.client.types.User {
  return new proto.types.User({ id: idToWire(user.id), name: user.name, bot: user.bot });
}

/** The Authorization result of sign-up, sign-in and authorize. */
export function authorizationView(token: string, user: UserProfile, session: BoundSession): MethodResult {
  return { authorization: new proto.auth.Authorization({ token, user: userView(user), session_id: idToWire(session.sessionId) }) };
}
