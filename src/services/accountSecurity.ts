/**
 * Account security settings (settings.getAccount, changePassword,
 * changeEmail, setupTotp) and what a sign-in adds to the password check: the
 * second factor, the new-device alert and the audit events.
 *
 * Notices go to the account's verified address only (an unverified one may
 * be a stranger's typo): password changed, new device. The email change
 * notice goes to the old address whether or not it was verified: it is the
 * owner's warning against a takeover.
 */
import type { AccountState, TotpState } from '../domain/account.js';
import { AuditKind, type AuditOrigin } from '../domain/audit.js';
import type { Id } from '../domain/ids.js';
import type { SessionRecord, BoundSession } from '../domain/session.js';
import type { UserRecord } from '../domain/user.js';
import type { Logger } from '../logger.js';
import { ErrorCode, RpcError, badRequest } from '../protocol/errorCodes.js';
import type { KnownDevicesRepo } from '../store/knownDevicesRepo.js';
import type { Pool } from '../store/postgres.js';
import { withTransaction } from '../store/transaction.js';
import type { UsersRepo } from '../store/usersRepo.js';
import type { AuditLog } from './audit.js';
import type { EmailCodeService } from './emailCodes.js';
import type { Limits } from './limits.js';
import type { MailService } from './mail.js';
import type { MailOrigins } from './mailOrigin.js';
import { emailChangeCodeMail, emailChangeNoticeMail, newDeviceMail, passwordChangedMail } from './mailTemplates.js';
import type { PasswordHasher } from './passwords.js';
import type { PasswordPolicy } from './passwordPolicy.js';
import { judged } from './rateLimit.js';
import type { RecentSignIn } from './recentSignIn.js';
import type { SessionService } from './sessions.js';
import type { TotpService } from './totp.js';

/** Sign-in answers for an account with TOTP on, after a right password only. */
export const TOTP_REQUIRED = 'totp required';
export const INVALID_TOTP = 'invalid totp';

export interface AccountSecurityDeps {
  db: Pool;
  users: UsersRepo;
  sessions: SessionService;
  passwords: PasswordHasher;
  policy: PasswordPolicy;
  totp: TotpService;
  recentSignIn: RecentSignIn;
  codes: EmailCodeService;
  knownDevices: KnownDevicesRepo;
  audit: AuditLog;
  mail: MailService;
  mailOrigins: MailOrigins;
  limits: Pick<Limits, 'PASSWORD_CHECK_USER' | 'MAIL_IP' | 'VERIFY_MAIL_EMAIL'>;
  log: Logger;
}

export interface PasswordChange {
  /** Empty for an account without a password (a guest setting its first). */
  currentPassword: string;
  /** Length-checked and normalised; the policy is applied here. */
  newPassword: string;
  /** Sign out every other session of the account. */
  revokeSessions: boolean;
}

export class AccountSecurityService {
  constructor(private readonly deps: AccountSecurityDeps) {}

  /** settings.getAccount. */
  async account(userId: Id): Promise<AccountState> {
    const user = await this.user(userId);
    return {
      email: user.email,
      confirmed: user.email !== null && user.emailVerified,
      hasPassword: user.passwordHash !== null,
      totpEnabled: await this.deps.totp.isEnabled(userId),
      pendingDelete: user.deleteRequestedAt !== null,
    };
  }

  /**
   * settings.changePassword: checks the current password (a point of
   * PASSWORD_CHECK_USER taken before bcrypt compares), applies the policy,
   * and in one transaction sets the new hash, optionally revokes every other
   * session, marks the caller's session as having proved the password, and
   * records the event. Then live sockets of revoked sessions are closed and
   * the owner is mailed.
   */
  async changePassword(caller: BoundSession, change: PasswordChange, origin: AuditOrigin): Promise<void> {
    const { users, sessions, passwords, limits, audit } = this.deps;
    const user = await this.user(caller.userId);
    const firstPassword = user.passwordHash === null;
    if (firstPassword && change.currentPassword !== '') {
      throw badRequest('current_password must be empty: this account has no password yet');
    }
    if (!firstPassword && change.currentPassword === '') throw badRequest('current_password is required');
    await this.deps.policy.check(change.newPassword, { email: user.email, name: user.name }, 'new_password');
    const source = origin.ip ?? '';
    if (!firstPassword) {
      const guess = await limits.PASSWORD_CHECK_USER.reserve(user.id);
      const right = await judged(guess, () => passwords.verify(change.currentPassword, user.passwordHash, source));
      if (!right) throw new RpcError(ErrorCode.UNAUTHENTICATED, 'current_password is wrong');
    }
    const hash = await passwords.hash(change.newPassword, source);
    const revoked = await withTransaction(this.deps.db, async (client) => {
      if (!(await users.replacePassword(user.id, user.passwordHash, hash, client))) {
        throw new RpcError(ErrorCode.CONFLICT, 'the password was changed meanwhile; try again');
      }
      const ids = change.revokeSessions ? await sessions.revokeAllExcept(user.id, caller.sessionId, client) : [];
      await sessions.markAuthenticated(caller.sessionId, client);
      await audit.record(user.id, AuditKind.PASSWORD_CHANGED, origin, { first_password: firstPassword, revoked_sessions: ids.length }, client);
      return ids;
    });
    await sessions.announceRevoked(revoked);
    if (user.email && user.emailVerified) {
      this.deps.mail.send(passwordChangedMail(user.email, await this.deps.mailOrigins.describe(origin), change.revokeSessions));
    }
  }

