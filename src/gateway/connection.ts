/**
 * One client socket: frame limits, decoding, heartbeats, the per-connection
 * sequence of server message ids, and the state a request may change (the
 * bound session, its sign-in proof, the device). Requests are handed to the
 * request pipeline (requestPipeline.ts) and run concurrently; results go out
 * in completion order (clients match them by req_id).
 */
import type { WebSocket, RawData } from 'ws';
import type { Clock } from '../domain/clock.js';
import { NO_DEVICE, type DeviceInfo, type Geo } from '../domain/device.js';
import type { BoundSession, SignInProof } from '../domain/session.js';
import type { ConnectionState } from '../methods/types.js';
import {
  CloseInstead, decodeClientMessage, EncodedMessage, encodeServerMessage, encodeServerMessageAround, idToWire,
  type ClientMessage, type RpcResultInit, type ServerMessageInit,
} from '../protocol/codec.js';
import { CloseCode, type CloseCodeValue } from '../protocol/closeCodes.js';
import { ErrorCode } from '../protocol/errorCodes.js';
import type { SocketLimiter } from './socketLimiter.js';

/** Where a connection hands what it receives. */
export interface ConnectionHandler {
  /**
   * Serves a request (a frame with a method set); resolves with its result:
   * built here, already encoded (a backend's answer, spliced), or a close instead.
   */
  serve(message: ClientMessage, conn: Connection): Promise<Served>;
  /** A frame with only `id` set: never answered. */
  heartbeat(conn: Connection): void;
  /** The socket closed (its session, if any, is still in `conn.session`). */
  closed(conn: Connection): void;
}

/** A request's outcome as the connection sends it. */
export type Served = RpcResultInit | EncodedMessage | CloseInstead;

/** What a connection reports (metrics); optional bookkeeping. */
export interface ConnectionObserver {
  frameIn(bytes: number): void;
  frameOut(bytes: number): void;
  /** A frame or request was refused by the per-socket limiter; `closed` when the socket was closed for it. */
  refused(closed: boolean): void;
}

/** Where the socket comes from and what bounds it. */
export interface ConnectionSettings {
  ip: string;
  network: string;
  geo: Geo;
  host: string | undefined;
  /** null when RATE_LIMITS=off. */
  limiter: SocketLimiter | null;
  maxBufferedBytes: number;
  /** What the socket's quiet spells are measured with (the services' clock). */
  clock: Clock;
}

/** Requests one socket may have in flight; more are answered 429 at once. */
const MAX_IN_FLIGHT = 32;
/** Pings a socket may leave unanswered; at the next ping it is dropped. */
const MAX_MISSED_PONGS = 2;

/** Shared 'error' listener (one function for every socket, not a closure each). */
function ignoreError(): void {}

export class Connection implements ConnectionState {
  readonly ip: string;
  readonly network: string;
  readonly geo: Geo;
  readonly host: string | undefined;
  device: DeviceInfo = NO_DEVICE;
  session: BoundSession | null = null;
  proof: SignInProof | null = null;
  /** Set once a frame decoded (the handshake timeout no longer applies: liveness.ts). */
  validFrameSeen = false;
  /** Pings sent since the last pong. */
  private missedPongs = 0;
  private seq = 0;
  private inFlight = 0;
  /** A revoked session whose push waits for this socket's in-flight results (sign-out answers first). */
  private revokedSession: string | null = null;
  private isClosed = false;
  /** When the last frame that decoded arrived (Unix ms). */
  private lastFrameAt: number;
  /** How long the socket was quiet before its latest frame (ms): idle-expiry of its session (sessionGuard.ts). */
  quietBeforeLastFrameMs = 0;
  private readonly limiter: SocketLimiter | null;
  private readonly maxBufferedBytes: number;
  private readonly clock: Clock;

  constructor(
    private readonly socket: WebSocket,
    private readonly handler: ConnectionHandler,
    private readonly observer: ConnectionObserver,
    settings: ConnectionSettings,
  ) {
    ({ ip: this.ip, network: this.network, geo: this.geo, host: this.host, limiter: this.limiter, maxBufferedBytes: this.maxBufferedBytes } = settings);
    this.clock = settings.clock;
    this.lastFrameAt = this.clock();
    socket.on('message', (data, isBinary) => this.onFrame(data, isBinary));
    socket.on('pong', () => {
      this.missedPongs = 0;
    });
    // ws emits 'error' for protocol violations (oversized frame: closes 1009 by
    // itself). Without a listener the process would crash.
    socket.on('error', ignoreError);
    socket.on('close', () => {
      this.isClosed = true;
      this.handler.closed(this);
    });
  }

  /** True while a request of this socket is being handled. */
  get busy(): boolean {
    return this.inFlight > 0;
  }

