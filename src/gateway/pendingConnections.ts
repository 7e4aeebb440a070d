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

export class PendingConnections {
  private readonly perIp = new Map<string, number>();
  private readonly pending = new WeakSet<Socket>();
  private total = 0;

  constructor(
    /** null: no per-address bound (RATE_LIMITS=off). */
    private readonly maxPerIp: number | null,
    private readonly maxTotal: number,
  ) {}

  get count(): number {
    return this.total;
  }

  /** A new TCP connection: counted and true, or false when over a bound (the caller destroys it). */
  admit(socket: Socket): boolean {
    const ip = socket.remoteAddress ?? '';
    const fromIp = this.perIp.get(ip) ?? 0;
    if (this.total >= this.maxTotal || (this.maxPerIp !== null && fromIp >= this.maxPerIp)) return false;
    this.perIp.set(ip, fromIp + 1);
    this.total++;
    this.pending.add(socket);
    socket.once('close', () => this.release(socket));
    return true;
  }

  /** The connection became a WebSocket (or closed): it no longer counts. */
  release(socket: Socket): void {
    if (!this.pending.delete(socket)) return;
    this.total--;
    const ip = socket.remoteAddress ?? '';
    const left = (this.perIp.get(ip) ?? 1) - 1;
    if (left > 0) this.perIp.set(ip, left);
    else this.perIp.delete(ip);
  }
}
