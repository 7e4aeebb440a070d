/** Postgres repository of communities, their channels and members. */
import type { Id } from '../domain/ids.js';
import type { Pool, PoolClient } from './postgres.js';
import { withTransaction } from './transaction.js';

export interface CommunityRecord {
  id: Id;
  name: string;
  ownerId: Id;
  createdAt: Date;
}

export interface CommunitySummary extends CommunityRecord {
  channelIds: Id[];
  memberCount: number;
}

interface CommunityRow {
  id: string;
  name: string;
  owner_id: string;
  created_at: Date;
}

const toCommunity = (row: CommunityRow): CommunityRecord => ({
  id: row.id,
  name: row.name,
  ownerId: row.owner_id,
  createdAt: row.created_at,
});

export class CommunitiesRepo {
  constructor(private readonly pool: Pool) {}

  /** Creates a community with its first text channel and the owner as a member, in one transaction. */
  async create(input: { id: Id; channelId: Id; channelName: string; name: string; ownerId: Id }): Promise<CommunityRecord> {
    return withTransaction(this.pool, async ({ db: client }) => {
      const { rows } = await client.query<CommunityRow>(
        `INSERT INTO communities (id, name, owner_id) VALUES ($1, $2, $3) RETURNING *`,
        [input.id, input.name, input.ownerId],
      );
      await client.query(`INSERT INTO channels (id, community_id, name, kind) VALUES ($1, $2, $3, 'text')`, [
        input.channelId, input.id, input.channelName,
      ]);
      await client.query(`INSERT INTO community_members (community_id, user_id) VALUES ($1, $2)`, [input.id, input.ownerId]);
      return toCommunity(rows[0]!);
    });
  }

  /** Whether the user is a member of the community (false for an unknown community). */
  async isMember(communityId: Id, userId: Id): Promise<boolean> {
    const { rowCount } = await this.pool.query(
      `SELECT 1 FROM community_members WHERE community_id = $1 AND user_id = $2`,
      [communityId, userId],
    );
    return rowCount === 1;
  }

  /** Whether the channel belongs to the community. */
  async hasChannel(communityId: Id, channelId: Id): Promise<boolean> {
    const { rowCount } = await this.pool.query(`SELECT 1 FROM channels WHERE id = $1 AND community_id = $2`, [
      channelId, communityId,
    ]);
    return rowCount === 1;
  }

  /** Adds a member; false when they already were one (nothing changes then). */
  async addMember(communityId: Id, userId: Id, client: Pool | PoolClient = this.pool): Promise<boolean> {
    const { rowCount } = await client.query(
      `INSERT INTO community_members (community_id, user_id) VALUES ($1, $2) ON CONFLICT DO NOTHING`,
      [communityId, userId],
    );
    return rowCount === 1;
  }

  /** Ids of the communities a user is a member of, oldest membership first. */
  async idsByMember(userId: Id): Promise<Id[]> {
    const { rows } = await this.pool.query<{ community_id: string }>(
      `SELECT community_id FROM community_members WHERE user_id = $1 ORDER BY joined_at, community_id`,
      [userId],
    );
    return rows.map((r) => r.community_id);
  }

  /** Communities (optionally only those of one owner) with channel ids and member counts, newest first. */
  async list(options: { ownerId?: Id; limit: number }): Promise<CommunitySummary[]> {
    const { rows } = await this.pool.query<CommunityRow & { channel_ids: string[]; member_count: number }>(
      `SELECT c.*,
              ARRAY(SELECT ch.id::text FROM channels ch WHERE ch.community_id = c.id ORDER BY ch.id) AS channel_ids,
              (SELECT count(*)::int FROM community_members m WHERE m.community_id = c.id) AS member_count
       FROM communities c
       WHERE $1::bigint IS NULL OR c.owner_id = $1
       ORDER BY c.id DESC LIMIT $2`,
      [options.ownerId ?? null, options.limit],
    );
    return rows.map((r) => ({ ...toCommunity(r), channelIds: r.channel_ids, memberCount: r.member_count }));
  }
}
