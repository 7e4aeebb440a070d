/**
 * The stages a request goes through on this instance, in order, each once:
 * the session guard (sessionGuard.ts: idle expiry, activity), the dispatcher
 * (dispatcher.ts: the method, its errors), then what the method asked of the
 * socket (a session bound through the revocation fan-out, its sign-in proof,
 * its device), and back to the connection as the result to send. Nothing
 * downstream reaches back up: a method only describes the change.
 */
import type { ClientMessage } from '../protocol/codec.js';
import type { BoundSession } from '../domain/session.js';
import { invalidToken, type SocketChange } from '../methods/types.js';
import type { Connection, ConnectionHandler, Served } from './connection.js';
import type { Dispatcher } from './dispatcher.js';
import type { RevocationFanout } from './revocationFanout.js';
import type { SessionGuard } from './sessionGuard.js';

export interface RequestPipelineDeps {
  guard: SessionGuard;
  dispatcher: Dispatcher;
  fanout: RevocationFanout;
  /** A socket closed: the gateway forgets it. */
  closed(conn: Connection): void;
  /** A session was bound to a socket: resolves once pushes to it reach this socket (push fan-out). */
  afterBind?(conn: Connection, session: BoundSession): Promise<void> | undefined;
  /** The number of bound sockets may have changed (metrics). */
  bindingsChanged(): void;
}

export class RequestPipeline implements ConnectionHandler {
  constructor(private readonly deps: RequestPipelineDeps) {}

  serve(message: ClientMessage, conn: Connection): Promise<Served> {
    const guarded = this.deps.guard.pass(conn);
    return guarded ? guarded.then(() => this.dispatch(message, conn)) : this.dispatch(message, conn);
  }

  heartbeat(conn: Connection): void {
    void this.deps.guard.pass(conn);
  }

  closed(conn: Connection): void {
    if (conn.session) this.deps.fanout.unbound(conn, conn.session);
    this.deps.closed(conn);
  }

  private async dispatch(message: ClientMessage, conn: Connection): Promise<Served> {
    const { result, change } = await this.deps.dispatcher.dispatch(message, conn);
    if (!change) return result;
    const reqId = message.id >>> 0;
    if (!this.apply(change, conn)) return this.deps.dispatcher.refusal(reqId, invalidToken());
    // The first socket of a user here subscribes to the user's pushes before the bind is answered.
    if (change.bind && this.deps.afterBind) await this.deps.afterBind(conn, change.bind);
    return result;
  }

  /**
   * Applies a method's change to its socket; false when the session could
   * not be bound (the socket closed, or the session was revoked while the
   * request ran: the revocation wins) and nothing was changed.
   */
  private apply(change: SocketChange, conn: Connection): boolean {
    if (change.device) conn.device = change.device;
    if (change.bind) {
      if (conn.closed || !this.deps.fanout.bind(conn, change.bind, conn.session)) return false;
      conn.session = change.bind;
      this.deps.bindingsChanged();
    }
    if (change.proof !== undefined) conn.proof = change.proof;
    return true;
  }
}
