/**
 * Revocation fan-out to the sockets of this instance: which sockets are bound
 * to which session, and, when a session is revoked anywhere, its sockets get
 * `Update{session_deleted}` and are closed with 4001 (see Connection.revoke).
 * Revocations reach it through SessionService.onRevoked: this instance's own
 * at once, other instances' through the broker.
 *
 * It also remembers the sessions revoked in the last few minutes, so that an
 * Authorize whose check passed just before a revocation cannot bind its
 * socket just after it: the revocation wins whichever arrives first.
 */
import type { Id } from '../domain/ids.js';
import type { BoundSession } from '../domain/session.js';
import type { Connection } from './connection.js';
import { SessionIndex } from './sessionIndex.js';

/**
 * How long a revocation is remembered against racing binds: far longer than a
 * check can take; after it, the cache tombstone and Postgres refuse the token.
 */
const REMEMBER_REVOKED_MS = 5 * 60_000;

/** Hears of bindings as they change. */
export interface BindingListener {
  bound(conn: Connection, session: BoundSession): void;
  unbound(conn: Connection, session: BoundSession): void;
}

export class RevocationFanout {
  /** Session id → sockets of this instance bound to it. */
  private readonly bySession = new SessionIndex<Connection>();
  /** Sessions revoked recently, in two generations swapped every REMEMBER_REVOKED_MS (so each is kept that long at least). */
  private revokedNow = new Set<Id>();
  private revokedBefore = new Set<Id>();
  private generationStarted = Date.now();

  constructor(
    /** Called after each delivery of a revocation heard from the broker, with its age in seconds. */
    private readonly delivered: (seconds: number) => void = () => {},
    /** Told of every socket bound to a session and unbound from it (the push fan-out, userSockets.ts). */
    private readonly bindings: BindingListener | null = null,
  ) {}

  /** Sockets bound to some session. */
  get boundSockets(): number {
    return this.bySession.size;
  }

  /** Sessions with a socket here. */
  boundSessionIds(): Id[] {
    return this.bySession.sessionIds();
  }

  /** Binds a socket to `session` (replacing `previous`, if any); false when the session was just revoked. */
  bind(conn: Connection, session: BoundSession, previous: BoundSession | null): boolean {
    if (this.wasRevoked(session.sessionId)) return false;
    if (previous) {
      this.bySession.remove(previous.sessionId, conn);
      this.bindings?.unbound(conn, previous);
    }
    this.bySession.add(session.sessionId, conn);
    this.bindings?.bound(conn, session);
    return true;
  }

  /** A socket closed. */
  unbound(conn: Connection, session: BoundSession): void {
    this.bySession.remove(session.sessionId, conn);
    this.bindings?.unbound(conn, session);
  }

  /** Pushes session_deleted to every local socket of the revoked sessions, then closes them. */
  revoked(sessionIds: readonly Id[], publishedAt?: number): void {
    this.rotate();
    for (const sessionId of sessionIds) {
      this.revokedNow.add(sessionId);
      for (const conn of this.bySession.take(sessionId)) {
        if (conn.session) this.bindings?.unbound(conn, conn.session);
        conn.revoke(sessionId);
      }
    }
    if (publishedAt !== undefined) this.delivered((Date.now() - publishedAt) / 1000);
  }

  private wasRevoked(sessionId: Id): boolean {
    this.rotate();
    return this.revokedNow.has(sessionId) || this.revokedBefore.has(sessionId);
  }

  private rotate(): void {
    const now = Date.now();
    const age = now - this.generationStarted;
    if (age < REMEMBER_REVOKED_MS) return;
    // The current generation becomes the previous one, unless it is too old to matter.
    this.revokedBefore = age < 2 * REMEMBER_REVOKED_MS ? this.revokedNow : new Set();
    this.revokedNow = new Set();
    this.generationStarted = now;
  }
}