  /**
   * settings.changeEmail: mails a code to the new address (confirmed with
   * auth.verifyEmail{email: new address, code}) and a notice to the old one,
   * which stays the account's address until then.
   */
  async requestEmailChange(caller: BoundSession, newEmail: string, ip: string, origin: AuditOrigin): Promise<void> {
    const { users, limits, codes, audit, mail } = this.deps;
    const user = await this.user(caller.userId);
    await this.deps.recentSignIn.require(user, caller.sessionId);
    if (user.email && user.email.toLowerCase() === newEmail.toLowerCase()) {
      throw badRequest('new_email is already the address of this account');
    }
    // The address's limit before the lookup: a 409 tells whether an address is registered.
    await limits.MAIL_IP.consume(ip);
    const holder = await users.byEmail(newEmail);
    if (holder) throw new RpcError(ErrorCode.CONFLICT, 'email is already registered');
    await limits.VERIFY_MAIL_EMAIL.consume(newEmail);
    const code = await withTransaction(this.deps.db, async (client) => {
      const issued = await codes.issueForChange(user.id, newEmail, client);
      await audit.record(user.id, AuditKind.EMAIL_CHANGE_REQUESTED, origin, { new_email: newEmail }, client);
      return issued;
    });
    mail.send(emailChangeCodeMail(newEmail, code));
    if (user.email) mail.send(emailChangeNoticeMail(user.email, newEmail, await this.deps.mailOrigins.describe(origin)));
  }

  /**
   * settings.setupTotp: `enabled` without code starts (or shows) the setup,
   * with a code turns it on; `enabled: false` turns it off with a TOTP or
   * backup code, after a recent sign-in.
   */
  async setupTotp(caller: BoundSession, enabled: boolean, code: string | null, ip: string, origin: AuditOrigin): Promise<TotpState> {
    const { totp } = this.deps;
    const user = await this.user(caller.userId);
    if (enabled) return code === null ? totp.begin(user) : totp.enable(user, code, ip, origin);
    if (await totp.isEnabled(user.id)) await this.deps.recentSignIn.require(user, caller.sessionId);
    return totp.disable(user, code, ip, origin);
  }

  /**
   * Sign-in, after a right password: for an account with TOTP on, the code
   * must be there (401 `totp required`) and right (401 `invalid totp`).
   */
  async checkSecondFactor(user: UserRecord, code: string | null, ip: string, origin: AuditOrigin): Promise<void> {
    const { totp, audit } = this.deps;
    if (!(await totp.isEnabled(user.id))) return;
    if (code === null || code === '') {
      audit.recordInBackground(user.id, AuditKind.SIGN_IN_FAILED, origin, { reason: 'totp_required' });
      throw new RpcError(ErrorCode.UNAUTHENTICATED, TOTP_REQUIRED);
    }
    const factor = await totp.verifySignIn(user, code, ip, origin);
    if (!factor) {
      audit.recordInBackground(user.id, AuditKind.SIGN_IN_FAILED, origin, { reason: 'invalid_totp' });
      throw new RpcError(ErrorCode.UNAUTHENTICATED, INVALID_TOTP);
    }
  }

  /** A wrong password for an existing account (recorded without delaying the answer). */
  signInFailed(user: UserRecord, origin: AuditOrigin): void {
    this.deps.audit.recordInBackground(user.id, AuditKind.SIGN_IN_FAILED, origin, { reason: 'password' });
  }

  /**
   * A sign-in succeeded: records it, and when the device (client id, device
   * type, and country when known) is new for the account, records that and
   * mails the owner. Never fails the sign-in.
   */
  async signedIn(user: UserRecord, session: SessionRecord, origin: AuditOrigin): Promise<void> {
    try {
      const { isNew } = await this.deps.knownDevices.remember(user.id, session, session);
      await this.deps.audit.record(user.id, AuditKind.SIGN_IN, origin, { new_device: isNew });
      if (!isNew) return;
      await this.deps.audit.record(user.id, AuditKind.NEW_DEVICE, origin);
      if (user.email && user.emailVerified) this.deps.mail.send(newDeviceMail(user.email, await this.deps.mailOrigins.describe(origin)));
    } catch (err) {
      this.deps.log.error({ err, userId: user.id }, 'could not record the sign-in');
    }
  }

  /** A new account: its first device is known (signing in there later is no news). */
  async signedUp(user: UserRecord, session: SessionRecord): Promise<void> {
    await this.deps.knownDevices.remember(user.id, session, session);
  }

  /**
   * auth.revokeSessions ended some of the caller's sessions: recorded after
   * the answer (the revocation is already committed and announced; a sign-out
   * should not wait for its audit line).
   */
  sessionsRevoked(userId: Id, sessionIds: readonly Id[], origin: AuditOrigin): void {
    if (!sessionIds.length) return;
    this.deps.audit.recordInBackground(userId, AuditKind.SESSIONS_REVOKED, origin, { sessions: sessionIds.join(',') });
  }

  /** The caller's account (a signed-in session's user exists until purged, which revokes its sessions). */
  private async user(userId: Id): Promise<UserRecord> {
    const user = await this.deps.users.byId(userId);
    if (!user || user.deletedAt) throw new RpcError(ErrorCode.UNAUTHENTICATED, 'this account no longer exists');
    return user;
  }
}
