/**
 * The gateway: one HTTP server for health, readiness, metrics and the
 * WebSocket upgrade (on any path), the live connections, pings, and the
 * revocation fan-out to sockets of this instance.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { WebSocketServer, type WebSocket } from 'ws';
import type { Config } from '../config.js';
import type { Logger } from '../logger.js';
import type { BoundSession } from '../methods/types.js';
import type { ClientMessage, Id } from '../protocol/codec.js';
import { CloseCode } from '../protocol/closeCodes.js';
import type { Services } from '../services/index.js';
import type { RevokedPayload } from '../services/sessions.js';
import { Topic, type Broker } from '../store/broker.js';
import type { Dispatcher } from './dispatcher.js';
import { Connection, type ConnectionOwner } from './connection.js';
import { SocketLimiter, type SocketLimits } from './limiter.js';
import { SessionIndex } from './sessionIndex.js';
import { createConsoleRoutes, type ConsoleRoutes } from './consoleRoutes.js';
import { describeOriginPolicy, originAllowed, parseAllowedOrigins, type OriginPolicy } from './origin.js';
import type { Geo } from '../store/sessionsRepo.js';

/** Errors of a socket being upgraded; ws reports them on the WebSocket afterwards. */
function ignoreSocketError(): void {}

/** Shared by every socket without geo headers (most of them). */
const NO_GEO: Geo = Object.freeze({});

/** Longest geo header value kept. */
const GEO_MAX = 64;

export interface Readiness {
  /** Resolves true when every dependency answers and migrations are applied. */
  check(): Promise<boolean>;
}

export interface GatewayMetrics {
  frameIn(bytes: number): void;
  frameOut(bytes: number): void;
  connections(open: number, authorized: number): void;
  revocationDelivered(seconds: number): void;
  rateLimited(limit: string): void;
  render(): Promise<{ contentType: string; body: string }>;
}

export class Gateway implements ConnectionOwner {
  readonly http: Server;
  private readonly wss: WebSocketServer;
  private readonly connections = new Set<Connection>();
  /** Session id → sockets of this instance bound to it. */
  private readonly bySession = new SessionIndex<Connection>();
  /** Client IP → open sockets (per-IP cap). */
  private readonly perIp = new Map<string, number>();
  /** Sockets that have not sent a valid frame yet (handshake timeout). */
  private readonly awaitingFirstFrame = new Map<Connection, number>();
  private readonly socketLimits: SocketLimits | null;
  private pingTimer: NodeJS.Timeout | undefined;
  private handshakeTimer: NodeJS.Timeout | undefined;
  private draining = false;
  private readonly origins: OriginPolicy;
  private readonly console: ConsoleRoutes | null;

  constructor(
    private readonly config: Config,
    private readonly services: Services,
    private readonly dispatcher: Dispatcher,
    private readonly broker: Broker,
    private readonly readiness: Readiness,
    private readonly log: Logger,
    private readonly metrics?: GatewayMetrics,
  ) {
    this.origins = parseAllowedOrigins(config.ALLOWED_ORIGINS);
    log.info({ allowedOrigins: config.ALLOWED_ORIGINS ?? null }, describeOriginPolicy(this.origins, config.ALLOWED_ORIGINS));
    this.console = createConsoleRoutes(config, services, log);
    this.http = createServer((req, res) => void this.onHttp(req, res));
    this.wss = new WebSocketServer({ noServer: true, maxPayload: config.MAX_FRAME_BYTES, perMessageDeflate: false });
    this.socketLimits =
      config.RATE_LIMITS === 'on' ? { rate: config.SOCKET_RATE, burst: config.SOCKET_BURST, floodClose: config.SOCKET_FLOOD_CLOSE } : null;
    this.http.on('upgrade', (req, socket, head) => {
      if (this.draining) {
        socket.destroy();
        return;
      }
      const ip = this.clientIp(req);
      if (!originAllowed(this.origins, req.headers.origin, req.headers.host)) {
        log.info({ origin: req.headers.origin, ip }, 'upgrade refused: origin not in ALLOWED_ORIGINS');
        socket.end('HTTP/1.1 403 Forbidden\r\nConnection: close\r\nContent-Length: 0\r\n\r\n');
        return;
      }
      if (this.socketLimits && (this.perIp.get(ip) ?? 0) >= config.MAX_CONNECTIONS_PER_IP) {
        this.metrics?.rateLimited('connections_per_ip');
        socket.end('HTTP/1.1 429 Too Many Requests\r\nConnection: close\r\nContent-Length: 0\r\n\r\n');
        return;
      }
      // A shared function: a closure here would keep this handler's scope (req, head) alive as long as the socket.
      socket.on('error', ignoreSocketError);
      this.wss.handleUpgrade(req, socket, head, (ws) => this.onSocket(ws, req, ip));
    });
  }

