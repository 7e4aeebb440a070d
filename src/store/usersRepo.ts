/** Postgres repository of users. */
import type { Id } from '../domain/ids.js';
import type { UserProfile, UserRecord } from '../domain/user.js';
import type { Pool, PoolClient } from './postgres.js';

interface UserRow {
  id: string;
  name: string;
  email: string | null;
  email_verified: boolean;
  password_hash: string | null;
  created_at: Date;
}

const toUser = (row: UserRow): UserRecord => ({
  id: row.id,
  name: row.name,
  email: row.email,
  emailVerified: row.email_verified,
  passwordHash: row.password_hash,
  createdAt: row.created_at,
});

/** Thrown by insert when the email is already taken (unique index, so races too). */
export class EmailTakenError extends Error {}

/** How long a user's public profile (id, name) is served from memory. Names only change through the admin path. */
const PROFILE_CACHE_MS = 60_000;
const PROFILE_CACHE_MAX = 50_000;

export class UsersRepo {
  /** Public profiles for Authorize, so a reconnect storm does not query Postgres per token. */
  private readonly profiles = new Map<Id, { name: string; until: number }>();

  constructor(private readonly pool: Pool) {}

  /** The user's public profile (id and name), cached for a minute; null when the user does not exist. */
  async profile(id: Id): Promise<UserProfile | null> {
    const now = Date.now();
    const cached = this.profiles.get(id);
    if (cached && cached.until > now) return { id, name: cached.name };
    const user = await this.byId(id);
    if (!user) return null;
    if (this.profiles.size >= PROFILE_CACHE_MAX) this.profiles.delete(this.profiles.keys().next().value!);
    this.profiles.set(id, { name: user.name, until: now + PROFILE_CACHE_MS });
    return { id, name: user.name };
  }

  async insert(
    user: { id: Id; name: string; email: string | null; passwordHash: string | null },
    client: Pool | PoolClient = this.pool,
  ): Promise<UserRecord> {
    try {
      const { rows } = await client.query<UserRow>(
        `INSERT INTO users (id, name, email, password_hash) VALUES ($1, $2, $3, $4) RETURNING *`,
        [user.id, user.name, user.email, user.passwordHash],
      );
      return toUser(rows[0]!);
    } catch (err) {
      if ((err as { code?: string }).code === '23505') throw new EmailTakenError();
      throw err;
    }
  }

  async markEmailVerified(userId: Id, client: Pool | PoolClient = this.pool): Promise<void> {
    await client.query(`UPDATE users SET email_verified = true WHERE id = $1`, [userId]);
  }

  /** A password reset: the new hash, and the address proven by the mailed code. */
  async setPasswordAndVerify(userId: Id, passwordHash: string, client: Pool | PoolClient = this.pool): Promise<void> {
    await client.query(`UPDATE users SET password_hash = $2, email_verified = true WHERE id = $1`, [userId, passwordHash]);
  }

  async byEmail(email: string): Promise<UserRecord | null> {
    const { rows } = await this.pool.query<UserRow>(`SELECT * FROM users WHERE lower(email) = lower($1)`, [email]);
    return rows[0] ? toUser(rows[0]) : null;
  }

  async byId(id: Id): Promise<UserRecord | null> {
    const { rows } = await this.pool.query<UserRow>(`SELECT * FROM users WHERE id = $1`, [id]);
    return rows[0] ? toUser(rows[0]) : null;
  }
}
