/**
 * One client socket: frame limits, decoding, heartbeats, the per-connection
 * sequence of server message ids, and the session bound to it. Requests are
 * dispatched concurrently; results go out in completion order (clients match
 * them by req_id).
 */
import type { WebSocket, RawData } from 'ws';
import { NO_DEVICE, type DeviceInfo, type Geo } from '../domain/device.js';
import type { BoundSession } from '../domain/session.js';
import type { ConnectionState } from '../methods/types.js';
import { decodeClientMessage, encodeServerMessage, idToWire, type ClientMessage, type ServerMessageInit } from '../protocol/codec.js';
import { CloseCode, type CloseCodeValue } from '../protocol/closeCodes.js';
import { ErrorCode } from '../protocol/errorCodes.js';
import type { SocketLimiter } from './socketLimiter.js';

/** What a connection needs from the gateway that owns it. */
export interface ConnectionOwner {
  dispatch(message: ClientMessage, conn: Connection): Promise<ServerMessageInit['result']>;
  /** May this socket be bound to `session`? False refuses (a revocation raced the check). */
  sessionBound(conn: Connection, session: BoundSession, previous: BoundSession | null): boolean;
  heartbeat(conn: Connection): void;
  /** The socket closed (its session, if any, is still in `conn.session`). */
  closed(conn: Connection): void;
  /** First frame that decoded: the socket passed the handshake timeout. */
  firstValidFrame(conn: Connection): void;
  /** A frame or request was refused by the per-socket limiter. */
  refused(conn: Connection, closed: boolean): void;
  frameIn(bytes: number): void;
  frameOut(bytes: number): void;
}

/** Requests one socket may have in flight; more are answered 429 at once. */
const MAX_IN_FLIGHT = 32;
/** Pings a socket may leave unanswered; at the next ping it is dropped. */
const MAX_MISSED_PONGS = 2;

/** Shared 'error' listener (one function for every socket, not a closure each). */
function ignoreError(): void {}

export class Connection implements ConnectionState {
  device: DeviceInfo = NO_DEVICE;
  session: BoundSession | null = null;
  /** Pings sent since the last pong. */
  private missedPongs = 0;
  private seq = 0;
  private inFlight = 0;
  /** Set once a frame decoded. */
  private sentValidFrame = false;
  /** A revoked session whose push waits for this socket's in-flight results (sign-out answers first). */
  private revokedSession: string | null = null;
  private isClosed = false;
  /** When the last frame that decoded arrived (Unix ms). */
  private lastFrameAt = Date.now();
  /** How long the socket was quiet before its latest frame (ms): idle-expiry of its session. */
  quietBeforeLastFrameMs = 0;

  constructor(
    private readonly socket: WebSocket,
    private readonly owner: ConnectionOwner,
    readonly ip: string,
    readonly geo: Geo,
    readonly host: string | undefined,
    /** null when RATE_LIMITS=off. */
    private readonly limiter: SocketLimiter | null,
    private readonly maxBufferedBytes: number,
  ) {
    socket.on('message', (data, isBinary) => this.onFrame(data, isBinary));
    socket.on('pong', () => {
      this.missedPongs = 0;
    });
    // ws emits 'error' for protocol violations (oversized frame: closes 1009 by
    // itself). Without a listener the process would crash.
    socket.on('error', ignoreError);
    socket.on('close', () => {
      this.isClosed = true;
      this.owner.closed(this);
    });
  }

  /** True while a request of this socket is being handled. */
  get busy(): boolean {
    return this.inFlight > 0;
  }

  /**
   * Binds a session to this socket. False, and nothing bound, when the socket
   * already closed (a late Authorize must not leave an entry behind) or the
   * owner refuses (the session was revoked while it was being checked).
   */
  bindSession(session: BoundSession): boolean {
    if (this.isClosed) return false;
    if (!this.owner.sessionBound(this, session, this.session)) return false;
    this.session = session;
    return true;
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
    const bytes = encodeServerMessage({ ...message, id: ++this.seq });
    this.owner.frameOut(bytes.length);
    this.socket.send(bytes);
  }

  /**
   * The bound session was revoked: unbind it at once, then push
   * `session_deleted` and close with 4001, after any in-flight result of this
   * socket (so a sign-out gets its `()` before the close).
   */
  revoke(sessionId: string): void {
    this.session = null;
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
    this.owner.frameIn(frame.length);
    let message: ClientMessage;
    try {
      message = decodeClientMessage(frame);
    } catch {
      this.close(CloseCode.INVALID_PAYLOAD, 'frame is not an osmium.client.core.ClientMessage');
      return;
    }
    if (!this.sentValidFrame) {
      this.sentValidFrame = true;
      this.owner.firstValidFrame(this);
    }
    const now = Date.now();
    this.quietBeforeLastFrameMs = now - this.lastFrameAt;
    this.lastFrameAt = now;
    const decision = this.limiter ? this.limiter.take() : 'allow';
    if (decision === 'close') {
      this.owner.refused(this, true);
      this.close(CloseCode.POLICY_VIOLATION, 'request flood');
      return;
    }
    if (!message.message) {
      // Only `id` set: a heartbeat. Never answered, never an error (a limited
      // one is dropped silently).
      if (decision === 'allow') this.owner.heartbeat(this);
      return;
    }
    if (decision === 'refuse') {
      this.owner.refused(this, false);
      this.send({
        result: {
          req_id: message.id >>> 0,
          error: {
            error_code: ErrorCode.RATE_LIMITED,
            error_message: `too many requests on this socket; retry after ${this.limiter!.retryAfterSeconds()} seconds`,
          },
        },
      });
      return;
    }
    if (this.inFlight >= MAX_IN_FLIGHT) {
      this.send({
        result: {
          req_id: message.id >>> 0,
          error: { error_code: ErrorCode.RATE_LIMITED, error_message: `more than ${MAX_IN_FLIGHT} requests in flight; retry after 1 second` },
        },
      });
      return;
    }
    this.inFlight++;
    void this.owner.dispatch(message, this).then((result) => {
      this.inFlight--;
      this.send({ result });
      if (this.inFlight === 0) this.finishRevocation();
    });
  }
}
