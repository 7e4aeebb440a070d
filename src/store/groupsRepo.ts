/** Postgres repository of group chats and their participants. */
import type { Id } from '../domain/ids.js';
import type { Pool, PoolClient } from './postgres.js';
import { withTransaction } from './transaction.js';

export interface GroupRecord {
  id: Id;
  name: string;
  ownerId: Id;
  createdAt: Date;
}

export interface GroupSummary extends GroupRecord {
  participantIds: Id[];
}

interface GroupRow {
  id: string;
  name: string;
  owner_id: string;
  created_at: Date;
}

const toGroup = (row: GroupRow): GroupRecord => ({ id: row.id, name: row.name, ownerId: row.owner_id, createdAt: row.created_at });

export class GroupsRepo {
  constructor(private readonly pool: Pool) {}

  /** Creates a group with its owner as the first participant, in one transaction. */
  async create(input: { id: Id; name: string; ownerId: Id }): Promise<GroupRecord> {
    return withTransaction(this.pool, async ({ db: client }) => {
      const { rows } = await client.query<GroupRow>(`INSERT INTO groups (id, name, owner_id) VALUES ($1, $2, $3) RETURNING *`, [
        input.id, input.name, input.ownerId,
      ]);
      await client.query(`INSERT INTO group_participants (group_id, user_id) VALUES ($1, $2)`, [input.id, input.ownerId]);
      return toGroup(rows[0]!);
    });
  }

  /** Whether the user is a participant of the group (false for an unknown group). */
  async isParticipant(groupId: Id, userId: Id): Promise<boolean> {
    const { rowCount } = await this.pool.query(`SELECT 1 FROM group_participants WHERE group_id = $1 AND user_id = $2`, [
      groupId, userId,
    ]);
    return rowCount === 1;
  }

  /** Adds a participant; false when they already were one (nothing changes then). */
  async addParticipant(groupId: Id, userId: Id, client: Pool | PoolClient = this.pool): Promise<boolean> {
    const { rowCount } = await client.query(
      `INSERT INTO group_participants (group_id, user_id) VALUES ($1, $2) ON CONFLICT DO NOTHING`,
      [groupId, userId],
    );
    return rowCount === 1;
  }

  /** Ids of the groups a user takes part in, oldest first. */
  async idsByParticipant(userId: Id): Promise<Id[]> {
    const { rows } = await this.pool.query<{ group_id: string }>(
      `SELECT group_id FROM group_participants WHERE user_id = $1 ORDER BY joined_at, group_id`,
      [userId],
    );
    return rows.map((r) => r.group_id);
  }

  /** Groups (optionally only those of one owner) with their participant ids, newest first. */
  async list(options: { ownerId?: Id; limit: number }): Promise<GroupSummary[]> {
    const { rows } = await this.pool.query<GroupRow & { participant_ids: string[] }>(
      `SELECT g.*,
              ARRAY(SELECT p.user_id::text FROM group_participants p WHERE p.group_id = g.id ORDER BY p.joined_at, p.user_id) AS participant_ids
       FROM groups g
       WHERE $1::bigint IS NULL OR g.owner_id = $1
       ORDER BY g.id DESC LIMIT $2`,
      [options.ownerId ?? null, options.limit],
    );
    return rows.map((r) => ({ ...toGroup(r), participantIds: r.participant_ids }));
  }
}
