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
}

/** What anyone may see of a user (types.User). */
export type UserProfile = Pick<UserRecord, 'id' | 'name' | 'bot'>;
