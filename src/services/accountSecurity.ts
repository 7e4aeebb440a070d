/**
 * Account security settings (settings.getAccount, changePassword,
 * changeEmail, setupTotp) and what a sign-in adds to the password check: the
 * second factor, the new-device alert and the audit events.
 *
 * What a copied token can and cannot do (docs/security.md): it resumes the
 * session, so it reads the account and may try the current password (on a
 * budget of its own: see changePassword); it cannot change the email, turn
 * two-factor on or off, or delete the account, which need a recent sign-in
 * on the caller's own socket (recentSignIn.ts). What the owner does when they
 * notice (change or reset the password, sign out the other devices, change
 * two-factor) cancels any pending email change.
 *
 * Notices go to the account's verified address only (an unverified one may
 * be a stranger's typo): password changed, new device. The email change
 * notice goes to the old address whether or not it was verified: it is the
 * owner's warning against a takeover.
 */
import type { AccountState, TotpState } from '../domain/account.js';
import { AuditKind, type AuditOrigin } from '../domain/audit.js';
import type { Clock } from '../domain/clock.js';
import type { Id } from '../domain/ids.js';
import type { Caller, SessionRecord, SignInProof } from '../domain/session.js';
import type { RequestOrigin } from '../domain/source.js';
import type { UserRecord } from '../domain/user.js';
import type { Logger } from '../logger.js';
import { ErrorCode, RpcError, badRequest } from '../protocol/errorCodes.js';
import type { KnownDevicesRepo } from '../store/knownDevicesRepo.js';
import type { Pool } from '../store/postgres.js';
import { addEvents } from '../store/eventsRepo.js';
import { withTransaction, type Db } from '../store/transaction.js';
import type { UsersRepo } from '../store/usersRepo.js';
import type { AuditLog } from './audit.js';
import type { EmailCodeService } from './emailCodes.js';
import type { Limits } from './limits.js';
import type { MailService } from './mail.js';
import type { MailOrigins } from './mailOrigin.js';
import { emailChangeCodeMail, emailChangeNoticeMail, newDeviceMail, passwordChangedMail } from './mailTemplates.js';
import type { PasswordHasher } from './passwords.js';
import type { PasswordPolicy } from './passwordPolicy.js';
import { judged, reserveAll, type Reservation } from './rateLimit.js';
import type { RecentSignIn } from './recentSignIn.js';
import type { Revocations } from './revocations.js';
import type { TotpService } from './totp.js';

/** Sign-in answers for an account with TOTP on, after a right password only. */
export const TOTP_REQUIRED = 'totp required';
export const INVALID_TOTP = 'invalid totp';
/** Two-factor authentication is for an address the account proved it owns. */
export const TOTP_NEEDS_VERIFIED_EMAIL = 'two-factor authentication needs a verified email address: verify it first (auth.verifyEmail)';

