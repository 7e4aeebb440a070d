/**
 * Account deletion with a grace period, and the gateway's maintenance pass.
 *
 * - settings.deleteAccount{} (after a recent sign-in) marks the account
 *   pending deletion, revokes every other session and mails the owner; the
 *   caller's session stays, and signing in keeps working, so the owner can
 *   cancel with settings.deleteAccount{cancel: true} until the grace period
 *   (ACCOUNT_DELETE_GRACE_DAYS) is over.
 * - The purge then removes the account's sessions, codes, TOTP, invites,
 *   memberships and friendships and frees its email (accountDeletionRepo.ts):
 *   one transaction per account on a row claimed with FOR UPDATE SKIP
 *   LOCKED, so every instance may run it at once, each on other accounts,
 *   and a pass cut short is simply taken up by the next.
 * - Every instance runs the pass every PASS_INTERVAL_MS; it also prunes the
 *   audit trail (AUDIT_RETENTION_DAYS) once an hour.
 */
import { AuditKind, SYSTEM_ORIGIN, type AuditOrigin } from '../domain/audit.js';
import type { Clock } from '../domain/clock.js';
import type { NewEvent } from '../domain/events.js';
import type { Id } from '../domain/ids.js';
import type { Caller } from '../domain/session.js';
import type { Logger } from '../logger.js';
import { ErrorCode, RpcError } from '../protocol/errorCodes.js';
import type { AccountDeletionRepo } from '../store/accountDeletionRepo.js';
import type { Pool } from '../store/postgres.js';
import { addEvents } from '../store/eventsRepo.js';
import { withTransaction } from '../store/transaction.js';
import type { UsersRepo } from '../store/usersRepo.js';
import type { AuditLog } from './audit.js';
import type { MailService } from './mail.js';
import type { MailOrigins } from './mailOrigin.js';
import { deletionCancelledMail, deletionRequestedMail } from './mailTemplates.js';
import type { RecentSignIn } from './recentSignIn.js';
import type { Revocations } from './revocations.js';

/** How often each instance looks for accounts to purge. */
const PASS_INTERVAL_MS = 60_000;
/** How often each instance prunes the audit trail. */
const PRUNE_INTERVAL_MS = 3_600_000;
/** Accounts purged per pass at most (the rest wait for the next pass). */
const PURGES_PER_PASS = 100;

export interface AccountDeletionDeps {
  db: Pool;
  repo: AccountDeletionRepo;
  users: UsersRepo;
  revocations: Revocations;
  recentSignIn: RecentSignIn;
  audit: AuditLog;
  mail: MailService;
  mailOrigins: MailOrigins;
  /** ACCOUNT_DELETE_GRACE_DAYS. */
  graceDays: number;
  clock: Clock;
  log: Logger;
}

export class AccountDeletionService {
  private timer: NodeJS.Timeout | undefined;
  private pass: Promise<void> | undefined;
  private lastPrune = 0;

  constructor(private readonly deps: AccountDeletionDeps) {}

  private get graceMs(): number {
    return this.deps.graceDays * 86_400_000;
  }

  /** settings.deleteAccount{}: idempotent (a second request keeps the first one's date). */
  async request(caller: Caller, origin: AuditOrigin): Promise<void> {
    const { users, repo, revocations, audit } = this.deps;
    const user = await users.byId(caller.userId);
    if (!user || user.deletedAt) throw new RpcError(ErrorCode.UNAUTHENTICATED, 'this account no longer exists');
    await this.deps.recentSignIn.require(user, caller);
    const revoked = await withTransaction(this.deps.db, async (tx) => {
      if (!(await repo.request(user.id, tx.db))) return null;
      const ids = await revocations.revokeAllExcept(user.id, caller.sessionId, 'deletion', tx);
      await addEvents(tx.db, [{ type: 'user.deletion_requested', userId: user.id, data: {
        user_id: user.id, purge_at: new Date(this.deps.clock() + this.graceMs).toISOString(),
      } }]);
      await audit.record(user.id, AuditKind.DELETION_REQUESTED, origin, { revoked_sessions: ids.length, grace_days: this.deps.graceDays }, tx.db);
      return ids;
    });
    if (revoked === null) return;
    if (user.email && user.emailVerified) {
      const purgeAt = new Date(this.deps.clock() + this.graceMs);
      this.deps.mail.send(deletionRequestedMail(user.email, purgeAt, await this.deps.mailOrigins.describe(origin)));
    }
  }

