/**
 * Revocation fan-out to the sockets of this instance: which sockets are bound
 * to which session, and, when a session is revoked anywhere, its sockets get
 * `Update{session_deleted}` and are closed with 4001 (see Connection.revoke).
 * Revocations reach it through SessionService.onRevoked: this instance's own
 * at once, other instances' through the broker.
 */
import type { Id } from '../domain/ids.js';
import type { BoundSession } from '../domain/session.js';
import type { Connection } from './connection.js';
import { SessionIndex } from './sessionIndex.js';

export class RevocationFanout {
  /** Session id → sockets of this instance bound to it. */
  private readonly bySession = new SessionIndex<Connection>();

  constructor(
    /** Called after each delivery of a revocation heard from the broker, with its age in seconds. */
    private readonly delivered: (seconds: number) => void = () => {},
  ) {}

  /** Sockets bound to some session. */
  get boundSockets(): number {
    return this.bySession.size;
  }

  /** A socket was bound to `conn.session` (replacing `previous`, if any). */
  bound(conn: Connection, session: BoundSession, previous: BoundSession | null): void {
    if (previous) this.bySession.remove(previous.sessionId, conn);
    this.bySession.add(session.sessionId, conn);
  }

  /** A socket closed. */
  unbound(conn: Connection, session: BoundSession): void {
    this.bySession.remove(session.sessionId, conn);
  }

  /** Pushes session_deleted to every local socket of the revoked sessions, then closes them. */
  revoked(sessionIds: readonly Id[], publishedAt?: number): void {
    for (const sessionId of sessionIds) {
      for (const conn of this.bySession.take(sessionId)) conn.revoke(sessionId);
    }
    if (publishedAt !== undefined) this.delivered((Date.now() - publishedAt) / 1000);
  }
}
