/** Postgres repository of sessions: the record of which sessions are valid, and the log of those that ended. */
import type { DeviceInfo, Geo } from '../domain/device.js';
import type { RevokeReason } from '../domain/events.js';
import type { Id } from '../domain/ids.js';
import type { SessionRecord } from '../domain/session.js';
import type { UserProfile } from '../domain/user.js';
import { hotStatement, type Pool, type PoolClient } from './postgres.js';

/** Sessions that ended since a point of the revocation log, and the point to continue from next time. */
export interface EndedSince {
  sessionIds: Id[];
  /** Pass it back as `after`: no session ending at or after it was left out (migration 0011). */
  horizon: string;
}

/**
 * The session.revoked events of the sessions a CTE `r` (id, user_id) revoked,
 * with the reason as parameter `$n`: part of the revoking statement, so the
 * revocation and its events commit together (migration 0013).
 */
const revokedEvents = (n: number) =>
  `e AS (INSERT INTO events (type, user_id, data)
     SELECT 'session.revoked', user_id, jsonb_build_object('user_id', user_id::text, 'session_id', id::text, 'reason', $${n}::text) FROM r ORDER BY id)`;

/** Rows of the revocation log read per statement. */
const LOG_PAGE = 10_000;

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

export { revokedEvents };

export class SessionsRepo {
  constructor(private readonly pool: Pool) {}

  /**
   * Opens a session for a user that exists and was not purged; null when it
   * was. The user row is locked FOR SHARE until the caller's transaction (or
   * this statement) ends, and the purge locks it FOR UPDATE before it ends
   * the account's sessions: whichever comes second waits for the first, and
   * a session created while the purge runs is refused once it committed
   * (READ COMMITTED re-reads the row), so no session outlives a purge.
   * The same statement writes its session.created event (migration 0013).
   */
  async insert(
    session: { id: Id; userId: Id; device: DeviceInfo; geo: Geo; lastActive: number; tokenKid: string },
    client: Pool | PoolClient = this.pool,
  ): Promise<SessionRecord | null> {
    const { device, geo } = session;
    const { rows } = await client.query<SessionRow>(
      `WITH s AS (
         INSERT INTO sessions (id, user_id, client_id, device_type, device_version, app_version, country, region, last_active, token_kid)
         SELECT $1, u.id, $3, $4, $5, $6, $7, $8, $9, $10 FROM users u WHERE u.id = $2 AND u.deleted_at IS NULL FOR SHARE
         RETURNING *
       ), e AS (
         INSERT INTO events (type, user_id, data)
         SELECT 'session.created', s.user_id, jsonb_build_object(
           'user_id', s.user_id::text, 'session_id', s.id::text, 'bot', u.bot,
           'device', jsonb_build_object('client_id', s.client_id, 'device_type', s.device_type, 'device_version', s.device_version, 'app_version', s.app_version),
           'country', s.country, 'region', s.region)
         FROM s JOIN users u ON u.id = s.user_id
       )
       SELECT * FROM s`,
      [session.id, session.userId, device.clientId, device.deviceType, device.deviceVersion, device.appVersion,
        geo.country ?? null, geo.region ?? null, session.lastActive, session.tokenKid],
    );
    return rows[0] ? toSession(rows[0]) : null;
  }

  /** A session with its owner's public profile (an Authorize that missed the cache); one joined, prepared statement. */
  async forAuthorize(id: Id): Promise<{ session: SessionRecord; user: UserProfile & { emailVerified: boolean } } | null> {
    const { rows } = await this.pool.query<SessionRow & { user_name: string; user_bot: boolean; user_email_verified: boolean }>(
      hotStatement(
        this.pool,
        'session_for_authorize_v2',
        `SELECT s.*, u.name AS user_name, u.bot AS user_bot, u.email_verified AS user_email_verified FROM sessions s JOIN users u ON u.id = s.user_id WHERE s.id = $1`,
        [id],
      ),
    );
    const row = rows[0];
    return row ? { session: toSession(row), user: { id: row.user_id, name: row.user_name, bot: row.user_bot, emailVerified: row.user_email_verified } } : null;
  }