  /** settings.deleteAccount{cancel: true}: 409 when no deletion is pending. Not a sensitive change: it only protects. */
  async cancel(caller: Caller, origin: AuditOrigin): Promise<void> {
    const { users, repo, audit } = this.deps;
    const cancelled = await withTransaction(this.deps.db, async (tx) => {
      if (!(await repo.cancel(caller.userId, tx.db))) return false;
      await addEvents(tx.db, [{ type: 'user.deletion_cancelled', userId: caller.userId, data: { user_id: caller.userId } }]);
      await audit.record(caller.userId, AuditKind.DELETION_CANCELLED, origin, {}, tx.db);
      return true;
    });
    if (!cancelled) throw new RpcError(ErrorCode.CONFLICT, 'no account deletion is pending');
    const user = await users.byId(caller.userId);
    if (user?.email && user.emailVerified) this.deps.mail.send(deletionCancelledMail(user.email, await this.deps.mailOrigins.describe(origin)));
  }

  /**
   * Purges accounts whose grace period is over, one transaction each, until
   * none is due or `limit` were purged; returns the ids purged. Safe to run
   * on every instance at once. Sessions being opened meanwhile wait for the
   * purge or make it wait (SessionsRepo.insert): none outlives it.
   */
  async purgeDue(limit = PURGES_PER_PASS): Promise<Id[]> {
    const { repo, revocations, audit, log } = this.deps;
    const purged: Id[] = [];
    while (purged.length < limit) {
      const done = await withTransaction(this.deps.db, async (tx) => {
        const due = await repo.claimDue(this.graceMs / 1000, tx.db);
        if (!due) return null;
        const result = await repo.purge(due.id, tx.db);
        await audit.record(due.id, AuditKind.ACCOUNT_PURGED, SYSTEM_ORIGIN, {
          sessions: result.sessions, invites: result.invites, memberships: result.memberships, friendships: result.friendships,
          bots: result.bots.length,
        }, tx.db);
        for (const bot of result.bots) await audit.record(bot, AuditKind.ACCOUNT_PURGED, SYSTEM_ORIGIN, { owner: due.id }, tx.db);
        await addEvents(tx.db, [
          ...result.bots.map((bot): NewEvent => ({ type: 'bot.deleted', userId: bot, data: { user_id: bot, owner_id: due.id, reason: 'owner_deleted' } })),
          { type: 'user.deleted', userId: due.id, data: { user_id: due.id } },
        ]);
        revocations.announceAfterCommit(tx, result.liveSessionIds);
        return { userId: due.id, liveSessionIds: result.liveSessionIds };
      });
      if (!done) break;
      purged.push(done.userId);
      log.info({ userId: done.userId, revokedSessions: done.liveSessionIds.length }, 'account purged');
    }
    return purged;
  }

  /** Deletes audit events older than AUDIT_RETENTION_DAYS; returns how many (run hourly by the pass). */
  pruneAudit(): Promise<number> {
    return this.deps.audit.prune();
  }

  /** Starts the periodic pass (purge, and the hourly audit prune). */
  start(): void {
    this.timer = setInterval(() => void this.runPass(), PASS_INTERVAL_MS);
    this.timer.unref();
  }

  /** Stops the timer and waits for a pass in progress. */
  async stop(): Promise<void> {
    clearInterval(this.timer);
    await this.pass;
  }

  private runPass(): Promise<void> {
    this.pass ??= (async () => {
      try {
        await this.purgeDue();
        if (Date.now() - this.lastPrune >= PRUNE_INTERVAL_MS) {
          this.lastPrune = Date.now();
          const pruned = await this.pruneAudit();
          if (pruned) this.deps.log.info({ pruned }, 'pruned old audit events');
        }
      } catch (err) {
        this.deps.log.warn({ err }, 'maintenance pass failed; retrying at the next one');
      } finally {
        this.pass = undefined;
      }
    })();
    return this.pass;
  }
}
