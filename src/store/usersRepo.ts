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
  delete_requested_at: Date | null;
  deleted_at: Date | null;
}

const toUser = (row: UserRow): UserRecord => ({
  id: row.id,
  name: row.name,
  email: row.email,
  emailVerified: row.email_verified,
  passwordHash: row.password_hash,
  bot: row.bot,
  createdAt: row.created_at,
  deleteRequestedAt: row.delete_requested_at,
  deletedAt: row.deleted_at,
});

/** Thrown by insert when the email is already taken (unique index, so races too). */
export class EmailTakenError extends Error {}

/** Rows read to find the most common password cost at start. */
const COST_SAMPLE_ROWS = 20_000;

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

  /**
   * Sets a new password hash if the current one is still `previous` (null for
   * an account without password). False when it changed meanwhile.
   */
  async replacePassword(userId: Id, previous: string | null, passwordHash: string, client: Pool | PoolClient = this.pool): Promise<boolean> {
    const { rowCount } = await client.query(
      `UPDATE users SET password_hash = $3 WHERE id = $1 AND password_hash IS NOT DISTINCT FROM $2 AND deleted_at IS NULL`,
      [userId, previous, passwordHash],
    );
    return rowCount === 1;
  }

  /**
   * An email change confirmed by the code mailed to the new address: the
   * address, verified. Throws EmailTakenError when another account has it.
   */
  async setVerifiedEmail(userId: Id, email: string, client: Pool | PoolClient = this.pool): Promise<void> {
    try {
      await client.query(`UPDATE users SET email = $2, email_verified = true WHERE id = $1`, [userId, email]);
    } catch (err) {
      if ((err as { code?: string }).code === '23505') throw new EmailTakenError();
      throw err;
    }
  }

  /** The account with this canonical address (src/domain/email.ts), compared exactly. */
  async byEmail(email: string): Promise<UserRecord | null> {
    const { rows } = await this.pool.query<UserRow>(`SELECT * FROM users WHERE email = $1`, [email]);
    return rows[0] ? toUser(rows[0]) : null;
  }

  /**
   * For a sign-in: the account with this canonical address, and whether `ip`
   * is one it signed in from successfully within the last `withinDays` days.
   */
  async forSignIn(email: string, ip: string, withinDays: number): Promise<(UserRecord & { knownSource: boolean }) | null> {
    const { rows } = await this.pool.query<UserRow & { known_source: boolean }>(
      `SELECT u.*, EXISTS (
         SELECT 1 FROM sign_in_sources s
         WHERE s.user_id = u.id AND s.ip = $2 AND s.last_seen > now() - $3 * interval '1 day'
       ) AS known_source
       FROM users u WHERE u.email = $1`,
      [email, ip, withinDays],
    );
    return rows[0] ? { ...toUser(rows[0]), knownSource: rows[0].known_source } : null;
  }

  /** Whether the account with this address signed in from `ip` within the last `withinDays` days. */
  async isKnownSource(email: string, ip: string, withinDays: number): Promise<boolean> {
    const { rows } = await this.pool.query(
      `SELECT 1 FROM sign_in_sources s JOIN users u ON u.id = s.user_id
       WHERE u.email = $1 AND s.ip = $2 AND s.last_seen > now() - $3 * interval '1 day'`,
      [email, ip, withinDays],
    );
    return rows.length > 0;
  }

  /** Records a successful sign-in (or sign-up) from `ip`, and forgets the account's sources older than `keepDays`. */
  async recordSignInSource(userId: Id, ip: string, keepDays: number, client: Pool | PoolClient = this.pool): Promise<void> {
    await client.query(
      `WITH forget AS (DELETE FROM sign_in_sources WHERE user_id = $1 AND last_seen < now() - $3 * interval '1 day')
       INSERT INTO sign_in_sources (user_id, ip) VALUES ($1, $2)
       ON CONFLICT (user_id, ip) DO UPDATE SET last_seen = now()`,
      [userId, ip, keepDays],
    );
  }

  /** Replaces a password hash only if it is still `previous` (a reset meanwhile wins). */
  async replacePasswordHash(userId: Id, previous: string, next: string): Promise<boolean> {
    const { rowCount } = await this.pool.query(`UPDATE users SET password_hash = $3 WHERE id = $1 AND password_hash = $2`, [userId, previous, next]);
    return rowCount === 1;
  }

  /**
   * The bcrypt cost most stored password hashes have; null when no account has
   * a password. Read at start: over the whole table when it is small, else
   * over a random sample of about COST_SAMPLE_ROWS rows (whole pages, TABLESAMPLE
   * SYSTEM), so a start never scans millions of rows.
   */
  async commonPasswordCost(): Promise<number | null> {
    const { rows: size } = await this.pool.query<{ rows: number }>(`SELECT reltuples::float8 AS rows FROM pg_class WHERE oid = 'users'::regclass`);
    const estimated = size[0]?.rows ?? 0;
    const sample = estimated > COST_SAMPLE_ROWS ? `TABLESAMPLE SYSTEM (${((COST_SAMPLE_ROWS / estimated) * 100).toFixed(4)})` : '';
    // bcrypt hashes read `$2b$<two-digit cost>$...`.
    const { rows } = await this.pool.query<{ cost: string }>(
      `SELECT substr(password_hash, 5, 2) AS cost FROM users ${sample}
       WHERE password_hash LIKE '$2_$__$%'
       GROUP BY 1 ORDER BY count(*) DESC, 1 DESC LIMIT 1`,
    );
    return rows[0] ? Number(rows[0].cost) : null;
  }


  /** `db`: a transaction's client, so a transaction does not hold a second pooled connection for the read. */
  async byId(id: Id, db: Pool | PoolClient = this.pool): Promise<UserRecord | null> {
    const { rows } = await db.query<UserRow>(`SELECT * FROM users WHERE id = $1`, [id]);
    return rows[0] ? toUser(rows[0]) : null;
  }
}
