/**
 * Connections per client address under a bound: open sockets for
 * MAX_CONNECTIONS_PER_IP (HTTP 429 at upgrade), and pending upgrades for
 * MAX_PENDING_CONNECTIONS_PER_IP (pendingConnections.ts).
 */
export class ConnectionsPerIp {
  private readonly open = new Map<string, number>();

  constructor(private readonly max: number) {}

  /** True when `ip` may open one more socket. */
  admits(ip: string): boolean {
    return (this.open.get(ip) ?? 0) < this.max;
  }

  opened(ip: string): void {
    this.open.set(ip, (this.open.get(ip) ?? 0) + 1);
  }

  closed(ip: string): void {
    const left = (this.open.get(ip) ?? 1) - 1;
    if (left > 0) this.open.set(ip, left);
    else this.open.delete(ip);
  }
}
