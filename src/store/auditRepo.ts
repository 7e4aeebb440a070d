/**
 * Postgres repository of the audit trail (`audit_events`): append-only. Rows
 * are inserted and read; only the retention prune deletes them, and the
 * table refuses UPDATE (trigger in migration 0008).
 */
import type { AuditDetail, AuditEvent, AuditKindValue } from '../domain/audit.js';
import type { Id } from '../domain/ids.js';
import type { Pool, PoolClient } from './postgres.js';

interface AuditRow {
  id: string;
  user_id: string;
  at: Date;
  kind: AuditKindValue;
  session_id: string | null;
  ip: string | null;
  client_id: number | null;
  device_type: string | null;
  device_version: string | null;
  app_version: string | null;
  country: string | null;
  region: string | null;
  detail: AuditDetail;
}

const toEvent = (row: AuditRow): AuditEvent => ({
  id: row.id,
  userId: row.user_id,
  at: row.at,
  kind: row.kind,
  origin: {
    sessionId: row.session_id,
    ip: row.ip,
    device:
      row.client_id === null
        ? null
        : { clientId: row.client_id, deviceType: row.device_type ?? '', deviceVersion: row.device_version ?? '', appVersion: row.app_version ?? '' },
    geo: { ...(row.country !== null ? { country: row.country } : {}), ...(row.region !== null ? { region: row.region } : {}) },
  },
  detail: row.detail,
});

/** Rows deleted per statement by the prune, so no statement holds locks for long. */
const PRUNE_BATCH = 5_000;

export class AuditRepo {
  constructor(private readonly pool: Pool) {}

  async insert(event: Omit<AuditEvent, 'at'>, db: Pool | PoolClient = this.pool): Promise<void> {
    const { origin } = event;
    await db.query(
      `INSERT INTO audit_events (id, user_id, kind, session_id, ip, client_id, device_type, device_version, app_version, country, region, detail)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)`,
      [event.id, event.userId, event.kind, origin.sessionId, origin.ip, origin.device?.clientId ?? null, origin.device?.deviceType ?? null,
        origin.device?.deviceVersion ?? null, origin.device?.appVersion ?? null, origin.geo.country ?? null, origin.geo.region ?? null,
        JSON.stringify(event.detail)],
    );
  }

  /** The user's events, newest first. */
  async byUser(userId: Id, limit: number): Promise<AuditEvent[]> {
    const { rows } = await this.pool.query<AuditRow>(
      `SELECT * FROM audit_events WHERE user_id = $1 ORDER BY at DESC, id DESC LIMIT $2`,
      [userId, limit],
    );
    return rows.map(toEvent);
  }

  /** Deletes events older than `before`, in batches; returns how many. */
  async pruneBefore(before: Date): Promise<number> {
    let total = 0;
    for (;;) {
      const { rowCount } = await this.pool.query(
        `DELETE FROM audit_events WHERE id IN (SELECT id FROM audit_events WHERE at < $1 LIMIT $2)`,
        [before, PRUNE_BATCH],
      );
      total += rowCount ?? 0;
      if ((rowCount ?? 0) < PRUNE_BATCH) return total;
    }
  }
}