export interface AccountSecurityDeps {
  db: Pool;
  users: UsersRepo;
  revocations: Revocations;
  passwords: PasswordHasher;
  policy: PasswordPolicy;
  totp: TotpService;
  recentSignIn: RecentSignIn;
  codes: EmailCodeService;
  knownDevices: KnownDevicesRepo;
  audit: AuditLog;
  mail: MailService;
  mailOrigins: MailOrigins;
  limits: Pick<Limits, 'PASSWORD_CHECK_USER' | 'PASSWORD_CHECK_SESSION' | 'MAIL_IP' | 'VERIFY_MAIL_EMAIL'>;
  clock: Clock;
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

/** What a setting changed of the caller's socket: its sign-in proof, renewed or upgraded (undefined: unchanged). */
export interface ProofChange {
  proof?: SignInProof;
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
   * settings.changePassword. The current password is a guess: a point is
   * reserved before bcrypt compares it, from the caller's session's own
   * budget and, unless the password was given at sign-in on this very socket,
   * from the account's budget for sockets that only resumed a token, so a
   * thief holding a copied token spends their own tries, never the owner's.
   * Only then the new password's strength (a queued check), and in one
   * transaction: the new hash, optionally every other session revoked, any
   * pending email change cancelled, the audit event. A right password on an
   * account without two-factor renews the socket's sign-in proof (on a
   * two-factor account a password alone is not a recent sign-in).
   */
  async changePassword(caller: Caller, change: PasswordChange, origin: RequestOrigin): Promise<ProofChange> {
    const { users, revocations, passwords, audit, codes } = this.deps;
    const user = await this.user(caller.userId);
    const firstPassword = user.passwordHash === null;
    if (firstPassword && change.currentPassword !== '') {
      throw badRequest('current_password must be empty: this account has no password yet');
    }
    if (!firstPassword && change.currentPassword === '') throw badRequest('current_password is required');
    if (!firstPassword) {
      const guess = await this.reservePasswordCheck(user.id, caller);
      const right = await judged(guess, () => passwords.verify(change.currentPassword, user.passwordHash, origin.network));
      if (!right) throw new RpcError(ErrorCode.UNAUTHENTICATED, 'current_password is wrong');
    }
    await this.deps.policy.check(change.newPassword, { email: user.email, name: user.name }, 'new_password', origin);
    const hash = await passwords.hash(change.newPassword, origin.network);
    await withTransaction(this.deps.db, async (tx) => {
      if (!(await users.replacePassword(user.id, user.passwordHash, hash, tx.db))) {
        throw new RpcError(ErrorCode.CONFLICT, 'the password was changed meanwhile; try again');
      }
      const ids = change.revokeSessions ? await revocations.revokeAllExcept(user.id, caller.sessionId, 'password_change', tx) : [];
      await addEvents(tx.db, [{ type: 'password.changed', userId: user.id, data: {
        user_id: user.id, reason: firstPassword ? 'first_password' : 'change', revoked_sessions: ids.length,
      } }]);
      const cancelled = await codes.cancelChange(user.id, tx.db);
      await audit.record(user.id, AuditKind.PASSWORD_CHANGED, origin, {
        first_password: firstPassword, revoked_sessions: ids.length, email_change_cancelled: cancelled,
      }, tx.db);
    });
    if (user.email && user.emailVerified) {
      this.deps.mail.send(passwordChangedMail(user.email, await this.deps.mailOrigins.describe(origin), change.revokeSessions));
    }
    if (await this.deps.totp.isEnabled(user.id)) return {};
    return { proof: { sessionId: caller.sessionId, at: this.deps.clock(), secondFactor: false } };
  }

  /**
   * The points a current-password check takes (see changePassword). The
   * socket that signed in has an allowance of its own (keyed by its sign-in),
   * so whoever holds a copy of the token spends the session's and the
   * account's allowances without locking the owner out.
   */
  private reservePasswordCheck(userId: Id, caller: Caller): Promise<Reservation> {
    const { limits } = this.deps;
    const proof = caller.proof?.sessionId === caller.sessionId ? caller.proof : null;
    return reserveAll(
      proof
        ? [[limits.PASSWORD_CHECK_SESSION, `${caller.sessionId}:${proof.at}`]]
        : [[limits.PASSWORD_CHECK_SESSION, caller.sessionId], [limits.PASSWORD_CHECK_USER, userId]],
    );
  }

  /**
   * settings.changeEmail: after a recent sign-in on this socket, mails a
   * code to the new address and a notice to the old one, which stays the
   * account's address until the code is confirmed with
   * auth.verifyEmail{email: new address, code} from this same session.
   */
  async requestEmailChange(caller: Caller, newEmail: string, origin: RequestOrigin): Promise<void> {
    const { users, limits, codes, audit, mail } = this.deps;
    const user = await this.user(caller.userId);
    await this.deps.recentSignIn.require(user, caller);
    if (user.email && user.email.toLowerCase() === newEmail.toLowerCase()) {
      throw badRequest('new_email is already the address of this account');
    }
    // The address's limit before the lookup: a 409 tells whether an address is registered.
    await limits.MAIL_IP.consume(origin.network);
    const holder = await users.byEmail(newEmail);
    if (holder) throw new RpcError(ErrorCode.CONFLICT, 'email is already registered');
    await limits.VERIFY_MAIL_EMAIL.consume(newEmail);
    const code = await withTransaction(this.deps.db, async (tx) => {
      const issued = await codes.issueForChange({ userId: user.id, sessionId: caller.sessionId, email: newEmail }, tx.db);
      await audit.record(user.id, AuditKind.EMAIL_CHANGE_REQUESTED, origin, { new_email: newEmail }, tx.db);
      return issued;
    });
    mail.send(emailChangeCodeMail(newEmail, code));
    if (user.email) mail.send(emailChangeNoticeMail(user.email, newEmail, await this.deps.mailOrigins.describe(origin)));
  }

