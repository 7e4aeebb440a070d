/**
 * What a method handler sees: the request, the services, and the state of the
 * connection it came on (never the socket itself).
 */
import type { DeviceInfo, Geo } from '../domain/device.js';
import type { BoundSession } from '../domain/session.js';
import type { RequestSource } from '../domain/source.js';
import type { Logger } from '../logger.js';
import type { ClientMessage, MethodName, RpcResultInit } from '../protocol/codec.js';
import type { Services } from '../services/index.js';

/** Per-connection state a handler may read and change. */
export interface ConnectionState {
  readonly ip: string;
  readonly geo: Geo;
  /** Host the client connected to (for default entrypoints). */
  readonly host: string | undefined;
  /** Device info from the latest core.Initialize on this socket. */
  device: DeviceInfo;
  readonly session: BoundSession | null;
  /**
   * Binds a session to this socket (sign-in, sign-up, authorize). False when
   * it could not be bound: the socket closed, or the session was revoked
   * while it was being checked.
   */
  bindSession(session: BoundSession): boolean;
}

export interface MethodContext {
  conn: ConnectionState;
  services: Services;
  log: Logger;
}

/** The result oneof to send, or undefined for a method that returns `()`. */
export type MethodResult = Omit<RpcResultInit, 'req_id' | 'trace_id'> | undefined;

/** The request payload type of a method, e.g. `auth.SignIn` for `auth_sign_in`. */
type RequestOf<K extends MethodName> = NonNullable<ClientMessage[K]>;

export interface Method<K extends MethodName> {
  /** true: called before a session is bound, the request gets 401. */
  needsSession: boolean;
  handle(request: RequestOf<K>, ctx: MethodContext): Promise<MethodResult>;
}

/** A context whose connection has a session (checked by the dispatcher for needsSession methods). */
export function sessionOf(ctx: MethodContext): BoundSession {
  const session = ctx.conn.session;
  if (!session) throw new Error('dispatcher let a needsSession method through without a session');
  return session;
}

/** Who the request comes from, for the services' rate limits. */
export function sourceOf(ctx: MethodContext): RequestSource {
  return { ip: ctx.conn.ip, userId: ctx.conn.session?.userId ?? null };
}