  /** True once the socket closed: nothing may be bound to it any more. */
  get closed(): boolean {
    return this.isClosed;
  }

  /** Pings the socket; drops it (no close frame) when it left MAX_MISSED_PONGS pings unanswered. */
  ping(): void {
    if (this.missedPongs >= MAX_MISSED_PONGS) {
      this.socket.terminate();
      return;
    }
    this.missedPongs++;
    this.socket.ping();
  }

  /** Cuts the socket without a close frame (shutdown stragglers, dead peers). */
  terminate(): void {
    this.socket.terminate();
  }

  /** Sends a server message with the next sequence id. Drops a reader that cannot keep up. */
  send(message: Omit<ServerMessageInit, 'id'>): void {
    if (this.socket.readyState !== this.socket.OPEN) return;
    if (this.socket.bufferedAmount > this.maxBufferedBytes) {
      this.socket.terminate();
      return;
    }
    const bytes = encodeServerMessage(message, ++this.seq);
    this.observer.frameOut(bytes.length);
    this.socket.send(bytes);
  }

  /** Sends an encoded Update or RPCResult inside a ServerMessage with the next sequence id (pushes, backend answers). */
  sendEncoded(member: 'update' | 'result', encoded: Uint8Array): void {
    if (this.socket.readyState !== this.socket.OPEN) return;
    if (this.socket.bufferedAmount > this.maxBufferedBytes) {
      this.socket.terminate();
      return;
    }
    const bytes = encodeServerMessageAround(member, encoded, ++this.seq);
    this.observer.frameOut(bytes.length);
    this.socket.send(bytes);
  }

  /**
   * The bound session was revoked: unbind it at once (with its proof), then
   * push `session_deleted` and close with 4001, after any in-flight result of
   * this socket (so a sign-out gets its `()` before the close).
   */
  revoke(sessionId: string): void {
    this.session = null;
    this.proof = null;
    this.revokedSession = sessionId;
    if (this.inFlight === 0) this.finishRevocation();
  }

  private finishRevocation(): void {
    const sessionId = this.revokedSession;
    if (sessionId === null) return;
    this.revokedSession = null;
    this.send({ update: { session_deleted: { session_id: idToWire(sessionId) } } });
    this.close(CloseCode.SESSION_REVOKED, 'session revoked');
  }

  close(code: CloseCodeValue, reason: string): void {
    if (this.socket.readyState === this.socket.OPEN) this.socket.close(code, reason);
  }

  private onFrame(data: RawData, isBinary: boolean): void {
    if (!isBinary) {
      this.close(CloseCode.UNSUPPORTED_DATA, 'binary frames only');
      return;
    }
    // ws hands binary frames over as one Buffer (binaryType 'nodebuffer'); decode it in place.
    const frame = Array.isArray(data) ? Buffer.concat(data) : data instanceof ArrayBuffer ? new Uint8Array(data) : data;
    this.observer.frameIn(frame.length);
    let message: ClientMessage;
    try {
      message = decodeClientMessage(frame);
    } catch {
      this.close(CloseCode.INVALID_PAYLOAD, 'frame is not an osmium.client.core.ClientMessage');
      return;
    }
    this.validFrameSeen = true;
    const now = this.clock();
    this.quietBeforeLastFrameMs = now - this.lastFrameAt;
    this.lastFrameAt = now;
    const decision = this.limiter ? this.limiter.take() : 'allow';
    if (decision === 'close') {
      this.observer.refused(true);
      this.close(CloseCode.POLICY_VIOLATION, 'request flood');
      return;
    }
    if (!message.message) {
      // Only `id` set: a heartbeat. Never answered, never an error (a limited
      // one is dropped silently).
      if (decision === 'allow') this.handler.heartbeat(this);
      return;
    }
    if (decision === 'refuse') {
      this.observer.refused(false);
      this.refuse(message, `too many requests on this socket; retry after ${this.limiter!.retryAfterSeconds()} seconds`);
      return;
    }
    if (this.inFlight >= MAX_IN_FLIGHT) {
      this.refuse(message, `more than ${MAX_IN_FLIGHT} requests in flight; retry after 1 second`);
      return;
    }
    this.inFlight++;
    void this.handler.serve(message, this).then((result) => {
      this.inFlight--;
      if (result instanceof EncodedMessage) this.sendEncoded('result', result.bytes);
      else if (result instanceof CloseInstead) this.close(result.code as CloseCodeValue, result.reason);
      else this.send({ result });
      if (this.inFlight === 0) this.finishRevocation();
    });
  }

  private refuse(message: ClientMessage, why: string): void {
    this.send({ result: { req_id: message.id >>> 0, error: { error_code: ErrorCode.RATE_LIMITED, error_message: why } } });
  }
}