  /**
   * settings.setupTotp. Viewing the state while two-factor is on (the masked
   * backup codes) needs nothing more than the session. Everything that
   * changes it needs a recent sign-in on this socket: starting a setup (the
   * secret), turning it on (the backup codes), turning it off; and turning
   * it on needs a verified address, so nobody can lock an address's real
   * owner out of an account they squatted. A change cancels any pending
   * email change. Turning it on upgrades this socket's proof: it just gave
   * the second factor.
   */
  async setupTotp(caller: Caller, enabled: boolean, code: string | null, origin: RequestOrigin): Promise<TotpState & ProofChange> {
    const { totp, recentSignIn } = this.deps;
    const user = await this.user(caller.userId);
    const isOn = await totp.isEnabled(user.id);
    if (enabled && isOn && code === null) return totp.begin(user);
    if (enabled) {
      if (!user.email || !user.emailVerified) throw new RpcError(ErrorCode.FORBIDDEN, TOTP_NEEDS_VERIFIED_EMAIL);
      await recentSignIn.require(user, caller);
      if (code === null) return totp.begin(user);
      const state = await totp.enable(user, code, origin, (tx) => this.cancelEmailChange(user.id, tx.db));
      const proof = caller.proof ? { ...caller.proof, secondFactor: true } : undefined;
      return { ...state, ...(proof ? { proof } : {}) };
    }
    if (!isOn) return totp.disable(user, code, origin, () => Promise.resolve());
    await recentSignIn.require(user, caller);
    return totp.disable(user, code, origin, (tx) => this.cancelEmailChange(user.id, tx.db));
  }

  /**
   * Sign-in, after a right password: for an account with TOTP on, the code
   * must be there (401 `totp required`) and right (401 `invalid totp`).
   * True when a second factor was checked (the account has TOTP on).
   */
  async checkSecondFactor(user: UserRecord, code: string | null, origin: RequestOrigin): Promise<boolean> {
    const { totp, audit } = this.deps;
    if (!(await totp.isEnabled(user.id))) return false;
    if (code === null || code === '') {
      audit.recordInBackground(user.id, AuditKind.SIGN_IN_FAILED, origin, { reason: 'totp_required' });
      throw new RpcError(ErrorCode.UNAUTHENTICATED, TOTP_REQUIRED);
    }
    const factor = await totp.verifySignIn(user, code, origin);
    if (!factor) {
      audit.recordInBackground(user.id, AuditKind.SIGN_IN_FAILED, origin, { reason: 'invalid_totp' });
      throw new RpcError(ErrorCode.UNAUTHENTICATED, INVALID_TOTP);
    }
    return true;
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
   * auth.revokeSessions: ends the caller's listed sessions; signing out any
   * other session than the caller's own also cancels a pending email change
   * (before the answer, so the owner's reaction is final when it is
   * answered). The audit line is written after the answer.
   */
  async revokeSessions(caller: Caller, sessionIds: readonly Id[], origin: AuditOrigin): Promise<void> {
    const revoked = await this.deps.revocations.revoke(caller.userId, sessionIds, (id) => (id === caller.sessionId ? 'sign_out' : 'revoke'));
    if (!revoked.length) return;
    const others = revoked.some((id) => id !== caller.sessionId);
    const cancelled = others ? await this.cancelEmailChange(caller.userId) : false;
    this.deps.audit.recordInBackground(caller.userId, AuditKind.SESSIONS_REVOKED, origin, {
      sessions: revoked.join(','), email_change_cancelled: cancelled,
    });
  }

  /** Drops the account's pending email change; true when there was one. */
  private cancelEmailChange(userId: Id, db?: Db): Promise<boolean> {
    return this.deps.codes.cancelChange(userId, db);
  }

  /** The caller's account (a signed-in session's user exists until purged, which revokes its sessions). */
  private async user(userId: Id): Promise<UserRecord> {
    const user = await this.deps.users.byId(userId);
    if (!user || user.deletedAt) throw new RpcError(ErrorCode.UNAUTHENTICATED, 'this account no longer exists');
    return user;
  }
}
