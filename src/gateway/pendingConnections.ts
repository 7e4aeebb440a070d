/**
 * TCP connections that have not become WebSockets yet (headers still
 * arriving, or plain HTTP such as health checks). Without bounds, thousands
 * of half-open upgrades hold every file descriptor, and established sockets
 * and health checks fail with them. The bounds, each keyed by the TCP peer:
 * - at most `maxPerNetwork` per address (an IPv6 address counts as its /64:
 *   domain/network.ts), and `maxPerWideNetwork` per IPv4 /24 or IPv6 /48,
 *   so a few neighbouring hosts cannot hold the whole pool; a connection
 *   over one of them is destroyed at once, before any byte is read;
 * - `maxTotal` in all; when it is reached, the OLDEST pending connection is
 *   destroyed to admit the new one. A client that is really upgrading stays
 *   pending for a round trip, a half-open one for as long as it can: so the
 *   half-open ones go first, and legitimate clients keep getting in while a
 *   few hundred addresses hold upgrades open. The HTTP server's header
 *   timeout ends the rest.
 *
 * Behind a proxy every connection comes from the proxy, whose own limits
 * apply first (raise MAX_PENDING_CONNECTIONS_PER_IP there).
 */
import type { Socket } from 'node:net';
import { networkOf, wideNetworkOf } from '../domain/network.js';
import { ConnectionsPerIp } from './connectionsPerIp.js';

export interface PendingBounds {
  /** Per address (IPv6: per /64); null: no per-address bounds (RATE_LIMITS=off). */
  maxPerNetwork: number | null;
  /** Per IPv4 /24 or IPv6 /48; null with RATE_LIMITS=off. */
  maxPerWideNetwork: number | null;
  maxTotal: number;
  /** IPV6_PREFIX_LENGTH. */
  ipv6PrefixBits: number;
}

interface Pending {
  network: string;
  wide: string;
}

export class PendingConnections {
  private readonly perNetwork: ConnectionsPerIp | null;
  private readonly perWideNetwork: ConnectionsPerIp | null;
  /** Insertion order is age order: the first is the oldest. */
  private readonly pending = new Map<Socket, Pending>();

  constructor(private readonly bounds: PendingBounds) {
    this.perNetwork = bounds.maxPerNetwork === null ? null : new ConnectionsPerIp(bounds.maxPerNetwork);
    this.perWideNetwork = bounds.maxPerWideNetwork === null ? null : new ConnectionsPerIp(bounds.maxPerWideNetwork);
  }

  get count(): number {
    return this.pending.size;
  }

  /**
   * A new TCP connection: counted and true, or false when over a per-address
   * bound (the caller destroys it). At the total bound the oldest pending
   * connection is destroyed instead; `shed` is told of it.
   */
  admit(socket: Socket, shed: () => void = () => {}): boolean {
    const peer = socket.remoteAddress ?? '';
    const entry = { network: networkOf(peer, this.bounds.ipv6PrefixBits), wide: wideNetworkOf(peer) };
    if (this.perNetwork && !this.perNetwork.admits(entry.network)) return false;
    if (this.perWideNetwork && !this.perWideNetwork.admits(entry.wide)) return false;
    if (this.pending.size >= this.bounds.maxTotal) {
      const oldest = this.pending.keys().next().value as Socket;
      this.release(oldest);
      oldest.destroy();
      shed();
    }
    this.perNetwork?.opened(entry.network);
    this.perWideNetwork?.opened(entry.wide);
    this.pending.set(socket, entry);
    socket.once('close', () => this.release(socket));
    return true;
  }

  /** The connection became a WebSocket (or closed): it no longer counts. */
  release(socket: Socket): void {
    const entry = this.pending.get(socket);
    if (!entry) return;
    this.pending.delete(socket);
    this.perNetwork?.closed(entry.network);
    this.perWideNetwork?.closed(entry.wide);
  }
}
