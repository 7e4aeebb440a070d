/**
 * Accounts: sign-up and sign-in. Validation of the request shape is the
 * method's job; this is the business rule and the writes.
 */
import type { Logger } from '../logger.js';
import { ErrorCode, RpcError } from '../protocol/errorCodes.js';
import type { DeviceInfo, Geo } from '../domain/device.js';
import type { SessionRecord } from '../domain/session.js';
import type { UserRecord } from '../domain/user.js';
import { EmailTakenError, type UsersRepo } from '../store/usersRepo.js';
import type { Limits } from './limits.js';
import type { PasswordHasher } from './passwords.js';
import type { SessionService } from './sessions.js';
import type { SnowflakeGenerator } from './snowflake.js';

/** One message for unknown email and wrong password alike, so neither reveals the other. */
const WRONG_CREDENTIALS = 'wrong email or password';

export interface SignedIn {
  user: UserRecord;
  session: SessionRecord;
  token: string;
}

export interface AccountHooks {
  /** Called after an account with an email is created (sends the verification mail). */
  onSignedUp?(user: UserRecord): Promise<void>;
}

export class AccountService {
  constructor(
    private readonly users: UsersRepo,
    private readonly sessions: SessionService,
    private readonly passwords: PasswordHasher,
    private readonly ids: SnowflakeGenerator,
    private readonly log: Logger,
    private readonly limits: Pick<Limits, 'SIGNIN_FAIL_EMAIL_IP' | 'SIGNIN_FAIL_EMAIL' | 'SIGNUP_IP'>,
    readonly hooks: AccountHooks = {},
  ) {}

  /** Creates an account (guest when email and password are null) and its first session. */
  async signUp(
    input: { name: string; email: string | null; password: string | null },
    device: DeviceInfo,
    geo: Geo,
    ip: string,
  ): Promise<SignedIn> {
    await this.limits.SIGNUP_IP.consume(ip);
    const passwordHash = input.password === null ? null : await this.passwords.hash(input.password);
    let user: UserRecord;
    try {
      user = await this.users.insert({ id: this.ids.next(), name: input.name, email: input.email, passwordHash });
    } catch (err) {
      if (err instanceof EmailTakenError) throw new RpcError(ErrorCode.CONFLICT, 'email is already registered');
      throw err;
    }
    const { session, token } = await this.sessions.create(user.id, device, geo);
    if (user.email && this.hooks.onSignedUp) {
      // Never fail the sign-up for the mail: the hook queues and retries on its own.
      await this.hooks.onSignedUp(user).catch((err) => this.log.error({ err, userId: user.id }, 'sign-up hook failed'));
    }
    return { user, session, token };
  }

  /**
   * Checks credentials (same cost and answer for unknown email and wrong
   * password) and opens a session. Failures count per (email, IP) and per
   * email, whether or not the account exists, so the limits reveal nothing.
   */
  async signIn(email: string, password: string, device: DeviceInfo, geo: Geo, ip: string): Promise<SignedIn> {
    const emailKey = email.toLowerCase();
    const pairKey = `${emailKey}|${ip}`;
    await this.limits.SIGNIN_FAIL_EMAIL_IP.check(pairKey);
    await this.limits.SIGNIN_FAIL_EMAIL.check(emailKey);
    const user = await this.users.byEmail(email);
    const ok = await this.passwords.verify(password, user?.passwordHash ?? null);
    if (!user || !ok) {
      await Promise.all([this.limits.SIGNIN_FAIL_EMAIL_IP.penalize(pairKey), this.limits.SIGNIN_FAIL_EMAIL.penalize(emailKey)]);
      throw new RpcError(ErrorCode.UNAUTHENTICATED, WRONG_CREDENTIALS);
    }
    // The owner got in from here: forget this source's failures.
    await this.limits.SIGNIN_FAIL_EMAIL_IP.reset(pairKey);
    const { session, token } = await this.sessions.create(user.id, device, geo);
    return { user, session, token };
  }
}
