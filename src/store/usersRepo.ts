/** Postgres repository of users. */
import type { Id } from '../domain/ids.js';
import type { UserRecord } from '../domain/user.js';
import type { Pool, PoolClient } from './postgres.js';

interface UserRow {
  id: string;
  name: string;
  email: string | null;
  email_verified: boolean;
  password_hash: string | null;
  bot: boolean;
  created_at: Date;
}

const toUser = (row: UserRow): UserRecord => ({
  id: row.id,
  name: row.name,
  email: row.email,
  emailVerified: row.email_verified,
  passwordHash: row.password_hash,
  bot: row.bot,
  createdAt: row.created_at,
});

/** Thrown by insert when the email is already taken (unique index, so races too). */
export class EmailTakenError extends Error {}

export class UsersRepo {
  constructor(private readonly pool: Pool) {}

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
