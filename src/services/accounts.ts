/**
 * Accounts: sign-up and sign-in. Validation of the request shape is the
 * method's job (emails arrive in their canonical form); this is the business
 * rule and the writes.
 */
import type { Logger } from '../logger.js';
import { ErrorCode, RpcError } from '../protocol/errorCodes.js';
import type { DeviceInfo, Geo } from '../domain/device.js';
import type { SessionRecord } from '../domain/session.js';
import type { UserRecord } from '../domain/user.js';
import type { Pool } from '../store/postgres.js';
import { withTransaction } from '../store/transaction.js';
import { EmailTakenError, type UsersRepo } from '../store/usersRepo.js';
import type { Limits } from './limits.js';
import type { PasswordHasher } from './passwords.js';
import { combine, judged, reserveAll, type Reservation } from './rateLimit.js';
import type { SessionService } from './sessions.js';
import type { SnowflakeGenerator } from './snowflake.js';

/** One message for unknown email and wrong password alike, so neither reveals the other. */
const WRONG_CREDENTIALS = 'wrong email or password';

/**
 * How long an IP an account signed in from counts as the owner's network
 * (see SIGNIN_FAIL_EMAIL and RESET_MAIL_EMAIL in limits.ts).
 */
export const KNOWN_SOURCE_DAYS = 90;

export interface SignedIn {
  user: UserRecord;
  session: SessionRecord;
  token: string;
}

/** Where a sign-in or sign-up comes from. */
export interface SignInOrigin {
  device: DeviceInfo;
  geo: Geo;
  ip: string;
}

/** What other services add to sign-up and sign-in (account security: accountSecurity.ts, passwordPolicy.ts). */
export interface AccountHooks {
  /** Called after an account is created (verification mail, first known device). */
  onSignedUp?(user: UserRecord, session: SessionRecord): Promise<void>;
  /** Sign-up with a password: throws 400 when it is too easy to guess. */
  checkNewPassword?(password: string, owner: { email: string | null; name: string }): Promise<void>;
  /** The password was right: throws 401 `totp required` / `invalid totp` when the account's second factor is missing or wrong. */
  checkSecondFactor?(user: UserRecord, totp: string | null, origin: SignInOrigin): Promise<void>;
  /** A wrong password for an existing account. */
  onSignInFailed?(user: UserRecord, origin: SignInOrigin): void;
  /** A sign-in succeeded (audit, new-device alert); must not throw. */
  onSignedIn?(user: UserRecord, session: SessionRecord, origin: SignInOrigin): Promise<void>;
}

type SignInAccount = UserRecord & { knownSource: boolean };

type AccountLimits = Pick<Limits, 'SIGNIN_FAIL_EMAIL_IP' | 'SIGNIN_FAIL_EMAIL' | 'SIGNIN_IP' | 'SIGNUP_IP'>;

export class AccountService {
  constructor(
    private readonly db: Pool,
    private readonly users: UsersRepo,
    private readonly sessions: SessionService,
    private readonly passwords: PasswordHasher,
    private readonly ids: SnowflakeGenerator,
    private readonly log: Logger,
    private readonly limits: AccountLimits,
    readonly hooks: AccountHooks = {},
  ) {}

  /**
   * Creates an account (guest when email and password are null) and its first
   * session, in one transaction: a failure leaves no account behind.
   */
  async signUp(
    input: { name: string; email: string | null; password: string | null },
    device: DeviceInfo,
    geo: Geo,
    ip: string,
  ): Promise<SignedIn> {
    await this.limits.SIGNUP_IP.consume(ip);
    if (input.password !== null) await this.hooks.checkNewPassword?.(input.password, { email: input.email, name: input.name });
    const passwordHash = input.password === null ? null : await this.passwords.hash(input.password, ip);
    const { user, session, token } = await withTransaction(this.db, async (client) => {
      let created: UserRecord;
      try {
        created = await this.users.insert({ id: this.ids.next(), name: input.name, email: input.email, passwordHash }, client);
      } catch (err) {
        if (err instanceof EmailTakenError) throw new RpcError(ErrorCode.CONFLICT, 'email is already registered');
        throw err;
      }
      const opened = await this.sessions.create(created, device, geo, client);
      if (created.email) await this.users.recordSignInSource(created.id, ip, KNOWN_SOURCE_DAYS, client);
      return { user: created, ...opened };
    });
    if (this.hooks.onSignedUp) {
      // Never fail the sign-up for the mail: the hook queues and retries on its own.
      await this.hooks.onSignedUp(user, session).catch((err) => this.log.error({ err, userId: user.id }, 'sign-up hook failed'));
    }
    return { user, session, token };
  }

