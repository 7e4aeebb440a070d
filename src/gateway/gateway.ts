/**
 * The gateway: one HTTP server for the plain routes (httpRoutes.ts) and the
 * WebSocket upgrade (on any path), the live connections, their liveness
 * (liveness.ts), the request pipeline each connection hands its frames to
 * (requestPipeline.ts) and the revocation fan-out to them
 * (revocationFanout.ts).
 */
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { WebSocketServer, type WebSocket } from 'ws';
import type { Config } from '../config.js';
import type { Clock } from '../domain/clock.js';
import { networkOf } from '../domain/network.js';
import type { Logger } from '../logger.js';
import { CloseCode } from '../protocol/closeCodes.js';
import type { Revocations } from '../services/revocations.js';
import type { SessionCache } from '../services/sessionCache.js';
import type { SessionService } from '../services/sessions.js';
import { clientGeo, clientIpReader, type ClientIpReader } from './clientAddress.js';
import { Connection, type ConnectionObserver } from './connection.js';
import { ConnectionsPerIp } from './connectionsPerIp.js';
import type { Dispatcher } from './dispatcher.js';
import type { ConsoleRoutes } from './consoleRoutes.js';
import { httpRoutes, type Readiness } from './httpRoutes.js';
import { Liveness } from './liveness.js';
import { describeOriginPolicy, loopbackConsoleOrigins, originAllowed } from './origin.js';
import { PendingConnections } from './pendingConnections.js';
import { RequestPipeline } from './requestPipeline.js';
import { RevocationFanout } from './revocationFanout.js';
import { SessionGuard } from './sessionGuard.js';
import { SocketLimiter, type SocketLimits } from './socketLimiter.js';
import type { UserSockets } from './userSockets.js';

/** Errors of a socket being upgraded; ws reports them on the WebSocket afterwards. */
function ignoreSocketError(): void {}

/** What the gateway reports (metrics); every call is optional bookkeeping. */
export interface GatewayObserver extends ConnectionObserver {
  connections(open: number, authorized: number): void;
  revocationDelivered(seconds: number): void;
  rateLimited(limit: string): void;
}

export interface GatewayDeps {
  config: Config;
  sessions: Pick<SessionService, 'noteActivity' | 'idleMs'>;
  sessionCache: Pick<SessionCache, 'stillValid'>;
  revocations: Pick<Revocations, 'onRevoked' | 'endedAmong'>;
  dispatcher: Dispatcher;
  readiness: Readiness;
  /** The web console's routes; null when CONSOLE is off. */
  consoleRoutes: ConsoleRoutes | null;
  observer: GatewayObserver;
  /** The push fan-out to this instance's sockets; null when pushes are off (no backend route, no internal API). */
  userSockets: UserSockets | null;
  clock: Clock;
  log: Logger;
}

export class Gateway {
  readonly http: Server;
  private readonly wss: WebSocketServer;
  private readonly connections = new Set<Connection>();
  private readonly perIp: ConnectionsPerIp | null;
  private readonly pending: PendingConnections;
  private readonly liveness: Liveness;
  private readonly fanout: RevocationFanout;
  private readonly pipeline: RequestPipeline;
  private readonly socketLimits: SocketLimits | null;
  private readonly clientIp: ClientIpReader;
  private readonly observer: GatewayObserver;
  private ownOrigins: ReadonlySet<string> = new Set();
  private draining = false;

  constructor(private readonly deps: GatewayDeps) {
    const { config, log } = deps;
    this.observer = deps.observer;
    const limitsOn = config.RATE_LIMITS === 'on';
    this.socketLimits = limitsOn ? { rate: config.SOCKET_RATE, burst: config.SOCKET_BURST, floodClose: config.SOCKET_FLOOD_CLOSE } : null;
    this.perIp = limitsOn ? new ConnectionsPerIp(config.MAX_CONNECTIONS_PER_IP) : null;
    this.clientIp = clientIpReader(config.CLIENT_IP_HEADER, config.TRUSTED_PROXIES);
    this.liveness = new Liveness(this.connections, config.PING_INTERVAL_MS, config.HANDSHAKE_TIMEOUT_MS);
    this.fanout = new RevocationFanout((seconds) => this.observer.revocationDelivered(seconds), deps.userSockets);
    const userSockets = deps.userSockets;
    this.pipeline = new RequestPipeline({
      guard: new SessionGuard({ sessions: deps.sessions, sessionCache: deps.sessionCache, fanout: this.fanout, log }),
      dispatcher: deps.dispatcher,
      fanout: this.fanout,
      closed: (conn) => this.closed(conn),
      bindingsChanged: () => this.reportConnections(),
      afterBind: userSockets ? (_conn, session) => userSockets.ready(session.userId) : undefined,
    });
    const routes = httpRoutes({ readiness: deps.readiness, draining: () => this.draining, consoleRoutes: deps.consoleRoutes, log });
    log.info({ allowedOrigins: config.ALLOWED_ORIGINS ?? null }, describeOriginPolicy(config.allowedOrigins, config.ALLOWED_ORIGINS));
    this.http = createServer(
      // Bounded waits for a request's headers and body, checked every second, so stalled connections go.
      { headersTimeout: config.HTTP_HEADERS_TIMEOUT_MS, requestTimeout: config.HTTP_HEADERS_TIMEOUT_MS * 2, connectionsCheckingInterval: 1_000 },
      (req, res) => void routes(req, res),
    );
    this.pending = new PendingConnections({
      maxPerNetwork: limitsOn ? config.MAX_PENDING_CONNECTIONS_PER_IP : null,
      maxPerWideNetwork: limitsOn ? config.MAX_PENDING_CONNECTIONS_PER_NETWORK : null,
      maxTotal: config.MAX_PENDING_CONNECTIONS,
      ipv6PrefixBits: config.IPV6_PREFIX_LENGTH,
    });
    this.http.on('connection', (socket: Socket) => {
      if (this.pending.admit(socket, () => this.observer.rateLimited('pending_connections_shed'))) return;
      this.observer.rateLimited('pending_connections');
      socket.destroy();
    });
    this.wss = new WebSocketServer({ noServer: true, maxPayload: config.MAX_FRAME_BYTES, perMessageDeflate: false });
    this.http.on('upgrade', (req: IncomingMessage, socket: Socket, head: Buffer) => this.upgrade(req, socket, head));
  }

