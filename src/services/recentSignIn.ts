/**
 * The recent sign-in rule: changing the email, turning TOTP off and deleting
 * the account need a session that proved the password within the last
 * REAUTH_WINDOW_MINUTES (its sign-in, or a password change on it). Resuming
 * an old token with auth.authorize does not count, so a stolen token alone
 * cannot take an account over.
 *
 * An account without a password (a guest) has nothing to prove: its token is
 * its only credential, so the rule does not apply until it sets a password.
 */
import type { Id } from '../domain/ids.js';
import type { UserRecord } from '../domain/user.js';
import { ErrorCode, RpcError } from '../protocol/errorCodes.js';
import type { SessionService } from './sessions.js';

export const RECENT_SIGN_IN_REQUIRED = 'recent sign-in required';

export class RecentSignIn {
  private readonly windowMs: number;

  constructor(
    private readonly sessions: SessionService,
    windowMinutes: number,
    private readonly now: () => number = Date.now,
  ) {
    this.windowMs = windowMinutes * 60_000;
  }

  /** Throws 403 `recent sign-in required` unless the session proved the password within the window. */
  async require(user: UserRecord, sessionId: Id): Promise<void> {
    if (user.passwordHash === null) return;
    const at = await this.sessions.authenticatedAt(sessionId);
    if (!at || at.getTime() <= this.now() - this.windowMs) throw new RpcError(ErrorCode.FORBIDDEN, RECENT_SIGN_IN_REQUIRED);
  }
}