  /** What introspection adds to a valid session: its owner's address state and the device last recorded (one indexed read). */
  async introspectionDetails(id: Id): Promise<{ emailVerified: boolean; device: DeviceInfo } | null> {
    const { rows } = await this.pool.query<{ email_verified: boolean; client_id: number; device_type: string; device_version: string; app_version: string }>(
      hotStatement(
        this.pool,
        'session_introspection',
        `SELECT u.email_verified, s.client_id, s.device_type, s.device_version, s.app_version FROM sessions s JOIN users u ON u.id = s.user_id WHERE s.id = $1`,
        [id],
      ),
    );
    const row = rows[0];
    return row
      ? { emailVerified: row.email_verified, device: { clientId: row.client_id, deviceType: row.device_type, deviceVersion: row.device_version, appVersion: row.app_version } }
      : null;
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

  /** The user of each of the given sessions that still exists unrevoked (session id → user id). */
  async usersOf(ids: readonly Id[]): Promise<Map<Id, Id>> {
    if (!ids.length) return new Map();
    const { rows } = await this.pool.query<{ id: string; user_id: string }>(
      `SELECT id, user_id FROM sessions WHERE id = ANY($1::bigint[]) AND revoked_at IS NULL`,
      [ids],
    );
    return new Map(rows.map((r) => [r.id, r.user_id]));
  }

  /** Of the given ids, those of sessions that still exist unrevoked. */
  async unrevoked(ids: readonly Id[]): Promise<Set<Id>> {
    if (!ids.length) return new Set();
    const { rows } = await this.pool.query<{ id: string }>(`SELECT id FROM sessions WHERE id = ANY($1::bigint[]) AND revoked_at IS NULL`, [ids]);
    return new Set(rows.map((r) => r.id));
  }

  /** Revokes the listed sessions that belong to the user (and writes their session.revoked events); returns the ids actually revoked. */
  async revoke(userId: Id, ids: readonly Id[], reason: RevokeReason | ((id: Id) => RevokeReason), client: Pool | PoolClient = this.pool): Promise<Id[]> {
    if (typeof reason === 'function') {
      // Each session its own reason (sign-out of the caller's own, revoke of the others): grouped, one statement each.
      const byReason = new Map<RevokeReason, Id[]>();
      for (const id of ids) byReason.set(reason(id), [...(byReason.get(reason(id)) ?? []), id]);
      const revoked: Id[] = [];
      for (const [why, some] of byReason) revoked.push(...(await this.revoke(userId, some, why, client)));
      return revoked;
    }
    const { rows } = await client.query<{ id: string }>(
      `WITH r AS (UPDATE sessions SET revoked_at = now() WHERE user_id = $1 AND id = ANY($2::bigint[]) AND revoked_at IS NULL RETURNING id, user_id),
       ${revokedEvents(3)}
       SELECT id FROM r`,
      [userId, ids, reason],
    );
    return rows.map((r) => r.id);
  }

  /** Revokes every session of a user; returns the ids revoked. */
  async revokeAll(userId: Id, reason: RevokeReason, client: Pool | PoolClient = this.pool): Promise<Id[]> {
    const { rows } = await client.query<{ id: string }>(
      `WITH r AS (UPDATE sessions SET revoked_at = now() WHERE user_id = $1 AND revoked_at IS NULL RETURNING id, user_id),
       ${revokedEvents(2)}
       SELECT id FROM r`,
      [userId, reason],
    );
    return rows.map((r) => r.id);
  }

  /** Revokes every session of a user but `keepId` (a password change that keeps the caller signed in); returns the ids revoked. */
  async revokeAllExcept(userId: Id, keepId: Id, reason: RevokeReason, client: Pool | PoolClient = this.pool): Promise<Id[]> {
    const { rows } = await client.query<{ id: string }>(
      `WITH r AS (UPDATE sessions SET revoked_at = now() WHERE user_id = $1 AND id <> $2 AND revoked_at IS NULL RETURNING id, user_id),
       ${revokedEvents(3)}
       SELECT id FROM r`,
      [userId, keepId, reason],
    );
    return rows.map((r) => r.id);
  }

  /**
   * Sessions that ended (revoked, or deleted with their user) in transactions
   * at or after `after` (a horizon this returned before; null: from the
   * oldest row kept), with the horizon to pass next time. Reads the whole
   * range, a page at a time.
   */
  async endedSince(after: string | null): Promise<EndedSince> {
    const sessionIds: Id[] = [];
    let cursor: { xid: string; sessionId: string } | null = null;
    type LogRow = { horizon: string; session_id: string | null; xid: string | null };
    for (;;) {
      const { rows }: { rows: LogRow[] } = await this.pool.query<{ horizon: string; session_id: string | null; xid: string | null }>(
        // One statement: the horizon and the rows come from one snapshot.
        `SELECT pg_snapshot_xmin(pg_current_snapshot())::text AS horizon, r.session_id, r.xid::text AS xid
         FROM (SELECT 1) one LEFT JOIN LATERAL (
           SELECT session_id, xid FROM session_revocations
           WHERE ($1::xid8 IS NULL OR xid >= $1::xid8) AND ($2::xid8 IS NULL OR (xid, session_id) > ($2::xid8, $3::bigint))
           ORDER BY xid, session_id LIMIT ${LOG_PAGE}
         ) r ON true`,
        [after, cursor?.xid ?? null, cursor?.sessionId ?? null],
      );
      const page: LogRow[] = rows.filter((r) => r.session_id !== null);
      for (const row of page) sessionIds.push(row.session_id!);
      if (page.length < LOG_PAGE) return { sessionIds, horizon: rows[0]!.horizon };
      const last: LogRow = page[page.length - 1]!;
      cursor = { xid: last.xid!, sessionId: last.session_id! };
    }
  }

  /** A horizon as of now: a read of the log from it sees every session that ends from now on. */
  async horizonNow(): Promise<string> {
    const { rows } = await this.pool.query<{ horizon: string }>(`SELECT pg_snapshot_xmin(pg_current_snapshot())::text AS horizon`);
    return rows[0]!.horizon;
  }

  /** Sessions that ended since `since` (a time), for an instance that missed messages from then on. */
  async endedSinceTime(since: Date): Promise<Id[]> {
    const { rows } = await this.pool.query<{ session_id: string }>(`SELECT session_id FROM session_revocations WHERE at >= $1`, [since]);
    return rows.map((r) => r.session_id);
  }

  /** Forgets log rows older than `before` (no cache entry lives that long); returns how many. */
  async pruneEndedBefore(before: Date): Promise<number> {
    const { rowCount } = await this.pool.query(`DELETE FROM session_revocations WHERE at < $1`, [before]);
    return rowCount ?? 0;
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
