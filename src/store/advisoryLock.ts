/**
 * A Postgres session-level advisory lock held on a connection of its own
 * (the direct URL: a transaction pooler would hand the session to others).
 * Postgres frees it when the holder's connection ends, so a holder killed
 * with -9 loses it the moment the kernel closes its socket, and another
 * instance's next try takes it.
 */
import pg from 'pg';
import type { Logger } from '../logger.js';

export class AdvisoryLock {
  private client: pg.Client | null = null;
  /**
   * The connection an instance that does not hold the lock tries it on, kept
   * between tries: a new connection per try (every second, on every instance
   * but one) cost each try a Postgres backend started and torn down, more
   * CPU on an idle gateway than all its other timers together.
   */
  private trying: pg.Client | null = null;
  private lostHandler: () => void = () => undefined;

  constructor(
    private readonly url: string,
    /** The lock's key (a bigint as a decimal string). */
    private readonly key: string,
    private readonly log: Logger,
  ) {}

  /** Called once when a held lock is lost (its connection failed). */
  onLost(handler: () => void): void {
    this.lostHandler = handler;
  }

  get held(): boolean {
    return this.client !== null;
  }

  /** Tries to take the lock without waiting; true when this instance now holds it. */
  async tryAcquire(): Promise<boolean> {
    if (this.client) return true;
    let client = this.trying;
    try {
      if (!client) {
        client = new pg.Client({ connectionString: this.url, keepAlive: true, connectionTimeoutMillis: 5_000, query_timeout: 5_000 });
        const connecting = client;
        connecting.on('error', (err) => this.lose(connecting, err));
        connecting.on('end', () => this.lose(connecting, new Error('connection ended')));
        this.trying = connecting;
        await connecting.connect();
      }
      const { rows } = await client.query<{ ok: boolean }>(`SELECT pg_try_advisory_lock($1::bigint) AS ok`, [this.key]);
      if (rows[0]?.ok) {
        if (this.trying === client) this.trying = null;
        this.client = client;
        return true;
      }
      return false;
    } catch (err) {
      this.log.warn({ err: (err as Error).message }, 'could not try the advisory lock');
      if (client && this.trying === client) this.trying = null;
      await client?.end().catch(() => undefined);
      return false;
    }
  }

  /** Releases the lock (closing its connection frees it), and the connection it was tried on. */
  async release(): Promise<void> {
    const client = this.client;
    const trying = this.trying;
    this.client = null;
    this.trying = null;
    await Promise.all([client?.end().catch(() => undefined), trying?.end().catch(() => undefined)]);
  }

  private lose(client: pg.Client, err: Error): void {
    if (this.trying === client) {
      // Not holding anything: the next try opens another connection.
      this.trying = null;
      return;
    }
    if (this.client !== client) return;
    this.client = null;
    this.log.warn({ err: err.message }, 'lost the advisory lock connection');
    this.lostHandler();
  }
}
