/**
 * Postgres repository of one-time email codes (table `email_codes`): issuing,
 * locking for a check, counting wrong tries, marking used. The account writes
 * a confirmed code makes are UsersRepo's.
 */
import type { Id } from '../domain/ids.js';
import type { Pool, PoolClient } from './postgres.js';

/** `change_email`: a code mailed to the address the account asked to change to (the row's email). */
export type CodePurpose = 'verify_email' | 'reset_password' | 'change_email';

export interface EmailCodeRecord {
  userId: Id;
  purpose: CodePurpose;
  /** Address the code was mailed to. */
  email: string;
  salt: Buffer;
  codeHash: Buffer;
  expiresAt: Date;
  failedAttempts: number;
  usedAt: Date | null;
  /** `change_email`: the session that asked for the change, the only one that may confirm it. */
  sessionId: Id | null;
}

interface EmailCodeRow {
  user_id: string;
  purpose: CodePurpose;
  email: string;
  salt: Buffer;
  code_hash: Buffer;
  expires_at: Date;
  failed_attempts: number;
  used_at: Date | null;
  session_id: string | null;
}

const toRecord = (row: EmailCodeRow): EmailCodeRecord => ({
  userId: row.user_id,
  purpose: row.purpose,
  email: row.email,
  salt: row.salt,
  codeHash: row.code_hash,
  expiresAt: row.expires_at,
  failedAttempts: row.failed_attempts,
  usedAt: row.used_at,
  sessionId: row.session_id,
});

/** Whose code to issue: the account with this (canonical) address, or this account. */
export type CodeTarget = { email: string } | { userId: Id };

export interface NewCode {
  purpose: CodePurpose;
  salt: Buffer;
  codeHash: Buffer;
  ttlMs: number;
  /** Issue only when the account's email is not verified yet. */
  onlyUnverified: boolean;
}

export class EmailCodesRepo {
  constructor(private readonly pool: Pool) {}

  /**
   * Stores a code for the target account, replacing (retiring) its previous
   * code of the same purpose. One statement whether or not the account exists,
   * so both cases cost about the same. Returns the account and the address to
   * mail, or null when no account matches (or it has no email, or is verified
   * and `onlyUnverified`).
   */
  async issue(target: CodeTarget, code: NewCode, client: Pool | PoolClient = this.pool): Promise<{ userId: Id; email: string } | null> {
    const [where, key] = 'email' in target ? ['u.email = $1', target.email] : ['u.id = $1', target.userId];
    const { rows } = await client.query<{ user_id: string; email: string }>(
      `INSERT INTO email_codes (user_id, purpose, email, salt, code_hash, expires_at)
       SELECT u.id, $2, u.email, $3, $4, now() + $5 * interval '1 millisecond'
       FROM users u
       WHERE ${where} AND u.email IS NOT NULL AND ($6::boolean IS FALSE OR NOT u.email_verified)
       ON CONFLICT (user_id, purpose) DO UPDATE SET
         email = EXCLUDED.email, salt = EXCLUDED.salt, code_hash = EXCLUDED.code_hash,
         expires_at = EXCLUDED.expires_at, failed_attempts = 0, used_at = NULL, created_at = now()
       RETURNING user_id, email`,
      [key, code.purpose, code.salt, code.codeHash, code.ttlMs, code.onlyUnverified],
    );
    const row = rows[0];
    return row ? { userId: row.user_id, email: row.email } : null;
  }

  /**
   * The code of `purpose` for the account that has `email` now, locked for the
   * rest of the transaction (concurrent tries are counted one after another).
   * Null when there is no such account or code, or the code was mailed to an
   * address the account no longer has.
   */
  async lockForEmail(purpose: CodePurpose, email: string, client: PoolClient): Promise<EmailCodeRecord | null> {
    const { rows } = await client.query<EmailCodeRow>(
      `SELECT c.* FROM email_codes c JOIN users u ON u.id = c.user_id
       WHERE u.email = $1 AND c.purpose = $2 AND c.email = u.email
       FOR UPDATE OF c`,
      [email, purpose],
    );
    return rows[0] ? toRecord(rows[0]) : null;
  }

  /**
   * Stores a code for an email change of `userId` to `email` (the address
   * mailed), asked from `sessionId`, replacing an earlier change request of
   * the account.
   */
  async issueForChange(
    change: { userId: Id; sessionId: Id; email: string },
    code: Omit<NewCode, 'purpose' | 'onlyUnverified'>,
    client: Pool | PoolClient = this.pool,
  ): Promise<void> {
    await client.query(
      `INSERT INTO email_codes (user_id, purpose, email, salt, code_hash, expires_at, session_id)
       VALUES ($1, 'change_email', $2, $3, $4, now() + $5 * interval '1 millisecond', $6)
       ON CONFLICT (user_id, purpose) DO UPDATE SET
         email = EXCLUDED.email, salt = EXCLUDED.salt, code_hash = EXCLUDED.code_hash, session_id = EXCLUDED.session_id,
         expires_at = EXCLUDED.expires_at, failed_attempts = 0, used_at = NULL, created_at = now()`,
      [change.userId, change.email, code.salt, code.codeHash, code.ttlMs, change.sessionId],
    );
  }

  /** Drops the account's pending email change, if any (the owner reacted: see accountSecurity.ts); true when there was one. */
  async cancelChange(userId: Id, client: Pool | PoolClient = this.pool): Promise<boolean> {
    const { rowCount } = await client.query(
      `DELETE FROM email_codes WHERE user_id = $1 AND purpose = 'change_email' AND used_at IS NULL`,
      [userId],
    );
    return (rowCount ?? 0) > 0;
  }

  /**
   * The account's pending email change to `email`, locked for the rest of
   * the transaction; null when it has none to that address.
   */
  async lockChange(userId: Id, email: string, client: PoolClient): Promise<EmailCodeRecord | null> {
    const { rows } = await client.query<EmailCodeRow>(
      `SELECT c.* FROM email_codes c JOIN users u ON u.id = c.user_id
       WHERE c.user_id = $1 AND lower(c.email) = lower($2) AND c.purpose = 'change_email' AND u.deleted_at IS NULL
       FOR UPDATE OF c`,
      [userId, email],
    );
    return rows[0] ? toRecord(rows[0]) : null;
  }

  async recordFailure(userId: Id, purpose: CodePurpose, client: PoolClient): Promise<void> {
    await client.query(`UPDATE email_codes SET failed_attempts = failed_attempts + 1 WHERE user_id = $1 AND purpose = $2`, [userId, purpose]);
  }

  async markUsed(userId: Id, purpose: CodePurpose, client: PoolClient): Promise<void> {
    await client.query(`UPDATE email_codes SET used_at = now() WHERE user_id = $1 AND purpose = $2`, [userId, purpose]);
  }

  /** A user's code record (hash only: the plain code is never stored). */
  async get(userId: Id, purpose: CodePurpose): Promise<EmailCodeRecord | null> {
    const { rows } = await this.pool.query<EmailCodeRow>(`SELECT * FROM email_codes WHERE user_id = $1 AND purpose = $2`, [userId, purpose]);
    return rows[0] ? toRecord(rows[0]) : null;
  }
}
