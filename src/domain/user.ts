/** A user account. */
import type { Id } from './ids.js';

export interface UserRecord {
  id: Id;
  name: string;
  email: string | null;
  emailVerified: boolean;
  /** bcrypt hash; null for a guest or a bot (no password). */
  passwordHash: string | null;
  /** A bot account (types.User.bot): signs in with a token only. */
  bot: boolean;
  createdAt: Date;
  /** When deletion was requested (grace period running); null otherwise. */
  deleteRequestedAt: Date | null;
  /** When the account was purged (a tombstone: no email, password or name); null while it lives. */
  deletedAt: Date | null;
}

/** What anyone may see of a user (types.User). */
export type UserProfile = Pick<UserRecord, 'id' | 'name' | 'bot'>;
