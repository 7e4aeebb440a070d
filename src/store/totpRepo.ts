/**
 * Postgres repository of TOTP credentials (`totp_credentials`: the sealed
 * secret, pending or enabled, and the last accepted time step) and backup
 * codes (`totp_backup_codes`: salted hashes only). The checks that make a
 * code work once are single conditional statements, so concurrent uses of
 * one code cannot both succeed, on any number of instances.
 */
import type { Id } from '../domain/ids.js';
import type { Pool, PoolClient } from './postgres.js';

export interface TotpCredential {
  userId: Id;
  /** Sealed secret (see services/secretBox.ts). */
  secret: string;
  /** null: pending (waiting for the first code). */
  enabledAt: Date | null;
  /** Highest accepted time step; codes at or below it are refused. */
  lastStep: number;
}

export interface StoredBackupCode {
  position: number;
  salt: Buffer;
  codeHash: Buffer;
  usedAt: Date | null;
}

interface CredentialRow {
  user_id: string;
  secret: string;
  enabled_at: Date | null;
  last_step: string;
}

const toCredential = (row: CredentialRow): TotpCredential => ({
  userId: row.user_id,
  secret: row.secret,
  enabledAt: row.enabled_at,
  lastStep: Number(row.last_step),
});

type Db = Pool | PoolClient;

export class TotpRepo {
  constructor(private readonly pool: Pool) {}

  async get(userId: Id, db: Db = this.pool): Promise<TotpCredential | null> {
    const { rows } = await db.query<CredentialRow>(`SELECT * FROM totp_credentials WHERE user_id = $1`, [userId]);
    return rows[0] ? toCredential(rows[0]) : null;
  }

  /** True when the user has TOTP turned on. */
  async isEnabled(userId: Id, db: Db = this.pool): Promise<boolean> {
    const { rows } = await db.query(`SELECT 1 FROM totp_credentials WHERE user_id = $1 AND enabled_at IS NOT NULL`, [userId]);
    return rows.length > 0;
  }

  /**
   * Stores a new pending secret, replacing an earlier pending one. Never
   * replaces an enabled secret: false when TOTP is (or just turned) on.
   */
  async savePending(userId: Id, secret: string): Promise<boolean> {
    const { rowCount } = await this.pool.query(
      `INSERT INTO totp_credentials (user_id, secret) VALUES ($1, $2)
       ON CONFLICT (user_id) DO UPDATE SET secret = EXCLUDED.secret, last_step = 0, created_at = now()
       WHERE totp_credentials.enabled_at IS NULL`,
      [userId, secret],
    );
    return rowCount === 1;
  }

  /**
   * Accepts time step `step` of the sealed secret `secret` (the one the code
   * was checked against) in state `state`: moves last_step forward, and turns
   * a pending secret on. False when the step is not above last_step (a
   * replayed or older code), or the secret or state changed meanwhile.
   */
  async claimStep(userId: Id, secret: string, step: number, state: 'pending' | 'enabled', db: Db = this.pool): Promise<boolean> {
    const { rowCount } = await db.query(
      `UPDATE totp_credentials
       SET last_step = $3, enabled_at = CASE WHEN enabled_at IS NULL THEN now() ELSE enabled_at END
       WHERE user_id = $1 AND secret = $2 AND last_step < $3 AND (enabled_at IS NOT NULL) = $4`,
      [userId, secret, step, state === 'enabled'],
    );
    return rowCount === 1;
  }

  /** Replaces the user's backup codes. */
  async replaceBackupCodes(userId: Id, codes: ReadonlyArray<{ salt: Buffer; codeHash: Buffer }>, db: Db = this.pool): Promise<void> {
    await db.query(`DELETE FROM totp_backup_codes WHERE user_id = $1`, [userId]);
    await db.query(
      `INSERT INTO totp_backup_codes (user_id, position, salt, code_hash)
       SELECT $1, p - 1, s, h FROM unnest($2::bytea[], $3::bytea[]) WITH ORDINALITY AS c(s, h, p)`,
      [userId, codes.map((c) => c.salt), codes.map((c) => c.codeHash)],
    );
  }

  /** Every backup code of the user, in the order they were shown. */
  async backupCodes(userId: Id, db: Db = this.pool): Promise<StoredBackupCode[]> {
    const { rows } = await db.query<{ position: number; salt: Buffer; code_hash: Buffer; used_at: Date | null }>(
      `SELECT position, salt, code_hash, used_at FROM totp_backup_codes WHERE user_id = $1 ORDER BY position`,
      [userId],
    );
    return rows.map((r) => ({ position: r.position, salt: r.salt, codeHash: r.code_hash, usedAt: r.used_at }));
  }

  /** Marks a backup code used; false when it already was (a concurrent use won). */
  async useBackupCode(userId: Id, position: number, db: Db = this.pool): Promise<boolean> {
    const { rowCount } = await db.query(
      `UPDATE totp_backup_codes SET used_at = now() WHERE user_id = $1 AND position = $2 AND used_at IS NULL`,
      [userId, position],
    );
    return rowCount === 1;
  }

  /** Turns TOTP off: the secret and the backup codes go. False when there was nothing enabled. */
  async removeEnabled(userId: Id, db: Db = this.pool): Promise<boolean> {
    const { rowCount } = await db.query(`DELETE FROM totp_credentials WHERE user_id = $1 AND enabled_at IS NOT NULL`, [userId]);
    await db.query(`DELETE FROM totp_backup_codes WHERE user_id = $1`, [userId]);
    return rowCount === 1;
  }

  /** Drops a pending (never enabled) secret. */
  async removePending(userId: Id, db: Db = this.pool): Promise<void> {
    await db.query(`DELETE FROM totp_credentials WHERE user_id = $1 AND enabled_at IS NULL`, [userId]);
  }

  /** Sealed secrets whose envelope is not from the key `kid`, a page at a time (re-encryption). */
  async sealedWithOtherKey(kid: string, afterUserId: Id, limit: number): Promise<Array<{ userId: Id; secret: string }>> {
    const { rows } = await this.pool.query<{ user_id: string; secret: string }>(
      `SELECT user_id, secret FROM totp_credentials
       WHERE split_part(secret, '.', 2) <> $1 AND user_id > $2 ORDER BY user_id LIMIT $3`,
      [kid, afterUserId, limit],
    );
    return rows.map((r) => ({ userId: r.user_id, secret: r.secret }));
  }

  /** Replaces a sealed secret if it is still `previous` (a concurrent setup wins). */
  async reseal(userId: Id, previous: string, next: string): Promise<boolean> {
    const { rowCount } = await this.pool.query(`UPDATE totp_credentials SET secret = $3 WHERE user_id = $1 AND secret = $2`, [userId, previous, next]);
    return rowCount === 1;
  }
}
