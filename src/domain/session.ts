/** A session as a connection knows it once signed in. */
import type { DeviceInfo, Geo } from './device.js';
import type { Id } from './ids.js';

/** The session a socket is bound to (after sign-up, sign-in or authorize). */
export interface BoundSession {
  userId: Id;
  sessionId: Id;
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
