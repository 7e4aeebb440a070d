/** Postgres repository of JWT signing keys. */
import { randomBytes, randomUUID } from 'node:crypto';
import type { Pool } from './postgres.js';
import { withTransaction } from './transaction.js';

export interface SigningKey {
  kid: string;
  secret: Uint8Array;
  createdAt: Date;
}

export class KeysRepo {
  constructor(private readonly pool: Pool) {}

  /** Unretired keys, newest first: the first one signs, all of them verify. */
  async active(): Promise<SigningKey[]> {
    const { rows } = await this.pool.query<{ kid: string; secret: Buffer; created_at: Date }>(
      `SELECT kid, secret, created_at FROM signing_keys WHERE retired_at IS NULL ORDER BY created_at DESC, kid DESC`,
    );
    return rows.map((r) => ({ kid: r.kid, secret: new Uint8Array(r.secret), createdAt: r.created_at }));
  }

  /** Every key, retired ones included, newest first, without secrets. */
  async list(): Promise<Array<{ kid: string; createdAt: Date; retiredAt: Date | null }>> {
    const { rows } = await this.pool.query<{ kid: string; created_at: Date; retired_at: Date | null }>(
      `SELECT kid, created_at, retired_at FROM signing_keys ORDER BY created_at DESC, kid DESC`,
    );
    return rows.map((r) => ({ kid: r.kid, createdAt: r.created_at, retiredAt: r.retired_at }));
  }

  /** Adds a new 256-bit key, which becomes the signing key. */
  async create(): Promise<string> {
    const kid = randomUUID();
    await this.pool.query(`INSERT INTO signing_keys (kid, secret) VALUES ($1, $2)`, [kid, randomBytes(32)]);
    return kid;
  }

  /** Creates a key when none is active (first start). Racing instances may both add one: harmless. */
  async ensureOne(): Promise<void> {
    const { rows } = await this.pool.query(`SELECT 1 FROM signing_keys WHERE retired_at IS NULL LIMIT 1`);
    if (!rows.length) await this.create();
  }

  /**
   * Retires every key except the newest, and except (unless `includeBotKeys`)
   * keys that sign the token of a live bot session: a bot cannot sign in
   * again by itself, so its key stays until `bot reset-token` moves it to the
   * newest key. Returns the retired kids and the kept ones with their bots.
   */
  async retireAllButNewest(includeBotKeys = false): Promise<{ retired: string[]; keptForBots: Array<{ kid: string; botIds: string[] }> }> {
    return withTransaction(this.pool, async ({ db: client }) => {
      const { rows: kept } = await client.query<{ kid: string; bot_ids: string[] }>(
        `SELECT s.token_kid AS kid, array_agg(DISTINCT u.id::text ORDER BY u.id::text) AS bot_ids
         FROM sessions s JOIN users u ON u.id = s.user_id JOIN signing_keys k ON k.kid = s.token_kid
         WHERE u.bot AND s.revoked_at IS NULL AND k.retired_at IS NULL AND NOT $1::boolean
         GROUP BY s.token_kid`,
        [includeBotKeys],
      );
      const { rows } = await client.query<{ kid: string }>(
        `UPDATE signing_keys SET retired_at = now()
         WHERE retired_at IS NULL AND kid <> ALL($1::text[]) AND kid <> (
           SELECT kid FROM signing_keys WHERE retired_at IS NULL ORDER BY created_at DESC, kid DESC LIMIT 1)
         RETURNING kid`,
        [kept.map((k) => k.kid)],
      );
      const newest = await client.query<{ kid: string }>(`SELECT kid FROM signing_keys WHERE retired_at IS NULL ORDER BY created_at DESC, kid DESC LIMIT 1`);
      return {
        retired: rows.map((r) => r.kid),
        keptForBots: kept.filter((k) => k.kid !== newest.rows[0]?.kid).map((k) => ({ kid: k.kid, botIds: k.bot_ids })),
      };
    });
  }
}
