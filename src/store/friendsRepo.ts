/**
 * Postgres repository of friendships. A friendship is symmetric and stored
 * once per pair (lower id first), so adding it twice, or both users adding
 * each other at once, is a primary-key conflict rather than two rows.
 */
import type { Id } from '../domain/ids.js';
import type { Pool, PoolClient } from './postgres.js';

/** The pair in storage order: numerically lower id first. */
function friendPair(a: Id, b: Id): [Id, Id] {
  return BigInt(a) < BigInt(b) ? [a, b] : [b, a];
}

export class FriendsRepo {
  constructor(private readonly pool: Pool) {}

  /** Makes two distinct users friends; false when they already were (nothing changes then). */
  async add(a: Id, b: Id, client: Pool | PoolClient = this.pool): Promise<boolean> {
    const [low, high] = friendPair(a, b);
    const { rowCount } = await client.query(
      `INSERT INTO friendships (user_low, user_high) VALUES ($1, $2) ON CONFLICT DO NOTHING`,
      [low, high],
    );
    return rowCount === 1;
  }

  async areFriends(a: Id, b: Id): Promise<boolean> {
    const [low, high] = friendPair(a, b);
    const { rowCount } = await this.pool.query(`SELECT 1 FROM friendships WHERE user_low = $1 AND user_high = $2`, [low, high]);
    return rowCount === 1;
  }

  /** Ids of a user's friends, oldest friendship first (two index scans, one query). */
  async idsOf(userId: Id): Promise<Id[]> {
    const { rows } = await this.pool.query<{ friend_id: string }>(
      `SELECT friend_id FROM (
         SELECT user_high AS friend_id, created_at FROM friendships WHERE user_low = $1
         UNION ALL
         SELECT user_low AS friend_id, created_at FROM friendships WHERE user_high = $1
       ) f ORDER BY created_at, friend_id`,
      [userId],
    );
    return rows.map((r) => r.friend_id);
  }
}
