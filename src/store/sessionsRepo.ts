/** Postgres repository of sessions: the record of which sessions are valid. */
import type { DeviceInfo, Geo } from '../domain/device.js';
import type { Id } from '../domain/ids.js';
import type { SessionRecord } from '../domain/session.js';
import type { UserProfile } from '../domain/user.js';
import { hotStatement, type Pool, type PoolClient } from './postgres.js';

interface SessionRow {
  id: string;
  user_id: string;
  client_id: number;
  device_type: string;
  device_version: string;
  app_version: string;
  country: string | null;
  region: string | null;
  created_at: Date;
  last_active: string;
  revoked_at: Date | null;
}

const toSession = (row: SessionRow): SessionRecord => ({
  id: row.id,
  userId: row.user_id,
  clientId: row.client_id,
  deviceType: row.device_type,
  deviceVersion: row.device_version,
  appVersion: row.app_version,
  ...(row.country !== null ? { country: row.country } : {}),
  ...(row.region !== null ? { region: row.region } : {}),
  createdAt: row.created_at,
  lastActive: Number(row.last_active),
  revokedAt: row.revoked_at,
});

export class SessionsRepo {
  constructor(private readonly pool: Pool) {}

  async insert(
    session: { id: Id; userId: Id; device: DeviceInfo; geo: Geo; lastActive: number },
    client: Pool | PoolClient = this.pool,
  ): Promise<SessionRecord> {
    const { device, geo } = session;
    const { rows } = await client.query<SessionRow>(
      `INSERT INTO sessions (id, user_id, client_id, device_type, device_version, app_version, country, region, last_active)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING *`,
      [session.id, session.userId, device.clientId, device.deviceType, device.deviceVersion, device.appVersion,
        geo.country ?? null, geo.region ?? null, session.lastActive],
    );
    return toSession(rows[0]!);
  }

  /** A session with its owner's public profile (an Authorize that missed the cache); one joined, prepared statement. */
  async forAuthorize(id: Id): Promise<{ session: SessionRecord; user: UserProfile } | null> {
    const { rows } = await this.pool.query<SessionRow & { user_name: string; user_bot: boolean }>(
      hotStatement(
        this.pool,
        'session_for_authorize',
        `SELECT s.*, u.name AS user_name, u.bot AS user_bot FROM sessions s JOIN users u ON u.id = s.user_id WHERE s.id = $1`,
        [id],
      ),
    );
    const row = rows[0];
    return row ? { session: toSession(row), user: { id: row.user_id, name: row.user_name, bot: row.user_bot } } : null;
  }

  /** Unrevoked sessions of a user active since `activeSince` (Unix ms), newest activity first. */
  async liveByUser(userId: Id, activeSince: number): Promise<SessionRecord[]> {
    const { rows } = await this.pool.query<SessionRow>(
      `SELECT * FROM sessions WHERE user_id = $1 AND revoked_at IS NULL AND last_active > $2
       ORDER BY last_active DESC, id DESC`,
      [userId, activeSince],
    );
    return rows.map(toSession);
  }

  /** Of the given ids, those of sessions that still exist unrevoked. */
  async unrevoked(ids: readonly Id[]): Promise<Set<Id>> {
    if (!ids.length) return new Set();
    const { rows } = await this.pool.query<{ id: string }>(`SELECT id FROM sessions WHERE id = ANY($1::bigint[]) AND revoked_at IS NULL`, [ids]);
    return new Set(rows.map((r) => r.id));
  }

  /** Revokes the listed sessions that belong to the user; returns the ids actually revoked. */
  async revoke(userId: Id, ids: readonly Id[], client: Pool | PoolClient = this.pool): Promise<Id[]> {
    const { rows } = await client.query<{ id: string }>(
      `UPDATE sessions SET revoked_at = now() WHERE user_id = $1 AND id = ANY($2::bigint[]) AND revoked_at IS NULL RETURNING id`,
      [userId, ids],
    );
    return rows.map((r) => r.id);
  }

  /** Revokes every session of a user; returns the ids revoked. */
  async revokeAll(userId: Id, client: Pool | PoolClient = this.pool): Promise<Id[]> {
    const { rows } = await client.query<{ id: string }>(
      `UPDATE sessions SET revoked_at = now() WHERE user_id = $1 AND revoked_at IS NULL RETURNING id`,
      [userId],
    );
    return rows.map((r) => r.id);
  }

  /** Ids of sessions revoked since `since`. */
  async revokedSince(since: Date): Promise<Id[]> {
    const { rows } = await this.pool.query<{ id: string }>(`SELECT id FROM sessions WHERE revoked_at >= $1`, [since]);
    return rows.map((r) => r.id);
  }

  async updateDevice(id: Id, device: DeviceInfo): Promise<void> {
    await this.pool.query(
      // Clients send the same Initialize on every reconnect: write only what changed.
      `UPDATE sessions SET client_id = $2, device_type = $3, device_version = $4, app_version = $5
       WHERE id = $1 AND (client_id, device_type, device_version, app_version) IS DISTINCT FROM ($2, $3, $4, $5)`,
      [id, device.clientId, device.deviceType, device.deviceVersion, device.appVersion],
    );
  }

  /**
   * Writes a batch of last-activity times in one statement, rewriting a
   * session's last_active only when it moved forward by at least
   * `granularityMs` (never backwards).
   */
  async recordActivity(activity: ReadonlyMap<Id, number>, granularityMs: number): Promise<void> {
    if (!activity.size) return;
    await this.pool.query(
      `UPDATE sessions s SET last_active = v.at
       FROM unnest($1::bigint[], $2::bigint[]) AS v(id, at) WHERE s.id = v.id AND s.last_active + $3::bigint <= v.at AND s.last_active < v.at`,
      [[...activity.keys()], [...activity.values()].map(String), Math.round(granularityMs)],
    );
  }
}
