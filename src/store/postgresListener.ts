/**
 * LISTEN on Postgres notification channels over one dedicated connection
 * (LISTEN needs a session of its own: behind a transaction pooler it takes
 * DATABASE_DIRECT_URL). Reconnects with a growing delay when the connection
 * drops; notifications sent meanwhile are lost, so `onReconnect` handlers
 * reconcile from the tables.
 */
import pg from 'pg';
import type { Logger } from '../logger.js';
import { CONNECT_TIMEOUT_MS } from './postgres.js';

const RETRY_MAX_MS = 5_000;

export class PostgresListener {
  private client: pg.Client | null = null;
  private readonly handlers = new Map<string, (payload: string) => void>();
  private readonly reconnectHandlers: Array<() => void> = [];
  private closed = false;
  private retries = 0;
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly url: string,
    private readonly log: Logger,
    /** How long one attempt to connect may take before it fails (and a reconnect is tried again later). */
    private readonly connectTimeoutMs = CONNECT_TIMEOUT_MS,
  ) {}

  /** Calls `handler` with each notification's payload on `channel`; call before start(). */
  on(channel: string, handler: (payload: string) => void): void {
    this.handlers.set(channel, handler);
  }

  /** Called after a reconnect (not after the first connect). */
  onReconnect(handler: () => void): void {
    this.reconnectHandlers.push(handler);
  }

  /** Connects and listens; resolves once listening (a failure here fails the start). */
  async start(): Promise<void> {
    await this.connect();
  }

  async close(): Promise<void> {
    this.closed = true;
    clearTimeout(this.timer);
    // A connection still being opened ends itself once open (connect() below), or fails within connectTimeoutMs.
    await this.client?.end().catch(() => undefined);
  }

  private async connect(): Promise<void> {
    const client = new pg.Client({ connectionString: this.url, connectionTimeoutMillis: this.connectTimeoutMs });
    client.on('notification', ({ channel, payload }) => this.handlers.get(channel)?.(payload ?? ''));
    client.on('error', (err) => this.log.warn({ err: err.message }, 'postgres listener connection error'));
    client.on('end', () => {
      if (this.client !== client || this.closed) return;
      this.client = null;
      this.scheduleReconnect();
    });
    try {
      await client.connect();
      for (const channel of this.handlers.keys()) await client.query(`LISTEN ${pg.escapeIdentifier(channel)}`);
      // close() came while this connection was being opened: it must not stay open (it would keep the process alive).
      if (this.closed) throw new Error('the listener was closed while connecting');
    } catch (err) {
      await client.end().catch(() => undefined);
      throw err;
    }
    this.client = client;
  }

  private scheduleReconnect(): void {
    if (this.closed) return;
    const delay = Math.min(RETRY_MAX_MS, 100 * 2 ** this.retries++);
    this.timer = setTimeout(() => {
      this.connect().then(
        () => {
          this.retries = 0;
          this.log.info('postgres listener reconnected');
          for (const handler of this.reconnectHandlers) handler();
        },
        (err: Error) => {
          if (this.closed) return; // closed meanwhile: no more attempts
          this.log.warn({ err: err.message }, 'postgres listener could not reconnect; retrying');
          this.scheduleReconnect();
        },
      );
    }, delay);
    this.timer.unref();
  }
}
