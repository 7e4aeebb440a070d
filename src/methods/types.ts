/**
 * What a method handler sees: the request, the services, and the state of
 * the socket it came on (read only, never the socket itself); and what it
 * gives back: the result, and what the socket should become (a session
 * bound, a sign-in proof, device info), which the gateway applies once the
 * handler returned. So a request runs one way, down and back: no method
 * reaches into the socket layer.
 */
import type { DeviceInfo, Geo } from '../domain/device.js';
import type { BoundSession, Caller, SignInProof } from '../domain/session.js';
import type { RequestOrigin } from '../domain/source.js';
import type { Logger } from '../logger.js';
import type { ClientMessage, MethodName, RpcResultInit } from '../protocol/codec.js';
import { ErrorCode, RpcError } from '../protocol/errorCodes.js';
import type { Services } from '../services/index.js';

/** The socket a request came on, as a handler may read it. */
export interface ConnectionState {
  /** The client address (for the audit trail and notice mails). */
  readonly ip: string;
  /** What per-address limits count by (domain/network.ts). */
  readonly network: string;
  readonly geo: Geo;
  /** Host the client connected to (for default entrypoints). */
  readonly host: string | undefined;
  /** Device info from the latest core.Initialize on this socket. */
  readonly device: DeviceInfo;
  readonly session: BoundSession | null;
  /** What this socket proved when its session was signed in on it; null when it only resumed a token. */
  readonly proof: SignInProof | null;
}

/** What a method asks of the socket it was called on; applied by the gateway after the handler returned. */
export interface SocketChange {
  /**
   * Bind this session to the socket (sign-up, sign-in, authorize). When the
   * session was revoked while the request ran, or the socket closed, nothing
   * is bound and the request is answered 403 instead of `result`.
   */
  bind?: BoundSession;
  /** The socket's sign-in proof from now on (null: none). */
  proof?: SignInProof | null;
  /** core.Initialize: the device the socket reports from now on. */
  device?: DeviceInfo;
}

/** The result oneof to send; undefined for a method that returns `()`. */
export type ResultBody = Omit<RpcResultInit, 'req_id' | 'trace_id'> | undefined;

/** What a handler returns. */
export interface Answer {
  result?: ResultBody;
  change?: SocketChange;
}

export interface MethodContext {
  conn: ConnectionState;
  services: Services;
  log: Logger;
}

/** The request payload type of a method, e.g. `auth.SignIn` for `auth_sign_in`. */
type RequestOf<K extends MethodName> = NonNullable<ClientMessage[K]>;

export interface Method<K extends MethodName> {
  /** true: called before a session is bound, the request gets 401. */
  needsSession: boolean;
  /** true: a bot's socket gets 403 (passwords, email, account settings are a person's). */
  peopleOnly?: boolean;
  handle(request: RequestOf<K>, ctx: MethodContext): Promise<Answer>;
}

/**
 * The answer to a token that is forged, malformed, expired or revoked, and to
 * a bind that a revocation won: 403, as the production Osmium server answers.
 */
export function invalidToken(): RpcError {
  return new RpcError(ErrorCode.FORBIDDEN, 'invalid, expired or revoked token');
}

/** The answer of a method that returns `()`. */
export const DONE: Answer = Object.freeze({});

/** A context whose connection has a session (checked by the dispatcher for needsSession methods). */
export function sessionOf(ctx: MethodContext): BoundSession {
  const session = ctx.conn.session;
  if (!session) throw new Error('dispatcher let a needsSession method through without a session');
  return session;
}

/** The signed-in caller with what its socket proved for this session (a proof of another session counts for nothing). */
export function callerOf(ctx: MethodContext): Caller {
  const session = sessionOf(ctx);
  const proof = ctx.conn.proof;
  return { ...session, proof: proof && proof.sessionId === session.sessionId ? proof : null };
}

/** Where the request comes from: address and network, session, device, geo (limits, audit trail, notice mails). */
export function originOf(ctx: MethodContext): RequestOrigin {
  const { conn } = ctx;
  return {
    ip: conn.ip,
    network: conn.network,
    sessionId: conn.session?.sessionId ?? null,
    userId: conn.session?.userId ?? null,
    device: conn.device,
    geo: conn.geo,
  };
}
