/**
 * Postgres side of account deletion: the grace-period marks and the purge.
 * The purge of one account is a handful of statements the caller runs in one
 * transaction, on a row it claimed with `FOR UPDATE SKIP LOCKED`, so several
 * instances purging at once each take different accounts, and a crash part
 * way leaves the account exactly as it was (the next run takes it again).
 */
import { revokedEvents } from './sessionsRepo.js';
import type { Id } from '../domain/ids.js';
import type { Pool, PoolClient } from './postgres.js';

/** What a purged account's row keeps: its id (other rows and the audit trail refer to it) and this name. */
export const PURGED_NAME = 'Deleted account';

export interface PurgeResult {
  /** Sessions that were still live: their sockets must be told. */
  liveSessionIds: Id[];
  sessions: number;
  invites: number;
  memberships: number;
  friendships: number;
  /** Bot accounts the user owned, purged with it. */
  bots: Id[];
}

export class AccountDeletionRepo {
  constructor(private readonly pool: Pool) {}

  /** Marks the account pending deletion; false when it already was (the first request's date stands). */
  async request(userId: Id, db: Pool | PoolClient = this.pool): Promise<boolean> {
    const { rowCount } = await db.query(
      `UPDATE users SET delete_requested_at = now() WHERE id = $1 AND delete_requested_at IS NULL AND deleted_at IS NULL`,
      [userId],
    );
    return rowCount === 1;
  }

  /** Clears a pending deletion; false when none was pending. */
  async cancel(userId: Id, db: Pool | PoolClient = this.pool): Promise<boolean> {
    const { rowCount } = await db.query(
      `UPDATE users SET delete_requested_at = NULL WHERE id = $1 AND delete_requested_at IS NOT NULL AND deleted_at IS NULL`,
      [userId],
    );
    return rowCount === 1;
  }

  /**
   * Inside the caller's transaction: claims one account whose grace period
   * (`graceSeconds`) is over and that no other transaction holds; its id, or
   * null when none is due.
   */
  async claimDue(graceSeconds: number, client: PoolClient): Promise<{ id: Id; email: string | null } | null> {
    const { rows } = await client.query<{ id: string; email: string | null }>(
      `SELECT id, email FROM users
       WHERE delete_requested_at IS NOT NULL AND deleted_at IS NULL
         AND delete_requested_at <= now() - $1 * interval '1 second'
       ORDER BY delete_requested_at, id
       LIMIT 1
       FOR UPDATE SKIP LOCKED`,
      [graceSeconds],
    );
    return rows[0] ?? null;
  }

  /**
   * Inside the caller's transaction: purges the account and the bot accounts
   * it owns (purgeOne each), counted together.
   */
  async purge(userId: Id, client: PoolClient): Promise<PurgeResult> {
    // Locked as the owner's row is (claimDue): a bot's new session waits for the purge, then is refused.
    const { rows: bots } = await client.query<{ id: string }>(
      `SELECT id FROM users WHERE bot_owner_id = $1 AND deleted_at IS NULL ORDER BY id FOR UPDATE`,
      [userId],
    );
    const total: PurgeResult = { liveSessionIds: [], sessions: 0, invites: 0, memberships: 0, friendships: 0, bots: bots.map((b) => b.id) };
    for (const id of [...total.bots, userId]) {
      const one = await this.purgeOne(id, client);
      total.liveSessionIds.push(...one.liveSessionIds);
      total.sessions += one.sessions;
      total.invites += one.invites;
      total.memberships += one.memberships;
      total.friendships += one.friendships;
    }
    return total;
  }

  /**
   * Removes one account's sessions, email codes, TOTP credentials, known
   * devices and sign-in sources, memberships and friendships, deletes its
   * invites (rows kept with deleted_at, as every deleted invite: a code is
   * never handed out twice), and turns the user row into a tombstone whose
   * email is free again. Communities and groups the user owned stay, for
   * their other members.
   */
  private async purgeOne(userId: Id, client: PoolClient): Promise<Omit<PurgeResult, 'bots'>> {
    // Revoked before they go: the revocation trigger (migration 0010) tells every gateway instance at COMMIT, Redis or not.
    const revoked = await client.query<{ id: string }>(
      `WITH r AS (UPDATE sessions SET revoked_at = now() WHERE user_id = $1 AND revoked_at IS NULL RETURNING id, user_id),
       ${revokedEvents(2)}
       SELECT id FROM r`,
      [userId, 'deletion'],
    );
    const deleted = await client.query(`DELETE FROM sessions WHERE user_id = $1`, [userId]);
    await client.query(`DELETE FROM email_codes WHERE user_id = $1`, [userId]);
    await client.query(`DELETE FROM totp_backup_codes WHERE user_id = $1`, [userId]);
    await client.query(`DELETE FROM totp_credentials WHERE user_id = $1`, [userId]);
    await client.query(`DELETE FROM known_devices WHERE user_id = $1`, [userId]);
    await client.query(`DELETE FROM sign_in_sources WHERE user_id = $1`, [userId]);
    await client.query(`DELETE FROM email_canonicalisation_pending WHERE user_id = $1`, [userId]);
    const invites = await client.query(
      `UPDATE invites SET deleted_at = now()
       WHERE deleted_at IS NULL AND (creator_id = $1 OR (target_type = 3 AND target_id = $1))`,
      [userId],
    );
    const communities = await client.query(`DELETE FROM community_members WHERE user_id = $1`, [userId]);
    const groups = await client.query(`DELETE FROM group_participants WHERE user_id = $1`, [userId]);
    const friendships = await client.query(`DELETE FROM friendships WHERE user_low = $1 OR user_high = $1`, [userId]);
    await client.query(
      `UPDATE users SET email = NULL, email_verified = false, password_hash = NULL, name = $2,
         delete_requested_at = NULL, deleted_at = now()
       WHERE id = $1`,
      [userId, PURGED_NAME],
    );
    return {
      liveSessionIds: revoked.rows.map((r) => r.id),
      sessions: deleted.rowCount ?? 0,
      invites: invites.rowCount ?? 0,
      memberships: (communities.rowCount ?? 0) + (groups.rowCount ?? 0),
      friendships: friendships.rowCount ?? 0,
    };
  }
}