  async listen(): Promise<number> {
    await this.broker.subscribe(Topic.SESSIONS_REVOKED, (payload) => this.onRevoked(payload));
    this.services.sessions.onRevoked((ids) => this.kick(ids));
    this.broker.onResync(() => void this.resync());
    this.pingTimer = setInterval(() => this.pingAll(), this.config.PING_INTERVAL_MS);
    this.pingTimer.unref();
    this.handshakeTimer = setInterval(() => this.closeSilentSockets(), Math.min(1_000, this.config.HANDSHAKE_TIMEOUT_MS));
    this.handshakeTimer.unref();
    await new Promise<void>((resolve, reject) => {
      this.http.once('error', reject);
      this.http.listen(this.config.PORT, this.config.HOST, () => resolve());
    });
    return (this.http.address() as AddressInfo).port;
  }

  get openConnections(): number {
    return this.connections.size;
  }

  // ConnectionOwner

  dispatch(message: ClientMessage, conn: Connection) {
    if (conn.session) this.services.sessions.noteActivity(conn.session.sessionId);
    return this.dispatcher.dispatch(message, conn);
  }

  sessionBound(conn: Connection, previous: BoundSession | null): void {
    if (previous) this.unindex(conn, previous.sessionId);
    this.bySession.add(conn.session!.sessionId, conn);
    this.reportConnections();
  }

  heartbeat(conn: Connection): void {
    if (conn.session) this.services.sessions.noteActivity(conn.session.sessionId);
  }

  validFrame(conn: Connection): void {
    this.awaitingFirstFrame.delete(conn);
  }

  refused(_conn: Connection, closed: boolean): void {
    this.metrics?.rateLimited(closed ? 'socket_flood_closed' : 'socket_requests');
  }

  frameIn(bytes: number): void {
    this.metrics?.frameIn(bytes);
  }

  frameOut(bytes: number): void {
    this.metrics?.frameOut(bytes);
  }

  /**
   * Graceful stop: refuse new sockets, let in-flight requests finish (up to
   * `graceMs`), then close every socket with 1001 and the HTTP server.
   */
  async close(graceMs: number): Promise<void> {
    this.draining = true;
    clearInterval(this.pingTimer);
    clearInterval(this.handshakeTimer);
    const closed = new Promise<void>((resolve) => this.http.close(() => resolve()));
    const deadline = Date.now() + graceMs;
    while (Date.now() < deadline && [...this.connections].some((c) => c.busy)) {
      await new Promise((r) => setTimeout(r, 20));
    }
    for (const conn of this.connections) conn.close(CloseCode.GOING_AWAY, 'server shutting down');
    // Give the close frames a moment, then cut whatever is left.
    const closeDeadline = Date.now() + Math.min(1_000, Math.max(0, deadline - Date.now()));
    while (this.connections.size && Date.now() < closeDeadline) await new Promise((r) => setTimeout(r, 20));
    for (const conn of this.connections) conn.socket.terminate();
    this.http.closeAllConnections();
    await closed;
  }

  get isDraining(): boolean {
    return this.draining;
  }

  private onSocket(ws: WebSocket, req: IncomingMessage, ip: string): void {
    const limiter = this.socketLimits ? new SocketLimiter(this.socketLimits) : null;
    const conn = new Connection(ws, this, ip, this.geoOf(req), req.headers.host, limiter, this.config.MAX_BUFFERED_BYTES);
    this.connections.add(conn);
    this.perIp.set(ip, (this.perIp.get(ip) ?? 0) + 1);
    this.awaitingFirstFrame.set(conn, Date.now() + this.config.HANDSHAKE_TIMEOUT_MS);
    this.reportConnections();
    ws.on('close', () => {
      this.connections.delete(conn);
      this.awaitingFirstFrame.delete(conn);
      const left = (this.perIp.get(ip) ?? 1) - 1;
      if (left > 0) this.perIp.set(ip, left);
      else this.perIp.delete(ip);
      if (conn.session) this.unindex(conn, conn.session.sessionId);
      this.reportConnections();
    });
  }

