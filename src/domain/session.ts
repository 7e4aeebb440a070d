/** A session as a connection knows it once signed in. */
import type { DeviceInfo, Geo } from './device.js';
import type { Id } from './ids.js';

/** The session a socket is bound to (after sign-up, sign-in or authorize). */
export interface BoundSession {
  userId: Id;
  sessionId: Id;
  /** The session is a bot's (some methods are for people only). */
  bot: boolean;
}

/** A session as Postgres records it. */
export interface SessionRecord extends DeviceInfo, Geo {
  id: Id;
  userId: Id;
  createdAt: Date;
  /** Unix ms. */
  lastActive: number;
  revokedAt: Date | null;
}

/**
 * What a socket proved when a session was signed in on it: the password at
 * `at` and, on a two-factor account, the second factor. It lives with the
 * socket only, never with the session or its token: a copy of the token
 * resumed elsewhere (auth.authorize) carries none, so it cannot pass the
 * recent sign-in rule of the sensitive settings (services/recentSignIn.ts).
 */
export interface SignInProof {
  /** The session signed in on the socket; a proof counts for that session only. */
  sessionId: Id;
  /** Unix ms. */
  at: number;
  /** The second factor was given too (a TOTP sign-in, or two-factor turned on from this socket). */
  secondFactor: boolean;
}

/** Who calls a method on a signed-in socket: the session, and what that socket proved (null: nothing, e.g. resumed by token). */
export interface Caller extends BoundSession {
  proof: SignInProof | null;
}
