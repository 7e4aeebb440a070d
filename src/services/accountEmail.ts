/**
 * Email verification and password reset: the flows behind auth.signUp's mail,
 * auth.verifyEmail, auth.resendEmailVerification and auth.resetPassword.
 *
 * Nothing here tells a caller whether an account exists:
 * - requests by address answer the same way (and cost one rate-limit call and
 *   one SQL statement) whether or not an account has it; mail goes out in the
 *   background, so SMTP latency never shows;
 * - the hourly mail caps count per address, account or not, so a 429 says
 *   nothing either;
 * - every refused code gets the same message (the precise reason is logged).
 */
import { AuditKind } from '../domain/audit.js';
import type { Id } from '../domain/ids.js';
import type { BoundSession } from '../domain/session.js';
import type { RequestOrigin } from '../domain/source.js';
import type { UserRecord } from '../domain/user.js';
import type { Logger } from '../logger.js';
import { ErrorCode, RpcError, badRequest } from '../protocol/errorCodes.js';
import type { Pool } from '../store/postgres.js';
import { addEvents } from '../store/eventsRepo.js';
import { withTransaction } from '../store/transaction.js';
import { EmailTakenError, type UsersRepo } from '../store/usersRepo.js';
import type { AuditLog } from './audit.js';
import type { CodeCheck, CodePurpose, EmailCodeService } from './emailCodes.js';
import { KNOWN_SOURCE_DAYS, type Limits } from './limits.js';
import type { MailService } from './mail.js';
import type { MailOrigins } from './mailOrigin.js';
import { resetMail, resetTookOverMail, verificationMail } from './mailTemplates.js';
import type { PasswordHasher } from './passwords.js';
import type { PasswordPolicy } from './passwordPolicy.js';
import { RateLimitedError } from './rateLimit.js';
import type { Revocations } from './revocations.js';
import type { SessionService } from './sessions.js';
import type { TotpService } from './totp.js';

/** The one answer to a wrong, expired, used or dead code (which one is logged, never told). */
export const CODE_REFUSED = 'code is wrong, expired or already used, or had too many wrong tries; request a new code';

export interface AccountEmailDeps {
  db: Pool;
  codes: EmailCodeService;
  users: UsersRepo;
  revocations: Revocations;
  /** Cache entries to drop when an address is verified or changed (introspection answers from them). */
  sessions: Pick<SessionService, 'forgetCachedOf'>;
  totp: Pick<TotpService, 'removeAll'>;
  passwords: PasswordHasher;
  policy: PasswordPolicy;
  mail: MailService;
  mailOrigins: MailOrigins;
  audit: AuditLog;
  limits: Pick<Limits, 'VERIFY_MAIL_EMAIL' | 'RESET_MAIL_EMAIL' | 'MAIL_IP' | 'CODE_CHECK_IP'>;
  log: Logger;
}

export class AccountEmailService {
  /** Code issuances still running after their answer was sent. */
  private readonly pending = new Set<Promise<void>>();
  private readonly db: Pool;
  private readonly codes: EmailCodeService;
  private readonly users: UsersRepo;
  private readonly mail: MailService;
  private readonly limits: AccountEmailDeps['limits'];
  private readonly log: Logger;

  constructor(private readonly deps: AccountEmailDeps) {
    ({ db: this.db, codes: this.codes, users: this.users, mail: this.mail, limits: this.limits, log: this.log } = deps);
  }

  /** Sign-up hook: mails the first verification code. A capped address gets no mail (sign-up still succeeds). */
  async onSignedUp(user: UserRecord): Promise<void> {
    if (!user.email) return;
    try {
      await this.limits.VERIFY_MAIL_EMAIL.consume(user.email);
    } catch (err) {
      if (!(err instanceof RateLimitedError)) throw err;
      this.log.warn({ userId: user.id }, 'verification mail after sign-up skipped: hourly cap of the address reached');
      return;
    }
    const issued = await this.codes.issue({ userId: user.id }, 'verify_email', { onlyUnverified: true });
    if (issued) this.mail.send(verificationMail(issued.email, issued.code));
  }

