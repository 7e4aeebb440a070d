/**
 * Accounts: sign-up and sign-in. Validation of the request shape is the
 * method's job (emails arrive in their canonical form); this is the business
 * rule and the writes.
 */
import type { Logger } from '../logger.js';
import { ErrorCode, RpcError } from '../protocol/errorCodes.js';
import type { Clock } from '../domain/clock.js';
import type { SessionRecord, SignInProof } from '../domain/session.js';
import type { RequestOrigin } from '../domain/source.js';
import type { UserRecord } from '../domain/user.js';
import type { Pool } from '../store/postgres.js';
import { addEvents } from '../store/eventsRepo.js';
import { withTransaction } from '../store/transaction.js';
import { EmailTakenError, type UsersRepo } from '../store/usersRepo.js';
import type { AccountEmailService } from './accountEmail.js';
import type { AccountSecurityService } from './accountSecurity.js';
import { KNOWN_SOURCE_DAYS, type Limits } from './limits.js';
import type { PasswordHasher } from './passwords.js';
import type { PasswordPolicy } from './passwordPolicy.js';
import { combine, judged, reserveAll, type Reservation } from './rateLimit.js';
import type { SessionService } from './sessions.js';
import type { SnowflakeGenerator } from './snowflake.js';

/** One message for unknown email and wrong password alike, so neither reveals the other. */
const WRONG_CREDENTIALS = 'wrong email or password';

export interface SignedIn {
  user: UserRecord;
  session: SessionRecord;
  token: string;
  /** What the socket that signed in proved, for the recent sign-in rule (recentSignIn.ts). */
  proof: SignInProof;
}

type SignInAccount = UserRecord & { knownSource: boolean };

export interface AccountServiceDeps {
  db: Pool;
  users: UsersRepo;
  sessions: SessionService;
  passwords: PasswordHasher;
  /** New passwords must be hard to guess. */
  policy: PasswordPolicy;
  /** The second factor of a sign-in, new-device alerts and the audit trail of sign-ins. */
  security: Pick<AccountSecurityService, 'checkSecondFactor' | 'signInFailed' | 'signedIn' | 'signedUp'>;
  /** The verification mail of a new account. */
  verification: Pick<AccountEmailService, 'onSignedUp'>;
  ids: SnowflakeGenerator;
  limits: Pick<Limits, 'SIGNIN_FAIL_EMAIL_IP' | 'SIGNIN_FAIL_EMAIL' | 'SIGNIN_IP' | 'SIGNUP_IP'>;
  clock: Clock;
  log: Logger;
}

export class AccountService {
  constructor(private readonly deps: AccountServiceDeps) {}

  /**
   * Creates an account (guest when email and password are null) and its first
   * session, in one transaction: a failure leaves no account behind.
   */
  async signUp(input: { name: string; email: string | null; password: string | null }, origin: RequestOrigin): Promise<SignedIn> {
    const { limits, policy, passwords, users, sessions, ids, log } = this.deps;
    await limits.SIGNUP_IP.consume(origin.network);
    if (input.password !== null) await policy.check(input.password, { email: input.email, name: input.name }, 'password', origin);
    const passwordHash = input.password === null ? null : await passwords.hash(input.password, origin.network);
    const { user, session, token } = await withTransaction(this.deps.db, async (tx) => {
      let created: UserRecord;
      try {
        created = await users.insert({ id: ids.next(), name: input.name, email: input.email, passwordHash }, tx.db);
      } catch (err) {
        if (err instanceof EmailTakenError) throw new RpcError(ErrorCode.CONFLICT, 'email is already registered');
        throw err;
      }
      await addEvents(tx.db, [{ type: 'user.created', userId: created.id, data: {
        user_id: created.id, name: created.name, email: created.email, email_verified: created.emailVerified, guest: created.email === null, bot: false,
      } }]);
      const opened = await sessions.create(created, origin.device, origin.geo, tx.db);
      if (created.email) await users.recordSignInSource(created.id, origin.network, KNOWN_SOURCE_DAYS, tx.db);
      return { user: created, ...opened };
    });
    try {
      await this.deps.verification.onSignedUp(user);
      await this.deps.security.signedUp(user, session);
    } catch (err) {
      // Never fail the sign-up for the mail or the device record: the mail queues and retries on its own.
      log.error({ err, userId: user.id }, 'after sign-up: could not mail the code or record the device');
    }
    return { user, session, token, proof: { sessionId: session.id, at: this.deps.clock(), secondFactor: false } };
  }

  /**
   * Checks credentials and opens a session. Unknown email and wrong password
   * get the same answer and cost (one bcrypt comparison at the cost most
   * stored hashes have). Every guess is paid for BEFORE it is evaluated, in
   * Redis, atomically: however many arrive at once, on however many
   * instances, no more than the limits' guesses are ever checked.
   */
  async signIn(email: string, password: string, totp: string | null, origin: RequestOrigin): Promise<SignedIn> {
    const { passwords, security, users, sessions } = this.deps;
    // 1. Pay for the guess before it is evaluated, and find the account.
    const { account, guess } = await this.reserveGuess(email, origin.network);
    // 2. The guess itself (against the dummy hash when there is no account).
    const ok = await judged(guess, () => passwords.verify(password, account?.passwordHash ?? null, origin.network));
    if (!account || !ok) {
      if (account) security.signInFailed(account, origin);
      throw new RpcError(ErrorCode.UNAUTHENTICATED, WRONG_CREDENTIALS);
    }
    // Only now, with the password right, may the answer speak of the second factor.
    const secondFactor = await security.checkSecondFactor(account, totp, origin);
    // 3. Signed in: keep the hash at the configured cost, remember the network, open the session.
    await this.rehashIfStale(account, password, origin.network);
    await users.recordSignInSource(account.id, origin.network, KNOWN_SOURCE_DAYS);
    const { session, token } = await sessions.create(account, origin.device, origin.geo);
    await security.signedIn(account, session, { ...origin, sessionId: session.id });
    return { user: account, session, token, proof: { sessionId: session.id, at: this.deps.clock(), secondFactor } };
  }

  /**
   * Reserves one guess on every sign-in limit that applies (limits.ts): the
   * network's attempts and the (email, network) pair's failures first (cheap,
   * before any database work), then the email's failures from anywhere,
   * except from a network the account signed in from before: a stranger
   * spending the email's share does not lock its owner's own network out.
   */
  private async reserveGuess(email: string, network: string): Promise<{ account: SignInAccount | null; guess: Reservation }> {
    const { limits, users } = this.deps;
    const bySource = await reserveAll([
      [limits.SIGNIN_IP, network],
      [limits.SIGNIN_FAIL_EMAIL_IP, `${email}|${network}`],
    ]);
    try {
      const account = await users.forSignIn(email, network, KNOWN_SOURCE_DAYS);
      if (account?.knownSource) return { account, guess: bySource };
      const byEmail = await limits.SIGNIN_FAIL_EMAIL.reserve(email);
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
  private async rehashIfStale(user: UserRecord, password: string, network: string): Promise<void> {
    const { passwords, users, log } = this.deps;
    const previous = user.passwordHash;
    if (previous === null || !passwords.needsRehash(previous)) return;
    try {
      const next = await passwords.hash(password, network);
      await users.replacePasswordHash(user.id, previous, next);
    } catch (err) {
      log.warn({ err, userId: user.id }, 'could not rehash the password at the configured cost');
    }
  }
}
