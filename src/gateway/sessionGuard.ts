/**
 * The session guard, the first stage of a request on a signed-in socket (and
 * of its heartbeats): a frame counts as its session's activity, but a socket
 * quiet for longer than the idle window may carry a session that expired (or
 * was removed) meanwhile, and its frame must not revive it. The session is
 * checked first, and the socket closed as revoked (4001) when it is no
 * longer valid. Frames that arrive while the check runs wait for it too
 * (they would otherwise count as activity and make the check pass).
 */
import type { Logger } from '../logger.js';
import type { SessionCache } from '../services/sessionCache.js';
import type { SessionService } from '../services/sessions.js';
import type { Connection } from './connection.js';
import type { RevocationFanout } from './revocationFanout.js';

export interface SessionGuardDeps {
  sessions: Pick<SessionService, 'noteActivity' | 'idleMs'>;
  sessionCache: Pick<SessionCache, 'stillValid'>;
  fanout: RevocationFanout;
  log: Logger;
}

export class SessionGuard {
  /** Idle-session checks in flight, per socket. */
  private readonly checks = new WeakMap<Connection, Promise<void>>();

  constructor(private readonly deps: SessionGuardDeps) {}

  /** Resolves when the frame may be served; undefined when it may at once (the common case: no promise made). */
  pass(conn: Connection): Promise<void> | undefined {
    if (!conn.session) return undefined;
    const running = this.checks.get(conn);
    if (running) return running;
    if (conn.quietBeforeLastFrameMs > this.deps.sessions.idleMs) {
      const check = this.check(conn).finally(() => this.checks.delete(conn));
      this.checks.set(conn, check);
      return check;
    }
    this.deps.sessions.noteActivity(conn.session.sessionId);
    return undefined;
  }

  private async check(conn: Connection): Promise<void> {
    const session = conn.session!;
    let valid = true;
    try {
      valid = await this.deps.sessionCache.stillValid(session);
    } catch (err) {
      this.deps.log.warn({ err }, 'could not check an idle session; serving the frame');
    }
    if (valid) this.deps.sessions.noteActivity(session.sessionId);
    else if (conn.session === session) this.deps.fanout.revoked([session.sessionId]);
  }
}
