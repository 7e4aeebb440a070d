/**
 * Registry of known client ids (Session.app_name). Read often, written by the
 * admin CLI only, so names are cached in process for a minute.
 */
import type { Pool } from './postgres.js';

const CACHE_MS = 60_000;

export class ClientAppsRepo {
  private cache = new Map<number, string>();
  private loadedAt = 0;

  constructor(private readonly pool: Pool) {}

  /** Names of the given client ids; unknown ids are absent. */
  async names(clientIds: readonly number[]): Promise<Map<number, string>> {
    if (Date.now() - this.loadedAt > CACHE_MS) {
      const { rows } = await this.pool.query<{ client_id: number; name: string }>(`SELECT client_id, name FROM client_apps`);
      this.cache = new Map(rows.map((r) => [r.client_id, r.name]));
      this.loadedAt = Date.now();
    }
    const out = new Map<number, string>();
    for (const id of clientIds) {
      const name = this.cache.get(id);
      if (name !== undefined) out.set(id, name);
    }
    return out;
  }

  async upsert(clientId: number, name: string): Promise<void> {
    await this.pool.query(
      `INSERT INTO client_apps (client_id, name) VALUES ($1, $2) ON CONFLICT (client_id) DO UPDATE SET name = EXCLUDED.name`,
      [clientId, name],
    );
    this.loadedAt = 0;
  }

  async list(): Promise<Array<{ clientId: number; name: string }>> {
    const { rows } = await this.pool.query<{ client_id: number; name: string }>(`SELECT client_id, name FROM client_apps ORDER BY client_id`);
    return rows.map((r) => ({ clientId: r.client_id, name: r.name }));
  }
}
