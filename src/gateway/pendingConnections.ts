/**
 * TCP connections that have not become WebSockets yet (headers still
 * arriving, or plain HTTP such as health checks): at most `maxPerIp` per
 * peer address and `maxTotal` in all. Without this bound, thousands of
 * half-open upgrades from one address hold every file descriptor, and
 * established sockets and health checks fail with them. A connection over a
 * bound is destroyed at once, before any byte is read; the HTTP server's
 * header timeout ends those that stall.
 *
 * The address is the TCP peer: behind a proxy every connection comes from the
 * proxy, whose own limits apply first (raise MAX_PENDING_CONNECTIONS_PER_IP there).
 */
import type { Socket } from 'node:net';
import { ConnectionsPerIp } from './connectionsPerIp.js';

export class PendingConnections {
  /** null: no per-address bound (RATE_LIMITS=off). */
  private readonly perIp: ConnectionsPerIp | null;
  private readonly pending = new WeakSet<Socket>();
  private total = 0;

  constructor(maxPerIp: number | null, private readonly maxTotal: number) {
    this.perIp = maxPerIp === null ? null : new ConnectionsPerIp(maxPerIp);
  }

  get count(): number {
    return this.total;
  }

  /** A new TCP connection: counted and true, or false when over a bound (the caller destroys it). */
  admit(socket: Socket): boolean {
    const ip = socket.remoteAddress ?? '';
    if (this.total >= this.maxTotal || (this.perIp && !this.perIp.admits(ip))) return false;
    this.perIp?.opened(ip);
    this.total++;
    this.pending.add(socket);
    socket.once('close', () => this.release(socket));
    return true;
  }

  /** The connection became a WebSocket (or closed): it no longer counts. */
  release(socket: Socket): void {
    if (!this.pending.delete(socket)) return;
    this.total--;
    this.perIp?.closed(socket.remoteAddress ?? '');
  }
}
