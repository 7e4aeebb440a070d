/**
 * Keeps the sockets of this instance honest: a ping every PING_INTERVAL_MS
 * (a socket that missed two pongs is dropped without a close frame), and a
 * close (1008) for a socket that sent no valid frame within
 * HANDSHAKE_TIMEOUT_MS, so half-open or silent sockets do not pile up.
 */
import { CloseCode } from '../protocol/closeCodes.js';
import type { Connection } from './connection.js';

export class Liveness {
  /** Sockets that have not sent a valid frame yet → deadline (insertion order is deadline order). */
  private readonly awaitingFirstFrame = new Map<Connection, number>();
  private pingTimer: NodeJS.Timeout | undefined;
  private handshakeTimer: NodeJS.Timeout | undefined;

  constructor(
    private readonly connections: Iterable<Connection>,
    private readonly pingIntervalMs: number,
    private readonly handshakeTimeoutMs: number,
  ) {}

  start(): void {
    this.pingTimer = setInterval(() => this.pingAll(), this.pingIntervalMs);
    this.pingTimer.unref();
    this.handshakeTimer = setInterval(() => this.closeSilentSockets(), Math.min(1_000, this.handshakeTimeoutMs));
    this.handshakeTimer.unref();
  }

  stop(): void {
    clearInterval(this.pingTimer);
    clearInterval(this.handshakeTimer);
  }

  /** A new socket: its handshake deadline starts now. */
  opened(conn: Connection): void {
    this.awaitingFirstFrame.set(conn, Date.now() + this.handshakeTimeoutMs);
  }

  closed(conn: Connection): void {
    this.awaitingFirstFrame.delete(conn);
  }

  private pingAll(): void {
    for (const conn of this.connections) conn.ping();
  }

  private closeSilentSockets(): void {
    const now = Date.now();
    for (const [conn, deadline] of this.awaitingFirstFrame) {
      // Sockets that sent a valid frame leave as they reach the front; the rest wait for their deadline.
      if (conn.validFrameSeen) {
        this.awaitingFirstFrame.delete(conn);
        continue;
      }
      if (deadline > now) break;
      this.awaitingFirstFrame.delete(conn);
      conn.close(CloseCode.POLICY_VIOLATION, 'no valid frame in time');
    }
  }
}
