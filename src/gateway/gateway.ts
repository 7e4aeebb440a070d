/**
 * The gateway: one HTTP server for the plain routes (httpRoutes.ts) and the
 * WebSocket upgrade (on any path), the live connections, their liveness
 * (liveness.ts) and the revocation fan-out to them (revocationFanout.ts).
 */
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { WebSocketServer, type WebSocket } from 'ws';
import type { Config } from '../config.js';
import type { BoundSession } from '../domain/session.js';
import type { Logger } from '../logger.js';
import type { ClientMessage } from '../protocol/codec.js';
import { CloseCode } from '../protocol/closeCodes.js';
import type { SessionService } from '../services/sessions.js';
import { clientGeo, clientIpReader, type ClientIpReader } from './clientAddress.js';
import { Connection, type ConnectionOwner } from './connection.js';
import { ConnectionsPerIp } from './connectionsPerIp.js';
import type { Dispatcher } from './dispatcher.js';
import type { ConsoleRoutes } from './consoleRoutes.js';
import { httpRoutes, type Readiness } from './httpRoutes.js';
import { Liveness } from './liveness.js';
import { describeOriginPolicy, originAllowed } from './origin.js';
import { PendingConnections } from './pendingConnections.js';
import { RevocationFanout } from './revocationFanout.js';
import { SocketLimiter, type SocketLimits } from './socketLimiter.js';

/** Errors of a socket being upgraded; ws reports them on the WebSocket afterwards. */
function ignoreSocketError(): void {}

/** What the gateway reports (metrics); every call is optional bookkeeping. */
export interface GatewayObserver {
  frameIn(bytes: number): void;
  frameOut(bytes: number): void;
  connections(open: number, authorized: number): void;
  revocationDelivered(seconds: number): void;
  rateLimited(limit: string): void;
}

/** The session operations the gateway itself needs (methods get the rest through the dispatcher). */
export type GatewaySessions = Pick<SessionService, 'noteActivity' | 'onRevoked' | 'stillValid' | 'idleMs' | 'endedAmong'>;

export class Gateway implements ConnectionOwner {
  readonly http: Server;
  private readonly wss: WebSocketServer;
  private readonly connections = new Set<Connection>();
  private readonly perIp: ConnectionsPerIp | null;
  private readonly pending: PendingConnections;
  private readonly liveness: Liveness;
  private readonly fanout: RevocationFanout;
  private readonly socketLimits: SocketLimits | null;
  private readonly clientIp: ClientIpReader;
  /** Idle-session checks in flight, per socket (see `activity`). */
  private readonly idleChecks = new WeakMap<Connection, Promise<void>>();
  private draining = false;

  constructor(
    private readonly config: Config,
    private readonly sessions: GatewaySessions,
    private readonly dispatcher: Dispatcher,
    readiness: Readiness,
    private readonly log: Logger,
    private readonly observer?: GatewayObserver,
    consoleRoutes?: ConsoleRoutes | null,
  ) {
    const limitsOn = config.RATE_LIMITS === 'on';
    this.socketLimits = limitsOn ? { rate: config.SOCKET_RATE, burst: config.SOCKET_BURST, floodClose: config.SOCKET_FLOOD_CLOSE } : null;
    this.perIp = limitsOn ? new ConnectionsPerIp(config.MAX_CONNECTIONS_PER_IP) : null;
    this.clientIp = clientIpReader(config.CLIENT_IP_HEADER, config.TRUSTED_PROXIES);
    this.liveness = new Liveness(this.connections, config.PING_INTERVAL_MS, config.HANDSHAKE_TIMEOUT_MS);
    this.fanout = new RevocationFanout((seconds) => observer?.revocationDelivered(seconds));
    const routes = httpRoutes({ readiness, draining: () => this.draining, consoleRoutes, log });
    log.info({ allowedOrigins: config.ALLOWED_ORIGINS ?? null }, describeOriginPolicy(config.allowedOrigins, config.ALLOWED_ORIGINS));
    this.http = createServer(
      // Bounded waits for a request's headers and body, checked every second, so stalled connections go.
      { headersTimeout: config.HTTP_HEADERS_TIMEOUT_MS, requestTimeout: config.HTTP_HEADERS_TIMEOUT_MS * 2, connectionsCheckingInterval: 1_000 },
      (req, res) => void routes(req, res),
    );
    this.pending = new PendingConnections(limitsOn ? config.MAX_PENDING_CONNECTIONS_PER_IP : null, config.MAX_PENDING_CONNECTIONS);
    this.http.on('connection', (socket: Socket) => {
      if (this.pending.admit(socket)) return;
      this.observer?.rateLimited('pending_connections');
      socket.destroy();
    });
    this.wss = new WebSocketServer({ noServer: true, maxPayload: config.MAX_FRAME_BYTES, perMessageDeflate: false });
    this.http.on('upgrade', (req, socket, head) => {
      this.pending.release(socket as Socket);
      if (this.draining) {
        socket.destroy();
        return;
      }
      const ip = this.clientIp(req);
      if (!originAllowed(config.allowedOrigins, req.headers.origin, req.headers.host)) {
        log.info({ origin: req.headers.origin, ip }, 'upgrade refused: origin not in ALLOWED_ORIGINS');
        socket.end('HTTP/1.1 403 Forbidden\r\nConnection: close\r\nContent-Length: 0\r\n\r\n');
        return;
      }
      if (this.perIp && !this.perIp.admits(ip)) {
        this.observer?.rateLimited('connections_per_ip');
        socket.end('HTTP/1.1 429 Too Many Requests\r\nConnection: close\r\nContent-Length: 0\r\n\r\n');
        return;
      }
      // A shared function: a closure here would keep this handler's scope (req, head) alive as long as the socket.
      socket.on('error', ignoreSocketError);
      this.wss.handleUpgrade(req, socket, head, (ws) => this.onSocket(ws, req, ip));
    });
  }