  /**
   * auth.resendEmailVerification with an address: mails a new code only if an
   * unverified account has it; the caller learns nothing either way. Throws
   * 429 when the address had its hourly share.
   */
  async resendToAddress(email: string, origin: RequestOrigin): Promise<void> {
    await this.limits.MAIL_IP.consume(origin.network);
    await this.limits.VERIFY_MAIL_EMAIL.consume(email);
    this.afterAnswer('resend verification', async () => {
      const issued = await this.codes.issue({ email }, 'verify_email', { onlyUnverified: true });
      if (issued) this.mail.send(verificationMail(issued.email, issued.code));
    });
  }

  /** auth.resendEmailVerification signed in, without an address: the caller's own address. */
  async resendToUser(userId: Id): Promise<void> {
    const user = await this.users.byId(userId);
    if (!user?.email) throw badRequest('this account has no email address to verify');
    if (user.emailVerified) throw new RpcError(ErrorCode.CONFLICT, 'email is already verified');
    await this.limits.VERIFY_MAIL_EMAIL.consume(user.email);
    const issued = await this.codes.issue({ userId }, 'verify_email', { onlyUnverified: true });
    if (issued) this.mail.send(verificationMail(issued.email, issued.code));
  }

  /**
   * auth.verifyEmail: marks the address verified when the code is the
   * account's verification code; or, on a socket signed in to the session
   * that asked for an email change to this address (settings.changeEmail),
   * makes it the account's verified address (409 when another account took
   * it meanwhile). A change code on any other socket, or with no session,
   * is refused like a wrong code: the code alone never moves an account.
   */
  async verifyEmail(email: string, code: string, origin: RequestOrigin, caller: BoundSession | null): Promise<void> {
    await this.limits.CODE_CHECK_IP.consume(origin.network);
    const check = await withTransaction(this.db, async (tx) => {
      const verification = await this.codes.consume(tx.db, 'verify_email', email, code);
      const forgetCached = (userId: Id) => tx.afterCommit(() => this.deps.sessions.forgetCachedOf(userId));
      if (verification.ok) {
        forgetCached(verification.userId);
        await this.users.markEmailVerified(verification.userId, tx.db);
        await addEvents(tx.db, [{ type: 'user.updated', userId: verification.userId, data: {
          user_id: verification.userId, changed: ['email_verified'], email, email_verified: true,
        } }]);
        return verification;
      }
      if (!caller) return verification;
      const change = await this.codes.consumeChange(tx.db, caller, email, code);
      if (!change.ok) return verification.reason === 'none' ? change : verification;
      const previous = await this.users.byId(change.userId, tx.db);
      try {
        await this.users.setVerifiedEmail(change.userId, email, tx.db);
      } catch (err) {
        if (err instanceof EmailTakenError) throw new RpcError(ErrorCode.CONFLICT, 'email is already registered');
        throw err;
      }
      forgetCached(change.userId);
      await addEvents(tx.db, [{ type: 'user.updated', userId: change.userId, data: {
        user_id: change.userId, changed: previous?.emailVerified ? ['email'] : ['email', 'email_verified'], email, email_verified: true,
      } }]);
      await this.deps.audit.record(change.userId, AuditKind.EMAIL_CHANGE_CONFIRMED, origin, { old_email: previous?.email ?? null, new_email: email }, tx.db);
      return change;
    });
    this.refuseUnlessOk(check, 'verify_email');
  }

  /**
   * auth.resetPassword without confirm: mails a reset code if an account has
   * the address; same answer and about the same cost otherwise.
   */
  async requestReset(email: string, origin: RequestOrigin): Promise<void> {
    await this.limits.MAIL_IP.consume(origin.network);
    await this.consumeResetShare(email, origin.network);
    this.afterAnswer('password reset', async () => {
      const issued = await this.codes.issue({ email }, 'reset_password', { onlyUnverified: false });
      if (issued) this.mail.send(resetMail(issued.email, issued.code));
    });
  }

  /**
   * Takes one of the address's reset mails. When a stranger has spent them,
   * a request from a network the account signed in from before (the
   * owner's) takes one of that network's own share instead: the owner can
   * still reset, and a mail flood stays bounded (5 an hour, plus 5 per known
   * network).
   */
  private async consumeResetShare(email: string, network: string): Promise<void> {
    try {
      await this.limits.RESET_MAIL_EMAIL.consume(email);
    } catch (err) {
      if (!(err instanceof RateLimitedError) || !(await this.users.isKnownSource(email, network, KNOWN_SOURCE_DAYS))) throw err;
      await this.limits.RESET_MAIL_EMAIL.consume(`${email}|${network}`);
    }
  }

