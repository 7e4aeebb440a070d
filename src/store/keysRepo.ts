/** Postgres repository of JWT signing keys. */
import { randomBytes, randomUUID } from 'node:crypto';
import type { Pool } from './postgres.js';

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

  /** Retires every key except the newest; returns the retired kids. */
  async retireAllButNewest(): Promise<string[]> {
    const { rows } = await this.pool.query<{ kid: string }>(
      `UPDATE signing_keys SET retired_at = now()
       WHERE retired_at IS NULL AND kid <> (
         SELECT kid FROM signing_keys WHERE retired_at IS NULL ORDER BY created_at DESC, kid DESC LIMIT 1)
       RETURNING kid`,
    );
    return rows.map((r) => r.kid);
  }
}