  async listen(): Promise<number> {
    this.sessions.onRevoked((ids, publishedAt) => {
      this.fanout.revoked(ids, publishedAt);
      this.reportConnections();
    });
    this.liveness.start();
    await new Promise<void>((resolve, reject) => {
      this.http.once('error', reject);
      this.http.listen(this.config.PORT, this.config.HOST, () => resolve());
    });
    return (this.http.address() as AddressInfo).port;
  }

  /**
   * Closes the sockets of sessions that ended while this instance could not
   * hear of it (its Postgres listener reconnected): asks Postgres about every
   * session bound here.
   */
  async recheckBoundSessions(): Promise<void> {
    try {
      const ended = await this.sessions.endedAmong(this.fanout.boundSessionIds());
      if (ended.length) this.fanout.revoked(ended);
      this.reportConnections();
    } catch (err) {
      this.log.warn({ err }, 'could not recheck the sessions bound here');
    }
  }

  get openConnections(): number {
    return this.connections.size;
  }

  /** Sockets bound to a session. */
  get authorizedConnections(): number {
    return this.fanout.boundSockets;
  }

  // ConnectionOwner

  dispatch(message: ClientMessage, conn: Connection) {
    const checking = conn.session ? this.activity(conn) : undefined;
    return checking ? checking.then(() => this.dispatcher.dispatch(message, conn)) : this.dispatcher.dispatch(message, conn);
  }

  sessionBound(conn: Connection, session: BoundSession, previous: BoundSession | null): boolean {
    if (!this.fanout.bind(conn, session, previous)) return false;
    this.reportConnections();
    return true;
  }

  heartbeat(conn: Connection): void {
    if (conn.session) void this.activity(conn);
  }

  closed(conn: Connection): void {
    this.connections.delete(conn);
    this.perIp?.closed(conn.ip);
    this.liveness.closed(conn);
    if (conn.session) this.fanout.unbound(conn, conn.session);
    this.reportConnections();
  }

  /**
   * A frame on a signed-in socket counts as its session's activity, but a
   * socket quiet for longer than the idle window may carry a session that
   * expired (or was removed) meanwhile, and its frame must not revive it: the
   * session is checked first, and the socket closed as revoked (4001) when it
   * is no longer valid. Frames that arrive while the check runs wait for it
   * too (they would otherwise count as activity and make the check pass).
   * Resolves when the frame may be served; undefined when it may at once.
   */
  private activity(conn: Connection): Promise<void> | undefined {
    const running = this.idleChecks.get(conn);
    if (running) return running;
    if (conn.quietBeforeLastFrameMs > this.sessions.idleMs) {
      const check = this.checkIdleSession(conn).finally(() => this.idleChecks.delete(conn));
      this.idleChecks.set(conn, check);
      return check;
    }
    this.sessions.noteActivity(conn.session!.sessionId);
    return undefined;
  }

  private async checkIdleSession(conn: Connection): Promise<void> {
    const session = conn.session!;
    let valid = true;
    try {
      valid = await this.sessions.stillValid(session);
    } catch (err) {
      this.log.warn({ err }, 'could not check an idle session; serving the frame');
    }
    if (valid) this.sessions.noteActivity(session.sessionId);
    else if (conn.session === session) this.fanout.revoked([session.sessionId]);
  }

  firstValidFrame(conn: Connection): void {
    this.liveness.firstValidFrame(conn);
  }

  refused(_conn: Connection, closed: boolean): void {
    this.observer?.rateLimited(closed ? 'socket_flood_closed' : 'socket_requests');
  }

  frameIn(bytes: number): void {
    this.observer?.frameIn(bytes);
  }

  frameOut(bytes: number): void {
    this.observer?.frameOut(bytes);
  }

  /**
   * Graceful stop: refuse new sockets, let in-flight requests finish (up to
   * `graceMs`), then close every socket with 1001 and the HTTP server.
   */
  async close(graceMs: number): Promise<void> {
    this.draining = true;
    this.liveness.stop();
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

  private onSocket(ws: WebSocket, req: IncomingMessage, ip: string): void {
    const limiter = this.socketLimits ? new SocketLimiter(this.socketLimits) : null;
    const geo = clientGeo(req, this.config.GEO_COUNTRY_HEADER, this.config.GEO_REGION_HEADER);
    const conn = new Connection(ws, this, ip, geo, req.headers.host, limiter, this.config.MAX_BUFFERED_BYTES);
    this.connections.add(conn);
    this.perIp?.opened(ip);
    this.liveness.opened(conn);
    this.reportConnections();
  }

  private reportConnections(): void {
    this.observer?.connections(this.connections.size, this.fanout.boundSockets);
  }
}
