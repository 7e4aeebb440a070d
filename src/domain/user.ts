/** A user account. */
import type { Id } from './ids.js';

export interface UserRecord {
  id: Id;
  name: string;
  email: string | null;
  emailVerified: boolean;
  /** bcrypt hash; null for a guest (no password). */
  passwordHash: string | null;
  createdAt: Date;
}

/** What anyone may see of a user (types.User). */
export type UserProfile = Pick<UserRecord, 'id' | 'name'>;
