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

  /** A bot user: no email, no password. */
  async insert(bot: { id: Id; name: string; ownerId: Id }, client: Pool | PoolClient = this.pool): Promise<void> {
    await client.query(`INSERT INTO users (id, name, bot, bot_owner_id) VALUES ($1, $2, true, $3)`, [bot.id, bot.name, bot.ownerId]);
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
    const { rowCount } = await this.pool.query(`DELETE FROM users WHERE id = $1 AND bot`, [id]);
    return rowCount === 1;
  }
}
