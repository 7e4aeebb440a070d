/**
 * The audit trail: every security event of an account (sign-ins and failed
 * sign-ins, new devices, password and email changes, TOTP on/off, backup
 * codes used, sessions revoked, deletion requested/cancelled/purged), with
 * time, user, session, IP and device, in the append-only `audit_events`
 * table. Operators read it with `npm run admin -- user events <id>`; events
 * older than AUDIT_RETENTION_DAYS are pruned by the maintenance pass
 * (accountDeletion.ts). Details never carry a secret.
 */
import type { AuditDetail, AuditEvent, AuditKindValue, AuditOrigin } from '../domain/audit.js';
import type { Clock } from '../domain/clock.js';
import type { Id } from '../domain/ids.js';
import type { Logger } from '../logger.js';
import type { AuditRepo } from '../store/auditRepo.js';
import type { Pool, PoolClient } from '../store/postgres.js';
import type { SnowflakeGenerator } from './snowflake.js';

export interface AuditLogDeps {
  repo: AuditRepo;
  ids: SnowflakeGenerator;
  /** AUDIT_RETENTION_DAYS. */
  retentionDays: number;
  clock: Clock;
  log: Logger;
}

export class AuditLog {
  private readonly repo: AuditRepo;

  constructor(private readonly deps: AuditLogDeps) {
    this.repo = deps.repo;
  }

  /** Writes an event; inside the caller's transaction when `db` is one, so it commits with the change it records. */
  async record(userId: Id, kind: AuditKindValue, origin: AuditOrigin, detail: AuditDetail = {}, db?: Pool | PoolClient): Promise<void> {
    await this.repo.insert({ id: this.deps.ids.next(), userId, kind, origin, detail }, db);
  }

  /**
   * Writes an event without making the caller wait (a failed sign-in: its
   * answer must take the same time whether or not the account exists). A
   * failure is logged.
   */
  recordInBackground(userId: Id, kind: AuditKindValue, origin: AuditOrigin, detail: AuditDetail = {}): void {
    setImmediate(() => {
      this.record(userId, kind, origin, detail).catch((err) => this.deps.log.error({ err, userId, kind }, 'could not write audit event'));
    });
  }

  /** The user's events, newest first. */
  list(userId: Id, limit: number): Promise<AuditEvent[]> {
    return this.repo.byUser(userId, limit);
  }

  /** Deletes events older than the retention; returns how many. */
  prune(): Promise<number> {
    return this.repo.pruneBefore(new Date(this.deps.clock() - this.deps.retentionDays * 86_400_000));
  }
}
