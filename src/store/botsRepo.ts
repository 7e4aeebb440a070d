/** Postgres repository of bot accounts: users with bot = true, each owned by a person. */
import type { Id } from '../domain/ids.js';
import type { Pool, PoolClient } from './postgres.js';

export interface BotRecord {
  id: Id;
  name: string;
  ownerId: Id;
  createdAt: Date;
  /** Its live (unrevoked) sessions: one, normally (sockets of a sharded bot share it). */
  sessionIds: Id[];
}

interface BotRow {
  id: string;
  name: string;
  bot_owner_id: string;
  created_at: Date;
  session_ids: string[];
}

const toBot = (row: BotRow): BotRecord => ({
  id: row.id,
  name: row.name,
  ownerId: row.bot_owner_id,
  createdAt: row.created_at,
  sessionIds: row.session_ids,
});

const SELECT = `
  SELECT u.id, u.name, u.bot_owner_id, u.created_at,
         ARRAY(SELECT s.id::text FROM sessions s WHERE s.user_id = u.id AND s.revoked_at IS NULL ORDER BY s.id) AS session_ids
  FROM users u`;

export class BotsRepo {
  constructor(private readonly pool: Pool) {}

  /** A bot user: no email, no password; with its bot.created event, in one statement. */
  async insert(bot: { id: Id; name: string; ownerId: Id }, client: Pool | PoolClient = this.pool): Promise<void> {
    await client.query(
      `WITH b AS (INSERT INTO users (id, name, bot, bot_owner_id) VALUES ($1, $2, true, $3) RETURNING id, name, bot_owner_id)
       INSERT INTO events (type, user_id, data)
       SELECT 'bot.created', id, jsonb_build_object('user_id', id::text, 'name', name, 'owner_id', bot_owner_id::text) FROM b`,
      [bot.id, bot.name, bot.ownerId],
    );
  }

  async byId(id: Id): Promise<BotRecord | null> {
    const { rows } = await this.pool.query<BotRow>(`${SELECT} WHERE u.id = $1 AND u.bot`, [id]);
    return rows[0] ? toBot(rows[0]) : null;
  }

  /** Bots, newest first (only one owner's when given). */
  async list(options: { ownerId?: Id; limit: number }): Promise<BotRecord[]> {
    const { rows } = await this.pool.query<BotRow>(
      `${SELECT} WHERE u.bot AND ($1::bigint IS NULL OR u.bot_owner_id = $1) ORDER BY u.id DESC LIMIT $2`,
      [options.ownerId ?? null, options.limit],
    );
    return rows.map(toBot);
  }

  /** Removes a bot; its sessions go with it, and every gateway closes their sockets (migration 0007's trigger). */
  async delete(id: Id): Promise<boolean> {
    // One statement: the removal, the session.revoked events of its live sessions (read before they go), then
    // bot.deleted. One INSERT for both, ordered: two data-modifying CTEs run in no promised order, and the
    // bot's sessions must end before the bot does, as in the purge (accountDeletionRepo.ts).
    const { rows } = await this.pool.query<{ id: string }>(
      `WITH s AS (SELECT id, user_id FROM sessions WHERE user_id = $1 AND revoked_at IS NULL),
       d AS (DELETE FROM users WHERE id = $1 AND bot RETURNING id, bot_owner_id),
       e AS (INSERT INTO events (type, user_id, data)
         SELECT type, user_id, data FROM (
           SELECT 0 AS k, s.id AS o, 'session.revoked' AS type, s.user_id,
             jsonb_build_object('user_id', s.user_id::text, 'session_id', s.id::text, 'reason', $2::text) AS data
           FROM s JOIN d ON d.id = s.user_id
           UNION ALL
           SELECT 1, 0, 'bot.deleted', id, jsonb_build_object('user_id', id::text, 'owner_id', bot_owner_id::text, 'reason', 'deleted') FROM d
         ) t ORDER BY k, o)
       SELECT id FROM d`,
      [id, 'deletion'],
    );
    return rows.length === 1;
  }
}
