/**
 * The recent sign-in rule: changing the email, turning two-factor on or off
 * (and so getting backup codes) and deleting the account need the password,
 * given ON THIS SOCKET within the last REAUTH_WINDOW_MINUTES (its sign-in or
 * sign-up, or a password change on it) and, on an account with two-factor
 * on, a sign-in that passed the second factor. The proof lives with the
 * socket (domain/session.ts SignInProof), never with the session: a copied
 * token resumed with auth.authorize, on any socket, proves nothing, so a
 * stolen token alone cannot take an account over.
 *
 * An account without a password (a guest) has nothing to prove: its token is
 * its only credential, so the rule does not apply until it sets a password.
 */
import type { Clock } from '../domain/clock.js';
import type { Caller } from '../domain/session.js';
import type { UserRecord } from '../domain/user.js';
import { ErrorCode, RpcError } from '../protocol/errorCodes.js';
import type { TotpService } from './totp.js';

export const RECENT_SIGN_IN_REQUIRED = 'recent sign-in required';

export interface RecentSignInDeps {
  totp: Pick<TotpService, 'isEnabled'>;
  /** REAUTH_WINDOW_MINUTES. */
  windowMinutes: number;
  clock: Clock;
}

export class RecentSignIn {
  constructor(private readonly deps: RecentSignInDeps) {}

  /** Throws 403 `recent sign-in required` unless the caller's socket proved what the account needs within the window. */
  async require(user: UserRecord, caller: Caller): Promise<void> {
    if (user.passwordHash === null) return;
    const proof = caller.proof;
    const windowMs = this.deps.windowMinutes * 60_000;
    if (!proof || proof.sessionId !== caller.sessionId || proof.at <= this.deps.clock() - windowMs) {
      throw new RpcError(ErrorCode.FORBIDDEN, `${RECENT_SIGN_IN_REQUIRED}: sign in again on this socket and retry within ${this.deps.windowMinutes} minutes`);
    }
    if (!proof.secondFactor && (await this.deps.totp.isEnabled(user.id))) {
      throw new RpcError(ErrorCode.FORBIDDEN, `${RECENT_SIGN_IN_REQUIRED}: sign in again on this socket with the two-factor code, and retry`);
    }
  }
}
