/**
 * Postgres repository of invites. Every read that feeds a preview is one
 * query: the invite, its creator and its target (community, or group with
 * participant ids) come back joined, by primary key or by the
 * `invites_live_by_target` index.
 */
import type { Id } from '../domain/ids.js';
import type { InviteDetails, InviteRecord, InviteTarget, InviteTargetTypeValue } from '../domain/invite.js';
import type { Pool, PoolClient } from './postgres.js';

interface InviteRow {
  code: string;
  creator_id: string;
  target_type: number;
  target_id: string;
  expires_at: string | null;
  max_uses: number;
  uses: number;
  created_at: Date;
  deleted_at: Date | null;
}

interface DetailsRow extends InviteRow {
  creator_name: string;
  creator_bot: boolean;
  community_name: string | null;
  community_owner_id: string | null;
  group_name: string | null;
  group_owner_id: string | null;
  participant_ids: string[] | null;
}

const toInvite = (row: InviteRow): InviteRecord => ({
  code: row.code,
  creatorId: row.creator_id,
  target: { type: row.target_type as InviteTargetTypeValue, id: row.target_id },
  expiresAt: row.expires_at === null ? null : Number(row.expires_at),
  maxUses: row.max_uses,
  uses: row.uses,
  createdAt: row.created_at,
  deletedAt: row.deleted_at,
});

const toDetails = (row: DetailsRow): InviteDetails => ({
  ...toInvite(row),
  creatorName: row.creator_name,
  creatorBot: row.creator_bot,
  community:
    row.community_name !== null ? { id: row.target_id, name: row.community_name, ownerId: row.community_owner_id! } : null,
  group:
    row.group_name !== null
      ? { id: row.target_id, name: row.group_name, ownerId: row.group_owner_id!, participantIds: row.participant_ids ?? [] }
      : null,
});

const DETAILS_SELECT = `
  SELECT i.*, u.name AS creator_name, u.bot AS creator_bot,
         c.name AS community_name, c.owner_id AS community_owner_id,
         g.name AS group_name, g.owner_id AS group_owner_id,
         CASE WHEN g.id IS NOT NULL THEN ARRAY(
           SELECT p.user_id::text FROM group_participants p WHERE p.group_id = g.id ORDER BY p.joined_at, p.user_id
         ) END AS participant_ids
  FROM invites i
  JOIN users u ON u.id = i.creator_id
  LEFT JOIN communities c ON i.target_type = 1 AND c.id = i.target_id
  LEFT JOIN groups g ON i.target_type = 2 AND g.id = i.target_id`;

/** Thrown by insert when the code is taken (the caller draws another). */
export class InviteCodeTakenError extends Error {}

export class InvitesRepo {
  constructor(private readonly pool: Pool) {}

  async insert(invite: {
    code: string;
    creatorId: Id;
    target: InviteTarget;
    expiresAt: number | null;
    maxUses: number;
  }): Promise<InviteRecord> {
    try {
      const { rows } = await this.pool.query<InviteRow>(
        `INSERT INTO invites (code, creator_id, target_type, target_id, expires_at, max_uses)
         VALUES ($1, $2, $3, $4, $5, $6) RETURNING *`,
        [invite.code, invite.creatorId, invite.target.type, invite.target.id, invite.expiresAt, invite.maxUses],
      );
      return toInvite(rows[0]!);
    } catch (err) {
      if ((err as { code?: string; constraint?: string }).code === '23505') throw new InviteCodeTakenError();
      throw err;
    }
  }

  /** The invite (deleted or not) with creator and target, by code. */
  async details(code: string): Promise<InviteDetails | null> {
    const { rows } = await this.pool.query<DetailsRow>(`${DETAILS_SELECT} WHERE i.code = $1`, [code]);
    return rows[0] ? toDetails(rows[0]) : null;
  }

  /** The live invites of a target (not deleted, not expired at `now`, not used up), newest first. */
  async liveDetailsByTarget(target: InviteTarget, now: number, limit: number): Promise<InviteDetails[]> {
    const { rows } = await this.pool.query<DetailsRow>(
      `${DETAILS_SELECT}
       WHERE i.target_type = $1 AND i.target_id = $2 AND i.deleted_at IS NULL
         AND (i.expires_at IS NULL OR i.expires_at > $3)
         AND (i.max_uses = 0 OR i.uses < i.max_uses)
       ORDER BY i.created_at DESC, i.code
       LIMIT $4`,
      [target.type, target.id, now, limit],
    );
    return rows.map(toDetails);
  }

  /**
   * Reads the invite and locks its row until the transaction ends, so that
   * concurrent uses of one code run one after the other and each sees the
   * count the previous one left.
   */
  async lockForUse(code: string, client: PoolClient): Promise<InviteRecord | null> {
    const { rows } = await client.query<InviteRow>(`SELECT * FROM invites WHERE code = $1 FOR UPDATE`, [code]);
    return rows[0] ? toInvite(rows[0]) : null;
  }

  /** Counts one use (inside the transaction that holds the row lock). */
  async countUse(code: string, client: PoolClient): Promise<void> {
    await client.query(`UPDATE invites SET uses = uses + 1 WHERE code = $1`, [code]);
  }

  /** Marks the invite deleted; false when it already was (or does not exist). */
  async markDeleted(code: string): Promise<boolean> {
    const { rowCount } = await this.pool.query(`UPDATE invites SET deleted_at = now() WHERE code = $1 AND deleted_at IS NULL`, [code]);
    return rowCount === 1;
  }

  /** For operators: invites, optionally of one target or creator, newest first (deleted ones only with `includeDead`). */
  async list(options: { target?: InviteTarget; creatorId?: Id; includeDead: boolean; now: number; limit: number }): Promise<InviteRecord[]> {
    const { rows } = await this.pool.query<InviteRow>(
      `SELECT * FROM invites i
       WHERE ($1::smallint IS NULL OR (i.target_type = $1 AND i.target_id = $2))
         AND ($3::bigint IS NULL OR i.creator_id = $3)
         AND ($4 OR (i.deleted_at IS NULL AND (i.expires_at IS NULL OR i.expires_at > $5) AND (i.max_uses = 0 OR i.uses < i.max_uses)))
       ORDER BY i.created_at DESC, i.code LIMIT $6`,
      [options.target?.type ?? null, options.target?.id ?? null, options.creatorId ?? null, options.includeDead, options.now, options.limit],
    );
    return rows.map(toInvite);
  }
}
