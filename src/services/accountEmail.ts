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
import { withTransaction } from '../store/transaction.js';
import type { Logger } from '../logger.js';
import type { Id } from '../protocol/codec.js';
import { ErrorCode, RpcError, badRequest } from '../protocol/errorCodes.js';
import type { EmailCodesRepo } from '../store/emailCodesRepo.js';
import type { Pool } from '../store/postgres.js';
import type { UserRecord, UsersRepo } from '../store/usersRepo.js';
import { CODE_TTL_MS, type CodeCheck, type CodePurpose, type CodeService } from './codes.js';
import type { Mail, MailService } from './mail.js';
import type { PasswordHasher } from './passwords.js';
import { RateLimitedError, type RateLimit, type RateLimits } from './rateLimits.js';
import type { SessionService } from './sessions.js';

/** Mails of each kind one address may receive per hour. */
export const VERIFY_MAILS_PER_HOUR = 5;
export const RESET_MAILS_PER_HOUR = 5;

/** The one answer to a wrong, expired, used or dead code (which one is logged, never told). */
export const CODE_REFUSED = 'code is wrong, expired or already used, or had too many wrong tries; request a new code';

const PRODUCT = 'Osmium';

export class AccountEmailService {
  private readonly verifyMails: RateLimit;
  private readonly resetMails: RateLimit;
  /** Code issuances still running after their answer was sent. */
  private readonly pending = new Set<Promise<void>>();

  constructor(
    private readonly db: Pool,
    private readonly codes: CodeService,
    private readonly repo: EmailCodesRepo,
    private readonly users: UsersRepo,
    private readonly sessions: SessionService,
    private readonly passwords: PasswordHasher,
    private readonly mail: MailService,
    limits: RateLimits,
    private readonly log: Logger,
  ) {
    this.verifyMails = limits.define('verify_mail', { points: VERIFY_MAILS_PER_HOUR, durationSeconds: 3600 });
    this.resetMails = limits.define('reset_mail', { points: RESET_MAILS_PER_HOUR, durationSeconds: 3600 });
  }

  /** Sign-up hook: mails the first verification code. A capped address gets no mail (sign-up still succeeds). */
  async onSignedUp(user: UserRecord): Promise<void> {
    if (!user.email) return;
    try {
      await this.verifyMails.consume(addressKey(user.email));
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
  async resendToAddress(email: string): Promise<void> {
    await this.verifyMails.consume(addressKey(email), capMessage('verification'));
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
    await this.verifyMails.consume(addressKey(user.email), capMessage('verification'));
    const issued = await this.codes.issue({ userId }, 'verify_email', { onlyUnverified: true });
    if (issued) this.mail.send(verificationMail(issued.email, issued.code));
  }

  /** auth.verifyEmail: marks the address verified when the code is right. */
  async verifyEmail(email: string, code: string): Promise<void> {
    const check = await withTransaction(this.db, async (client) => {
      const result = await this.codes.consume(client, 'verify_email', email, code);
      if (result.ok) await this.users.markEmailVerified(result.userId, client);
      return result;
    });
    this.refuseUnlessOk(check, 'verify_email');
  }

  /**
   * auth.resetPassword without confirm: mails a reset code if an account has
   * the address; same answer and about the same cost otherwise.
   */
  async requestReset(email: string): Promise<void> {
    await this.resetMails.consume(addressKey(email), capMessage('password reset'));
    this.afterAnswer('password reset', async () => {
      const issued = await this.codes.issue({ email }, 'reset_password', { onlyUnverified: false });
      if (issued) this.mail.send(resetMail(issued.email, issued.code));
    });
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
   * transaction sets the new password, marks the address verified and revokes
   * every session of the account; then tells every instance so live sockets
   * get session_deleted and are closed. `newPassword` is already policy-checked.
   */
  async confirmReset(email: string, code: string, newPassword: string): Promise<void> {
    let revoked: Id[] = [];
    const check = await withTransaction(this.db, async (client) => {
      const result = await this.codes.consume(client, 'reset_password', email, code);
      if (!result.ok) return result;
      // Hashed inside the transaction (the row stays locked for ~one bcrypt):
      // only a right code pays for a hash, a wrong guess never does.
      const hash = await this.passwords.hash(newPassword);
      await this.users.setPasswordAndVerify(result.userId, hash, client);
      revoked = await this.sessions.revokeAll(result.userId, client);
      return result;
    });
    this.refuseUnlessOk(check, 'reset_password');
    await this.sessions.announceRevoked(revoked);
    this.log.info({ userId: check.ok ? check.userId : null, revokedSessions: revoked.length }, 'password reset');
  }

  private refuseUnlessOk(check: CodeCheck, purpose: CodePurpose): asserts check is Extract<CodeCheck, { ok: true }> {
    if (check.ok) return;
    this.log.info({ purpose, reason: check.reason }, 'email code refused');
    throw badRequest(CODE_REFUSED);
  }
}

/** Rate-limit key of an address: case and surrounding spaces do not make a new address. */
function addressKey(email: string): string {
  return email.trim().toLowerCase();
}

const capMessage = (what: string) => (seconds: number) =>
  `too many ${what} mails to this address; retry after ${seconds} seconds`;

const minutes = (purpose: CodePurpose) => Math.round(CODE_TTL_MS[purpose] / 60_000);

/** The mail with a verification code: the code in the subject and alone on its own line of the text. */
export function verificationMail(to: string, code: string): Mail {
  const valid = minutes('verify_email');
  return {
    to,
    kind: 'verify_email',
    subject: `${code} is your ${PRODUCT} verification code`,
    text: [
      `Enter this code in ${PRODUCT} to verify your email address:`,
      '',
      code,
      '',
      `The code is valid for ${valid} minutes and works once.`,
      'If you did not create an account, ignore this mail.',
      '',
    ].join('\n'),
    html: htmlMail(`Enter this code in ${PRODUCT} to verify your email address:`, code, [
      `The code is valid for ${valid} minutes and works once.`,
      'If you did not create an account, ignore this mail.',
    ]),
  };
}

/** The mail with a password reset code. */
export function resetMail(to: string, code: string): Mail {
  const valid = minutes('reset_password');
  return {
    to,
    kind: 'reset_password',
    subject: `${code} is your ${PRODUCT} password reset code`,
    text: [
      `Someone asked to reset the password of the ${PRODUCT} account with this address. Enter this code to choose a new password:`,
      '',
      code,
      '',
      `The code is valid for ${valid} minutes and works once. Resetting signs out every device.`,
      'If you did not ask for this, ignore this mail: your password stays as it is.',
      '',
    ].join('\n'),
    html: htmlMail(`Someone asked to reset the password of the ${PRODUCT} account with this address. Enter this code to choose a new password:`, code, [
      `The code is valid for ${valid} minutes and works once. Resetting signs out every device.`,
      'If you did not ask for this, ignore this mail: your password stays as it is.',
    ]),
  };
}

/** Every piece is our own text (no user input), so no escaping is needed. */
function htmlMail(intro: string, code: string, notes: string[]): string {
  return [
    '<!doctype html><html><body style="font-family:sans-serif">',
    `<p>${intro}</p>`,
    `<p style="font-size:28px;letter-spacing:6px;font-weight:bold">${code}</p>`,
    ...notes.map((n) => `<p>${n}</p>`),
    '</body></html>',
  ].join('\n');
}