  /**
   * Runs work that depends on whether an account exists after the answer is
   * sent, so the answer's timing cannot tell (enumeration parity). Failures are
   * logged; the client was promised nothing more than "if it exists, a mail".
   */
  private afterAnswer(what: string, work: () => Promise<void>): void {
    const task = new Promise<void>((resolve) => setImmediate(resolve))
      .then(work)
      .catch((err) => this.log.error({ err, what }, 'could not issue an email code'))
      .finally(() => this.pending.delete(task));
    this.pending.add(task);
  }

  /** Waits for codes still being issued (graceful shutdown). */
  async drain(): Promise<void> {
    await Promise.all([...this.pending]);
  }

  /**
   * auth.resetPassword with confirm: when the code is right, in one
   * transaction sets the new password, marks the address verified, revokes
   * every session of the account and cancels its pending email change; then
   * tells every instance so live sockets get session_deleted and are closed.
   * On an account whose address had never been verified, whoever set it up
   * may not own the address the code just proved: its second factor goes too
   * (a squatter cannot lock the real owner out with it), and the owner is
   * told by mail. `newPassword` is length-checked; the strength policy (with
   * the account's email and name) runs once the code is right, and a refusal
   * rolls the transaction back, so the code still works.
   */
  async confirmReset(email: string, code: string, newPassword: string, origin: RequestOrigin): Promise<void> {
    await this.limits.CODE_CHECK_IP.consume(origin.network);
    let revoked: Id[] = [];
    let tookOver: { totpWasOn: boolean } | null = null;
    const check = await withTransaction(this.db, async (tx) => {
      const result = await this.codes.consume(tx.db, 'reset_password', email, code);
      if (!result.ok) return result;
      const user = await this.users.byId(result.userId, tx.db);
      await this.deps.policy.check(newPassword, { email: user?.email ?? email, name: user?.name ?? null }, 'confirm.new_password', {
        network: origin.network, userId: result.userId,
      });
      // Hashed inside the transaction (the row stays locked for ~one bcrypt):
      // only a right code pays for a hash, a wrong guess never does.
      const hash = await this.deps.passwords.hash(newPassword, origin.network);
      await this.users.setPasswordAndVerify(result.userId, hash, tx.db);
      revoked = await this.deps.revocations.revokeAll(result.userId, 'password_reset', tx);
      await this.codes.cancelChange(result.userId, tx.db);
      if (user && !user.emailVerified) tookOver = { totpWasOn: await this.deps.totp.removeAll(result.userId, tx.db) };
      await addEvents(tx.db, [
        { type: 'password.changed', userId: result.userId, data: { user_id: result.userId, reason: 'reset', revoked_sessions: revoked.length } },
        ...(user && !user.emailVerified
          ? [{ type: 'user.updated' as const, userId: result.userId, data: { user_id: result.userId, changed: ['email_verified'], email: user.email, email_verified: true } }]
          : []),
        ...((tookOver as { totpWasOn: boolean } | null)?.totpWasOn
          ? [{ type: 'totp.disabled' as const, userId: result.userId, data: { user_id: result.userId, reason: 'password_reset' } }]
          : []),
      ]);
      await this.deps.audit.record(result.userId, AuditKind.PASSWORD_RESET, origin, {
        revoked_sessions: revoked.length, address_was_unverified: tookOver !== null,
      }, tx.db);
      return result;
    });
    this.refuseUnlessOk(check, 'reset_password');
    if (tookOver) this.mail.send(resetTookOverMail(email, await this.deps.mailOrigins.describe(origin), (tookOver as { totpWasOn: boolean }).totpWasOn));
    this.log.info({ userId: check.userId, revokedSessions: revoked.length, addressWasUnverified: tookOver !== null }, 'password reset');
  }

  private refuseUnlessOk(check: CodeCheck, purpose: CodePurpose): asserts check is Extract<CodeCheck, { ok: true }> {
    if (check.ok) return;
    this.log.info({ purpose, reason: check.reason }, 'email code refused');
    throw badRequest(CODE_REFUSED);
  }
}