  /** The client address: from the operator's proxy header when configured, else the socket. */
  private clientIp(req: IncomingMessage): string {
    const header = this.config.CLIENT_IP_HEADER;
    if (header) {
      const value = req.headers[header.toLowerCase()];
      const first = (Array.isArray(value) ? value[0] : value)?.split(',')[0]?.trim();
      if (first) return first.slice(0, 64);
    }
    return req.socket.remoteAddress ?? '';
  }

  /** Closes sockets that sent no valid frame within HANDSHAKE_TIMEOUT_MS (insertion order = deadline order). */
  private closeSilentSockets(): void {
    const now = Date.now();
    for (const [conn, deadline] of this.awaitingFirstFrame) {
      if (deadline > now) break;
      this.awaitingFirstFrame.delete(conn);
      conn.close(CloseCode.POLICY_VIOLATION, 'no valid frame in time');
    }
  }

  /** Geo only from headers the operator named (set by their proxy); never guessed. */
  private geoOf(req: IncomingMessage): Geo {
    const pick = (name: string | undefined) => {
      if (!name) return undefined;
      const value = req.headers[name.toLowerCase()];
      const first = Array.isArray(value) ? value[0] : value;
      const trimmed = first?.trim().slice(0, GEO_MAX);
      return trimmed ? trimmed : undefined;
    };
    const country = pick(this.config.GEO_COUNTRY_HEADER);
    const region = pick(this.config.GEO_REGION_HEADER);
    if (!country && !region) return NO_GEO;
    return { ...(country ? { country } : {}), ...(region ? { region } : {}) };
  }

  private unindex(conn: Connection, sessionId: Id): void {
    this.bySession.remove(sessionId, conn);
  }

  private reportConnections(): void {
    if (!this.metrics) return;
    this.metrics.connections(this.connections.size, this.bySession.size);
  }

  /** Pushes session_deleted to every local socket of the revoked sessions, then closes them. */
  private onRevoked(payload: string): void {
    let message: Partial<RevokedPayload>;
    try {
      const parsed = JSON.parse(payload) as Partial<RevokedPayload> | unknown[];
      // A bare array is the format of earlier releases (still met during a rolling upgrade).
      message = Array.isArray(parsed) ? { ids: parsed as string[] } : parsed;
    } catch {
      return;
    }
    if (!message || !Array.isArray(message.ids)) return;
    this.kick(message.ids.filter((id): id is string => typeof id === 'string'));
    if (typeof message.at === 'number') this.metrics?.revocationDelivered((Date.now() - message.at) / 1000);
  }

  private kick(sessionIds: readonly Id[]): void {
    for (const sessionId of sessionIds) {
      for (const conn of this.bySession.take(sessionId)) conn.revoke(sessionId);
    }
    this.reportConnections();
  }

  /** After the broker lost messages: close local sockets of sessions revoked meanwhile. */
  private async resync(): Promise<void> {
    try {
      const revoked = await this.services.sessions.recentlyRevoked();
      this.kick(revoked.filter((id) => this.bySession.has(id)));
      this.log.info({ revoked: revoked.length }, 'reconciled revocations after live-state reconnect');
    } catch (err) {
      this.log.warn({ err }, 'could not reconcile revocations');
    }
  }

  private pingAll(): void {
    for (const conn of this.connections) {
      if (conn.missedPongs >= 2) {
        conn.socket.terminate();
        continue;
      }
      conn.missedPongs++;
      conn.socket.ping();
    }
  }

  private async onHttp(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const path = (req.url ?? '/').split('?')[0];
    try {
      if (path === '/healthz') return send(res, 200, 'ok\n');
      if (path === '/readyz') {
        const ready = !this.draining && (await this.readiness.check());
        return send(res, ready ? 200 : 503, ready ? 'ready\n' : 'not ready\n');
      }
      if (this.console && (await this.console.handle(req, res, path ?? '/'))) return;
      if (path === '/metrics' && this.metrics) {
        const { contentType, body } = await this.metrics.render();
        res.writeHead(200, { 'content-type': contentType });
        res.end(body);
        return;
      }
      send(res, 426, 'this is an Osmium WebSocket gateway: connect with a WebSocket client\n');
    } catch (err) {
      this.log.error({ err, path }, 'http handler failed');
      send(res, 500, 'internal error\n');
    }
  }
}

function send(res: ServerResponse, status: number, body: string): void {
  res.writeHead(status, { 'content-type': 'text/plain; charset=utf-8' });
  res.end(body);
}