  /**
   * Checks credentials and opens a session. Unknown email and wrong password
   * get the same answer and cost (one bcrypt comparison at the cost most
   * stored hashes have). Every guess is paid for BEFORE it is evaluated, in
   * Redis, atomically: however many arrive at once, on however many
   * instances, no more than the limits' guesses are ever checked.
   */
  async signIn(email: string, password: string, totp: string | null, device: DeviceInfo, geo: Geo, ip: string): Promise<SignedIn> {
    const origin: SignInOrigin = { device, geo, ip };
    // 1. Pay for the guess before it is evaluated, and find the account.
    const { account, guess } = await this.reserveGuess(email, ip);
    // 2. The guess itself (against the dummy hash when there is no account).
    const ok = await judged(guess, () => this.passwords.verify(password, account?.passwordHash ?? null, ip));
    if (!account || !ok) {
      if (account) this.hooks.onSignInFailed?.(account, origin);
      throw new RpcError(ErrorCode.UNAUTHENTICATED, WRONG_CREDENTIALS);
    }
    // Only now, with the password right, may the answer speak of the second factor.
    await this.hooks.checkSecondFactor?.(account, totp, origin);
    // 3. Signed in: keep the hash at the configured cost, remember the network, open the session.
    await this.rehashIfStale(account, password, ip);
    await this.users.recordSignInSource(account.id, ip, KNOWN_SOURCE_DAYS);
    const { session, token } = await this.sessions.create(account, device, geo);
    await this.hooks.onSignedIn?.(account, session, origin);
    return { user: account, session, token };
  }

  /**
   * Reserves one guess on every sign-in limit that applies (limits.ts): the
   * address's attempts and the (email, IP) pair's failures first (cheap,
   * before any database work), then the email's failures from anywhere,
   * except from an IP the account signed in from before: a stranger spending
   * the email's share does not lock its owner's own network out.
   */
  private async reserveGuess(email: string, ip: string): Promise<{ account: SignInAccount | null; guess: Reservation }> {
    const bySource = await reserveAll([
      [this.limits.SIGNIN_IP, ip],
      [this.limits.SIGNIN_FAIL_EMAIL_IP, `${email}|${ip}`],
    ]);
    try {
      const account = await this.users.forSignIn(email, ip, KNOWN_SOURCE_DAYS);
      if (account?.knownSource) return { account, guess: bySource };
      const byEmail = await this.limits.SIGNIN_FAIL_EMAIL.reserve(email);
      return { account, guess: combine([bySource, byEmail]) };
    } catch (err) {
      await bySource.cancelled();
      throw err;
    }
  }

  /**
   * After BCRYPT_COST changed, stored hashes keep their old cost until their
   * owner signs in: then the password is at hand and is hashed again. A
   * failure here never fails the sign-in.
   */
  private async rehashIfStale(user: UserRecord, password: string, ip: string): Promise<void> {
    const previous = user.passwordHash;
    if (previous === null || !this.passwords.needsRehash(previous)) return;
    try {
      const next = await this.passwords.hash(password, ip);
      await this.users.replacePasswordHash(user.id, previous, next);
    } catch (err) {
      this.log.warn({ err, userId: user.id }, 'could not rehash the password at the configured cost');
    }
  }
}