  /**
   * Listens on PORT/HOST. `reusePort`: a socket of this process's own with
   * SO_REUSEPORT (Node 22.12+, Linux), so that several cluster workers each
   * accept on the port and the kernel spreads connections over them, with no
   * process in between; otherwise a cluster worker gets node:cluster's
   * handle, whose connections the primary accepts and passes on.
   */
  async listen(options: { reusePort?: boolean } = {}): Promise<number> {
    this.deps.revocations.onRevoked((ids, publishedAt) => {
      this.fanout.revoked(ids, publishedAt);
      this.reportConnections();
    });
    this.liveness.start();
    await new Promise<void>((resolve, reject) => {
      this.http.once('error', reject);
      const { PORT: port, HOST: host } = this.deps.config;
      this.http.listen(options.reusePort ? { port, host, reusePort: true } : { port, host }, () => resolve());
    });
    const port = (this.http.address() as AddressInfo).port;
    if (this.deps.consoleRoutes) this.ownOrigins = loopbackConsoleOrigins(port);
    return port;
  }

  /**
   * Closes the sockets of sessions that ended while this instance could not
   * hear of it (its Postgres listener reconnected): asks Postgres about every
   * session bound here.
   */
  async recheckBoundSessions(): Promise<void> {
    try {
      const ended = await this.deps.revocations.endedAmong(this.fanout.boundSessionIds());
      if (ended.length) this.fanout.revoked(ended);
      this.reportConnections();
    } catch (err) {
      this.deps.log.warn({ err }, 'could not recheck the sessions bound here');
    }
  }

  get openConnections(): number {
    return this.connections.size;
  }

  /** Sockets bound to a session. */
  get authorizedConnections(): number {
    return this.fanout.boundSockets;
  }

  /**
   * Graceful stop: refuse new sockets, let in-flight requests finish (up to
   * `graceMs`), then close every socket with 1001 and the HTTP server.
   */
  async close(graceMs: number): Promise<void> {
    this.draining = true;
    this.liveness.stop();
    this.deps.userSockets?.stop();
    const closed = new Promise<void>((resolve) => this.http.close(() => resolve()));
    const deadline = Date.now() + graceMs;
    while (Date.now() < deadline && [...this.connections].some((c) => c.busy)) {
      await new Promise((r) => setTimeout(r, 20));
    }
    for (const conn of this.connections) conn.close(CloseCode.GOING_AWAY, 'server shutting down');
    // Give the close frames a moment, then cut whatever is left.
    const closeDeadline = Date.now() + Math.min(1_000, Math.max(0, deadline - Date.now()));
    while (this.connections.size && Date.now() < closeDeadline) await new Promise((r) => setTimeout(r, 20));
    for (const conn of this.connections) conn.terminate();
    this.http.closeAllConnections();
    await closed;
  }

  private upgrade(req: IncomingMessage, socket: Socket, head: Buffer): void {
    const { config, log } = this.deps;
    this.pending.release(socket);
    if (this.draining) {
      socket.destroy();
      return;
    }
    const ip = this.clientIp(req);
    const network = networkOf(ip, config.IPV6_PREFIX_LENGTH);
    if (!originAllowed(config.allowedOrigins, req.headers.origin, this.ownOrigins)) {
      log.info({ origin: req.headers.origin, ip }, 'upgrade refused: origin not in ALLOWED_ORIGINS');
      socket.end('HTTP/1.1 403 Forbidden\r\nConnection: close\r\nContent-Length: 0\r\n\r\n');
      return;
    }
    if (this.perIp && !this.perIp.admits(network)) {
      this.observer.rateLimited('connections_per_ip');
      socket.end('HTTP/1.1 429 Too Many Requests\r\nConnection: close\r\nContent-Length: 0\r\n\r\n');
      return;
    }
    // A shared function: a closure here would keep this handler's scope (req, head) alive as long as the socket.
    socket.on('error', ignoreSocketError);
    this.wss.handleUpgrade(req, socket, head, (ws) => this.opened(ws, req, ip, network));
  }

  private opened(ws: WebSocket, req: IncomingMessage, ip: string, network: string): void {
    const { config } = this.deps;
    const conn = new Connection(ws, this.pipeline, this.observer, {
      ip,
      network,
      geo: clientGeo(req, config.GEO_COUNTRY_HEADER, config.GEO_REGION_HEADER),
      host: req.headers.host,
      limiter: this.socketLimits ? new SocketLimiter(this.socketLimits) : null,
      maxBufferedBytes: config.MAX_BUFFERED_BYTES,
      clock: this.deps.clock,
    });
    this.connections.add(conn);
    this.perIp?.opened(network);
    this.liveness.opened(conn);
    this.reportConnections();
  }

  private closed(conn: Connection): void {
    this.connections.delete(conn);
    this.perIp?.closed(conn.network);
    this.liveness.closed(conn);
    this.reportConnections();
  }

  private reportConnections(): void {
    this.observer.connections(this.connections.size, this.fanout.boundSockets);
  }
}
